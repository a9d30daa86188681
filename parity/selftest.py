"""`mindzoo parity --self-test`: inject known bugs into a MindSpore model and require the harness to
fail on each and to name the module the bug is in. A harness that cannot catch these cannot be trusted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from zoo.core.family import Mutation
from zoo.families import FAMILIES


def _run(folder: Path, bugs: tuple[Mutation, ...], model: str, backends, progress) -> list[dict]:
    import parity

    clean = parity.compare(str(folder), backends=backends, generate=False)
    rows = [{"model": model, "bug": "(none: clean model)", "caught": not clean.passed, "expected": None,
             "named": (clean.first_divergence or {}).get("module"), "ok": clean.passed}]
    for bug in bugs:
        if progress:
            progress(f"{model}: {bug.name}")
        report = parity.compare(str(folder), backends=backends, ms_transform=bug.inject, generate=False)
        named = (report.first_divergence or {}).get("module")
        rows.append({"model": model, "bug": bug.name, "caught": not report.passed, "expected": bug.module,
                     "named": named, "confirmed": (report.first_divergence or {}).get("confirmed"),
                     "ok": (not report.passed) and named == bug.module})
    return rows


def run_self_test(folders: dict[str, str | Path] | None = None, backends=("ms-pynative", "pt"),
                  progress=None) -> list[dict]:
    """One row per bug: caught?, module named, expected module. Every family's mutations, each injected
    into that family's self-test checkpoint (written on the spot unless `folders` names it)."""
    folders = dict(folders or {})
    root = Path(tempfile.mkdtemp(prefix="mindzoo-selftest-"))
    rows: list[dict] = []
    for family in FAMILIES:
        bugs = family.mutations()
        name = family.self_test_model
        if not bugs or name is None:
            continue
        folder = Path(folders[name]) if name in folders else family.tiny[name](root / name)
        rows += _run(folder, bugs, name, backends, progress)
    return rows
