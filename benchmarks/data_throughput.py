"""Data-pipeline throughput of both twins: samples/s and tokens/s, per pipeline, framework and worker count.

Each measurement runs in its own process (a framework's import and thread pools never share a process
with the other's), iterates `--epochs` full epochs after one warm-up epoch, and appends one JSON record
to benchmarks/results/cpu/data_throughput.jsonl with the machine, versions and load average. Not
asserted anywhere: numbers from a shared machine say so in `note`.

    .venv/bin/python benchmarks/data_throughput.py                  # all pipelines, both twins, 1 and 2 workers
    .venv/bin/python benchmarks/data_throughput.py --pipelines classification --workers 1
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.records import device_info  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "cpu" / "data_throughput.jsonl"
SETTINGS = {   # what the fine-tune and the pretraining run use
    "classification": {"batch_size": 16, "length": 64},
    "causal-lm": {"batch_size": 8, "length": 128},
}


def measure(pipeline_kind: str, framework: str, workers: int, epochs: int) -> dict:
    from zoo.data.presets import make_pipeline

    if framework == "mindspore":
        from zoo.data.loader_ms import iterate
    else:
        from zoo.data.loader_pt import iterate
    settings = SETTINGS[pipeline_kind]
    start = time.perf_counter()
    pipeline = make_pipeline(pipeline_kind, batch_size=settings["batch_size"], length=settings["length"],
                             shuffle=True, seed=0, drop_last=False)
    build_s = time.perf_counter() - start
    for _ in iterate(pipeline, 0, workers):   # warm-up epoch: worker start-up, first tokenizer calls
        pass
    samples = tokens = padded = 0
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        for batch in iterate(pipeline, epoch, workers):
            valid = batch["valid"].astype(bool) if "valid" in batch else slice(None)
            samples += int(batch["input_ids"][valid].shape[0])
            mask = batch.get("attention_mask")
            tokens += int(mask[valid].sum()) if mask is not None else int(batch["input_ids"].size)
            padded += int(batch["input_ids"].size)
    seconds = time.perf_counter() - start
    return {"pipeline": pipeline.describe(), "build_s": round(build_s, 3), "epochs": epochs, "seconds": seconds,
            "samples": samples, "tokens": tokens, "padded_tokens": padded,
            "samples_per_s": samples / seconds, "tokens_per_s": tokens / seconds,
            "padded_tokens_per_s": padded / seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipelines", default="classification,causal-lm")
    parser.add_argument("--frameworks", default="mindspore,torch")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--note", default="", help="e.g. 'shared machine, other jobs running'")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--child", nargs=3, metavar=("PIPELINE", "FRAMEWORK", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, framework, workers = args.child
        print(json.dumps(measure(kind, framework, int(workers), args.epochs)))
        return 0
    run_id = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GLOG_v": "3", "TOKENIZERS_PARALLELISM": "false"}
    for kind in args.pipelines.split(","):
        for framework in args.frameworks.split(","):
            for workers in args.workers.split(","):
                load_before = list(os.getloadavg())
                child = subprocess.run([sys.executable, __file__, "--epochs", str(args.epochs), "--child", kind,
                                        framework, workers], capture_output=True, text=True, env=env, cwd=ROOT)
                if child.returncode:
                    print(child.stderr[-2000:], file=sys.stderr)
                    return child.returncode
                result = json.loads(child.stdout.strip().splitlines()[-1])
                record = {"created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                          "run_id": run_id, "benchmark": "data_throughput", "pipeline_kind": kind,
                          "framework": framework, "workers": int(workers), **result,
                          "device": device_info("cpu"), "load_avg_before": load_before,
                          "load_avg_after": list(os.getloadavg()), "note": args.note}
                with out.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(record, sort_keys=True) + "\n")
                print(f"{kind:15s} {framework:10s} workers={workers}  {result['samples_per_s']:9.1f} samples/s  "
                      f"{result['tokens_per_s']:11.0f} tokens/s  (load {load_before[0]:.1f})", flush=True)
    print(f"records appended to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
