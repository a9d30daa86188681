"""The OPT family (facebook/opt-*, OPT-C4): decoder-only causal LMs, pre- and post-LN, projected embeddings."""

from __future__ import annotations

from pathlib import Path

from zoo.core.errors import ConfigError
from zoo.core.family import BenchShape, Family, InputSpec
from zoo.families.causal_lm import example_inputs, reference_forward, transformers_greedy
from zoo.families.opt import entries, mutations, tiny
from zoo.families.opt.config import OPTConfig
from zoo.families.opt.convert import keymap


def read_config(raw: dict, folder: Path, task: str | None = None) -> OPTConfig:
    if task not in (None, "causal-lm"):
        raise ConfigError(f"task {task!r}: the OPT family is a causal LM (task 'causal-lm')")
    return OPTConfig.from_hf(raw)


def ms_modeling():
    from zoo.families.opt import modeling_ms

    return modeling_ms


def pt_modeling():
    from zoo.families.opt import modeling_pt

    return modeling_pt


def reference(folder, config: OPTConfig, random_weights: bool = False, attention: str = "eager"):
    """transformers' OPTForCausalLM in fp32, eval mode (random weights: from the folder's config alone)."""
    import torch
    import transformers

    if random_weights:
        return transformers.OPTForCausalLM(transformers.AutoConfig.from_pretrained(str(folder))).eval()
    return transformers.OPTForCausalLM.from_pretrained(str(folder), attn_implementation=attention,
                                                       dtype=torch.float32).eval()


def reference_greedy(model, config: OPTConfig, input_ids, attention_mask, new_tokens: int) -> int:
    return transformers_greedy(model, input_ids, attention_mask, new_tokens, config.pad_token_id)


def matmul_params(config: OPTConfig) -> tuple[int, int]:
    """q, k, v, out and the two MLP matrices per layer, project_in / project_out, and the LM head."""
    d, ffn, e, v = config.hidden_size, config.ffn_dim, config.word_embed_proj_dim, config.vocab_size
    per_layer = 4 * d * d + 2 * d * ffn
    projections = 2 * e * d if config.has_projections else 0
    return config.num_layers * per_layer + projections + v * e, 0


def total_params(config: OPTConfig) -> int:
    """Matmul weights plus the position table and, untied, the token table (tied: counted once as the head)."""
    positions = (config.max_position_embeddings + 2) * config.hidden_size
    tokens = 0 if config.tie_word_embeddings else config.vocab_size * config.word_embed_proj_dim
    return matmul_params(config)[0] + positions + tokens


def _opt_350m() -> dict:
    """facebook/opt-350m's config: post-LN, 24 x 1024, 512-wide embeddings projected."""
    import transformers

    config = transformers.OPTConfig(
        vocab_size=50272, hidden_size=1024, num_hidden_layers=24, ffn_dim=4096, num_attention_heads=16,
        max_position_embeddings=2048, do_layer_norm_before=False, word_embed_proj_dim=512,
        activation_function="relu", enable_bias=True, layer_norm_elementwise_affine=True,
        tie_word_embeddings=True, pad_token_id=1, bos_token_id=2, eos_token_id=2,
    )
    config.architectures = ["OPTForCausalLM"]
    return config.to_dict()


FAMILY = Family(
    name="opt",
    model_types=("opt",),
    read_config=read_config,
    keymap=keymap,
    ms_modeling=ms_modeling,
    pt_modeling=pt_modeling,
    inputs=InputSpec(names=("input_ids", "attention_mask"), example=example_inputs, labels="token"),
    reference=reference,
    reference_forward=reference_forward,
    reference_greedy=reference_greedy,
    matmul_params=matmul_params,
    total_params=total_params,
    tiny={"tiny-opt-pre-ln": tiny.opt_pre_ln, "tiny-opt-post-ln": tiny.opt_post_ln},
    mutations=mutations.mutations,
    self_test_model="tiny-opt-post-ln",
    entries=entries.ENTRIES,
    bench_shapes={"opt-350m-shape": BenchShape("OPT-350m (facebook/opt-350m config), random weights", _opt_350m)},
    demo_models=("tiny-opt-post-ln",),
)
