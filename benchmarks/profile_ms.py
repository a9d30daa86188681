"""Where MindSpore's time goes: per-op totals from its profiler (CPU activities) for one benchmark job.

    OMP_NUM_THREADS=1 python -m benchmarks.profile_ms distilbert-shape --task forward --batch 8 --seq 128 \\
        [--graph-kernel] [--steps 3] [--out /tmp/ms-prof]

Builds the model exactly as the benchmark worker does, runs the compile step and one warm-up outside
the profiler, then profiles `--steps` steps and prints the op types by total time
(FRAMEWORK/cpu_op_type_info_*.csv, written by the profiler under --out).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path


def add_ms_job_arguments(parser: argparse.ArgumentParser) -> None:
    """The one MindSpore job these development tools run (here and in benchmarks.ab)."""
    parser.add_argument("model")
    parser.add_argument("--task", default="forward", choices=["forward", "train", "decode"])
    parser.add_argument("--backend", default="ms-graph", choices=["ms-graph", "ms-pynative"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_ms_job_arguments(parser)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--graph-kernel", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", default="/tmp/ms-prof")
    args = parser.parse_args(argv)
    os.environ.setdefault("GLOG_v", "3")

    from mindspore.profiler import ProfilerActivity, profile, tensorboard_trace_handler

    from benchmarks.shapes import resolve_model
    from benchmarks.worker import make_inputs, ms_step

    spec, random_weights = resolve_model(args.model)
    job = dict(model=args.model, backend=args.backend, task=args.task, device="cpu", dtype="float32",
               batch=args.batch, seq=args.seq, new_tokens=8, options={"graph_kernel": args.graph_kernel})
    step, _ = ms_step(job, spec, random_weights, make_inputs(spec, args.batch, args.seq))
    step()
    step()
    out = Path(args.out)
    with profile(activities=[ProfilerActivity.CPU], on_trace_ready=tensorboard_trace_handler(str(out))) as prof:
        for _ in range(args.steps):
            step()
            prof.step()
    tables = sorted(out.rglob("cpu_op_type_info*.csv"), key=lambda p: p.stat().st_mtime)
    if not tables:
        print(f"no cpu_op_type_info csv under {out}", file=sys.stderr)
        return 1
    with tables[-1].open() as f:
        rows = list(csv.DictReader(f))
    print(f"{tables[-1]}")
    keys = list(rows[0])
    print(" | ".join(keys))
    for row in rows[: args.top]:
        print(" | ".join(str(row[k]) for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
