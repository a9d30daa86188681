"""BERT family: strict configs, the real all-MiniLM-L6-v2 checkpoint, classifier loss and gradient parity."""

from __future__ import annotations

import numpy as np
import pytest

import parity
from zoo.core.errors import ConfigError, InputError
from zoo.families.bert.config import BertConfig
from zoo.models import resolve

BERT_RAW = {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 10, "hidden_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
            "max_position_embeddings": 12, "type_vocab_size": 2}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"architectures": ["BertForMaskedLM"]}, "architecture BertForMaskedLM is not supported"),
        ({"position_embedding_type": "relative_key"}, "position_embedding_type='relative_key'"),
        ({"hidden_act": "gelu_new"}, "hidden_act='gelu_new'"),
        ({"is_decoder": True}, "is_decoder=True"),
        ({"num_attention_heads": 3}, "not divisible by 3 heads"),
        ({"architectures": ["BertForSequenceClassification"], "problem_type": "regression"}, "problem_type"),
    ],
)
def test_config_refuses_what_it_cannot_express(change, message):
    with pytest.raises(ConfigError, match=message):
        BertConfig.from_hf({**BERT_RAW, **change})


def test_config_warns_on_unknown_fields():
    with pytest.warns(UserWarning, match="mystery_knob"):
        BertConfig.from_hf({**BERT_RAW, "mystery_knob": 3})


def test_input_checks():
    config = BertConfig.from_hf(BERT_RAW)
    ids = np.array([[1, 2, 3]])
    mask = np.ones_like(ids)
    with pytest.raises(InputError, match="token id 10 at \\[0, 1\\] is outside the vocabulary"):
        config.check_inputs(np.array([[1, 10, 3]]), mask)
    with pytest.raises(InputError, match="exceeds max_position_embeddings=12"):
        config.check_inputs(np.ones((1, 13), np.int64), np.ones((1, 13), np.int64))
    with pytest.raises(InputError, match="at least one attended token"):
        config.check_inputs(ids, np.zeros_like(ids))
    with pytest.raises(InputError, match="token_type_ids"):
        config.check_inputs(ids, mask, np.array([[0, 2, 0]]))


def worst(report, output_prefix: str, metric: str, a: str | None = None) -> float:
    values = [c.metrics[metric] for c in report.checks
              if c.output.startswith(output_prefix) and (a is None or c.a == a)]
    assert values, f"no check for {output_prefix}"
    return max(values)


@pytest.fixture(scope="module")
def minilm_report():
    return parity.compare("minilm-l6", backends=("ms-pynative", "ms-graph", "pt", "ref"))


@pytest.mark.parametrize("backend", ["ms-graph", "ms-pynative"])
@pytest.mark.parametrize("output", ["last_hidden_state", "sentence_embedding"])
def test_real_minilm_matches_transformers(minilm_report, backend, output):
    """The issue's bar: fp32, real sentences of different lengths (padding inside the batch)."""
    assert minilm_report.inputs["input_ids"][0] == 8
    check = next(c for c in minilm_report.checks if c.a == backend and c.b == "ref" and c.output == output)
    assert check.metrics["max_abs"] <= 1e-4
    assert check.metrics["cosine"] >= 0.99999
    assert check.passed


def test_real_minilm_padding_inside_batch():
    from parity.inputs import tokenize

    folder = resolve("minilm-l6").folder
    lengths = tokenize(folder)["attention_mask"].sum(1)
    assert len(set(lengths.tolist())) >= 6 and lengths.min() < lengths.max() / 3


def test_real_minilm_matches_sentence_transformers(minilm_folder):
    """The upstream library users run: sentence-transformers' encode (mean pooling + Normalize)."""
    import mindspore as ms
    from sentence_transformers import SentenceTransformer

    from parity.inputs import SENTENCES, tokenize
    from zoo.models import load_ms

    expected = SentenceTransformer(str(minilm_folder), device="cpu").encode(list(SENTENCES))
    spec = resolve(minilm_folder)
    assert spec.config.normalize_embeddings
    ms.set_context(mode=ms.GRAPH_MODE)
    net = load_ms(spec)
    inputs = tokenize(minilm_folder)
    got = net(*(ms.Tensor(inputs[k].astype(np.int32)) for k in spec.family.inputs.names))[-1].asnumpy()
    assert np.abs(got - expected).max() <= 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("name", ["tiny-distilbert-cls", "tiny-bert-cls"])
def test_classifier_loss_and_gradients(tiny_checkpoints, name):
    report = parity.compare(tiny_checkpoints[name], backends=("ms-pynative", "ms-graph", "pt", "ref"))
    assert report.passed, report.table()
    for backend in ("ms-pynative", "ms-graph", "pt"):
        assert worst(report, "loss", "rel_fro", backend) <= 1e-5
        assert worst(report, "logits", "max_abs", backend) <= 1e-4
        grads = [c for c in report.checks if c.a == backend and c.output.startswith("grad.")]
        spec = resolve(tiny_checkpoints[name])
        from zoo.models import expected_params

        assert {c.output[5:] for c in grads if c.b == "ref"} == set(expected_params(spec))
        assert max(c.metrics["rel_fro_floored"] for c in grads) <= 1e-4
        # Where the true gradient is not degenerate, plain relative Frobenius meets the bar too.
        big = [c for c in grads if "k_proj.bias" not in c.output]
        assert max(c.metrics["rel_fro"] for c in big) <= 1e-4


def test_gradients_are_not_trivially_zero(tiny_checkpoints):
    from parity.backends import run_pt
    from zoo.models import zoo_state

    spec = resolve(tiny_checkpoints["tiny-bert-cls"])
    out = run_pt(spec, zoo_state(spec), spec.family.inputs.example(spec.config, 4, 16, 0))
    norms = {k: float(np.linalg.norm(v)) for k, v in out.items() if k.startswith("grad.")}
    assert sum(v > 1e-6 for v in norms.values()) >= len(norms) - 4   # only k_proj biases are ~0


def test_relu_encoder_without_classifier(tiny_checkpoints):
    report = parity.compare(tiny_checkpoints["tiny-bert-encoder"], backends=("ms-graph", "pt", "ref"))
    assert report.passed, report.table()
    assert {c.output for c in report.checks} == {"last_hidden_state", "pooler_output", "sentence_embedding"}


def test_parity_catches_a_wrong_model(tiny_checkpoints, monkeypatch):
    """Negative control: a swapped activation in the MindSpore model must fail the comparison."""
    from mindspore import nn

    from zoo.families.bert import modeling_ms

    class ReluInsteadOfGelu(nn.Cell):
        def __init__(self, dtype=None) -> None:
            super().__init__()

        def construct(self, x):
            return modeling_ms.relu(x)

    monkeypatch.setattr(modeling_ms, "GELU", ReluInsteadOfGelu)
    report = parity.compare(tiny_checkpoints["tiny-distilbert-cls"], backends=("ms-pynative", "ref"))
    assert not report.passed
