"""mindzoo: pull small open models, run them in MindSpore graph mode, prove parity with PyTorch, measure.

Exit codes: 0 success; 1 a parity check failed; 2 bad input (one line on stderr naming what is wrong).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from zoo.errors import ZooError


def _quiet_frameworks() -> None:
    os.environ.setdefault("GLOG_v", "3")          # MindSpore's C++ log: errors only
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*dtype_to_nptype.*")


def cmd_list(args: argparse.Namespace) -> int:
    from parity.report import render_table
    from zoo import registry

    rows = [[e.name, e.family, e.task, e.params, f"{e.upstream}@{e.revision}", e.notes] for e in registry.ENTRIES]
    print(render_table(["name", "family", "task", "params", "upstream", "notes"], rows))
    return 0


def cmd_self_test(args: argparse.Namespace) -> int:
    from parity.report import render_table
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

    from parity.report import render_table
    from parity.training import training_parity

    if not args.model:
        from zoo.errors import InputError

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
        from zoo.errors import InputError

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

    from zoo.errors import InputError

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


def cmd_demo(args: argparse.Namespace) -> int:
    from zoo.demo import run_demo

    return run_demo(args.out, backends=args.backends)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mindzoo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="models in the registry")
    p.set_defaults(func=cmd_list)

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

    p = sub.add_parser("demo", help="parity on the embedded default models (offline)")
    p.add_argument("--out", default="demo-out", help="folder for the tiny checkpoints and reports")
    p.add_argument("--backends", default="ms-pynative,ms-graph,pt,ref")
    p.set_defaults(func=cmd_demo)

    from zoo.data.command import add_data_parity
    from zoo.finetune import add_finetune

    add_data_parity(sub)
    add_finetune(sub)

    from zoo.distributed import add_train  # train (one process, or one rank under msrun / torchrun)
    from zoo.export.mindformers import add_export

    add_train(sub)
    add_export(sub)

    from zoo.hub import add_commands as add_hub_commands  # pull, revisions, cache ls|rm

    add_hub_commands(sub)

    from benchmarks.cli import add_commands as add_bench_commands  # bench, bench-peak, bench-summary

    add_bench_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    _quiet_frameworks()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ZooError as err:
        print(f"mindzoo: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
