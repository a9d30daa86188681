"""Tiny Qwen2 and Qwen3 checkpoints written by transformers (zoo/families/tiny.py)."""

from __future__ import annotations

from pathlib import Path

from zoo.families.tiny import save_perturbed, seeded

COMMON = dict(vocab_size=128, hidden_size=48, intermediate_size=80, num_hidden_layers=2, max_position_embeddings=96,
              rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2, pad_token_id=0)


def qwen2(folder: Path, seed: int = 31) -> Path:
    """Qwen2 / Qwen2.5 in miniature: 6 heads on 2 key-value heads, q/k/v biases, theta 1e6, untied."""
    import transformers

    seeded(seed)
    config = transformers.Qwen2Config(num_attention_heads=6, num_key_value_heads=2, rope_theta=1e6,
                                      tie_word_embeddings=False, **COMMON)
    return save_perturbed(transformers.Qwen2ForCausalLM(config), folder, seed)


def qwen3(folder: Path, seed: int = 32) -> Path:
    """Qwen3 in miniature: per-head q/k RMSNorm, head_dim 16 where hidden / heads is 12, 4 heads on 2
    key-value heads, tied embeddings (as Qwen3-0.6B)."""
    import transformers

    seeded(seed)
    config = transformers.Qwen3Config(num_attention_heads=4, num_key_value_heads=2, head_dim=16, rope_theta=1e6,
                                      tie_word_embeddings=True, **COMMON)
    return save_perturbed(transformers.Qwen3ForCausalLM(config), folder, seed)
