"""Peak memory of loading a checkpoint into a model: streamed (what `load_ms` / `load_pt` do) against the
whole checkpoint converted in memory first (`zoo_state` + `load_state`, what the parity harness does to
share one state among its backends).

    python -m benchmarks.load_memory [--shape opt-350m-shape] [--dtype float16]

A random checkpoint with the shape's upstream names and shapes is written once (in the upstream dtype),
then each way of loading runs in a fresh process and reports its peak RSS (VmHWM) above the RSS after
building the empty model. Writes benchmarks/results/cpu/load_memory.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

MODES = ("ms-stream", "ms-in-memory", "pt-stream", "pt-in-memory")


def write_checkpoint(shape: str, dtype: str, folder: Path) -> Path:
    """config.json of the shape and random weights under the upstream names (transformers on the meta device
    gives the names and shapes), stored in `dtype`."""
    import torch
    import transformers

    from benchmarks.shapes import shape_folder
    from zoo.core.checkpoint import save_state

    config_folder = shape_folder(shape, folder.parent)
    config = transformers.AutoConfig.from_pretrained(str(config_folder))
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    rng = np.random.default_rng(0)
    state = {name: (rng.standard_normal(tuple(p.shape), dtype=np.float32) * 0.02).astype(dtype)
             for name, p in model.state_dict().items() if not (config.tie_word_embeddings and name == "lm_head.weight")}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text((config_folder / "config.json").read_text())
    save_state(state, folder / "model.safetensors", {"format": "pt"})
    return folder


def measure(mode: str, folder: str) -> dict:
    from benchmarks.worker import rss_mb
    from zoo.models import build_ms, build_pt, load_ms, load_pt, resolve, zoo_state

    spec = resolve(folder)
    framework, how = mode.split("-", 1)
    if framework == "ms":
        import mindspore  # noqa: F401

        base = rss_mb()
        build_ms(spec)
        built = rss_mb()
        if how == "stream":
            load_ms(spec)
        else:
            load_ms(spec, state=zoo_state(spec))
    else:
        import torch  # noqa: F401

        base = rss_mb()
        build_pt(spec)
        built = rss_mb()
        if how == "stream":
            load_pt(spec)
        else:
            load_pt(spec, state=zoo_state(spec))
    peak = rss_mb("VmHWM")
    return {"mode": mode, "imports_mb": base, "one_model_mb": built - base, "peak_mb": peak,
            "peak_above_imports_mb": peak - base}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="opt-350m-shape")
    parser.add_argument("--dtype", default="float16", choices=("float16", "float32"))
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "cpu" / "load_memory.json"))
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        folder = write_checkpoint(args.shape, args.dtype, Path(scratch) / "ckpt")
        size = (folder / "model.safetensors").stat().st_size / 2**20
        rows = []
        for mode in MODES:
            done = subprocess.run([sys.executable, "-m", "benchmarks.load_memory", "--measure", mode, str(folder)],
                                  capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"{mode:14s} model {rows[-1]['one_model_mb']:8.0f} MB  peak above imports "
                  f"{rows[-1]['peak_above_imports_mb']:8.0f} MB  (checkpoint {size:.0f} MB)", flush=True)
    record = {"benchmark": "load_memory", "shape": args.shape, "dtype": args.dtype, "checkpoint_mb": size,
              "created": datetime.now(UTC).isoformat(timespec="seconds"), "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
