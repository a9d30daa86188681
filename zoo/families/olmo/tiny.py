"""Tiny OLMo-1 checkpoints written by hf_olmo and by transformers (zoo/families/tiny.py)."""

from __future__ import annotations

from pathlib import Path

from zoo.families.tiny import save_perturbed, seeded


def _olmo(folder: Path, seed: int, **options) -> Path:
    """An hf_olmo OLMoForCausalLM (ai2-olmo) from a tiny ModelConfig; DataDecide's fixed options by default."""
    from zoo.families.olmo.upstream import import_hf_olmo

    hf_olmo = import_hf_olmo()
    seeded(seed)
    fields = dict(
        n_layers=2, mlp_ratio=8, rope=True, rope_theta=10000, alibi=False, include_bias=False,
        layer_norm_type="rms", layer_norm_with_affine=True, layer_norm_eps=1e-6, bias_for_layer_norm=False,
        attention_layer_norm=False, activation_type="swiglu", block_type="sequential", weight_tying=False,
        vocab_size=100, embedding_size=128, max_sequence_length=96, eos_token_id=99, pad_token_id=1,
        attention_dropout=0.0, residual_dropout=0.0, embedding_dropout=0.0, init_device="cpu",
    )
    fields.update(options)
    model = hf_olmo.OLMoForCausalLM(hf_olmo.OLMoConfig(**fields), init_params=True)
    return save_perturbed(model, folder, seed)


def olmo_ladder(folder: Path, seed: int = 5) -> Path:
    """DataDecide-90M shape in miniature: head_dim 44 (d_model 88, 2 heads), RMSNorm, untied, padded vocab."""
    return _olmo(folder, seed, d_model=88, n_heads=2)


def olmo_tied(folder: Path, seed: int = 6) -> Path:
    """OLMo-1B / 1.7 options in miniature: non-parametric LayerNorm, tied embeddings, clip_qkv."""
    return _olmo(folder, seed, d_model=64, n_heads=4, layer_norm_type="default", layer_norm_with_affine=False,
                 layer_norm_eps=1e-5, weight_tying=True, clip_qkv=1.0)


def olmo_transformers(folder: Path, seed: int = 7) -> Path:
    """transformers' own OLMo-1 format (OlmoForCausalLM): separate q/k/v and gate/up, clip_qkv."""
    import transformers

    seeded(seed)
    config = transformers.OlmoConfig(
        vocab_size=112, hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=64, clip_qkv=2.0, pad_token_id=1, eos_token_id=2, bos_token_id=None,
    )
    return save_perturbed(transformers.OlmoForCausalLM(config), folder, seed)
