"""Per-example results appended to a JSONL file as they are scored, so that a killed run resumes.

One file per (checkpoint, task settings, backend): its name carries a digest of everything that decides
the scores (the model folder's files, the data, the prompt format, max length, stride, dtype, backend),
and its first line records that identity in clear. A record is written and flushed as soon as its
example is complete; a line cut short by a kill is dropped (and the file rewritten without it) when the
file is opened again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def digest(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def folder_identity(folder: Path) -> list[list]:
    """(name, size, mtime) of every file of a model folder: weights, config and tokenizer."""
    files = sorted(p for p in Path(folder).iterdir() if p.is_file())
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


class ResultStore:
    """Records keyed by example index; `add` appends and flushes one line."""

    def __init__(self, path: Path, identity: dict, resume: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records: dict[int, dict] = {}
        if resume and self.path.is_file():
            self._load()
        else:
            self.path.write_text(json.dumps({"_identity": identity}, sort_keys=True) + "\n", encoding="utf-8")
        self.resumed = len(self.records)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open while scoring

    def _load(self) -> None:
        text = self.path.read_text(encoding="utf-8")
        good, broken = [], bool(text) and not text.endswith("\n")
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                broken = True
                continue
            good.append(line)
            if "index" in record:
                self.records[int(record["index"])] = record
        if broken:                                   # a line cut by a kill: rewrite the file without it
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(g + "\n" for g in good), encoding="utf-8")
            os.replace(tmp, self.path)

    def add(self, record: dict) -> None:
        self.records[int(record["index"])] = record
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
