"""The roof MFU is measured against: a square GEMM per device, dtype and framework, in its own process.

    python -m benchmarks.gemm '{"framework": "torch", "device": "cpu", "dtype": "float32", "n": 2048}'

C = A B with A, B (n, n): 2 n^3 FLOPs per product. The peak of a device is the best median over the
frameworks measured (fp32 on CPU; bf16 / fp16 on GPU and Ascend). Datasheet figures may be listed
beside it in the summary, named as such; MFU in the records always uses the measured peak.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import warnings
from datetime import UTC, datetime

import numpy as np

RECORD_PREFIX = "GEMM_RECORD "


def _torch_gemm(device: str, dtype: str, n: int):
    import torch

    target = {"cpu": "cpu", "gpu": "cuda"}.get(device)
    if target is None or (target == "cuda" and not torch.cuda.is_available()):
        raise RuntimeError(f"torch has no {device} device here")
    torch_dtype = getattr(torch, dtype)
    a = torch.randn(n, n, device=target).to(torch_dtype)
    b = torch.randn(n, n, device=target).to(torch_dtype)

    def step():
        c = a @ b
        if target == "cuda":
            torch.cuda.synchronize()
        return c
    return step, {"torch_intra_op": torch.get_num_threads()}


def _ms_gemm(device: str, dtype: str, n: int):
    import mindspore as ms
    from mindspore import ops

    import zoo.ms  # noqa: F401 - sets MS_DEV_HOST_BLOCKING_RUN on CPU before the first launch (zoo/ms/runtime.py)

    ms.set_device({"cpu": "CPU", "gpu": "GPU", "ascend": "Ascend"}[device])
    ms_dtype = getattr(ms, dtype)
    rng = np.random.default_rng(0)
    a = ms.Tensor(rng.standard_normal((n, n), dtype=np.float32)).astype(ms_dtype)
    b = ms.Tensor(rng.standard_normal((n, n), dtype=np.float32)).astype(ms_dtype)
    matmul = ops.MatMul()

    def step():
        c = matmul(a, b)
        ms.runtime.synchronize()
        return c
    return step, {"mindspore_threads_num": "default"}


def measure(job: dict) -> dict:
    from benchmarks.records import device_info

    record = {"kind": "gemm", "created": datetime.now(UTC).isoformat(timespec="seconds"),
              "run_id": job.get("run_id", ""), "framework": job["framework"], "dtype": job["dtype"], "n": job["n"],
              "status": "ok", "reason": None, "load_avg": [round(x, 2) for x in os.getloadavg()],
              "device": device_info(job["device"]), "median_s": None, "flops_per_s": None, "step_times_s": []}
    try:
        build = _torch_gemm if job["framework"] == "torch" else _ms_gemm
        step, threads = build(job["device"], job["dtype"], job["n"])
        record["threads"] = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), **threads}
        for _ in range(job.get("warmup", 3)):
            step()
        times = []
        for _ in range(job.get("steps", 10)):
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
        median = float(np.median(times))
        record.update(median_s=median, flops_per_s=2.0 * job["n"] ** 3 / median,
                      step_times_s=[round(t, 6) for t in times])
    except Exception as err:  # noqa: BLE001 - a framework that cannot run here is a record too
        record.update(status="failed", reason=f"{type(err).__name__}: {str(err).strip()[:300]}")
        traceback.print_exc(file=sys.stderr)
    record["load_avg"] += [round(x, 2) for x in os.getloadavg()]
    return record


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    warnings.filterwarnings("ignore")
    os.environ.setdefault("GLOG_v", "3")
    print(RECORD_PREFIX + json.dumps(measure(json.loads(argv[0]))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
