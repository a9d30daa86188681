"""Peak memory of converting a 1B-sized checkpoint: streaming (what `mindzoo pull` does) vs in memory.

    .venv/bin/python benchmarks/convert_memory.py [--workdir /tmp/convert-memory] [--keep-files]

Writes a checkpoint with the exact key set and shapes of facebook/opt-1.3b (fp16 like the hub's, two
safetensors shards + index; random values, no download), then converts it to zoo names in separate
processes and reads each one's peak resident memory (VmHWM of the process's own address space, read
by the process at its end; wait4's ru_maxrss would also count the parent's memory at fork time):

  baseline     imports + config + expected parameter shapes, no tensors (the fixed cost)
  stream-keep  zoo.cache.convert_streaming, dtype kept (fp16)
  stream-fp32  the same, cast to fp32 (output twice the input)
  in-memory    zoo.checkpoint.load_tensors + to_zoo + save_safetensors (the non-streaming path)

Prints a table and writes benchmarks/results/cpu/convert_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

OPT_1_3B = dict(vocab_size=50272, hidden_size=2048, num_hidden_layers=24, ffn_dim=8192, num_attention_heads=32,
                max_position_embeddings=2048, word_embed_proj_dim=2048, do_layer_norm_before=True,
                dropout=0.1, attention_dropout=0.0, activation_function="relu", enable_bias=True,
                layer_norm_elementwise_affine=True, tie_word_embeddings=True)
SHARD_BYTES = 1_400_000_000


def write_checkpoint(folder: Path) -> tuple[int, int, int]:
    """config.json by transformers, then fp16 shards written one at a time: (bytes, tensors, largest)."""
    import torch
    import transformers
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    config = transformers.OPTConfig(**OPT_1_3B, torch_dtype="float16")
    config.architectures = ["OPTForCausalLM"]
    config.save_pretrained(folder)
    with torch.device("meta"):
        shapes = {n: tuple(t.shape) for n, t in transformers.OPTForCausalLM(config).state_dict().items()
                  if n != "lm_head.weight"}   # tied: save_pretrained leaves it out too
    generator = torch.Generator().manual_seed(0)
    shards: list[list[str]] = []
    shard: dict[str, torch.Tensor] = {}
    size = 0

    def flush() -> None:
        save_file(shard, str(folder / f"shard-{len(shards)}.tmp"), metadata={"format": "pt"})
        shards.append(list(shard))
        shard.clear()

    for name, shape in shapes.items():
        tensor = (torch.randn(shape, generator=generator) * 0.02).to(torch.float16)
        if shard and sum(t.nbytes for t in shard.values()) + tensor.nbytes > SHARD_BYTES:
            flush()
        shard[name] = tensor
        size += tensor.nbytes
    flush()
    weight_map = {}
    for i, names in enumerate(shards):
        final = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        (folder / f"shard-{i}.tmp").rename(folder / final)
        weight_map.update(dict.fromkeys(names, final))
    index = {"metadata": {"total_size": size}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=1))
    largest = max(torch.Size(s).numel() for s in shapes.values()) * 2
    return size, len(shapes), largest


def child(mode: str, folder: str, out: str) -> None:
    """One measured conversion (runs in its own process)."""
    from zoo.cache import convert_streaming, upstream_names
    from zoo.checkpoint import load_tensors, save_safetensors, to_zoo
    from zoo.models import expected_params, resolve

    spec = resolve(folder)
    expected = expected_params(spec)
    keymap = spec.family.keymap(spec.config, upstream_names(Path(folder)))
    if mode.startswith("stream-"):
        convert_streaming(folder, keymap, expected, out, mode.removeprefix("stream-"))
    elif mode == "in-memory":
        save_safetensors(to_zoo(load_tensors(folder), keymap, expected), out)
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    print(json.dumps({"peak_rss_bytes": peak_kb * 1024}), flush=True)


def measure(mode: str, folder: Path, out: Path) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(folder), str(out)],
                          env={**os.environ, "GLOG_v": "3"}, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{mode}: the conversion failed:\n{proc.stderr}")
    peak = json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_bytes"]
    out_bytes = out.stat().st_size if out.exists() else 0
    if out.exists():
        out.unlink()
    return {"mode": mode, "peak_rss_bytes": peak, "seconds": round(seconds, 1), "output_bytes": out_bytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/convert-memory")
    parser.add_argument("--keep-files", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "FOLDER", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)

    work = Path(args.workdir)
    folder = work / "opt-1.3b-shaped"
    print(f"writing an OPT-1.3b-shaped fp16 checkpoint into {folder} ...", flush=True)
    size, count, largest = write_checkpoint(folder)   # its memory is this process's, not the children's
    rows = [measure(mode, folder, work / f"{mode}.safetensors")
            for mode in ("baseline", "stream-keep", "stream-fp32", "in-memory")]
    gib = 1024 ** 3
    print(f"\ncheckpoint: {size / gib:.2f} GiB in {count} tensors, largest tensor {largest / gib:.3f} GiB")
    print(f"{'mode':<12} {'peak RSS':>10} {'x ckpt':>7} {'output':>10} {'seconds':>8}")
    for r in rows:
        print(f"{r['mode']:<12} {r['peak_rss_bytes'] / gib:>8.2f} G {r['peak_rss_bytes'] / size:>7.2f} "
              f"{r['output_bytes'] / gib:>8.2f} G {r['seconds']:>8.1f}")
    record = {"benchmark": "convert_memory", "checkpoint": "facebook/opt-1.3b key set and shapes, fp16, random",
              "checkpoint_bytes": size, "tensors": count, "largest_tensor_bytes": largest, "results": rows,
              "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()}}
    results = Path(__file__).parent / "results" / "cpu" / "convert_memory.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(record, indent=1) + "\n")
    print(f"\nwrote {results}")
    if not args.keep_files:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
