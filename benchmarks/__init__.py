"""Throughput benchmarks per device and framework (`mindzoo bench`): runner, GEMM peak, records, summary.

One measurement = one process (benchmarks/worker.py); the runner (benchmarks/runner.py) spawns them
and appends one JSON record each to benchmarks/results/<device>/bench.jsonl. METHODOLOGY.md says how.
"""
