"""One checkpoint x one task x several backends: scores, the parity gate, the JSON report.

    report = evaluate("tiny-folder", "arc_easy", backends=("ms-graph", "pt", "ref"))
    report["accuracy"], report["parity"]["passed"]

Every backend scores the same token rows (zoo/eval/scoring.py). Per-example results are appended to a
JSONL store as they complete (zoo/eval/store.py), so an interrupted run scores only what is missing,
and a backend whose examples are all saved does not even load its model.

Parity: every pair of backends that finished is compared example by example.
  multiple choice: the largest |loglik_a - loglik_b| over every choice of every example <= 1e-4, and
                   the three accuracies identical;
  perplexity:      |ppl_a - ppl_b| / ppl_b <= 1e-5 (and the largest per-document difference reported).
"""

from __future__ import annotations

import itertools
import math
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from zoo.core.errors import InputError, ZooError
from zoo.eval import scoring
from zoo.eval.store import ResultStore, digest, file_digest, folder_identity
from zoo.eval.tasks import Example, Task, fewshot_prefix, get_task, load_examples
from zoo.eval.tokenizer import Tokenizer

LOGLIK_ATOL = 1e-4        # per-example log-likelihood, any two backends
PERPLEXITY_RTOL = 1e-5    # corpus perplexity, any two backends
DEFAULT_MAX_LENGTH = 2048
Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Settings:
    batch_size: int = 8
    limit: int | None = None
    max_length: int | None = None      # None: the model's positions, at most DEFAULT_MAX_LENGTH
    stride: int | None = None          # None: max_length (disjoint windows)
    fewshot: int = 0
    delimiter: str = " "
    bos: str = "auto"                  # auto: the tokenizer's default prefix; yes; no
    dtype: str = "float32"
    resume: bool = True
    resume_dir: Path | None = None     # None: <zoo cache>/eval
    progress: bool = True


class BackendCrashed(RuntimeError):
    """A backend raised something other than a ZooError: its scores are missing (exit code 3)."""


def _encoding(spec, tokenizer: Tokenizer, task: Task, settings: Settings) -> scoring.Encoding:
    positions = int(spec.config.max_position_embeddings)
    max_length = settings.max_length or min(positions, DEFAULT_MAX_LENGTH)
    if not 1 < max_length <= positions:
        raise InputError(f"--max-length {max_length}: the model reads between 2 and {positions} positions")
    if settings.batch_size < 1:
        raise InputError(f"--batch-size {settings.batch_size}: must be >= 1")
    if settings.bos == "auto":
        prefix = tokenizer.prefix_ids
    elif settings.bos == "yes":
        if tokenizer.bos_id is None:
            raise InputError(f"--bos yes: the tokenizer of {spec.folder} has no BOS token")
        prefix = [tokenizer.bos_id]
    elif settings.bos == "no":
        prefix = []
    else:
        raise InputError(f"--bos {settings.bos!r}: choose auto, yes or no")
    start = [t for t in (tokenizer.eos_id, tokenizer.bos_id) if t is not None][:1]
    return scoring.Encoding(tokenizer.encode, prefix, start, max_length, settings.stride or max_length,
                            settings.delimiter, fewshot_prefix(task, settings.fewshot))


def _rows(task: Task, examples: Sequence[Example], enc: scoring.Encoding) -> list[tuple[list[scoring.Row], int]]:
    build = scoring.choice_rows if task.kind == "multiple-choice" else scoring.document_rows
    return [build(i, ex, enc) for i, ex in enumerate(examples)]


def _data_identity(source: str, data: str | None) -> str:
    if data not in (None, "sample", "olmes", "hub") and Path(data).is_file():
        return f"{source}#{file_digest(Path(data))}"
    if source.startswith("sample:"):
        from zoo.eval.tasks import data_path

        return f"{source}#{file_digest(data_path(source.split(':', 1)[1]))}"
    return source


def _pad_id(spec) -> int:
    config = spec.config
    return config.pad_token_id if config.pad_token_id is not None else (config.eos_token_id or 0)


