"""Parity reports: the Report object, its JSON form and its human tables."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from zoo.core.tables import render_table

SCHEMA_VERSION = 1
LOWER_BOUNDED = ("cosine", "top1_agreement")


@dataclass
class Check:
    a: str                 # backend under test
    b: str                 # the backend it is compared against
    output: str
    metrics: dict
    tolerance: dict
    passed: bool


@dataclass
class Report:
    model: str
    backends: list[str]
    checks: list[Check]
    dtype: str = "float32"
    device: str = "cpu"
    seed: int = 0
    inputs: dict = field(default_factory=dict)     # shapes of the inputs used
    environment: dict = field(default_factory=dict)
    first_divergence: dict | None = None
    calibration: dict | None = None     # output -> the reference's own error at `dtype` vs float32
    revision: dict = field(default_factory=dict)   # where the weights came from: folder, hub id, commit
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA_VERSION,
            "created": self.created,
            "model": self.model,
            "revision": self.revision,
            "backends": self.backends,
            "dtype": self.dtype,
            "device": self.device,
            "seed": self.seed,
            "inputs": self.inputs,
            "environment": self.environment,
            "checks": [asdict(c) for c in self.checks],
            "first_divergence": self.first_divergence,
            "calibration": self.calibration,
            "passed": self.passed,
        }

    def write_json(self, path: str | os.PathLike) -> Path:
        """Atomic write: a report that exists is always complete."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2, allow_nan=True)
            f.write("\n")
        os.replace(tmp, path)
        return path

    def rows(self, grads: str = "summary") -> list[list[str]]:
        """One row per check; gradients folded into one worst-case row per backend pair."""
        rows, grad_groups = [], {}
        for c in self.checks:
            if c.output.startswith("grad.") and grads == "summary":
                grad_groups.setdefault((c.a, c.b), []).append(c)
                continue
            rows.append(_row(c.a, c.b, c.output, c.metrics, c.tolerance, c.passed))
        for (a, b), checks in grad_groups.items():
            worst = max(checks, key=lambda c: (not c.passed, c.metrics.get("rel_fro_floored", c.metrics["rel_fro"])
                                               if c.metrics["finite"] else float("inf")))
            name = f"grads ({len(checks)} params, worst {worst.output[5:]})"
            rows.append(_row(a, b, name, worst.metrics, worst.tolerance, all(c.passed for c in checks)))
        return rows

    def table(self, fmt: str = "text") -> str:
        header = ["backend", "vs", "output", "max abs", "mean abs", "rel fro", "cosine", "KL max", "top-1",
                  "tolerance", "ok"]
        return render_table(header, self.rows(), fmt)

    def to_markdown(self) -> str:
        env = ", ".join(f"{k} {v}" for k, v in self.environment.items())
        lines = [f"### Parity: `{self.model}`", "",
                 f"dtype {self.dtype}, device {self.device}, seed {self.seed}, inputs {self.inputs}; {env}", "",
                 self.table("markdown"), "",
                 f"**{'PASSED' if self.passed else 'FAILED'}**"]
        if self.first_divergence:
            lines.append(f"\nfirst divergence: `{json.dumps(self.first_divergence)}`")
        return "\n".join(lines) + "\n"


def _fmt(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _row(a, b, output, metrics, tolerance, passed) -> list[str]:
    tol = " ".join(f"{k}{'>=' if k in LOWER_BOUNDED else '<='}{v:g}" for k, v in tolerance.items())
    rel = _fmt(metrics["rel_fro"])
    if "rel_fro_floored" in metrics:
        rel = f"{_fmt(metrics['rel_fro_floored'])} (floored)"
    kl = _fmt(metrics["kl_max"]) if "kl_max" in metrics else "-"
    top1 = f"{metrics['top1_agreement']:.3f}" if "top1_agreement" in metrics else "-"
    return [a, b, output, _fmt(metrics["max_abs"]), _fmt(metrics["mean_abs"]), rel,
            f"{metrics['cosine']:.7f}", kl, top1, tol, "yes" if passed else "NO"]


def environment() -> dict:
    """Versions of what ran: each framework only if this process has it (a MindSpore-only or a torch-only
    host runs the backends it can)."""
    import importlib

    import numpy

    versions = {"numpy": numpy.__version__, "python": platform.python_version(),
                "machine": f"{platform.machine()} {os.cpu_count()} cpus"}
    for name in ("mindspore", "torch", "transformers"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:         # not installed, or blocked on purpose
            versions[name] = "not importable"
    return versions


def model_revision(folder: str | os.PathLike) -> dict:
    """The folder, and for pulled models the hub id, source and resolved commit from the cache manifest."""
    folder = Path(folder)
    out = {"folder": str(folder)}
    manifest = folder.parent / "mindzoo.json"
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return out
        out.update({k: data[k] for k in ("repo_id", "source", "commit") if k in data})
    return out
