"""Is MindSpore graph mode still parity-clean with graph-kernel fusion on? The harness is the judge.

    OMP_NUM_THREADS=1 python -m benchmarks.fused_parity [MODEL ...]   (default: the tiny checkpoints + minilm-l6)

Runs parity.compare(ms-graph, pt, ref) with `enable_graph_kernel=True` set before the MindSpore
backend compiles, i.e. the configuration `mindzoo bench` measures as ms-graph on CPU, and prints each
model's verdict and its worst ms-graph rows. Exit 1 if any model fails.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("GLOG_v", "3")
    import mindspore as ms

    import parity
    from zoo.families import tiny_writers

    ms.set_context(enable_graph_kernel=True)
    models = list(argv)
    if not models:
        root = Path(tempfile.mkdtemp(prefix="mindzoo-fused-parity-"))
        models = [str(write(root / name)) for name, write in tiny_writers().items()] + ["minilm-l6"]
    failed = 0
    for model in models:
        report = parity.compare(model, backends=("ms-graph", "pt", "ref"), localize=False)
        rows = [c for c in report.checks if c.a == "ms-graph" and c.b == "ref"]
        worst = max(rows, key=lambda c: c.metrics.get("max_abs", 0.0))
        print(f"{Path(model).name}: {'PASSED' if report.passed else 'FAILED'}; worst ms-graph vs ref: {worst.output} "
              f"max_abs {worst.metrics.get('max_abs', float('nan')):.2e} (bound {worst.tolerance})", flush=True)
        if not report.passed:
            failed += 1
            for c in report.checks:
                if not c.passed:
                    print(f"   {c.a} vs {c.b} {c.output}: {c.metrics} bound {c.tolerance}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
