"""The upstream implementations a Llama-architecture checkpoint is checked against: transformers'
LlamaForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM."""

from __future__ import annotations

from zoo.families.causal_lm import transformers_greedy
from zoo.families.llama.config import LlamaConfig

CLASSES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}


def reference(folder, config: LlamaConfig, random_weights: bool = False, attention: str = "eager"):
    """The transformers class of the checkpoint's model_type, in fp32, eval mode (random weights: from the
    folder's config alone)."""
    import torch
    import transformers

    cls = getattr(transformers, CLASSES[config.upstream_format])
    if random_weights:
        hf_config = transformers.AutoConfig.from_pretrained(str(folder))
        hf_config._attn_implementation = attention
        return cls(hf_config).eval()
    return cls.from_pretrained(str(folder), attn_implementation=attention, dtype=torch.float32).eval()


def reference_greedy(model, config: LlamaConfig, input_ids, attention_mask, new_tokens: int) -> int:
    return transformers_greedy(model, input_ids, attention_mask, new_tokens, config.pad_token_id)
