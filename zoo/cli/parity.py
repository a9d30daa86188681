"""`mindzoo parity` (with --train, --self-test, --calibrate) and `mindzoo parity-summary`."""

from __future__ import annotations

import argparse
import sys

from zoo.core.errors import InputError
from zoo.core.tables import render_table


def cmd_self_test(args: argparse.Namespace) -> int:
    from parity.selftest import run_self_test

    rows = run_self_test(progress=lambda b: print(f"  injecting: {b}", file=sys.stderr, flush=True))
    print(render_table(["model", "injected bug", "caught?", "module named", "expected", "ok"],
                       [[r["model"], r["bug"], "yes" if r["caught"] else "no", str(r["named"]), str(r["expected"]),
                         "yes" if r["ok"] else "NO"] for r in rows]))
    failed = [r for r in rows if not r["ok"]]
    print("self-test PASSED" if not failed else f"self-test FAILED ({len(failed)} rows)")
    return 1 if failed else 0


def cmd_train_parity(args: argparse.Namespace) -> int:
    import json

    from parity.training import training_parity

    if not args.model:
        from zoo.core.errors import InputError

        raise InputError("--train needs a model (registry name, pulled hub id or folder)")
    report = training_parity(args.model, steps=args.steps, seed=args.seed)
    rows = [[key, f"{c['max_rel']:.2g} (step {c['worst_step']})", f"<= {c['rtol']:g}",
             f"{report.update_checks[key]['rel_fro']:.2g} ({report.update_checks[key]['worst']})",
             f"<= {report.update_checks[key]['bound']:g}",
             "yes" if c["passed"] and report.update_checks[key]["passed"] else "NO"]
            for key, c in report.loss_checks.items()]
    print(f"training parity: {args.model}, {report.steps} AdamW steps vs the PyTorch twin")
    print(render_table(["backend", "loss max rel", "tol", "weight-update rel fro (worst)", "tol", "ok"], rows))
    guard, control = report.gradient_guard, report.negative_control
    print(f"gradient guard: {guard['parameters'] - len(guard['zero_or_degenerate'])}/{guard['parameters']} "
          f"parameters with non-degenerate gradients ({'ok' if guard['passed'] else 'FAILED'}); "
          f"negative control (rolled {control['rolled']}): {'caught' if control['caught'] else 'NOT CAUGHT'}")
    print("PASSED" if report.passed else "FAILED")
    if args.json:
        from pathlib import Path

        Path(args.json).write_text(json.dumps(report.__dict__, indent=2) + "\n", encoding="utf-8")
    return 0 if report.passed else 1


def cmd_parity(args: argparse.Namespace) -> int:
    import parity

    if args.self_test:
        return cmd_self_test(args)
    if args.train:
        return cmd_train_parity(args)
    if not args.model:
        from zoo.core.errors import InputError

        raise InputError("name a model (registry name, pulled hub id or folder), or pass --self-test")

    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    report = parity.compare(args.model, backends=backends, dtype=args.dtype, seed=args.seed, task=args.task,
                            with_grads=not args.no_grads, inputs=_read_inputs(args.inputs),
                            calibrate=args.calibrate,
                            progress=lambda b: print(f"  running {b} ...", file=sys.stderr, flush=True))
    print(f"parity: {args.model}  (dtype {args.dtype}, inputs {report.inputs})")
    print(report.table())
    print("PASSED" if report.passed else "FAILED")
    if report.first_divergence:
        print(f"first divergence: {report.first_divergence}")
    if args.json:
        report.write_json(args.json)
    if args.markdown:
        from pathlib import Path

        Path(args.markdown).write_text(report.to_markdown(), encoding="utf-8")
    return 0 if report.passed else 1


def _read_inputs(path: str | None):
    """An .npz of named int arrays (input_ids, attention_mask, ...), or None for the default inputs."""
    if path is None:
        return None
    import numpy as np


    try:
        with np.load(path) as data:
            inputs = {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable .npz of input arrays ({err})") from err
    if "input_ids" not in inputs:
        raise InputError(f"{path}: needs an `input_ids` array (has: {', '.join(inputs) or 'nothing'})")
    inputs.setdefault("attention_mask", np.ones_like(inputs["input_ids"]))
    inputs.setdefault("token_type_ids", np.zeros_like(inputs["input_ids"]))
    return inputs


def cmd_parity_summary(args: argparse.Namespace) -> int:
    from parity.summary import summary_table

    table = summary_table(args.paths, fmt="text" if args.text else "markdown")
    print(table)
    if args.markdown:
        from pathlib import Path

        Path(args.markdown).write_text(table + "\n", encoding="utf-8")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("parity", help="run one checkpoint through several backends and compare")
    p.add_argument("model", nargs="?", help="registry name, hub id already pulled, or model folder")
    p.add_argument("--train", action="store_true",
                   help="training parity: N AdamW steps in MindSpore PyNative and graph vs the twin")
    p.add_argument("--steps", type=int, default=20, help="optimizer steps for --train")
    p.add_argument("--self-test", action="store_true",
                   help="inject known bugs into a MindSpore model; the harness must catch and localise each")
    p.add_argument("--backends", default="ms-pynative,ms-graph,pt,ref",
                   help="comma-separated: ms-pynative, ms-graph, pt, pt-compile, ref")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--task", default=None, help="override the task read from config.json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-grads", action="store_true", help="skip loss and gradient parity")
    p.add_argument("--calibrate", action="store_true",
                   help="low precision: compare with the reference at float32 within ALPHA x the "
                        "reference's own error at --dtype")
    p.add_argument("--inputs", help="an .npz with input_ids (attention_mask, token_type_ids, labels optional)")
    p.add_argument("--json", help="write the JSON report here")
    p.add_argument("--markdown", help="write a markdown summary here")
    p.set_defaults(func=cmd_parity)

    p = sub.add_parser("parity-summary", help="one table over the latest parity JSON reports")
    p.add_argument("paths", nargs="+", help="report files or folders of them")
    p.add_argument("--text", action="store_true", help="plain text instead of markdown")
    p.add_argument("--markdown", help="also write the markdown table here")
    p.set_defaults(func=cmd_parity_summary)
