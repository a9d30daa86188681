"""Data parity: the MindSpore and torch twins must yield byte-identical batches.

For every epoch and worker count, each twin's batches are compared with the framework-free
reference (`Pipeline.batches`), field by field: same dtype, same shape, same bytes. The first
difference is reported as (framework, workers, epoch, batch, field) with what differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from zoo.data.pipeline import Batch, Pipeline


@dataclass
class Mismatch:
    framework: str
    workers: int
    epoch: int
    batch: int
    field: str
    detail: str

    def __str__(self) -> str:
        return (f"{self.framework} ({self.workers} worker{'s' if self.workers > 1 else ''}), epoch {self.epoch}, "
                f"batch {self.batch}, field {self.field!r}: {self.detail}")


@dataclass
class DataParityReport:
    pipeline: str
    runs: list[dict] = field(default_factory=list)   # one per (framework, workers, epoch)
    mismatch: Mismatch | None = None

    @property
    def passed(self) -> bool:
        return self.mismatch is None

    def table(self) -> str:
        from zoo.core.tables import render_table

        rows = [[r["framework"], r["workers"], r["epoch"], r["batches"], r["digest"], "identical" if r["ok"] else
                 "DIFFERS"] for r in self.runs]
        return render_table(["framework", "workers", "epoch", "batches", "sha256 (first 12)", "vs reference"], rows)


def _difference(expected: np.ndarray, got: np.ndarray) -> str | None:
    if not isinstance(got, np.ndarray):
        return f"expected a numpy array, got {type(got).__name__}"
    if got.dtype != expected.dtype:
        return f"dtype {got.dtype} vs reference {expected.dtype}"
    if got.shape != expected.shape:
        return f"shape {got.shape} vs reference {expected.shape}"
    if got.tobytes() != expected.tobytes():
        where = tuple(int(i) for i in np.argwhere(got != expected)[0]) if got.size else ()
        return f"values differ first at {where}: {got[where]!r} vs reference {expected[where]!r}"
    return None


def compare_stream(reference: Sequence[Batch], batches: Iterable[Batch], fields: Sequence[str]
                   ) -> tuple[int, tuple[int, str, str] | None, str]:
    """(number of batches seen, first (batch, field, detail) that differs or None, sha256 of all bytes)."""
    digest = hashlib.sha256()
    count = 0
    for index, batch in enumerate(batches):
        count += 1
        if index >= len(reference):
            return count, (index, "*", f"extra batch beyond the reference's {len(reference)}"), digest.hexdigest()
        if set(batch) != set(fields):
            return count, (index, "*", f"fields {sorted(batch)} vs reference {sorted(fields)}"), digest.hexdigest()
        for name in fields:
            detail = _difference(reference[index][name], batch[name])
            if detail:
                return count, (index, name, detail), digest.hexdigest()
            digest.update(batch[name].tobytes())
    if count < len(reference):
        return count, (count, "*", f"stream ended after {count} batches; reference has {len(reference)}"), \
            digest.hexdigest()
    return count, None, digest.hexdigest()


Iterate = Callable[[Pipeline, int, int], Iterator[Batch]]


def twins() -> dict[str, Iterate]:
    from zoo.data import loader_ms, loader_pt

    return {"mindspore": loader_ms.iterate, "torch": loader_pt.iterate}


def check(pipeline: Pipeline, epochs: Sequence[int] = (0, 1), workers: Sequence[int] = (1, 2),
          frameworks: dict[str, Iterate] | None = None,
          progress: Callable[[str], None] | None = None) -> DataParityReport:
    """Compare every twin, epoch and worker count with the reference; stop at the first mismatch."""
    report = DataParityReport(pipeline.describe())
    frameworks = frameworks or twins()
    for epoch in epochs:
        reference = list(pipeline.batches(epoch))
        for name, iterate in frameworks.items():
            for count in workers:
                if progress:
                    progress(f"{name}, {count} worker(s), epoch {epoch}")
                seen, diff, digest = compare_stream(reference, iterate(pipeline, epoch, count), pipeline.fields)
                report.runs.append({"framework": name, "workers": count, "epoch": epoch, "batches": seen,
                                    "digest": digest[:12], "ok": diff is None})
                if diff is not None:
                    report.mismatch = Mismatch(name, count, epoch, *diff)
                    return report
    return report
