"""The Llama-architecture models the registry names (base and instruct where both exist)."""

from __future__ import annotations

from zoo.core.family import Entry

GATED = "gated: accept Meta's license on the hub, then set HF_TOKEN"

ENTRIES: tuple[Entry, ...] = (
    Entry("smollm2-135m", "llama", "HuggingFaceTB/SmolLM2-135M", "causal-lm", "135M",
          notes="SmolLM2, 30 x 576, 9 heads on 3 KV heads, tied embeddings"),
    Entry("smollm2-135m-instruct", "llama", "HuggingFaceTB/SmolLM2-135M-Instruct", "causal-lm", "135M",
          notes="SmolLM2-135M, instruction-tuned (chat template)"),
    Entry("smollm2-360m", "llama", "HuggingFaceTB/SmolLM2-360M", "causal-lm", "362M",
          notes="SmolLM2, 32 x 960, 15 heads on 5 KV heads, tied embeddings"),
    Entry("smollm2-360m-instruct", "llama", "HuggingFaceTB/SmolLM2-360M-Instruct", "causal-lm", "362M",
          notes="SmolLM2-360M, instruction-tuned"),
    Entry("smollm2-1.7b", "llama", "HuggingFaceTB/SmolLM2-1.7B", "causal-lm", "1.7B",
          notes="SmolLM2, 24 x 2048, 32 heads (MHA), tied embeddings"),
    Entry("smollm2-1.7b-instruct", "llama", "HuggingFaceTB/SmolLM2-1.7B-Instruct", "causal-lm", "1.7B",
          notes="SmolLM2-1.7B, instruction-tuned"),
    Entry("tinyllama-1.1b", "llama", "TinyLlama/TinyLlama_v1.1", "causal-lm", "1.1B",
          notes="TinyLlama v1.1, 22 x 2048, 32 heads on 4 KV heads, 2T tokens"),
    Entry("tinyllama-1.1b-chat", "llama", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "causal-lm", "1.1B",
          notes="TinyLlama chat model (chat template)"),
    Entry("llama-3.2-1b", "llama", "meta-llama/Llama-3.2-1B", "causal-lm", "1.24B",
          notes=f"Llama 3.2, 16 x 2048, 32 heads on 8 KV heads, llama3 RoPE scaling, tied; {GATED}"),
    Entry("llama-3.2-1b-instruct", "llama", "meta-llama/Llama-3.2-1B-Instruct", "causal-lm", "1.24B",
          notes=f"Llama 3.2 1B, instruction-tuned; {GATED}"),
)
