"""Using the models: text generation and evaluation (perplexity, multiple-choice), with parity of every score.

    tokenizer.py   the checkpoint's own tokenizer (transformers' classes, trust_remote_code=False)
    generate.py    greedy / seeded sampling over the cached generators, streamed (`mindzoo generate`)
    tasks.py       task presets as data (data/tasks.json), examples from samples, files, OLMES, the hub
    scoring.py     requests -> token rows -> log-likelihoods; metrics (acc, acc_norm, perplexity, bpb)
    backends.py    ms-graph, ms-pynative, pt (the twin), ref (upstream): one batch of rows -> target log-probs
    store.py       per-example results appended to JSONL, so an interrupted run resumes
    runner.py      one model x one task x several backends, the parity gate, the JSON report
    sweep.py       several checkpoints / revisions: the markdown table and the chart

Nothing here imports `parity` (the layering rule of docs/architecture.md); docs/eval.md is the user's page.
"""
