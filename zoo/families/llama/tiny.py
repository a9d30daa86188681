"""Tiny Llama-architecture checkpoints written by transformers (zoo/families/tiny.py): every option the
family expresses is in one of them."""

from __future__ import annotations

from pathlib import Path

from zoo.families.tiny import save_perturbed, seeded


def _llama(folder: Path, seed: int, **options) -> Path:
    import transformers

    seeded(seed)
    fields = dict(vocab_size=128, hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=6,
                  num_key_value_heads=2, max_position_embeddings=96, rms_norm_eps=1e-5, rope_theta=10000.0,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    fields.update(options)
    return save_perturbed(transformers.LlamaForCausalLM(transformers.LlamaConfig(**fields)), folder, seed)


def llama_gqa(folder: Path, seed: int = 21) -> Path:
    """SmolLM2 / Llama-3.2 options in miniature: 6 heads on 2 key-value heads, tied embeddings, the llama3
    RoPE scaling (a pre-training context of 32 positions, so the bands split the 4 frequency pairs)."""
    return _llama(folder, seed, tie_word_embeddings=True, rope_theta=500000.0,
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 32})


def llama_biases(folder: Path, seed: int = 22) -> Path:
    """Biases on q, k, v, o and the MLP, untied head, head_dim 16 where hidden / heads would be 12, linear
    RoPE scaling."""
    return _llama(folder, seed, num_attention_heads=4, num_key_value_heads=2, head_dim=16, attention_bias=True,
                  mlp_bias=True, tie_word_embeddings=False, rope_scaling={"rope_type": "linear", "factor": 2.0})


def llama_mqa(folder: Path, seed: int = 23) -> Path:
    """Multi-query attention (one key-value head for 6 query heads), dynamic RoPE scaling."""
    return _llama(folder, seed, num_key_value_heads=1, tie_word_embeddings=False,
                  rope_scaling={"rope_type": "dynamic", "factor": 2.0})
