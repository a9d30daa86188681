"""The fine-tune showcase, short: a tiny BERT with MiniLM's vocabulary on the real SST-2 sentences.

max_length 32 (truncating the longest sentences) keeps graph mode to two bucket shapes."""

import json

import numpy as np
import pytest
import torch

from zoo.train.finetune import Recipe, classifier_from_encoder, run_finetune, summary


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """A BertModel (embedding task, no head) with MiniLM's 30522-token vocabulary but 32 wide."""
    import transformers

    from zoo.families.tiny import perturb_

    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=48, max_position_embeddings=64, type_vocab_size=2)
    folder = tmp_path_factory.mktemp("finetune") / "tiny-bert"
    perturb_(transformers.BertModel(config), seed=5, scale=0.02).save_pretrained(str(folder))
    return folder


def test_new_head_is_seeded_and_encoder_kept(tiny_encoder):
    spec, state = classifier_from_encoder(str(tiny_encoder), num_labels=2, seed=0)
    _, again = classifier_from_encoder(str(tiny_encoder), num_labels=2, seed=0)
    _, other = classifier_from_encoder(str(tiny_encoder), num_labels=2, seed=1)
    assert spec.config.task == "sequence-classification" and spec.config.num_labels == 2
    assert state["head.classifier.weight"].shape == (2, 32)
    assert np.array_equal(state["head.classifier.weight"], again["head.classifier.weight"])
    assert not np.array_equal(state["head.classifier.weight"], other["head.classifier.weight"])
    assert float(state["head.classifier.weight"].std()) == pytest.approx(0.02, rel=0.5)
    assert np.array_equal(state["head.classifier.bias"], np.zeros(2, np.float32))
    assert "encoder.pooler.dense.weight" in state         # BERT's head sits on the pooler


def test_short_finetune_losses_match(tiny_encoder, tmp_path):
    from zoo import registry
    from zoo.hub import entry_folder

    recipe = Recipe("tiny-sst2", str(tiny_encoder), batch_size=8, max_length=32, lr=1e-3, frozen=(),
                    tokenizer=str(entry_folder(registry.get("minilm-l6"))))
    record = run_finetune(recipe, steps=8, out=tmp_path)
    diff = record["loss_rel_diff"]
    assert diff["passed"] and diff["max"] <= 1e-3
    runs = record["runs"]
    assert len(runs["mindspore"]["losses"]) == len(runs["torch"]["losses"]) == 8
    assert runs["mindspore"]["mode"] == "graph"
    assert record["data"] == {"train": 698, "test": 174, "classes": ["negative", "positive"]}
    for run in runs.values():
        assert run["metrics"]["eval_examples"] == 174 and 0.0 <= run["metrics"]["accuracy"] <= 1.0
    # the same predictions up to a sentence whose two logits are a rounding error apart
    assert abs(runs["mindspore"]["metrics"]["accuracy"] - runs["torch"]["metrics"]["accuracy"]) <= 1 / 174
    saved = json.loads((tmp_path / "finetune-tiny-sst2.json").read_text())
    assert np.allclose(saved["runs"]["torch"]["losses"], runs["torch"]["losses"])
    assert (tmp_path / "finetune-tiny-sst2.png").read_bytes()[:4] == b"\x89PNG"
    assert "PASSED" in summary(record)


def test_short_pretrain_losses_match(tmp_path):
    """The DataDecide-shaped pretraining path, narrowed: OLMo-1 options and vocabulary, 2 layers x 32 wide."""
    from zoo.train.pretrain import PretrainRecipe, run_pretrain

    recipe = PretrainRecipe("tiny-olmo-boolq", d_model=32, n_layers=2, n_heads=2, seq_len=32, batch_size=4,
                            documents=30, lr=3e-3)
    record = run_pretrain(recipe, steps=4, out=tmp_path, work=tmp_path)
    assert record["loss_rel_diff"]["passed"] and record["loss_rel_diff"]["max"] <= 1e-3
    losses = record["runs"]["torch"]["losses"]
    assert abs(losses[0] - np.log(50304)) < 0.1            # random init: uniform over the padded vocabulary
    assert losses[-1] < losses[0]
    assert (tmp_path / "pretrain-tiny-olmo-boolq.png").is_file()
