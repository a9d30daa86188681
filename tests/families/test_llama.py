"""Llama-architecture families (llama: Llama, SmolLM2, TinyLlama; qwen: Qwen2 / Qwen2.5 / Qwen3): strict
configs, every option, conversion, `mindzoo parity` on tiny transformers checkpoints with loss, gradients and
greedy generation, the KV cache holding the key-value heads only, refusals by name."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo import cli
from zoo.core.checkpoint import from_zoo, load_tensors
from zoo.core.errors import ConfigError
from zoo.families.llama.config import MAX_TABLE_POSITIONS, LlamaConfig
from zoo.models import expected_params, load_ms, load_pt, resolve, zoo_state

TINY = ("tiny-llama-gqa", "tiny-llama-biases", "tiny-llama-mqa", "tiny-qwen2", "tiny-qwen3")
LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 100, "hidden_size": 48,
         "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 6, "num_key_value_heads": 2,
         "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu"}


def test_config_reads_every_option():
    config = LlamaConfig.from_hf({**LLAMA, "head_dim": 16, "attention_bias": True, "mlp_bias": True,
                                  "tie_word_embeddings": True, "eos_token_id": [5, 6],
                                  "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                                   "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})
    assert (config.num_heads, config.num_kv_heads, config.head_dim) == (6, 2, 16)
    assert (config.qkv_bias, config.output_bias, config.mlp_bias, config.tie_word_embeddings) == (True,) * 4
    assert config.rope_scaling.kind == "llama3" and config.rope_scaling.factor == 32.0
    assert config.eos_token_id == 5
    qwen2 = LlamaConfig.from_hf({**LLAMA, "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"],
                                 "use_sliding_window": False, "sliding_window": 4096, "max_window_layers": 21})
    assert (qwen2.qkv_bias, qwen2.output_bias, qwen2.qk_norm) == (True, False, False)
    qwen3 = LlamaConfig.from_hf({**LLAMA, "model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"],
                                 "head_dim": 128, "attention_bias": False})
    assert (qwen3.qk_norm, qwen3.head_dim, qwen3.qkv_bias) == (True, 128, False)
    long = LlamaConfig.from_hf({**LLAMA, "max_position_embeddings": 131072})
    assert long.table_positions == MAX_TABLE_POSITIONS


@pytest.mark.parametrize(("change", "field"), [
    ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "rope_scaling type 'yarn'"),
    ({"rope_scaling": {"rope_type": "longrope", "factor": 4.0}}, "rope_scaling type 'longrope'"),
    ({"rope_scaling": {"rope_type": "linear", "factor": -1}}, "rope_scaling.factor=-1"),
    ({"rope_scaling": {"rope_type": "linear", "factor": 2.0, "beta": 1}}, "rope_scaling fields beta"),
    ({"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "use_sliding_window": True},
     "use_sliding_window=True"),
    ({"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"],
      "layer_types": ["full_attention", "sliding_attention"]}, "layer_types"),
    ({"hidden_act": "gelu"}, "hidden_act='gelu'"),
    ({"num_key_value_heads": 4}, "num_attention_heads=6 is not a multiple of num_key_value_heads=4"),
    ({"num_attention_heads": 0}, "num_attention_heads=0 must be a positive integer"),
    ({"hidden_size": 50}, "hidden_size=50 is not divisible by num_attention_heads=6"),
    ({"head_dim": 7}, "head_dim=7 must be even"),
    ({"architectures": ["LlamaForSequenceClassification"]}, "architecture LlamaForSequenceClassification"),
])
def test_config_refuses_what_it_cannot_express(change, field):
    with pytest.raises(ConfigError, match=field.replace("(", r"\(").replace("[", r"\[")):
        LlamaConfig.from_hf({**LLAMA, **change})


@pytest.mark.parametrize(("change", "field"), [
    ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "rope_scaling type 'yarn'"),
    ({"use_sliding_window": True}, "use_sliding_window=True"),
])
def test_cli_refuses_with_exit_2_naming_the_field(tiny_checkpoints, tmp_path, capsys, change, field):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(tiny_checkpoints["tiny-qwen2"], folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **change}))
    assert cli.main(["parity", str(folder), "--backends", "pt,ref", "--no-grads"]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err


@pytest.mark.parametrize("name", TINY)
def test_every_1d_parameter_is_perturbed(tiny_checkpoints, name):
    """Norm weights are not ones and biases not zeros, so a dropped norm or bias cannot pass."""
    state = load_tensors(tiny_checkpoints[name])
    vectors = {k: v for k, v in state.items() if v.ndim == 1}
    assert vectors
    for key, value in vectors.items():
        assert not np.allclose(value, 1.0) and not np.allclose(value, 0.0), key


@pytest.mark.parametrize("name", TINY)
def test_conversion_round_trips_bit_exactly(tiny_checkpoints, name):
    spec = resolve(tiny_checkpoints[name])
    upstream = load_tensors(spec.folder)
    state = zoo_state(spec)
    assert set(state) == set(expected_params(spec)) == set(expected_params(spec, "mindspore"))
    table = spec.family.keymap(spec.config, upstream)
    back = from_zoo(state, table)
    kept = {k for k in upstream if k not in table.tied and not (spec.config.tie_word_embeddings and
                                                                k == "lm_head.weight")}
    assert set(back) == kept and all(np.array_equal(back[k], upstream[k]) for k in kept)


@pytest.mark.parametrize("name", TINY)
def test_mindzoo_parity_passes_with_loss_grads_and_generation(tiny_checkpoints, tmp_path, capsys, name):
    """Four backends, logits <= 1e-4, loss and every gradient, 32 greedy tokens equal to transformers'
    generate (graph-mode generator) and cache equal to recompute."""
    report_path = tmp_path / f"{name}.json"
    assert cli.main(["parity", str(tiny_checkpoints[name]), "--json", str(report_path)]) == 0
    assert "PASSED" in capsys.readouterr().out
    checks = json.loads(report_path.read_text())["checks"]
    by = {(c["a"], c["b"], c["output"]): c for c in checks}
    n_params = len(expected_params(resolve(tiny_checkpoints[name])))
    for backend in ("ms-pynative", "ms-graph", "pt"):
        assert by[(backend, "ref", "logits")]["metrics"]["max_abs"] <= 1e-4
        assert by[(backend, "ref", "loss")]["passed"]
        grads = [c for c in checks if c["a"] == backend and c["b"] == "ref" and c["output"].startswith("grad.")]
        assert len(grads) == n_params and all(c["passed"] for c in grads)
    for backend in ("ms-graph", "pt"):
        generated = by[(backend, "ref", "generate (32 tokens)")]
        assert generated["metrics"]["token_mismatches"] == 0 and generated["passed"]


@pytest.mark.parametrize("name", ["tiny-llama-gqa", "tiny-qwen3"])
def test_kv_cache_holds_the_key_value_heads_only(tiny_checkpoints, name):
    import mindspore as ms

    spec = resolve(tiny_checkpoints[name])
    config = spec.config
    expected = (3, config.num_kv_heads, 64, config.head_dim)
    assert config.num_kv_heads < config.num_heads
    assert load_pt(spec).cache_shape(3, 64) == expected
    ms.set_context(mode=ms.PYNATIVE_MODE)
    assert load_ms(spec).cache_shape(3, 64) == expected


def test_registry_lists_the_checkpoints_people_use(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name, upstream in [("smollm2-135m", "HuggingFaceTB/SmolLM2-135M"), ("smollm2-360m-instruct",
                           "HuggingFaceTB/SmolLM2-360M-Instruct"), ("tinyllama-1.1b", "TinyLlama/TinyLlama_v1.1"),
                           ("llama-3.2-1b", "meta-llama/Llama-3.2-1B"), ("qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B"),
                           ("qwen3-0.6b", "Qwen/Qwen3-0.6B")]:
        assert any(name in line and upstream in line for line in out.splitlines()), name


@pytest.mark.parametrize("shape", ["smollm2-135m-shape", "smollm2-360m-shape", "qwen2.5-0.5b-shape"])
def test_benchmark_shapes_are_the_real_configs(shape):
    from benchmarks.shapes import resolve_model

    spec, random_weights = resolve_model(shape)
    c = spec.config
    real = {"smollm2-135m-shape": (576, 30, 9, 3, 64, True), "smollm2-360m-shape": (960, 32, 15, 5, 64, True),
            "qwen2.5-0.5b-shape": (896, 24, 14, 2, 64, True)}[shape]
    assert random_weights and (c.hidden_size, c.num_layers, c.num_heads, c.num_kv_heads, c.head_dim,
                               c.tie_word_embeddings) == real
