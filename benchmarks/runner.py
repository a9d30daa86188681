"""The benchmark runner: one subprocess per (task, backend), records appended, a table printed.

    from benchmarks.runner import run
    records = run("opt-350m-shape", backends=("ms-graph", "pt"), tasks=("forward",), batch=8, seq=128)

Behind `mindzoo bench` (benchmarks/cli.py). Methodology: benchmarks/METHODOLOGY.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import records
from benchmarks.shapes import check_model
from benchmarks.worker import FRAMEWORK, MODE, RECORD_PREFIX, TORCH_ADAMW
from zoo.core.errors import InputError

BACKENDS = ("ms-graph", "ms-pynative", "pt", "pt-compile", "ref")
DTYPES = ("float32", "float16", "bfloat16")
# MindSpore graph mode runs as the parity harness checks it: no graph-kernel fusion. Fusion is faster
# on CPU but not parity-clean in mindspore 2.9.0 (wrong gradients, approximate exp / tanh:
# docs/PERFORMANCE.md); measure it with FUSED_OPTIONS / FUSED_ENV (`--ms-option graph_kernel=true
# --ms-env OMP_NUM_THREADS=1`: with OpenMP's spinning threads beside MindSpore's pool it was 3x slower).
MS_GRAPH_DEFAULTS: dict = {}
FUSED_OPTIONS = {"graph_kernel": True, "variant": "fused"}
FUSED_ENV = {"OMP_NUM_THREADS": "1"}


def default_options(backend: str, device: str) -> tuple[dict, dict]:
    """(options, extra environment) a backend runs with unless the caller overrides them."""
    if backend == "ms-graph":
        return dict(MS_GRAPH_DEFAULTS), {}
    return {}, {}


def _job_env(extra: dict) -> dict:
    env = dict(os.environ)
    env.setdefault("GLOG_v", "3")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    for key, value in extra.items():          # NAME= (empty) unsets NAME for the worker
        if value == "":
            env.pop(key, None)
        else:
            env[key] = str(value)
    root = str(Path(__file__).resolve().parent.parent)       # `benchmarks` importable from any cwd
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_worker(module: str, job: dict, env: dict, prefix: str, timeout: float) -> tuple[dict | None, str]:
    """Run `python -m module job` in a scratch cwd (failed graph compiles write rank_0/ there)."""
    with tempfile.TemporaryDirectory(prefix="mindzoo-bench-") as cwd:
        try:
            proc = subprocess.run([sys.executable, "-m", module, json.dumps(job)], capture_output=True, text=True,
                                  env=env, cwd=cwd, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"timed out after {timeout:.0f} s"
    lines = [line for line in proc.stdout.splitlines() if line.startswith(prefix)]
    if lines:
        return json.loads(lines[-1][len(prefix):]), proc.stderr
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
    killed = " (SIGKILL: out of memory?)" if proc.returncode == -9 else ""
    return None, f"worker exited {proc.returncode}{killed} without a record: {tail[:500]}"


def failed_record(job: dict, reason: str) -> dict:
    """What the runner writes when the worker died (killed for memory, timed out, crashed in C++)."""
    record = {f: None for f in records.FIELDS}
    record.update(schema=records.SCHEMA_VERSION, created=datetime.now(UTC).isoformat(timespec="seconds"),
                  run_id=job["run_id"], status="failed", reason=reason, model=job["model"], random_weights=False,
                  family="", framework=FRAMEWORK[job["backend"]], backend=job["backend"], mode=MODE[job["backend"]],
                  options=job["options"], device=records.device_info(job["device"]), dtype=job["dtype"],
                  batch=job["batch"], seq=job["seq"], task=job["task"],
                  new_tokens=job["new_tokens"] if job["task"] == "decode" else None, warmup_steps=job["warmup"],
                  timed_steps=job["steps"], step_times_s=[], threads={}, load_avg=list(os.getloadavg()))
    return record


def latest_peak(device: str, dtype: str, root: Path | None = None) -> tuple[float | None, str | None]:
    """The best GEMM median ever recorded on this device and dtype, with where it came from.

    The best, not the latest: on a shared machine a peak run under load understates the roof (and
    would push MFU past 100%); the best run is the closest measurement of what the cores can do.
    """
    rows = [r for r in records.read(records.results_file(device, "gemm.jsonl", root))
            if r.get("status") == "ok" and r.get("dtype") == dtype]
    if not rows:
        return None, None
    best = max(rows, key=lambda r: r["flops_per_s"])
    return best["flops_per_s"], f"measured GEMM n={best['n']} {best['framework']} ({best['created']})"


def with_peak(record: dict, peak: float | None, source: str | None) -> dict:
    if record["status"] == "ok" and peak and record.get("flops_per_s"):
        record.update(peak_flops_per_s=peak, peak_source=source, mfu=record["flops_per_s"] / peak)
    return record


def run(model: str, backends: Sequence[str] = BACKENDS, tasks: Sequence[str] = ("forward",), device: str = "cpu",
        dtype: str = "float32", batch: int = 8, seq: int = 128, new_tokens: int = 32, warmup: int = 2,
        steps: int = 10, options: dict | None = None, env: dict | None = None, save: bool = True,
        results_root: Path | None = None, timeout: float = 3600.0, progress=None,
        pt_options: dict | None = None) -> list[dict]:
    """Measure `model` for every task x backend, each in a fresh process; append and return the records.

    `options` / `env` override the per-backend defaults (default_options) for MindSpore backends;
    `pt_options` go to the twin's backends (pt, pt-compile), e.g. {"attn": "sdpa"} or {"adamw": "for-loop"}
    (torch's AdamW: fused by default, as transformers' Trainer).
    """
    from zoo.pt.layers import ATTENTION_IMPLS

    attn = (pt_options or {}).get("attn", "math")
    if attn not in ATTENTION_IMPLS:
        raise InputError(f"--pt-option attn={attn}: choose one of {', '.join(ATTENTION_IMPLS)}")
    adamw = (pt_options or {}).get("adamw", "fused")
    if adamw not in TORCH_ADAMW:
        raise InputError(f"--pt-option adamw={adamw}: choose one of {', '.join(TORCH_ADAMW)}")
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        raise InputError(f"backends {list(backends)}: choose from {', '.join(BACKENDS)}")
    bad_tasks = [t for t in tasks if t not in records.TASKS]
    if bad_tasks or not tasks:
        raise InputError(f"tasks {list(tasks)}: choose from {', '.join(records.TASKS)}")
    if device not in records.DEVICES:
        raise InputError(f"device {device!r}: choose one of {', '.join(records.DEVICES)}")
    if dtype not in DTYPES:
        raise InputError(f"dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    if min(batch, seq, steps, new_tokens) < 1 or warmup < 0:
        raise InputError("batch, seq, steps and new tokens must be >= 1, warm-up >= 0")
    if Path(model).expanduser().is_dir():
        model = str(Path(model).expanduser().resolve())
    check_model(model)
    run_id = uuid.uuid4().hex[:12]
    peak, source = latest_peak(device, dtype, results_root)
    out = []
    for task in tasks:
        for backend in backends:
            opts, extra_env = default_options(backend, device)
            if backend.startswith("ms-"):
                opts.update(options or {})
                extra_env.update(env or {})
            else:
                for label in ("variant", "session"):   # a run's labels go on every backend's record
                    if (options or {}).get(label):
                        opts[label] = options[label]
                if backend in ("pt", "pt-compile"):
                    opts.update(pt_options or {})
            job = dict(model=model, backend=backend, task=task, device=device, dtype=dtype, batch=batch, seq=seq,
                       new_tokens=new_tokens, warmup=warmup, steps=steps, options=opts, run_id=run_id)
            if progress:
                progress(f"{task} {backend}")
            record, log = run_worker("benchmarks.worker", job, _job_env(extra_env), RECORD_PREFIX, timeout)
            record = failed_record(job, log) if record is None else record
            out.append(with_peak(record, peak, source))
            if save:        # one record at a time: a session cut short keeps what it measured
                records.append([out[-1]], records.results_file(device, root=results_root))
    return out


def measure_peak(device: str = "cpu", dtype: str = "float32", n: int = 2048, frameworks=("torch", "mindspore"),
                 save: bool = True, results_root: Path | None = None) -> list[dict]:
    """GEMM peak per framework, each in its own process (MindSpore with its default threads)."""
    run_id = uuid.uuid4().hex[:12]
    out = []
    for framework in frameworks:
        job = dict(framework=framework, device=device, dtype=dtype, n=n, run_id=run_id)
        record, log = run_worker("benchmarks.gemm", job, _job_env({}), "GEMM_RECORD ", 1800)
        if record is None:
            record = {"kind": "gemm", "created": datetime.now(UTC).isoformat(timespec="seconds"),
                      "run_id": run_id, "framework": framework, "dtype": dtype, "n": n, "status": "failed",
                      "reason": log, "device": records.device_info(device), "median_s": None, "flops_per_s": None}
        out.append(record)
    if save:
        path = records.results_file(device, "gemm.jsonl", results_root)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            for r in out:
                f.write(json.dumps(r, sort_keys=True) + "\n")
    return out


def table(rows: list[dict]) -> str:
    from zoo.core.tables import render_table

    def num(value, fmt):
        return "-" if value is None else format(value, fmt)

    body = [[r["model"].rsplit("/", 1)[-1], r["task"], r["backend"], f"{r['batch']}x{r['seq']}", r["status"],
             num(r.get("median_s") and r["median_s"] * 1e3, ".1f"), num(r.get("p95_s") and r["p95_s"] * 1e3, ".1f"),
             num(r.get("tokens_per_s"), ".1f"), num(r.get("compile_s"), ".1f"),
             num(r.get("mfu") and 100 * r["mfu"], ".1f"), num(r.get("peak_rss_mb"), ".0f"),
             (r.get("reason") or "")[:60]] for r in rows]
    return render_table(["model", "task", "backend", "BxS", "status", "median ms", "p95 ms", "tokens/s",
                         "compile s", "MFU %", "peak RSS MB", "note"], body)
