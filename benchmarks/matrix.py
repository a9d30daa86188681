"""The benchmark matrix the README reports: three model shapes x forward / train / decode x every backend.

    python -m benchmarks.matrix [--models opt-350m-shape,...] [--backends ...] [--tasks forward,train,decode]
                                [--steps 5] [--warmup 1] [--rounds 3] [--variant before --ms-option graph_kernel=false]

Shapes: forward 8 x 128 and 1 x 512, train step 4 x 128, greedy decode of 32 tokens from a 1 x 128 prompt.
Each cell is one `benchmarks.runner.run` call (one process per backend); records are appended as they come.
With `--rounds N` every cell runs N times, the backends in turn forwards then backwards, and the records
share a session label: the summary reports each backend's median round (on a shared VM the same
measurement moved by +-30% within minutes).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

MODELS = ("distilbert-shape", "datadecide-150m-shape", "opt-350m-shape")
CELLS = (("forward", 8, 128), ("forward", 1, 512), ("train", 4, 128), ("decode", 1, 128))


def parse_cells(text: str) -> tuple[tuple[str, int, int], ...]:
    """'forward:8x2048,decode:1x1024' -> (("forward", 8, 2048), ("decode", 1, 1024)); bad text is exit 2."""
    from zoo.core.errors import InputError

    cells = []
    for item in (c.strip() for c in text.split(",") if c.strip()):
        task, _, shape = item.partition(":")
        batch, _, seq = shape.partition("x")
        if task not in ("forward", "train", "decode") or not (batch.isdigit() and seq.isdigit()) \
                or int(batch) < 1 or int(seq) < 1:
            raise InputError(f"--cells {item!r}: expected TASK:BxS with TASK forward, train or decode "
                             "and positive B, S (e.g. train:4x2048)")
        cells.append((task, int(batch), int(seq)))
    return tuple(cells)


def main(argv: list[str] | None = None) -> int:
    from benchmarks import runner
    from zoo.cli.bench import _env, _options

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--backends", default=",".join(runner.BACKENDS))
    parser.add_argument("--tasks", default="forward,train,decode")
    parser.add_argument("--cells", default="", help="these cells instead of the default ones, e.g. "
                                                    "forward:8x2048,train:4x2048,decode:1x1024")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="runs per cell, backend order alternating; "
                                                              "the summary takes each backend's median")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--variant", default="", help="label stored in options.variant (e.g. before)")
    parser.add_argument("--ms-option", action="append")
    parser.add_argument("--ms-env", action="append")
    parser.add_argument("--pt-option", action="append", help="e.g. attn=sdpa")
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu", "ascend"])
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--results", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("GLOG_v", "3")
    options = _options(args.ms_option)
    if args.variant:
        options["variant"] = args.variant
    if args.rounds > 1:
        options["session"] = "rounds-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    tasks = args.tasks.split(",")
    cells = parse_cells(args.cells) if args.cells.strip() else CELLS
    backends = tuple(args.backends.split(","))
    pt_options = _options(args.pt_option)
    for model in args.models.split(","):
        for task, batch, seq in cells:
            if task not in tasks:
                continue
            for round_index in range(args.rounds):
                order = backends if round_index % 2 == 0 else backends[::-1]
                rows = runner.run(model, backends=order, tasks=(task,), batch=batch, seq=seq, device=args.device,
                                  dtype=args.dtype, pt_options=pt_options,
                                  new_tokens=args.new_tokens, warmup=args.warmup, steps=args.steps,
                                  options=options, env=_env(args.ms_env), results_root=args.results,
                                  progress=lambda what, m=model, b=batch, s=seq: print(
                                      f"[{' '.join(f'{x:.1f}' for x in os.getloadavg())}] {m} {b}x{s} {what}",
                                      file=sys.stderr, flush=True))
                print(runner.table(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
