"""Is a CPU kernel worth it? Two copies of one model in one process, one with the named kernels off,
their steps interleaved (A B B A ...) so that both see the same machine.

    python -m benchmarks.ab datadecide-150m-shape --task train --batch 4 --seq 128 --off attention --pairs 6

On this shared VM a cell measured minutes apart moved by +-30% (docs/PERFORMANCE.md), larger than
most single changes; interleaving in one process cancels that drift. It prints each variant's
median step time and the median of the per-pair ratios (off / on). A development tool: its output
is not a benchmark record.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.profile_ms import add_ms_job_arguments

# the kernels that can be switched off: the semantic layer classes (zoo.ms.layers) whose CPU kernel is swapped
# for its composed equivalent; "residual-norm" keeps the norm kernels but does the residual sum as an Add
KERNELS = {
    "attention": ("Attention",),
    "swiglu": ("SwiGLU",),
    "layernorm": ("LayerNorm",),
    "gelu": ("GELU",),
    "rmsnorm": ("RMSNorm",),
    "rotary": ("RotaryQKV",),
    "residual-norm": ("LayerNorm", "RMSNorm"),
}


def switch_off(net, kernels: list[str]) -> int:
    """Replace the named layers' CPU kernels (kernel policy path "cpu") on every cell that has one; returns
    how many cells changed."""
    from zoo.ms import kernels as policy

    changed = 0
    for _, cell in net.cells_and_names():
        kernel = getattr(cell, "kernel", None)
        if kernel is None or not isinstance(kernel, policy.nn.Cell) or policy.path_of(kernel) != policy.CPU_PATH:
            continue
        hit = False
        for name in kernels:
            if type(cell).__name__ not in KERNELS[name]:
                continue
            if name == "residual-norm":
                hit = hit or kernel.fuse_add
                kernel.fuse_add = False
            else:
                eps = getattr(cell, "eps", None)
                cell.kernel = kernel.composed()
                if eps is not None:
                    cell.eps = eps
                hit = True
        changed += hit
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_ms_job_arguments(parser)
    parser.add_argument("--new-tokens", type=int, default=32, help="decode: tokens generated per step")
    parser.add_argument("--off", required=True, help="comma-separated: " + ", ".join(KERNELS))
    parser.add_argument("--pairs", type=int, default=6)
    args = parser.parse_args(argv)
    off = [k.strip() for k in args.off.split(",") if k.strip()]
    unknown = sorted(set(off) - set(KERNELS))
    if unknown:
        parser.error(f"unknown kernel(s) {unknown}; choose from {sorted(KERNELS)}")

    from benchmarks.shapes import resolve_model
    from benchmarks.worker import make_inputs, ms_step

    spec, random_weights = resolve_model(args.model)
    job = dict(model=args.model, backend=args.backend, task=args.task, device="cpu", dtype="float32",
               batch=args.batch, seq=args.seq, new_tokens=args.new_tokens, options={})
    inputs = make_inputs(spec, args.batch, args.seq)
    switched: list[int] = []

    def prepare(net) -> None:
        switched.append(switch_off(net, off))

    steps = {"on": ms_step(job, spec, random_weights, inputs)[0],
             "off": ms_step(job, spec, random_weights, inputs, prepare=prepare)[0]}
    if not switched or switched[0] == 0:
        raise SystemExit(f"no cell of {off} runs a CPU kernel in {args.model}: nothing to compare")
    for name, step in steps.items():  # compile, then one warm-up each
        t0 = time.perf_counter()
        step()
        print(f"{name}: first step (compile) {time.perf_counter() - t0:.1f} s", flush=True)
        step()
    times: dict[str, list[float]] = {"on": [], "off": []}
    for pair in range(args.pairs):
        order = ("on", "off") if pair % 2 == 0 else ("off", "on")
        for name in order:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
        print(f"pair {pair + 1}: on {times['on'][-1] * 1e3:.0f} ms, off {times['off'][-1] * 1e3:.0f} ms", flush=True)
    ratios = [b / a for a, b in zip(times["on"], times["off"], strict=True)]
    print(f"{args.model} {args.task} {args.batch}x{args.seq} {args.backend}, kernels off: {', '.join(off)} "
          f"({switched[0]} cells)")
    for name in ("on", "off"):
        print(f"  {name:>3}: median {statistics.median(times[name]) * 1e3:.0f} ms "
              f"(min {min(times[name]) * 1e3:.0f}, max {max(times[name]) * 1e3:.0f})")
    print(f"  off / on per pair: median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}; > 1: the kernels help)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
