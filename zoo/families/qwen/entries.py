"""The Qwen models the registry names (base and instruct where both exist)."""

from __future__ import annotations

from zoo.core.family import Entry

ENTRIES: tuple[Entry, ...] = (
    Entry("qwen2-0.5b", "qwen", "Qwen/Qwen2-0.5B", "causal-lm", "494M",
          notes="Qwen2, 24 x 896, 14 heads on 2 KV heads, q/k/v biases, tied"),
    Entry("qwen2.5-0.5b", "qwen", "Qwen/Qwen2.5-0.5B", "causal-lm", "494M",
          notes="Qwen2.5, 24 x 896, 14 heads on 2 KV heads, q/k/v biases, tied"),
    Entry("qwen2.5-0.5b-instruct", "qwen", "Qwen/Qwen2.5-0.5B-Instruct", "causal-lm", "494M",
          notes="Qwen2.5-0.5B, instruction-tuned (chat template)"),
    Entry("qwen2.5-1.5b", "qwen", "Qwen/Qwen2.5-1.5B", "causal-lm", "1.54B",
          notes="Qwen2.5, 28 x 1536, 12 heads on 2 KV heads, tied"),
    Entry("qwen2.5-1.5b-instruct", "qwen", "Qwen/Qwen2.5-1.5B-Instruct", "causal-lm", "1.54B",
          notes="Qwen2.5-1.5B, instruction-tuned"),
    Entry("qwen3-0.6b-base", "qwen", "Qwen/Qwen3-0.6B-Base", "causal-lm", "596M",
          notes="Qwen3, 28 x 1024, 16 heads of 128 on 8 KV heads, q/k RMSNorm, tied"),
    Entry("qwen3-0.6b", "qwen", "Qwen/Qwen3-0.6B", "causal-lm", "596M",
          notes="Qwen3-0.6B, post-trained (thinking / non-thinking chat template)"),
)
