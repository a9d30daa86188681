"""Several checkpoints in one command: which recipe wins, and how early can we tell.

A checkpoint is a MODEL argument, optionally `@REVISION` (a registry name or pulled hub id), or a local
folder. Each gets a series (one line of the chart: the model name without its revision; for a folder,
its parent folder's name when the folder itself is named like a revision, `step<N>...`) and a step (the
first `step<N>` / `step-<N>` in the revision or folder name; otherwise its position in the command line).
The table has one row per checkpoint and the task's headline numbers; the chart plots the first of them
against the step, one line per series, one panel per task.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zoo.core.tables import render_table

STEP = re.compile(r"step[-_]?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Checkpoint:
    model: str         # what resolve() takes
    series: str
    revision: str
    step: int | None


def expand(models: Sequence[str], revisions: Sequence[str] = ()) -> list[Checkpoint]:
    """MODEL arguments x --revisions, each with its series and step."""
    out = []
    for model in models:
        names = [f"{model}@{r}" for r in revisions] if revisions else [model]
        for name in names:
            out.append(describe(name))
    return out


def describe(model: str) -> Checkpoint:
    path = Path(model)
    if path.exists():
        revision = path.name
        series = path.parent.name if STEP.search(path.name) and path.parent.name else path.name
    else:
        series, _, revision = model.partition("@")
        revision = revision or "main"
    match = STEP.search(revision)
    return Checkpoint(model, series, revision, int(match.group(1)) if match else None)


def _steps(checkpoints: Sequence[Checkpoint]) -> dict[str, int]:
    """Each checkpoint's x value: its step, or its position among its series' checkpoints."""
    seen: dict[str, int] = {}
    out = {}
    for c in checkpoints:
        seen[c.series] = seen.get(c.series, -1) + 1
        out[c.model] = c.step if c.step is not None else seen[c.series]
    return out


def table(rows: Sequence[tuple[Checkpoint, str, dict[str, float]]], fmt: str = "markdown") -> str:
    """rows: (checkpoint, task, headline numbers) -> one line per checkpoint and task."""
    keys = list(dict.fromkeys(k for _, _, numbers in rows for k in numbers))
    header = ["series", "revision", "step", "task", *keys]
    body = [[c.series, c.revision, "-" if c.step is None else str(c.step), task,
             *[f"{numbers[k]:.4f}" if k in numbers else "-" for k in keys]] for c, task, numbers in rows]
    return render_table(header, body, fmt=fmt)


def chart(rows: Sequence[tuple[Checkpoint, str, dict[str, float]]], path: str | Path, title: str = "") -> Path:
    """PNG: per task, its first headline number against the step, one line per series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(task for _, task, _ in rows))
    x_of = _steps([c for c, _, _ in rows])
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        mine = [(c, n) for c, t, n in rows if t == task and n]
        if not mine:
            continue
        metric = next(iter(mine[0][1]))
        for series in dict.fromkeys(c.series for c, _ in mine):
            points = sorted((x_of[c.model], n[metric]) for c, n in mine if c.series == series and metric in n)
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=series)
        ax.set_title(f"{task}: {metric}")
        ax.set_xlabel("training step" if all(c.step is not None for c, _ in mine) else "checkpoint (order given)")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
