"""Data pipelines, each as a mindspore.dataset pipeline and a torch DataLoader twin.

- `sampler`: the one seeded, framework-free BatchSampler both twins follow.
- `sources`: text / JSONL / Arrow readers with strict UTF-8 and label checks; `arrow` reads Arrow IPC.
- `tokenize`: HF `tokenizers` with the special tokens a pipeline needs.
- `classification`, `causal_lm`: the pipelines (numpy examples and collation, static shapes).
- `loader_ms`, `loader_pt`: the twins. `parity`: byte-for-byte comparison of their batches.
"""
