"""The Llama-architecture family: Llama 1-3.2, SmolLM2, TinyLlama (transformers' LlamaForCausalLM)."""

from __future__ import annotations

from pathlib import Path

from zoo.core.errors import ConfigError
from zoo.core.family import BenchShape, Family, InputSpec
from zoo.families.causal_lm import example_inputs, reference_forward
from zoo.families.llama import entries, export, mutations, tiny, upstream
from zoo.families.llama.config import LlamaConfig
from zoo.families.llama.convert import keymap


def read_config(raw: dict, folder: Path, task: str | None = None) -> LlamaConfig:
    if task not in (None, "causal-lm"):
        raise ConfigError(f"task {task!r}: Llama-architecture models are causal LMs (task 'causal-lm')")
    return LlamaConfig.from_hf(raw)


def ms_modeling():
    from zoo.families.llama import modeling_ms

    return modeling_ms


def pt_modeling():
    from zoo.families.llama import modeling_pt

    return modeling_pt


def matmul_params(config: LlamaConfig) -> tuple[int, int]:
    """qkv_proj, o_proj and the three MLP matrices per layer, and the LM head (tied or not)."""
    d, hd = config.hidden_size, config.head_dim
    attention = d * (config.num_heads + 2 * config.num_kv_heads) * hd + config.num_heads * hd * d
    per_layer = attention + 3 * d * config.intermediate_size
    return config.num_layers * per_layer + config.vocab_size * d, 0


def total_params(config: LlamaConfig) -> int:
    """Matmul weights plus the token table when the head is separate (norms left out)."""
    untied = 0 if config.tie_word_embeddings else config.vocab_size * config.hidden_size
    return matmul_params(config)[0] + untied


def shape(**fields) -> dict:
    """A real checkpoint's config, as transformers writes it."""
    import transformers

    config = transformers.LlamaConfig(**fields)
    config.architectures = ["LlamaForCausalLM"]
    return config.to_dict()


SMOLLM2 = dict(vocab_size=49152, max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5,
               tie_word_embeddings=True, bos_token_id=0, eos_token_id=0)

FAMILY = Family(
    name="llama",
    model_types=("llama",),
    read_config=read_config,
    keymap=keymap,
    ms_modeling=ms_modeling,
    pt_modeling=pt_modeling,
    inputs=InputSpec(names=("input_ids", "attention_mask"), example=example_inputs, labels="token"),
    reference=upstream.reference,
    reference_forward=reference_forward,
    reference_greedy=upstream.reference_greedy,
    matmul_params=matmul_params,
    total_params=total_params,
    tiny={"tiny-llama-gqa": tiny.llama_gqa, "tiny-llama-biases": tiny.llama_biases, "tiny-llama-mqa": tiny.llama_mqa},
    mutations=mutations.mutations,
    self_test_model="tiny-llama-gqa",
    entries=entries.ENTRIES,
    bench_shapes={
        "smollm2-135m-shape": BenchShape("SmolLM2-135M config, random weights", lambda: shape(
            hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
            num_key_value_heads=3, **SMOLLM2)),
        "smollm2-360m-shape": BenchShape("SmolLM2-360M config, random weights", lambda: shape(
            hidden_size=960, intermediate_size=2560, num_hidden_layers=32, num_attention_heads=15,
            num_key_value_heads=5, **SMOLLM2)),
    },
    export_mindformers=export.mindformers_llama,
    demo_models=("tiny-llama-gqa",),
)
