"""OPT family: strict configs, conversion, `mindzoo parity` on pre-LN and post-LN (opt-350m shape)
checkpoints with loss, gradient and generation rows, padding invariance, every config option."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zoo import cli
from zoo.core.checkpoint import from_zoo, load_tensors, to_zoo
from zoo.core.errors import CheckpointError, ConfigError, InputError
from zoo.families.causal_lm import example_inputs
from zoo.families.opt.config import OPTConfig
from zoo.families.opt.convert import keymap
from zoo.models import expected_params, load_ms, load_pt, resolve, zoo_state

OPT_RAW = {"model_type": "opt", "architectures": ["OPTForCausalLM"], "vocab_size": 50, "hidden_size": 16,
           "num_hidden_layers": 1, "num_attention_heads": 2, "ffn_dim": 32, "max_position_embeddings": 20}
TINY = ("tiny-opt-pre-ln", "tiny-opt-post-ln")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"activation_function": "gelu"}, "activation_function='gelu' is not supported"),
        ({"architectures": ["OPTForSequenceClassification"]}, "architecture OPTForSequenceClassification"),
        ({"num_attention_heads": 3}, "not divisible by num_attention_heads 3"),
        ({"model_type": "gpt2"}, "not an OPT model"),
    ],
)
def test_config_refuses_what_it_cannot_express(change, message):
    with pytest.raises(ConfigError, match=message):
        OPTConfig.from_hf({**OPT_RAW, **change})


def test_config_reads_every_option():
    config = OPTConfig.from_hf({**OPT_RAW, "do_layer_norm_before": False, "word_embed_proj_dim": 8,
                                "enable_bias": False, "layer_norm_elementwise_affine": False,
                                "tie_word_embeddings": False})
    assert (config.do_layer_norm_before, config.final_layer_norm, config.has_projections) == (False, False, True)
    assert (config.enable_bias, config.layer_norm_elementwise_affine, config.tie_word_embeddings) == (
        False, False, False)
    assert OPTConfig.from_hf({**OPT_RAW, "_remove_final_layer_norm": True}).final_layer_norm is False
    assert OPTConfig.from_hf(OPT_RAW).word_embed_proj_dim == 16
    with pytest.warns(UserWarning, match="mystery_knob"):
        OPTConfig.from_hf({**OPT_RAW, "mystery_knob": 1})


def test_input_checks():
    config = OPTConfig.from_hf(OPT_RAW)
    mask = np.ones((1, 3), np.int64)
    with pytest.raises(InputError, match="token id 50 at \\[0, 1\\] is outside the vocabulary"):
        config.check_inputs(np.array([[1, 50, 3]]), mask)
    with pytest.raises(InputError, match="exceeds max_position_embeddings=20"):
        config.check_inputs(np.ones((1, 21), np.int64), np.ones((1, 21), np.int64))
    with pytest.raises(InputError, match="at least one attended token"):
        config.check_inputs(np.array([[4, 5, 6]]), np.zeros((1, 3), np.int64))


def test_list_shows_opt_entries(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name, upstream in [("opt-125m", "facebook/opt-125m"), ("opt-350m", "facebook/opt-350m"),
                           ("opt-1.3b", "facebook/opt-1.3b"), ("opt-c4-350m", "znhoughton/opt-c4-350m-seed964")]:
        assert any(name in line and upstream in line for line in out.splitlines()), name


@pytest.mark.parametrize("name", TINY)
def test_conversion_is_strict_and_round_trips_bit_exactly(tiny_checkpoints, name):
    spec = resolve(tiny_checkpoints[name])
    upstream = load_tensors(spec.folder)
    table = keymap(spec.config, upstream)
    state = to_zoo(upstream, table, expected_params(spec))
    assert "lm_head.weight" not in state and table.tied == {"lm_head.weight": "decoder.embed_tokens.weight"}
    back = from_zoo(state, table)
    assert sorted(back) == sorted(upstream)
    assert all(np.array_equal(back[k], upstream[k]) and back[k].dtype == upstream[k].dtype for k in upstream)
    with pytest.raises(CheckpointError, match="missing keys \\(1\\): model.decoder.layers.1.fc1.weight"):
        to_zoo({k: v for k, v in upstream.items() if k != "model.decoder.layers.1.fc1.weight"}, table,
               expected_params(spec))
    with pytest.raises(CheckpointError, match="unexpected keys \\(1\\): model.decoder.extra.weight"):
        to_zoo({**upstream, "model.decoder.extra.weight": np.zeros(1, np.float32)}, table, expected_params(spec))
    different_head = {**upstream, "lm_head.weight": upstream["model.decoder.embed_tokens.weight"] + 1}
    with pytest.raises(CheckpointError, match="declared tied"):
        to_zoo(different_head, table, expected_params(spec))


@pytest.mark.parametrize("name", TINY)
def test_mindzoo_parity_passes_with_loss_grads_and_generation(tiny_checkpoints, tmp_path, capsys, name):
    """The CLI end to end: exit 0, logits <= 1e-4 in every backend, loss + every gradient, 32 greedy tokens."""
    report_path = tmp_path / f"{name}.json"
    assert cli.main(["parity", str(tiny_checkpoints[name]), "--json", str(report_path)]) == 0
    assert "PASSED" in capsys.readouterr().out
    checks = json.loads(report_path.read_text())["checks"]
    by = {(c["a"], c["b"], c["output"]): c for c in checks}
    for backend in ("ms-pynative", "ms-graph", "pt"):
        assert by[(backend, "ref", "logits")]["metrics"]["max_abs"] <= 1e-4
        assert by[(backend, "ref", "loss")]["passed"]
        grads = [c for c in checks if c["a"] == backend and c["b"] == "ref" and c["output"].startswith("grad.")]
        assert len(grads) == len(expected_params(resolve(tiny_checkpoints[name]))) and all(
            c["passed"] for c in grads)
    for backend in ("ms-graph", "pt"):
        generated = by[(backend, "ref", "generate (32 tokens)")]
        assert generated["metrics"]["token_mismatches"] == 0 and generated["passed"]
        recompute = by[(backend, f"{backend} (recompute)", "generate: cache vs recompute")]
        assert recompute["metrics"]["token_mismatches"] == 0 and recompute["metrics"]["max_abs"] <= 1e-4


def _valid_logits_alone_and_batched(forward, ids, mask):
    """Max abs difference between each row run alone (pads removed) and the same row in the padded batch."""
    batched = forward(ids, mask)
    worst = 0.0
    for row in range(len(ids)):
        keep = mask[row] == 1
        alone = forward(ids[row][keep][None], np.ones((1, int(keep.sum())), np.int64))[0]
        worst = max(worst, float(np.abs(batched[row][keep] - alone).max()))
    return worst


@pytest.mark.parametrize("name", TINY)
def test_left_and_right_padding_give_the_rows_alone(tiny_checkpoints, name):
    import mindspore as ms

    spec = resolve(tiny_checkpoints[name])
    state = zoo_state(spec)
    rng = np.random.default_rng(5)
    ids = rng.integers(3, spec.config.vocab_size, size=(3, 9))
    left = np.array([[0, 0, 0, 1, 1, 1, 1, 1, 1], [1] * 9, [0, 0, 0, 0, 0, 0, 0, 1, 1]])
    right = left[:, ::-1].copy()
    pt_model = load_pt(spec, state=state)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms_net = load_ms(spec, state=state)

    def pt_forward(i, m):
        with torch.no_grad():
            return pt_model(torch.from_numpy(i).long(), torch.from_numpy(m).long())[0].numpy()

    def ms_forward(i, m):
        return ms_net(ms.Tensor(i.astype(np.int32)), ms.Tensor(m.astype(np.int32)))[0].asnumpy()

    for mask in (left, right):
        padded = np.where(mask == 1, ids, spec.config.pad_token_id)
        assert _valid_logits_alone_and_batched(pt_forward, padded, mask) <= 1e-5
        assert _valid_logits_alone_and_batched(ms_forward, padded, mask) <= 1e-5


VARIANTS = {
    "no-bias-no-affine-untied": {"enable_bias": False, "layer_norm_elementwise_affine": False,
                                 "tie_word_embeddings": False},
    "pre-ln-projected-no-final-ln": {"word_embed_proj_dim": 8, "_remove_final_layer_norm": True},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_config_option_matches_transformers(variant):
    """Options the tiny checkpoints do not cover, straight from an in-memory transformers model."""
    import mindspore as ms
    import transformers
    from transformers.modeling_utils import no_init_weights

    from zoo.families.opt import modeling_ms, modeling_pt
    from zoo.ms.weights import load_state, param_spec
    from zoo.pt import weights as pt_weights

    torch.manual_seed(0)
    hf_config = transformers.OPTConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, ffn_dim=24,
                                       num_attention_heads=2, max_position_embeddings=24, attn_implementation="eager",
                                       **VARIANTS[variant])
    # transformers 4.57.1's _init_weights fills LayerNorm weights that elementwise_affine=False leaves None
    # (AttributeError): build without its init and draw every parameter here.
    with no_init_weights():
        ref = transformers.OPTForCausalLM(hf_config).eval()
    with torch.no_grad():
        for param in ref.parameters():
            param.normal_(0.0, 0.1)
    ref.tie_weights()
    config = OPTConfig.from_hf(hf_config.to_dict())
    pt_model = modeling_pt.build(config)
    upstream = {k: v.numpy() for k, v in ref.state_dict().items()
                if not (config.tie_word_embeddings and k == "lm_head.weight")}
    table = keymap(config, upstream)
    state = to_zoo(upstream, table, pt_weights.param_spec(pt_model))
    pt_weights.load_state(pt_model, state)
    assert all(np.array_equal(v, upstream[k]) for k, v in from_zoo(state, table).items())
    inputs = example_inputs(config, batch=3, seq=10, seed=1)
    ids, mask = torch.from_numpy(inputs["input_ids"]), torch.from_numpy(inputs["attention_mask"])
    labels = torch.from_numpy(inputs["labels"])
    out = ref(input_ids=ids, attention_mask=mask, labels=labels)
    logits = pt_model(ids, mask)[0]
    valid = mask.bool()
    assert float((logits - out.logits).detach()[valid].abs().max()) <= 1e-5
    assert abs(float(pt_model.loss(logits, labels)) - float(out.loss)) <= 1e-6
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = modeling_ms.build(config)
    assert set(param_spec(net)) == set(state)
    load_state(net, state)
    ms_logits = net(ms.Tensor(inputs["input_ids"].astype(np.int32)),
                    ms.Tensor(inputs["attention_mask"].astype(np.int32)))[0].asnumpy()
    assert float(np.abs(ms_logits - out.logits.detach().numpy())[valid.numpy()].max()) <= 1e-4


def test_pad_token_inside_the_text_gets_no_embedding_gradient(tiny_checkpoints):
    """transformers' nn.Embedding(padding_idx=1) never updates the pad row; both twins match that."""
    import mindspore as ms

    spec = resolve(tiny_checkpoints["tiny-opt-pre-ln"])
    state = zoo_state(spec)
    inputs = example_inputs(spec.config, batch=2, seq=8, seed=3)
    inputs["input_ids"][:, 2] = spec.config.pad_token_id        # a pad id at a counted position
    inputs["labels"] = np.where(inputs["attention_mask"] == 1, inputs["input_ids"], -100)
    ref = spec.family.reference(spec.folder, spec.config)
    out = spec.family.reference_forward(ref, spec.config, inputs, with_loss=True)
    out["loss"].backward()
    ref_grad = ref.model.decoder.embed_tokens.weight.grad.numpy()
    pt_model = load_pt(spec, state=state)
    pt_model.loss(pt_model(torch.from_numpy(inputs["input_ids"]), torch.from_numpy(inputs["attention_mask"]))[0],
                  torch.from_numpy(inputs["labels"])).backward()
    pt_grad = pt_model.decoder.embed_tokens.weight.grad.numpy()
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = load_ms(spec, state=state)
    weights = net.trainable_params()
    args = [ms.Tensor(inputs[k].astype(np.int32)) for k in ("input_ids", "attention_mask", "labels")]
    _, grads = ms.value_and_grad(lambda i, m, y: net.loss(net(i, m)[0], y), None, weights)(*args)
    ms_grad = next(g for p, g in zip(weights, grads, strict=True) if p.name == "decoder.embed_tokens.weight").asnumpy()
    scale = float(np.abs(ref_grad).max())
    assert float(np.abs(pt_grad - ref_grad).max()) <= 1e-6 * scale
    assert float(np.abs(ms_grad - ref_grad).max()) <= 1e-4 * scale
