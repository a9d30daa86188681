"""The Qwen family: Qwen2 / Qwen2.5 and Qwen3 (transformers' Qwen2ForCausalLM, Qwen3ForCausalLM), built as the
llama family's Llama-architecture decoder."""

from __future__ import annotations

from zoo.core.family import BenchShape, Family, InputSpec
from zoo.families.causal_lm import example_inputs, reference_forward
from zoo.families.llama import export, upstream
from zoo.families.llama import family as llama
from zoo.families.llama.convert import keymap
from zoo.families.qwen import entries, mutations, tiny


def _qwen25_05b() -> dict:
    """Qwen/Qwen2.5-0.5B's config: 24 x 896, 14 heads on 2 KV heads, q/k/v biases, theta 1e6, tied."""
    import transformers

    config = transformers.Qwen2Config(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
        num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-6,
        tie_word_embeddings=True, bos_token_id=151643, eos_token_id=151643, use_sliding_window=False)
    config.architectures = ["Qwen2ForCausalLM"]
    return config.to_dict()


FAMILY = Family(
    name="qwen",
    model_types=("qwen2", "qwen3"),
    read_config=llama.read_config,
    keymap=keymap,
    ms_modeling=llama.ms_modeling,
    pt_modeling=llama.pt_modeling,
    inputs=InputSpec(names=("input_ids", "attention_mask"), example=example_inputs, labels="token"),
    reference=upstream.reference,
    reference_forward=reference_forward,
    reference_greedy=upstream.reference_greedy,
    matmul_params=llama.matmul_params,
    total_params=llama.total_params,
    tiny={"tiny-qwen2": tiny.qwen2, "tiny-qwen3": tiny.qwen3},
    mutations=mutations.mutations,
    self_test_model="tiny-qwen3",
    entries=entries.ENTRIES,
    bench_shapes={"qwen2.5-0.5b-shape": BenchShape("Qwen2.5-0.5B config, random weights", _qwen25_05b)},
    export_mindformers=export.mindformers_llama,   # Qwen2 / Qwen2.5; Qwen3's q/k norms are refused by name
    demo_models=("tiny-qwen3",),
)
