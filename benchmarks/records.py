"""Benchmark records: one JSON object per measurement, appended to benchmarks/results/<device>/*.jsonl.

Files are append-only: re-running adds records (each with its own `created` stamp and `run_id`),
never rewrites old ones. The schema (DESIGN.md "Benchmarks") is checked by `validate`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path

from zoo.core.errors import InputError

RESULTS = Path(__file__).resolve().parent / "results"
SCHEMA_VERSION = 1
DEVICES = ("cpu", "gpu", "ascend")
TASKS = ("forward", "train", "decode")
STATUSES = ("ok", "skipped", "failed")

# field -> allowed types; every record has all of them (None where a number does not apply)
FIELDS: dict[str, tuple[type, ...]] = {
    "schema": (int,), "created": (str,), "run_id": (str,), "status": (str,), "reason": (str, type(None)),
    "model": (str,), "random_weights": (bool,), "family": (str,), "params": (int, type(None)),
    "framework": (str,), "backend": (str,), "mode": (str,), "options": (dict,),
    "device": (dict,), "dtype": (str,), "batch": (int,), "seq": (int,), "task": (str,),
    "new_tokens": (int, type(None)),
    "warmup_steps": (int,), "timed_steps": (int,),
    "build_s": (float, type(None)), "first_step_s": (float, type(None)), "compile_s": (float, type(None)),
    "median_s": (float, type(None)), "p95_s": (float, type(None)), "step_times_s": (list,),
    "tokens_per_step": (int, type(None)), "tokens_per_s": (float, type(None)),
    "flops_per_step": (float, type(None)), "flops_per_s": (float, type(None)),
    "peak_flops_per_s": (float, type(None)), "peak_source": (str, type(None)), "mfu": (float, type(None)),
    "peak_rss_mb": (float, type(None)), "import_rss_mb": (float, type(None)),
    "peak_device_mem_mb": (float, type(None)), "threads": (dict,), "load_avg": (list,),
}
DEVICE_FIELDS = ("kind", "name", "count", "versions")


def validate(record: dict) -> None:
    """An InputError naming every field that is missing or of the wrong type."""
    problems = [f"{k} missing" for k in FIELDS if k not in record]
    problems += [f"{k}={record[k]!r} is not {'/'.join(t.__name__ for t in types)}"
                 for k, types in FIELDS.items() if k in record and not isinstance(record[k], types)]
    if record.get("status") not in STATUSES:
        problems.append(f"status {record.get('status')!r} not in {STATUSES}")
    if record.get("task") not in TASKS:
        problems.append(f"task {record.get('task')!r} not in {TASKS}")
    device = record.get("device") or {}
    problems += [f"device.{k} missing" for k in DEVICE_FIELDS if k not in device]
    if problems:
        raise InputError("benchmark record: " + "; ".join(problems))


def results_file(device: str, name: str = "bench.jsonl", root: Path | None = None) -> Path:
    return Path(root or RESULTS) / device / name


def append(records: Iterable[dict], path: Path) -> int:
    """Validate, then append one line per record (the file is never truncated)."""
    records = list(records)
    for r in records:
        validate(r)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    return len(records)


def read(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise InputError(f"{path}:{number}: not a JSON record ({err})") from err
    return out


# ------------------------------------------------------------------ environment, read by the worker
def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _command(args: list[str]) -> str | None:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=20, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for package in ("mindspore", "torch", "transformers", "numpy", "ai2-olmo"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out


def device_info(kind: str) -> dict:
    """name, count and versions of the device `kind` as this process sees it (cheap: no framework init)."""
    info = {"kind": kind, "host": platform.node(), "cpu": _cpu_name(), "cpu_count": len(os.sched_getaffinity(0)),
            "versions": versions()}
    if kind == "cpu":
        info.update(name=info["cpu"], count=info["cpu_count"])
    elif kind == "gpu":
        import torch

        available = torch.cuda.is_available()
        info.update(name=torch.cuda.get_device_name(0) if available else None,
                    count=torch.cuda.device_count() if available else 0)
        info["versions"].update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version() if available else None,
                                driver=_command(["nvidia-smi", "--query-gpu=driver_version",
                                                 "--format=csv,noheader"]))
    elif kind == "ascend":
        home = os.environ.get("ASCEND_HOME_PATH") or os.environ.get("ASCEND_TOOLKIT_HOME")
        cann = None
        if home:
            for candidate in Path(home).glob("*/ascend_toolkit_install.info"):
                cann = candidate.read_text(errors="replace").strip()
                break
        board = _command(["npu-smi", "info", "-t", "board", "-i", "0"])   # None without the driver
        info.update(name="Ascend NPU" if board else None, count=None, board=board)
        info["versions"].update(cann=cann)
    else:
        raise InputError(f"device {kind!r}: choose one of {', '.join(DEVICES)}")
    return info
