"""Tiny random checkpoints written by the upstream libraries themselves (save_pretrained).

Used by the demo and the tests: loading code is exercised on real upstream files, never on
hand-written ones. Weights are perturbed so that norms are not ones and biases are not zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

TinyWriter = Callable[[Path], Path]


def perturb_(model: torch.nn.Module, seed: int = 0, scale: float = 0.1) -> torch.nn.Module:
    """Add noise to every parameter so that LayerNorm weights != 1 and biases != 0."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * scale)
    return model


def _save(model, folder: Path, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    perturb_(model, seed).save_pretrained(str(folder), safe_serialization=True)
    return folder


def distilbert_classifier(folder: Path, seed: int = 0) -> Path:
    import transformers

    torch.manual_seed(seed)
    config = transformers.DistilBertConfig(
        vocab_size=120, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64,
        num_labels=3, activation="gelu",
    )
    return _save(transformers.DistilBertForSequenceClassification(config), folder, seed)


def bert_classifier(folder: Path, seed: int = 1) -> Path:
    import transformers

    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
        max_position_embeddings=64, type_vocab_size=2, num_labels=2,
    )
    return _save(transformers.BertForSequenceClassification(config), folder, seed)


def bert_encoder(folder: Path, seed: int = 2) -> Path:
    import transformers

    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=96, hidden_size=48, num_hidden_layers=2, num_attention_heads=6, intermediate_size=64,
        max_position_embeddings=40, type_vocab_size=2, hidden_act="relu",
    )
    return _save(transformers.BertModel(config), folder, seed)


def opt_pre_ln(folder: Path, seed: int = 3) -> Path:
    """OPT-125m shape in miniature: pre-LN, final LayerNorm, tied LM head."""
    import transformers

    torch.manual_seed(seed)
    config = transformers.OPTConfig(
        vocab_size=96, hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4,
        max_position_embeddings=96, do_layer_norm_before=True, word_embed_proj_dim=32,
    )
    return _save(transformers.OPTForCausalLM(config), folder, seed)


def opt_post_ln(folder: Path, seed: int = 4) -> Path:
    """OPT-350m shape in miniature: post-LN, no final LayerNorm, 16-wide embeddings projected to 32."""
    import transformers

    torch.manual_seed(seed)
    config = transformers.OPTConfig(
        vocab_size=96, hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4,
        max_position_embeddings=96, do_layer_norm_before=False, word_embed_proj_dim=16,
    )
    return _save(transformers.OPTForCausalLM(config), folder, seed)


def _olmo(folder: Path, seed: int, **options) -> Path:
    """An hf_olmo OLMoForCausalLM (ai2-olmo) from a tiny ModelConfig; DataDecide's fixed options by default."""
    from zoo.families.olmo import import_hf_olmo

    hf_olmo = import_hf_olmo()
    torch.manual_seed(seed)
    fields = dict(
        n_layers=2, mlp_ratio=8, rope=True, rope_theta=10000, alibi=False, include_bias=False,
        layer_norm_type="rms", layer_norm_with_affine=True, layer_norm_eps=1e-6, bias_for_layer_norm=False,
        attention_layer_norm=False, activation_type="swiglu", block_type="sequential", weight_tying=False,
        vocab_size=100, embedding_size=128, max_sequence_length=96, eos_token_id=99, pad_token_id=1,
        attention_dropout=0.0, residual_dropout=0.0, embedding_dropout=0.0, init_device="cpu",
    )
    fields.update(options)
    model = hf_olmo.OLMoForCausalLM(hf_olmo.OLMoConfig(**fields), init_params=True)
    return _save(model, folder, seed)


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

    torch.manual_seed(seed)
    config = transformers.OlmoConfig(
        vocab_size=112, hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=64, clip_qkv=2.0, pad_token_id=1, eos_token_id=2, bos_token_id=None,
    )
    return _save(transformers.OlmoForCausalLM(config), folder, seed)


WRITERS: dict[str, TinyWriter] = {
    "tiny-distilbert-cls": distilbert_classifier,
    "tiny-bert-cls": bert_classifier,
    "tiny-bert-encoder": bert_encoder,
    "tiny-opt-pre-ln": opt_pre_ln,
    "tiny-opt-post-ln": opt_post_ln,
    "tiny-olmo-ladder": olmo_ladder,
    "tiny-olmo-tied": olmo_tied,
    "tiny-olmo-transformers": olmo_transformers,
}
