"""OLMo family (hf_olmo / DataDecide): strict config, registry, conversion, parity with hf_olmo, padding."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zoo import cli, registry
from zoo.core.checkpoint import from_zoo, load_tensors, to_zoo
from zoo.core.errors import CheckpointError, ConfigError, HubError, InputError
from zoo.families.olmo import entries
from zoo.families.olmo.config import OLMoConfig
from zoo.models import expected_params, load_ms, load_pt, resolve, zoo_state

TINY = ("tiny-olmo-ladder", "tiny-olmo-tied")
# DataDecide's fixed options (the OLMo ladder's base config) at the 90M shape.
RAW = {"model_type": "hf_olmo", "architectures": ["OLMoForCausalLM"], "d_model": 528, "n_heads": 12,
       "n_layers": 16, "mlp_ratio": 8, "rope": True, "rope_theta": 10000, "alibi": False, "include_bias": False,
       "layer_norm_type": "rms", "layer_norm_with_affine": True, "layer_norm_eps": 1e-6,
       "bias_for_layer_norm": False, "attention_layer_norm": False, "activation_type": "swiglu",
       "block_type": "sequential", "weight_tying": False, "vocab_size": 50280, "embedding_size": 50304,
       "max_sequence_length": 2048, "eos_token_id": 50279, "pad_token_id": 1, "flash_attention": True,
       "attention_dropout": 0.0, "residual_dropout": 0.0, "embedding_dropout": 0.0, "init_device": "cuda",
       "init_fn": "normal", "init_std": 0.02, "init_cutoff_factor": 3}


def test_config_reads_the_datadecide_ladder():
    config = OLMoConfig.from_hf(RAW)
    assert (config.head_dim, config.mlp_hidden_size, config.embedding_size) == (44, 4224, 50304)
    assert (config.norm_type, config.norm_affine, config.tie_word_embeddings, config.clip_qkv) == (
        "rms", True, False, None)
    assert OLMoConfig.from_hf({**RAW, "d_model": 1344, "n_heads": 16}).head_dim == 84   # 530M


def test_config_reads_the_olmo_1b_options():
    """OLMo-1B / 1.7: non-parametric LayerNorm, tied embeddings, clip_qkv; mlp_hidden_size wins over the ratio."""
    config = OLMoConfig.from_hf({**RAW, "layer_norm_type": "default", "layer_norm_with_affine": False,
                                 "weight_tying": True, "clip_qkv": 8.0, "mlp_hidden_size": 16384})
    assert (config.norm_type, config.norm_affine, config.tie_word_embeddings, config.clip_qkv) == (
        "layer", False, True, 8.0)
    assert config.mlp_hidden_size == 16384
    assert OLMoConfig.from_hf({**RAW, "layer_norm_type": "low_precision"}).norm_type == "layer"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"alibi": True}, "alibi=True"),
        ({"rope": False}, "rope=False"),
        ({"block_type": "llama"}, "block_type='llama'"),
        ({"block_type": "parallel"}, "block_type='parallel'"),
        ({"block_group_size": 2}, "block_group_size=2"),
        ({"activation_type": "gelu"}, "activation_type='gelu'"),
        ({"include_bias": True}, "include_bias=True"),
        ({"bias_for_layer_norm": True}, "bias_for_layer_norm=True"),
        ({"attention_layer_norm": True}, "attention_layer_norm=True"),
        ({"n_kv_heads": 4}, "n_kv_heads=4"),
        ({"multi_query_attention": True}, "n_kv_heads=1"),
        ({"norm_after": True}, "norm_after=True"),
        ({"embedding_layer_norm": True}, "embedding_layer_norm=True"),
        ({"scale_logits": True}, "scale_logits=True"),
        ({"layer_norm_type": "amd_compatible"}, "layer_norm_type='amd_compatible'"),
        ({"embedding_size": 50000}, "smaller than vocab_size"),
        ({"n_heads": 7}, "not divisible by n_heads=7"),
        ({"clip_qkv": 0}, "clip_qkv=0 must be positive"),
    ],
)
def test_config_refuses_what_it_cannot_express(change, message):
    with pytest.raises(ConfigError, match=message):
        OLMoConfig.from_hf({**RAW, **change})


def test_config_defaults_follow_hf_olmo():
    """A config without include_bias means biases (hf_olmo's default): refused, never silently dropped."""
    raw = {k: v for k, v in RAW.items() if k != "include_bias"}
    with pytest.raises(ConfigError, match="include_bias=True"):
        OLMoConfig.from_hf(raw)


def test_config_warns_on_unknown_fields():
    with pytest.warns(UserWarning, match="mystery_knob"):
        OLMoConfig.from_hf({**RAW, "mystery_knob": 3})


def test_input_checks():
    config = OLMoConfig.from_hf({**RAW, "vocab_size": 100, "embedding_size": 128, "max_sequence_length": 8})
    mask = np.ones((1, 3), np.int64)
    with pytest.raises(InputError, match=r"token id 100 at \[0, 1\] is outside the vocabulary \[0, 100\)"):
        config.check_inputs(np.array([[1, 100, 3]]), mask)   # a padding row of the embedding, not a token
    with pytest.raises(InputError, match="exceeds max_sequence_length=8"):
        config.check_inputs(np.ones((1, 9), np.int64), np.ones((1, 9), np.int64))
    with pytest.raises(InputError, match="at least one attended token"):
        config.check_inputs(np.array([[1, 2, 3]]), np.zeros((1, 3), np.int64))


def test_registry_lists_datadecide_grouped(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("datadecide-<recipe>-")]
    assert len(rows) == 14
    assert "allenai/DataDecide-<recipe>-90M@main" in out and "head_dim 44" in out
    assert len(entries.DATADECIDE_RECIPES) == 25 and len(set(entries.DATADECIDE_RECIPES)) == 25
    entry = registry.get("datadecide-dclm-baseline-qc-7p-fw2-530M")
    assert (entry.upstream, entry.family, entry.task) == (
        "allenai/DataDecide-dclm-baseline-qc-7p-fw2-530M", "olmo", "causal-lm")
    assert "head_dim 84" in entry.notes and "step<N>-seed-<seed>" in entry.revisions
    assert registry.get("datadecide-dolma1_7-1B").notes.endswith("step69369-seed-default")
    assert registry.get("datadecide-not-a-recipe-90M") is None
    with pytest.raises(HubError, match="recipes: dolma1_7, "):
        entries.datadecide("not-a-recipe", "90M")


@pytest.mark.parametrize("name", TINY)
def test_conversion_is_strict_and_round_trips_bit_exactly(tiny_checkpoints, name):
    spec = resolve(tiny_checkpoints[name])
    upstream = load_tensors(spec.folder)
    state = zoo_state(spec)
    assert set(state) == set(expected_params(spec))
    back = from_zoo(state, spec.family.keymap(spec.config, upstream))
    assert set(back) == set(upstream) and all(np.array_equal(back[k], upstream[k]) for k in upstream)
    table = spec.family.keymap(spec.config, upstream)
    extra = {**upstream, "model.transformer.blocks.0.q_norm.weight": np.ones(4, np.float32)}
    with pytest.raises(CheckpointError, match="unexpected keys.*q_norm"):
        to_zoo(extra, table, expected_params(spec))
    if spec.config.tie_word_embeddings:   # a separate output matrix in a tied model has no parameter to go to
        untied = {**upstream, "model.transformer.ff_out.weight": upstream["model.transformer.wte.weight"]}
        with pytest.raises(CheckpointError, match="keys the model has no parameter for"):
            to_zoo(untied, table, expected_params(spec))


@pytest.mark.parametrize("name", TINY)
def test_mindzoo_parity_passes_with_loss_grads_and_generation(tiny_checkpoints, tmp_path, capsys, name):
    """The CLI end to end: exit 0, logits <= 1e-4 in every backend, loss + every gradient, 32 greedy tokens."""
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
        recompute = by[(backend, f"{backend} (recompute)", "generate: cache vs recompute")]
        assert recompute["metrics"]["token_mismatches"] == 0 and recompute["metrics"]["max_abs"] <= 1e-4


def _worst_row_vs_alone(forward, ids, mask):
    """Max abs difference between each row run alone (pads removed) and the same row in the padded batch."""
    batched = forward(ids, mask)
    worst = 0.0
    for row in range(len(ids)):
        keep = mask[row] == 1
        alone = forward(ids[row][keep][None], np.ones((1, int(keep.sum())), np.int64))[0]
        worst = max(worst, float(np.abs(batched[row][keep] - alone).max()))
    return worst


def test_padding_left_and_right(tiny_checkpoints):
    """Right padding keeps every position: rows equal alone. Left padding shifts a row's RoPE positions (as in
    hf_olmo, which ignores the mask for positions); RoPE is relative, so rows equal alone up to rounding,
    and the zoo equals hf_olmo on the same left-padded batch."""
    import mindspore as ms

    spec = resolve(tiny_checkpoints["tiny-olmo-ladder"])
    state = zoo_state(spec)
    rng = np.random.default_rng(5)
    ids = rng.integers(3, spec.config.vocab_size, size=(3, 9))
    left = np.array([[0, 0, 0, 1, 1, 1, 1, 1, 1], [1] * 9, [0, 0, 0, 0, 0, 0, 0, 1, 1]])
    right = left[:, ::-1].copy()
    pt_model = load_pt(spec, state=state)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms_net = load_ms(spec, state=state)
    ref = spec.family.reference(spec.folder, spec.config)

    def pt_forward(i, m):
        with torch.no_grad():
            return pt_model(torch.from_numpy(i).long(), torch.from_numpy(m).long())[0].numpy()

    def ms_forward(i, m):
        return ms_net(ms.Tensor(i.astype(np.int32)), ms.Tensor(m.astype(np.int32)))[0].asnumpy()

    for mask, bound in ((right, 1e-5), (left, 1e-4)):
        padded = np.where(mask == 1, ids, spec.config.pad_token_id)
        assert _worst_row_vs_alone(pt_forward, padded, mask) <= bound
        assert _worst_row_vs_alone(ms_forward, padded, mask) <= bound
        with torch.no_grad():
            expected = spec.family.reference_forward(ref, spec.config, {"input_ids": padded, "attention_mask": mask})
        keep = mask == 1
        assert np.abs(ms_forward(padded, mask)[keep] - expected["logits"].numpy()[keep]).max() <= 1e-4


def test_no_fused_kernel_is_selected_on_cpu(tiny_checkpoints):
    import mindspore as ms

    from zoo.families.olmo.modeling_ms import OLMoAttention, OLMoMLP
    from zoo.ms import kernels
    from zoo.ms.layers import RMSNorm

    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = load_ms(resolve(tiny_checkpoints["tiny-olmo-ladder"]))
    cells = [c for _, c in net.cells_and_names()]
    attention = [c for c in cells if isinstance(c, OLMoAttention)]
    mlps = [c for c in cells if isinstance(c, OLMoMLP)]
    norms = [c for c in cells if isinstance(c, RMSNorm)]
    assert len(attention) == len(mlps) == 2 and len(norms) == 5
    paths = {kernels.path_of(c.attend.kernel) for c in attention} | {kernels.path_of(c.rotary_qkv.kernel)
                                                                       for c in attention}
    paths |= {kernels.path_of(c.act.kernel) for c in mlps} | {kernels.path_of(c.kernel) for c in norms}
    assert paths == {"cpu"}              # float32 on CPU: the C++ kernels, never an Ascend op
