"""The OLMo-1 family (hf_olmo format: the DataDecide ladder; and transformers' OlmoForCausalLM)."""

from __future__ import annotations

import functools
from pathlib import Path

from zoo.core.errors import ConfigError
from zoo.core.family import BenchShape, Family, InputSpec
from zoo.families.causal_lm import example_inputs, reference_forward
from zoo.families.olmo import entries, export, mutations, tiny, upstream
from zoo.families.olmo.config import OLMoConfig
from zoo.families.olmo.convert import keymap


def read_config(raw: dict, folder: Path, task: str | None = None) -> OLMoConfig:
    if task not in (None, "causal-lm"):
        raise ConfigError(f"task {task!r}: the OLMo family is a causal LM (task 'causal-lm')")
    return OLMoConfig.from_hf(raw)


def ms_modeling():
    from zoo.families.olmo import modeling_ms

    return modeling_ms


def pt_modeling():
    from zoo.families.olmo import modeling_pt

    return modeling_pt


def matmul_params(config: OLMoConfig) -> tuple[int, int]:
    """att_proj (3 d^2 at MHA), attn_out, ff_proj, ff_out per layer, and the LM head."""
    d, mlp = config.hidden_size, config.mlp_hidden_size
    per_layer = 3 * d * d + d * d + d * mlp + (mlp // 2) * d
    return config.num_layers * per_layer + config.embedding_size * d, 0


def total_params(config: OLMoConfig) -> int:
    """Matmul weights plus the input embedding (norms left out)."""
    return matmul_params(config)[0] + config.embedding_size * config.hidden_size


def _datadecide_shape(size: str) -> dict:
    """An OLMo-1 ladder size (150M: d 768, 12 layers x 12 heads), 8x SwiGLU, RMSNorm, as hf_olmo writes it."""
    d_model, n_layers, n_heads, _ = entries.DATADECIDE_SIZES[size]
    hf_olmo = upstream.import_hf_olmo()
    config = hf_olmo.OLMoConfig(
        d_model=d_model, n_layers=n_layers, n_heads=n_heads, mlp_ratio=8, rope=True, rope_theta=10000,
        alibi=False, include_bias=False, layer_norm_type="rms", layer_norm_with_affine=True,
        layer_norm_eps=1e-6, bias_for_layer_norm=False, attention_layer_norm=False, activation_type="swiglu",
        block_type="sequential", weight_tying=False, vocab_size=50280, embedding_size=entries.DATADECIDE_EMBEDDINGS,
        max_sequence_length=2048, eos_token_id=50279, pad_token_id=1, attention_dropout=0.0,
        residual_dropout=0.0, embedding_dropout=0.0, init_device="cpu",
    )
    return config.to_dict()


FAMILY = Family(
    name="olmo",
    model_types=("hf_olmo", "olmo", "olmo2"),   # olmo2 is read only to be refused with the reason
    read_config=read_config,
    keymap=keymap,
    ms_modeling=ms_modeling,
    pt_modeling=pt_modeling,
    inputs=InputSpec(names=("input_ids", "attention_mask"), example=example_inputs, labels="token"),
    reference=upstream.reference,
    reference_forward=reference_forward,
    reference_generate=upstream.reference_generate,
    reference_greedy=upstream.reference_greedy,
    matmul_params=matmul_params,
    total_params=total_params,
    tiny={"tiny-olmo-ladder": tiny.olmo_ladder, "tiny-olmo-tied": tiny.olmo_tied,
          "tiny-olmo-transformers": tiny.olmo_transformers},
    mutations=mutations.mutations,
    self_test_model="tiny-olmo-ladder",
    entries=entries.ENTRIES,
    find_entry=entries.find,
    bench_shapes={f"datadecide-{size.lower()}-shape": BenchShape(
        f"DataDecide-{size} (OLMo-1 ladder) config, random weights", functools.partial(_datadecide_shape, size))
        for size in entries.DATADECIDE_SIZES},
    export_mindformers=export.mindformers_llama,
    demo_models=("tiny-olmo-ladder",),
)
