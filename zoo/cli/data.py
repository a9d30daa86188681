"""`mindzoo data-parity`: the twins' batches compared byte for byte (exit 1 on the first difference)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _ints(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected non-negative integers, got {text!r}")
    return values


def cmd_data_parity(args: argparse.Namespace) -> int:
    from zoo.data import parity
    from zoo.data.presets import make_pipeline

    pipeline = make_pipeline(args.pipeline, data=args.data, tokenizer=args.tokenizer, batch_size=args.batch_size,
                             length=args.length, shuffle=not args.no_shuffle, seed=args.seed,
                             drop_last=args.drop_last, text_field=args.text_field, label_field=args.label_field)
    workers = [max(1, w) for w in args.workers]
    report = parity.check(pipeline, epochs=range(args.epochs), workers=workers,
                          progress=lambda m: print(f"  {m} ...", file=sys.stderr, flush=True))
    print(f"data parity: {report.pipeline}")
    print(report.table())
    if report.mismatch:
        print(f"first difference: {report.mismatch}")
    print("PASSED: byte-identical batches" if report.passed else "FAILED")
    if args.json:
        Path(args.json).write_text(json.dumps({"pipeline": report.pipeline, "passed": report.passed,
                                               "runs": report.runs,
                                               "mismatch": str(report.mismatch) if report.mismatch else None},
                                              indent=2), encoding="utf-8")
    return 0 if report.passed else 1


def add_parser(sub) -> None:
    from zoo.data.presets import DEFAULTS, PIPELINES

    p = sub.add_parser("data-parity", help="check the MindSpore and torch data twins yield identical batches",
                       description="Defaults: " + "; ".join(f"{k}: {v}" for k, v in DEFAULTS.items()))
    p.add_argument("pipeline", choices=PIPELINES)
    p.add_argument("--data", help="classification: JSONL or Arrow folder; causal-lm: .txt/.jsonl files, an Arrow "
                                  "folder, or a .mindrecord file")
    p.add_argument("--tokenizer", help="tokenizer folder / tokenizer.json / registry model name")
    p.add_argument("--text-field", help="text column (default: sentence for classification, text for causal-lm)")
    p.add_argument("--label-field", default="label")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--length", type=int, default=64, help="bucket cap (classification) or packed length")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--workers", type=_ints, default=[1, 2], help="worker counts to check, e.g. 1,2")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-shuffle", action="store_true")
    p.add_argument("--drop-last", action="store_true", help="drop a final short batch instead of padding it")
    p.add_argument("--json", help="write the report here")
    p.set_defaults(func=cmd_data_parity)
