"""Can MindSpore run on this GPU host? The answer, or the precise reason it cannot, as one record.

    python -m benchmarks.ms_gpu_probe [--plugin PATH[.xz]] [--results DIR]

Tries `import mindspore` and one op on the GPU. Where that fails, and the MindSpore wheel's GPU
plugin (mindspore/lib/plugin/libmindspore_gpu.so.<cuda>) is given, runs `ldd` on it here and lists
the CUDA libraries it links that this host lacks, beside the CUDA runtimes the host does have. The
record is appended to <results>/gpu/mindspore_gpu.jsonl (issue 7: a result or the reason, not hidden).
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as err:
        return f"<{cmd[0]}: {err}>"


def try_mindspore() -> dict:
    try:
        import mindspore as ms
    except ImportError as err:
        return {"import": f"ImportError: {err}"}
    out = {"import": "ok", "version": ms.__version__}
    try:
        import numpy as np

        ms.set_device("GPU")
        out["op"] = float((ms.Tensor(np.ones(4, np.float32)) * 2).sum().asnumpy())
    except Exception as err:  # noqa: BLE001 - the reason is the result
        out["op"] = f"{type(err).__name__}: {str(err).strip()[:400]}"
    return out


def missing_libraries(plugin: Path) -> tuple[list[str], list[str]]:
    """(libraries ldd cannot find, all libraries the plugin links) for the plugin binary."""
    if plugin.suffix == ".xz":
        scratch = Path(tempfile.mkdtemp(prefix="ms-plugin-")) / plugin.stem
        with lzma.open(plugin) as src, scratch.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        plugin = scratch
    text = _run(["ldd", str(plugin)])
    linked = re.findall(r"^\s*(\S+) =>", text, flags=re.M)
    shipped = ("libmindspore", "libcuda_ops")      # in the wheel beside the plugin, found through its RPATH
    missing = [lib for lib in re.findall(r"^\s*(\S+) => not found", text, flags=re.M)
               if not lib.startswith(shipped)]
    return missing, linked


def host_cuda() -> dict:
    cache = _run(["ldconfig", "-p"])
    runtimes = sorted(set(re.findall(r"(libcudart\.so\.\d+[\.\d]*)", cache)))
    for root in sys.path:          # pip's nvidia-* wheels (torch's CUDA) are not in ldconfig's cache
        runtimes += sorted(p.name for p in Path(root).glob("nvidia/*/lib/libcudart.so*")) if root else []
    out = {"libcudart_found": sorted(set(runtimes)),
           "driver": _run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"]).strip()}
    try:
        import torch

        out["torch_cuda"] = torch.version.cuda
    except ImportError:
        pass
    return out


def probe(plugin: Path | None) -> dict:
    from benchmarks.records import device_info

    record = {"kind": "mindspore-gpu-probe", "created": datetime.now(UTC).isoformat(timespec="seconds"),
              "device": device_info("gpu"), "mindspore": try_mindspore(), "host": host_cuda()}
    ran = record["mindspore"].get("op")
    record["status"] = "ok" if isinstance(ran, float) else "cannot-run"
    reasons = []
    if record["mindspore"]["import"] != "ok":
        reasons.append(f"mindspore is not installed here ({record['mindspore']['import']})")
    elif not isinstance(ran, float):
        reasons.append(f"mindspore imports but a GPU op fails: {ran}")
    if plugin is not None and plugin.exists():
        missing, linked = missing_libraries(plugin)
        record["plugin"] = {"file": plugin.name, "linked": linked, "missing": missing}
        if missing:
            reasons.append(f"its GPU plugin {plugin.name.removesuffix('.xz')} links {', '.join(missing)}, "
                           f"which this host lacks (CUDA runtimes here: "
                           f"{', '.join(record['host']['libcudart_found']) or 'none'}; "
                           f"GPU and driver: {record['host']['driver'] or '?'})")
    record["reason"] = "; ".join(reasons) or None
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugin", help="mindspore/lib/plugin/libmindspore_gpu.so.<cuda> (optionally .xz)")
    parser.add_argument("--results", help="results root (default benchmarks/results)")
    args = parser.parse_args(argv)
    os.environ.setdefault("GLOG_v", "3")
    from benchmarks import records

    record = probe(Path(args.plugin) if args.plugin else None)
    path = records.results_file("gpu", "mindspore_gpu.jsonl", Path(args.results) if args.results else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
