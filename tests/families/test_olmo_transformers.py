"""transformers' own OLMo-1 format (OlmoForCausalLM): fused on the way in, same Cells as hf_olmo."""

from __future__ import annotations

import numpy as np
import pytest

import parity
from zoo.core.checkpoint import from_zoo, load_tensors
from zoo.core.errors import CheckpointError, ConfigError
from zoo.families.olmo.config import OLMoConfig
from zoo.models import resolve, to_zoo_names, zoo_state

NATIVE = {"model_type": "olmo", "architectures": ["OlmoForCausalLM"], "vocab_size": 50, "hidden_size": 16,
          "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 32}


def test_parity_logits_loss_gradients_and_generation(tiny_checkpoints):
    report = parity.compare(tiny_checkpoints["tiny-olmo-transformers"], backends=("ms-graph", "pt", "ref"))
    assert report.passed, report.table()
    outputs = {c.output for c in report.checks}
    assert {"logits", "loss", "generate (32 tokens)", "generate: cache vs recompute"} <= outputs
    assert max(c.metrics["max_abs"] for c in report.checks if c.output == "logits") <= 1e-4
    assert sum(c.output.startswith("grad.") for c in report.checks if c.a == "ms-graph" and c.b == "ref") == 10


def test_fused_round_trip_is_bit_exact(tiny_checkpoints):
    spec = resolve(tiny_checkpoints["tiny-olmo-transformers"])
    assert spec.config.upstream_format == "olmo" and spec.config.norm_affine is False
    upstream = load_tensors(spec.folder)
    zoo = zoo_state(spec)
    q = upstream["model.layers.1.self_attn.q_proj.weight"]
    assert np.array_equal(zoo["model.layers.1.attention.att_proj.weight"][: q.shape[0]], q)
    gate = upstream["model.layers.0.mlp.gate_proj.weight"]
    assert np.array_equal(zoo["model.layers.0.mlp.ff_proj.weight"][gate.shape[0]:], gate)   # gate second
    back = from_zoo(zoo, spec.family.keymap(spec.config, upstream))
    assert set(back) == set(upstream) and all(np.array_equal(back[k], upstream[k]) for k in back)


def test_a_missing_fuse_part_is_named(tiny_checkpoints):
    spec = resolve(tiny_checkpoints["tiny-olmo-transformers"])
    upstream = load_tensors(spec.folder)
    upstream.pop("model.layers.0.self_attn.k_proj.weight")
    with pytest.raises(CheckpointError, match="needs model.layers.0.self_attn.k_proj.weight to fuse"):
        to_zoo_names(spec, upstream, "test")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_type": "olmo2"}, "OLMo-2"),
        ({"num_key_value_heads": 1}, "num_key_value_heads=1"),
        ({"attention_bias": True}, "attention_bias=True"),
        ({"rope_scaling": {"type": "linear", "factor": 2.0}}, "rope_scaling"),
    ],
)
def test_refused_options(change, message):
    with pytest.raises(ConfigError, match=message):
        OLMoConfig.from_hf({**NATIVE, **change})
