"""Training parity: MindSpore (graph and PyNative) and the torch twin take the same AdamW steps."""

import numpy as np
import pytest
import torch

from zoo.core.errors import InputError
from zoo.core.optim import AdamWConfig
from zoo.data.classification import ClassificationPipeline
from zoo.data.sources import read_sst2
from zoo.data.tiny import word_level_tokenizer
from zoo.data.tokenize import TextTokenizer
from zoo.families.tiny import perturb_
from zoo.models import resolve, zoo_state
from zoo.train.loop import rel_diff, train


@pytest.fixture(scope="module")
def tiny_task(tmp_path_factory):
    """A tiny BERT classifier whose vocabulary is a word-level tokenizer over 24 real SST-2 sentences."""
    import transformers

    root = tmp_path_factory.mktemp("train")
    sst2 = read_sst2().subset(range(24))
    tokenizer = TextTokenizer.load(word_level_tokenizer(root / "tok", [w for s in sst2.texts for w in s.split()]))
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=48, max_position_embeddings=64,
                                     type_vocab_size=2, num_labels=2)
    folder = root / "model"
    perturb_(transformers.BertForSequenceClassification(config), seed=3).save_pretrained(str(folder))
    # max_length 16: every batch truncates to one bucket, so graph mode compiles one train step
    pipeline = ClassificationPipeline(sst2, tokenizer, batch_size=8, max_length=16, seed=1)
    spec = resolve(folder)
    return spec, zoo_state(spec), pipeline


@pytest.mark.parametrize("graph", [True, False], ids=["graph", "pynative"])
def test_adamw_steps_match_torch(tiny_task, graph):
    spec, state, pipeline = tiny_task
    # large steps and strong decay: a wrong bias correction or decay moves weights by ~lr per step
    optim = AdamWConfig(lr=3e-3, weight_decay=1.0)
    ms_run = train("mindspore", spec, state, "sequence-classification", pipeline, 6, optim, graph=graph,
                   keep_state=True)
    pt_run = train("torch", spec, state, "sequence-classification", pipeline, 6, optim, keep_state=True)
    assert rel_diff(ms_run.losses, pt_run.losses).max() < 1e-5
    moved = max(float(np.abs(pt_run.state[k] - state[k]).max()) for k in state)
    assert moved > 1e-2                                                      # weights really moved
    # The key bias has a true gradient of exactly 0 (softmax ignores a per-query constant q.b_k), so Adam
    # scales each framework's rounding noise up to lr-sized steps; it changes no output. Everything else
    # must agree to a few percent of one step (lr = 3e-3): gradients that are nearly 0 get the same
    # noise amplification, more mildly.
    worst = max(float(np.abs(ms_run.state[k] - pt_run.state[k]).max())
                for k in state if not k.endswith("attention.k_proj.bias"))
    assert worst < 1e-4


def test_frozen_parameters_stay_put(tiny_task):
    spec, state, pipeline = tiny_task
    name = "encoder.embeddings.word_embeddings.weight"
    run = train("torch", spec, state, "sequence-classification", pipeline, 2, AdamWConfig(lr=1e-2), frozen=(name,),
                keep_state=True)
    assert np.array_equal(run.state[name], state[name])
    assert not np.array_equal(run.state["head.classifier.weight"], state["head.classifier.weight"])
    with pytest.raises(InputError, match="cannot freeze encoder.nope"):
        train("torch", spec, state, "sequence-classification", pipeline, 1, AdamWConfig(), frozen=("encoder.nope",))
