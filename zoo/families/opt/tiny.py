"""Tiny OPT checkpoints written by transformers (zoo/families/tiny.py)."""

from __future__ import annotations

from pathlib import Path

from zoo.families.tiny import save_perturbed, seeded


def opt_pre_ln(folder: Path, seed: int = 3) -> Path:
    """OPT-125m shape in miniature: pre-LN, final LayerNorm, tied LM head."""
    import transformers

    seeded(seed)
    config = transformers.OPTConfig(
        vocab_size=96, hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4,
        max_position_embeddings=96, do_layer_norm_before=True, word_embed_proj_dim=32,
    )
    return save_perturbed(transformers.OPTForCausalLM(config), folder, seed)


def opt_post_ln(folder: Path, seed: int = 4) -> Path:
    """OPT-350m shape in miniature: post-LN, no final LayerNorm, 16-wide embeddings projected to 32."""
    import transformers

    seeded(seed)
    config = transformers.OPTConfig(
        vocab_size=96, hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4,
        max_position_embeddings=96, do_layer_norm_before=False, word_embed_proj_dim=16,
    )
    return save_perturbed(transformers.OPTForCausalLM(config), folder, seed)