def _score_backend(backend: str, spec, task: Task, examples: Sequence[Example], rows, enc: scoring.Encoding,
                   store: ResultStore, settings: Settings, label: str, scorers: dict | None) -> int:
    """Score the examples the store lacks; returns how many were scored now. `scorers` keeps loaded
    (and compiled) backends between tasks of one model."""
    from tqdm import tqdm

    from zoo.eval.backends import make_scorer

    pending = [i for i in range(len(examples)) if i not in store.records]
    if not pending:
        return 0
    key = (backend, str(spec.folder), settings.dtype)
    scorers = {} if scorers is None else scorers
    if key not in scorers:
        for other in [k for k in scorers if k[1:] != key[1:]]:
            del scorers[other]                       # one checkpoint's backends in memory at a time
        scorers[key] = make_scorer(backend, spec, settings.dtype)
    run = scorers[key]
    check = getattr(spec.config, "check_inputs", None)
    bar = tqdm(total=len(examples), initial=len(examples) - len(pending), desc=f"{label} {backend}", unit="ex",
               file=sys.stderr, disable=not settings.progress, dynamic_ncols=True)
    try:
        # chunks of whole examples, about 4 batches of rows each: one store write per example
        per_chunk = max(1, 4 * settings.batch_size // max(1, len(rows[pending[0]][0])))
        for start in range(0, len(pending), per_chunk):
            chunk = pending[start:start + per_chunk]
            flat = [row for i in chunk for row in rows[i][0]]
            scored = scoring.score_rows(flat, run, settings.batch_size, enc.max_length, _pad_id(spec), check,
                                        getattr(spec.config, "vocab_size", None))
            at = 0
            for i in chunk:
                mine = scored[at:at + len(rows[i][0])]
                at += len(rows[i][0])
                if task.kind == "multiple-choice":
                    store.add(scoring.choice_record(i, examples[i], mine, rows[i][1]))
                else:
                    store.add(scoring.document_record(i, examples[i], rows[i][0], mine, rows[i][1]))
                bar.update(1)
    finally:
        bar.close()
    return len(pending)


def _metrics(task: Task, examples: Sequence[Example], store: ResultStore) -> dict:
    records = [store.records[i] for i in range(len(examples))]
    if task.kind == "multiple-choice":
        return scoring.choice_metrics(examples, records)
    return scoring.perplexity_metrics(records)


def compare_backends(task: Task, results: dict[str, dict]) -> dict:
    """Every pair of finished backends: the largest per-example difference and the gate."""
    pairs = []
    for a, b in itertools.combinations(results, 2):
        ra, rb = results[a], results[b]
        if task.kind == "multiple-choice":
            diffs = [(max(abs(x - y) for x, y in zip(ea["loglikelihoods"], eb["loglikelihoods"], strict=True)),
                      ea["id"]) for ea, eb in zip(ra["examples"], rb["examples"], strict=True)]
            worst, worst_id = max(diffs)
            same = all(ra[k] == rb[k] for k in ("accuracy", "accuracy_norm", "accuracy_bytes"))
            preds = sum(ea["pred"] != eb["pred"] for ea, eb in zip(ra["examples"], rb["examples"], strict=True))
            passed = worst <= LOGLIK_ATOL and same
            pairs.append({"a": a, "b": b, "max_abs_loglik_diff": worst, "worst_example": worst_id,
                          "accuracies_equal": same, "pred_mismatches": preds, "passed": passed})
        else:
            diffs = [(abs(da["loglikelihood"] - db["loglikelihood"]), da["id"])
                     for da, db in zip(ra["documents"], rb["documents"], strict=True)]
            worst, worst_id = max(diffs)
            rel = abs(ra["perplexity"] - rb["perplexity"]) / rb["perplexity"]
            pairs.append({"a": a, "b": b, "max_abs_loglik_diff": worst, "worst_example": worst_id,
                          "perplexity_rel_diff": rel, "passed": rel <= PERPLEXITY_RTOL})
    return {"tolerance": {"loglik_abs": LOGLIK_ATOL} if task.kind == "multiple-choice"
            else {"perplexity_rel": PERPLEXITY_RTOL},
            "max_abs_loglik_diff": max((p["max_abs_loglik_diff"] for p in pairs), default=0.0),
            "pairs": pairs, "passed": all(p["passed"] for p in pairs)}


def environment() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("mindspore", "torch", "transformers"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    import os

    return {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(), **versions}


def evaluate(model: str, task_name: str, backends: Sequence[str] = ("ms-graph",), data: str | None = None,
             settings: Settings = Settings(), log: Log = _stderr, spec=None, scorers: dict | None = None) -> dict:
    """Score `model` on `task_name` with each backend; the report (see docs/eval.md for its fields)."""
    from zoo.core.paths import cache_root
    from zoo.models import resolve

    spec = spec or resolve(model)
    if getattr(spec.config, "task", None) != "causal-lm":
        raise InputError(f"{model} is a {getattr(spec.config, 'task', 'non-causal')} model; eval scores causal LMs")
    task = get_task(task_name)
    tokenizer = Tokenizer.load(spec.folder)
    enc = _encoding(spec, tokenizer, task, settings)
    examples, source = load_examples(task, data, settings.limit)
    rows = _rows(task, examples, enc)
    identity = {"model": folder_identity(spec.folder), "folder": str(Path(spec.folder).resolve()),
                "task": task.name, "kind": task.kind, "data": _data_identity(source, data),
                "max_length": enc.max_length, "stride": enc.stride, "prefix": enc.prefix, "start": enc.start,
                "delimiter": enc.delimiter, "fewshot": settings.fewshot, "dtype": settings.dtype}
    root = Path(settings.resume_dir) if settings.resume_dir else cache_root() / "eval"
    label = Path(model).name if Path(model).exists() else model.replace("/", "--")
    results, runs, crashed = {}, {}, {}
    for backend in backends:
        key = digest({**identity, "backend": backend})
        store = ResultStore(root / f"{label}.{task.name}.{backend}.{key}.jsonl", {**identity, "backend": backend},
                            resume=settings.resume)
        started = time.perf_counter()
        try:
            scored = _score_backend(backend, spec, task, examples, rows, enc, store, settings, f"{label} {task.name}",
                                    scorers)
        except ZooError:
            raise
        except Exception as err:  # a backend that crashes must not take the others' scores with it
            crashed[backend] = f"{type(err).__name__}: {err}"
            log(f"mindzoo: backend {backend} crashed on {label} {task.name}: {type(err).__name__}: {err}")
            log(traceback.format_exc(limit=-3).rstrip())
            continue
        finally:
            store.close()
        results[backend] = _metrics(task, examples, store)
        runs[backend] = {"scored": scored, "resumed": store.resumed, "seconds": time.perf_counter() - started,
                         "store": str(store.path)}
        if store.resumed:
            log(f"{label} {task.name} {backend}: {store.resumed} examples resumed from {store.path}, "
                f"{scored} scored now")
    report = {"model": model, "folder": str(spec.folder), "task": task.name, "kind": task.kind, "source": source,
              "licence": task.licence, "n": len(examples), "backends": {}, "settings": {
                  **{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()},
                  "max_length": enc.max_length, "stride": enc.stride, "prefix_ids": enc.prefix,
                  "start_ids": enc.start},
              "environment": environment()}
    for backend in backends:
        if backend in results:
            report["backends"][backend] = {**results[backend], **runs[backend]}
        else:
            report["backends"][backend] = {"error": crashed[backend]}
    if results:
        primary = next(b for b in backends if b in results)
        report["primary_backend"] = primary
        report.update({k: v for k, v in results[primary].items()})
    if len(results) > 1:
        report["parity"] = compare_backends(task, results)
    report["crashed"] = sorted(crashed)
    report["passed"] = not crashed and report.get("parity", {}).get("passed", True)
    return report


def headline(report: dict) -> dict[str, float]:
    """The numbers a table shows for one report: accuracies, or perplexity and bits per byte."""
    mc = report.get("kind") == "multiple-choice"
    keys = ("accuracy", "accuracy_norm") if mc else ("perplexity", "bits_per_byte")
    return {k: report[k] for k in keys if k in report and isinstance(report[k], float) and math.isfinite(report[k])}
