"""One table over the latest parity report of every model: what the README shows."""

from __future__ import annotations

import json
from pathlib import Path

from zoo.core.errors import InputError
from zoo.core.tables import render_table


def _reports(paths: list[str | Path]) -> list[dict]:
    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(path.rglob("*.json")) if path.is_dir() else [path]
    reports = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(f"{file}: not a readable parity report ({err})") from err
        if isinstance(data, dict) and "checks" in data and "model" in data:
            data["_file"] = str(file)
            reports.append(data)
    return reports


def latest(paths: list[str | Path]) -> list[dict]:
    """The newest report per (model, dtype), by its `created` stamp."""
    newest: dict[tuple[str, str], dict] = {}
    for report in _reports(paths):
        key = (report["model"], report.get("dtype", "float32"))
        if key not in newest or report.get("created", "") > newest[key].get("created", ""):
            newest[key] = report
    return [newest[k] for k in sorted(newest)]


def _worst(report: dict, backend: str, pick) -> str:
    values = [c["metrics"][metric] for c in report["checks"] if c["a"] == backend and c["b"] == "ref"
              for metric in [pick(c)] if metric and metric in c["metrics"]]
    return f"{max(values):.2g}" if values else "-"


def summary_table(paths: list[str | Path], fmt: str = "markdown") -> str:
    reports = latest(paths)
    if not reports:
        raise InputError(f"no parity reports under {', '.join(map(str, paths))}; write some with --json")
    rows = []
    for r in reports:
        for backend in [b for b in r["backends"] if b != "ref"]:
            rows.append([
                r["model"], r.get("dtype", "float32"), backend,
                _worst(r, backend, lambda c: "max_abs" if not c["output"].startswith(("grad.", "loss")) else None),
                _worst(r, backend, lambda c: "kl_max" if c["output"] == "logits" else None),
                _worst(r, backend, lambda c: "rel_fro" if c["output"] == "loss" else None),
                _worst(r, backend, lambda c: "rel_fro_floored" if c["output"].startswith("grad.") else None),
                "yes" if all(c["passed"] for c in r["checks"] if c["a"] == backend) else "NO",
                (r.get("first_divergence") or {}).get("module", "-"),
                r.get("created", "-")[:10],
            ])
    header = ["model", "dtype", "backend", "outputs max abs", "logits KL max", "loss rel", "grads rel (floored)",
              "ok", "first divergence", "date"]
    return render_table(header, rows, fmt)
