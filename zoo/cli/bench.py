"""`mindzoo bench`, `mindzoo bench-peak`, `mindzoo bench-summary`: the benchmark commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from zoo.core.errors import InputError


def _options(pairs: list[str]) -> dict:
    """--ms-option key=value (value parsed as JSON when it can be: 0, true, "O1")."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--ms-option {pair!r}: write key=value, e.g. graph_kernel=false")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _env(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--ms-env {pair!r}: write NAME=value, e.g. OMP_NUM_THREADS=2")
        out[key] = value
    return out


def cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks import runner

    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    tasks = tuple(t.strip() for t in args.task.split(",") if t.strip())
    rows = runner.run(args.model, backends=backends, tasks=tasks, device=args.device, dtype=args.dtype,
                      batch=args.batch, seq=args.seq, new_tokens=args.new_tokens, warmup=args.warmup,
                      steps=args.steps, options=_options(args.ms_option), env=_env(args.ms_env),
                      save=not args.no_save, results_root=Path(args.results) if args.results else None,
                      timeout=args.timeout, pt_options=_options(args.pt_option),
                      progress=lambda what: print(f"  measuring {what} ...", file=sys.stderr, flush=True))
    print(runner.table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0 if all(r["status"] != "failed" for r in rows) else 1


def cmd_bench_peak(args: argparse.Namespace) -> int:
    from benchmarks import runner
    from zoo.core.tables import render_table

    rows = runner.measure_peak(args.device, args.dtype, args.n, save=not args.no_save,
                               results_root=Path(args.results) if args.results else None)
    print(render_table(["framework", "device", "dtype", "n", "status", "GFLOP/s", "note"],
                       [[r["framework"], args.device, r["dtype"], str(r["n"]), r["status"],
                         "-" if r["flops_per_s"] is None else f"{r['flops_per_s'] / 1e9:.1f}",
                         (r.get("reason") or "")[:80]] for r in rows]))
    return 0


def cmd_bench_summary(args: argparse.Namespace) -> int:
    from benchmarks import summary

    text = summary.write(Path(args.results) if args.results else None, devices=args.device,
                         out=Path(args.out) if args.out else None)
    print(text)
    return 0


def add_parser(sub) -> None:
    from benchmarks.runner import BACKENDS, DTYPES

    p = sub.add_parser("bench", help="throughput per backend (one process per measurement), records appended")
    p.add_argument("model", help="registry name, model folder, or a shape: opt-350m-shape, datadecide-<size>-shape "
                                 "(4m ... 1b, the OLMo-1 ladder), distilbert-shape (random weights)")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "ascend"])
    p.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: " + ", ".join(BACKENDS))
    p.add_argument("--task", default="forward", help="comma-separated: forward, train, decode")
    p.add_argument("--dtype", default="float32", choices=list(DTYPES))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128, help="sequence length (decode: the prompt length)")
    p.add_argument("--new-tokens", type=int, default=32, help="decode: tokens generated per step")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps after the first (compiling) one")
    p.add_argument("--steps", type=int, default=10, help="timed steps (median and p95 over them)")
    p.add_argument("--ms-option", action="append", help="MindSpore backends: key=value, e.g. graph_kernel=false, "
                                                        "jit_level=O1, ms_threads=2 (repeatable)")
    p.add_argument("--ms-env", action="append", help="MindSpore backends: NAME=value environment (repeatable)")
    p.add_argument("--pt-option", action="append", help="the twin's backends (pt, pt-compile): key=value, "
                                                        "e.g. attn=sdpa (default attn=math, the parity path), "
                                                        "adamw=for-loop|foreach (default fused, as transformers' "
                                                        "Trainer)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per measurement")
    p.add_argument("--json", help="also write this run's records here (a JSON list)")
    p.add_argument("--results", help="results root (default benchmarks/results); records go to <device>/bench.jsonl")
    p.add_argument("--no-save", action="store_true", help="do not append to the results files")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("bench-peak", help="GEMM micro-benchmark per framework: the roof MFU is measured against")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "ascend"])
    p.add_argument("--dtype", default="float32", choices=list(DTYPES))
    p.add_argument("--n", type=int, default=2048, help="square matrix size")
    p.add_argument("--results", help="results root (default benchmarks/results)")
    p.add_argument("--no-save", action="store_true")
    p.set_defaults(func=cmd_bench_peak)

    p = sub.add_parser("bench-summary", help="markdown table + PNG chart from the benchmark records")
    p.add_argument("--device", action="append", help="device folder(s) to summarise (default: all)")
    p.add_argument("--results", help="results root (default benchmarks/results)")
    p.add_argument("--out", help="folder for SUMMARY.md and the PNG (default: the results root)")
    p.set_defaults(func=cmd_bench_summary)
