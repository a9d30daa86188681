"""Cached greedy generation (zoo/ms/generation.py, zoo/pt/generation.py): the cache write, the slot
plan, padding, EOS, and static shapes in graph mode (one prefill and one decode graph per bucket)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from parity.generation import left_padded, reference_generation
from zoo.core.errors import InputError
from zoo.models import load_ms, load_pt, resolve, zoo_state
from zoo.pt.generation import Generator, bucket, plan


def test_write_cache_is_an_exact_slot_write_in_both_frameworks():
    import mindspore as ms

    from zoo.ms.kernels.composed import write_cache as ms_write
    from zoo.pt.layers import write_cache as pt_write

    rng = np.random.default_rng(0)
    cache = rng.standard_normal((2, 3, 8, 4)).astype(np.float32)
    new = rng.standard_normal((2, 3, 2, 4)).astype(np.float32)
    slots = np.array([5, 6])
    expected = cache.copy()
    expected[:, :, slots] = new
    got_pt = pt_write(torch.from_numpy(cache), torch.from_numpy(new), torch.from_numpy(slots)).numpy()
    got_ms = ms_write(ms.Tensor(cache), ms.Tensor(new), ms.Tensor(slots.astype(np.int32))).asnumpy()
    assert np.array_equal(got_pt, expected) and np.array_equal(got_ms, expected)


def test_plan_repacks_any_padding_into_left_padding():
    ids = np.array([[7, 8, 9, 0, 0], [0, 0, 0, 5, 6]])
    mask = np.array([[1, 1, 1, 0, 0], [0, 0, 0, 1, 1]])
    p = plan(ids, mask, max_new_tokens=20, pad_token_id=1)
    assert (p.prompt_len, p.length) == (16, 64)
    assert p.tokens[0, 13:16].tolist() == [7, 8, 9] and p.tokens[1, 14:16].tolist() == [5, 6]
    assert p.tokens[0, :13].tolist() == [1] * 13
    assert p.positions[0, 13:18].tolist() == [0, 1, 2, 3, 4] and p.positions[1, 14:17].tolist() == [0, 1, 2]
    bias = p.bias(np.array([16]))                       # the first decode step: (B, 1, 1, L)
    seen = bias[:, 0, 0] == 0
    assert seen[0].nonzero()[0].tolist() == [13, 14, 15, 16] and seen[1].nonzero()[0].tolist() == [14, 15, 16]
    assert float(bias.min()) == float(np.finfo(np.float32).min)
    assert bucket(17) == 32
    with pytest.raises(InputError, match="exceeds the model's 20 positions"):
        plan(ids, mask, max_new_tokens=18, pad_token_id=1, max_positions=20)


@pytest.fixture(scope="module")
def opt(tiny_checkpoints):
    spec = resolve(tiny_checkpoints["tiny-opt-post-ln"])
    return spec, zoo_state(spec)


PROMPTS = np.array([[11, 12, 13, 14, 15, 16], [21, 22, 23, 0, 0, 0], [31, 32, 33, 34, 35, 0]])
PROMPT_MASK = (np.arange(6)[None, :] < np.array([[6], [3], [5]])).astype(np.int64)


def test_right_and_left_padded_prompts_generate_the_same_tokens(opt):
    spec, state = opt
    gen = Generator(load_pt(spec, state=state), None, spec.config.pad_token_id, spec.config.max_position_embeddings)
    right = gen.generate(PROMPTS, PROMPT_MASK, 12)
    left_ids, left_mask = left_padded(PROMPTS, PROMPT_MASK, spec.config.pad_token_id)
    left = gen.generate(left_ids, left_mask, 12)
    assert right.tokens.shape == (3, 12) and np.array_equal(right.tokens, left.tokens)
    alone = gen.generate(PROMPTS[1:2, :3], PROMPT_MASK[1:2, :3], 12)
    assert np.array_equal(alone.tokens[0], right.tokens[1])


def test_eos_stops_rows_like_transformers(opt):
    spec, state = opt
    config = spec.config
    ids, mask = left_padded(PROMPTS, PROMPT_MASK, config.pad_token_id)
    free = Generator(load_pt(spec, state=state), None, config.pad_token_id).generate(ids, mask, 16)
    eos = int(free.tokens[0, 3])                      # make a token the model produces early the EOS
    ours = Generator(load_pt(spec, state=state), eos, config.pad_token_id).generate(ids, mask, 16)
    spec_eos = dataclasses.replace(spec, config=dataclasses.replace(config, eos_token_id=eos))
    theirs = reference_generation(spec_eos, ids, mask, 16)
    assert np.array_equal(ours.tokens, theirs.tokens)
    first_eos = int(np.argmax(ours.tokens[0] == eos))
    assert first_eos <= 3 and (ours.tokens[0, first_eos + 1:] == config.pad_token_id).all()


def test_graph_mode_compiles_one_prefill_and_one_decode_graph_per_bucket(opt):
    """32 tokens, then a second prompt batch in the same bucket: still exactly two step shapes."""
    spec, state = opt
    from zoo.ms.generation import Generator as MsGenerator

    config = spec.config
    gen = MsGenerator(load_ms(spec, state=state), config.eos_token_id, config.pad_token_id,
                      config.max_position_embeddings, mode="graph")
    first = gen.generate(PROMPTS, PROMPT_MASK, 32)
    gen.generate(PROMPTS[::-1].copy(), PROMPT_MASK[::-1].copy(), 32)
    assert gen.shapes_run == {("prefill", (3, 16), 64), ("decode", (3, 1), 64)}
    pt_out = Generator(load_pt(spec, state=state), config.eos_token_id, config.pad_token_id).generate(
        PROMPTS, PROMPT_MASK, 32)
    assert np.array_equal(first.tokens, pt_out.tokens)
    assert float(np.abs(first.logits - pt_out.logits).max()) <= 1e-4


def test_graph_mode_keeps_one_inference_cell_per_shape_across_buckets(opt):
    """The compiled steps run through MindSpore's inference path, which trusts the shapes it compiled
    for: generations that alternate between buckets must each match PyNative's."""
    spec, state = opt
    from zoo.ms.generation import Generator as MsGenerator

    config = spec.config
    model = load_ms(spec, state=state)
    graph = MsGenerator(model, None, config.pad_token_id, config.max_position_embeddings, mode="graph")
    eager = MsGenerator(model, None, config.pad_token_id, config.max_position_embeddings, mode="pynative")
    long_ids = np.tile(PROMPTS, (1, 4))                                   # 24 tokens: the 32 bucket
    long_mask = np.tile(PROMPT_MASK, (1, 4))
    for ids, mask, new in ((PROMPTS, PROMPT_MASK, 8), (long_ids, long_mask, 8), (PROMPTS, PROMPT_MASK, 8),
                           (PROMPTS[:1], PROMPT_MASK[:1], 8)):
        got, want = graph.generate(ids, mask, new), eager.generate(ids, mask, new)
        assert np.array_equal(got.tokens, want.tokens)
        assert float(np.abs(got.logits - want.logits).max()) <= 1e-5
    phases = {key: step for key, step in graph.compiled_steps.items()}
    assert sorted(k[:2] for k in phases) == [("decode", (1, 1)), ("decode", (3, 1)), ("decode", (3, 1)),
                                             ("prefill", (1, 16)), ("prefill", (3, 16)), ("prefill", (3, 32))]
    assert {step.__self__.phase for key, step in phases.items() if key[0] == "decode"} == {"increment"}
    assert {step.__self__.phase for key, step in phases.items() if key[0] == "prefill"} == {"prefill"}
