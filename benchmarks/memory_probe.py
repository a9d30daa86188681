"""Where a MindSpore forward's resident memory goes: RSS after building the model and after each step.

    python -m benchmarks.memory_probe opt-350m-shape --mode graph --batch 8 --seq 128
    python -m benchmarks.memory_probe opt-350m-shape --mode graph --batch 1 --seq 8 --layers 1   # compiled state
    python -m benchmarks.memory_probe opt-350m-shape --mode graph --sum-output                  # without the logits

Compare runs: a tiny input isolates what compiling costs per layer (`--layers` rebuilds the shape with
fewer layers), and `--sum-output` what the returned logits cost. One process per probe: RSS never
shrinks back after MindSpore's pool has grown. Findings: README "Memory", docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from benchmarks import worker


def rss_mb(field: str = "VmRSS") -> int:
    """benchmarks.worker's reading of /proc, rounded; the probe means nothing without it."""
    value = worker.rss_mb(field)
    if value is None:
        raise RuntimeError(f"no {field} in /proc/self/status: the memory probe needs Linux's /proc")
    return round(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a benchmark shape, registry name or folder")
    parser.add_argument("--mode", choices=("graph", "pynative", "torch"), default="graph",
                        help="MindSpore graph / PyNative, or the torch twin (eager, inference mode)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--layers", type=int, help="rebuild the model with this many layers")
    parser.add_argument("--sum-output", action="store_true", help="return the logits' sum, not the logits")
    parser.add_argument("--jit-level", default="O0")
    parser.add_argument("--memory-optimize", choices=("O0", "O1"), help="ms.runtime.set_memory(optimize_level=...)")
    args = parser.parse_args(argv)

    from benchmarks.shapes import resolve_model
    from zoo.models import build_ms

    if args.mode == "torch":
        import torch  # noqa: F401
    else:
        import mindspore  # noqa: F401
    report = {"import_mb": rss_mb()}
    spec, _ = resolve_model(args.model)
    if args.layers:
        spec = dataclasses.replace(spec, config=dataclasses.replace(spec.config, num_layers=args.layers))
    inputs = worker.make_inputs(spec, args.batch, args.seq)
    if args.mode == "torch":
        return _probe_torch(spec, inputs, args, report)
    import mindspore as ms

    import zoo.ms  # noqa: F401 - sets the CPU launch mode before any launch (zoo/ms/runtime.py)

    if ms.get_context("device_target") != "CPU":   # set_device fails once a kernel has run (in tests)
        ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE if args.mode == "graph" else ms.PYNATIVE_MODE)
    if args.memory_optimize:
        ms.runtime.set_memory(optimize_level=args.memory_optimize)
    net = build_ms(spec, "float32")
    net.set_train(False)
    report["built_mb"] = rss_mb()
    if args.sum_output:
        net = sum_of_first_output(net)
    tensors = tuple(ms.Tensor(inputs[name].astype(np.int32)) for name in spec.family.inputs.names)
    run = ms.jit(net.construct, jit_level=args.jit_level) if args.mode == "graph" else net

    def step():
        out = run(*tensors)
        ms.runtime.synchronize()
        return out
    return _steps(step, args.steps, report)


def _probe_torch(spec, inputs: dict, args: argparse.Namespace, report: dict) -> int:
    import torch

    from zoo.models import build_pt

    net = build_pt(spec, "float32").eval()
    report["built_mb"] = rss_mb()
    tensors = tuple(torch.from_numpy(inputs[name].astype(np.int64)) for name in spec.family.inputs.names)

    @torch.inference_mode()
    def step():
        out = net(*tensors)
        return out[0].sum() if args.sum_output else out
    return _steps(step, args.steps, report)


def _steps(step, count: int, report: dict) -> int:
    report["steps"] = []
    for _ in range(count):
        started = time.perf_counter()
        out = step()
        report["steps"].append({"s": round(time.perf_counter() - started, 3), "rss_mb": rss_mb()})
        del out
    report["peak_mb"] = rss_mb("VmHWM")
    report["added_by_steps_mb"] = report["peak_mb"] - report["built_mb"]
    print(json.dumps(report))
    return 0


def sum_of_first_output(net):
    """The model with a scalar output: the peak without the returned logits' own block. (The Cell class
    is made here so that `--mode torch` never imports MindSpore, whose import changes torch's RSS.)"""
    from mindspore import nn

    class SumOfFirstOutput(nn.Cell):
        def __init__(self, inner: nn.Cell) -> None:
            super().__init__()
            self.inner = inner

        def construct(self, *tensors):
            return self.inner(*tensors)[0].sum()

    return SumOfFirstOutput(net)


if __name__ == "__main__":
    raise SystemExit(main())
