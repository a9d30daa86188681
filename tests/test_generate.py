"""`mindzoo generate`: greedy tokens equal to transformers' generate, seeded sampling equal across frameworks,
the sampling filters, the chat template, streaming, and bad input (exit 2, one line)."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.cli import main
from zoo.eval.generate import Sampling, TextStream, choose, decode, filtered_logits, make_generator, stop_ids
from zoo.eval.tiny import CHAT_TEMPLATE, with_tokenizer
from zoo.eval.tokenizer import Tokenizer
from zoo.models import resolve

MODELS = ("tiny-opt-pre-ln", "tiny-olmo-ladder", "tiny-llama-gqa")
PROMPTS = ("Question: Which technology was developed most recently?\nAnswer:", "The cat sat on the")


@pytest.fixture(scope="module")
def folders(tiny_checkpoints, tmp_path_factory):
    root = tmp_path_factory.mktemp("generate")

    class Lazy(dict):
        def __missing__(self, name):
            self[name] = with_tokenizer(tiny_checkpoints[name], root / name)
            return self[name]

    return Lazy()


def _batch(tokenizer: Tokenizer, prompts=PROMPTS) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded prompts: the generator re-packs them into left padding."""
    encoded = [tokenizer.encode(p, True) for p in prompts]
    width = max(map(len, encoded))
    ids = np.zeros((len(encoded), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, e in enumerate(encoded):
        ids[row, :len(e)] = e
        mask[row, :len(e)] = 1
    return ids, mask


# ------------------------------------------------------------------------------------ host-side sampling


def test_greedy_is_argmax_and_filters_follow_transformers_order():
    logits = np.array([[1.0, 3.0, 2.0, 0.5, 3.0]])
    assert choose(logits, Sampling(), np.random.default_rng(0)).tolist() == [1]
    top_k = filtered_logits(logits, Sampling(1.0, top_k=2))
    assert np.isfinite(top_k).sum() == 2 and np.isfinite(top_k[0, [1, 4]]).all()     # the two 3.0s
    probs = np.exp(logits[0] - logits[0].max())
    probs /= probs.sum()                                                              # 0.07 .37 .14 .04 .37
    top_p = filtered_logits(logits, Sampling(1.0, top_p=0.5))
    assert np.isfinite(top_p[0]).sum() == 2                                           # .37 + .37 reaches .5
    assert np.isfinite(filtered_logits(logits, Sampling(1.0, top_p=0.3))[0]).sum() == 1
    hot = filtered_logits(logits, Sampling(0.5))
    np.testing.assert_allclose(hot, logits * 2)


def test_sampling_draws_from_the_softmax():
    logits = np.log(np.array([[0.1, 0.6, 0.3]]))
    rng = np.random.default_rng(0)
    draws = np.array([choose(logits, Sampling(1.0), rng)[0] for _ in range(6000)])
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / len(draws), [0.1, 0.6, 0.3], atol=0.02)


@pytest.mark.parametrize("bad", [dict(temperature=-1), dict(top_k=0), dict(top_p=0.0), dict(top_p=1.5)])
def test_bad_sampling_settings_are_input_errors(bad):
    from zoo.core.errors import InputError

    with pytest.raises(InputError):
        Sampling(**{"temperature": 1.0, **bad})


# --------------------------------------------------------------------------------- against transformers


@pytest.mark.parametrize("name", MODELS)
def test_greedy_equals_transformers_generate(folders, name):
    """ms-graph and the twin, through the host-side loop, give transformers' (hf_olmo's) greedy tokens."""
    from parity.generation import reference_generation

    spec = resolve(folders[name])
    ids, mask = _batch(Tokenizer.load(spec.folder))
    from parity.generation import left_padded

    left_ids, left_mask = left_padded(ids, mask, spec.config.pad_token_id or 0)
    n = 12
    reference = reference_generation(spec, left_ids, left_mask, n)
    for framework, mode in (("mindspore", "graph"), ("torch", "graph")):
        generator = make_generator(spec, framework, mode)
        out = decode(generator, ids, mask, n, Sampling(), {spec.config.eos_token_id})
        assert out.tokens.tolist() == reference.tokens.tolist(), (name, framework)
        plain = generator.generate(ids, mask, n)                  # the generator's own greedy loop: identical
        assert out.tokens.tolist() == plain.tokens.tolist()


@pytest.mark.parametrize("name", MODELS)
def test_seeded_sampling_is_identical_across_frameworks(folders, name):
    spec = resolve(folders[name])
    ids, mask = _batch(Tokenizer.load(spec.folder))
    sampling = Sampling(temperature=0.9, top_k=40, top_p=0.95, seed=7)
    runs = {}
    for framework, mode in (("mindspore", "graph"), ("mindspore", "pynative"), ("torch", "graph")):
        runs[(framework, mode)] = decode(make_generator(spec, framework, mode), ids, mask, 20, sampling).tokens
    first = runs[("torch", "graph")]
    for key, tokens in runs.items():
        assert tokens.tolist() == first.tolist(), key
    other_seed = decode(make_generator(spec, "torch"), ids, mask, 20, Sampling(0.9, 40, 0.95, seed=8)).tokens
    assert other_seed.tolist() != first.tolist()          # the seed is what decides the draws
    greedy = decode(make_generator(spec, "torch"), ids, mask, 20).tokens
    assert greedy.tolist() != first.tolist()


# ------------------------------------------------------------------------------------------------- CLI


def test_cli_prints_the_continuation_only(folders, capsys):
    """stdout is the decoded greedy continuation of transformers' generate, nothing else; logs on stderr."""
    import transformers

    folder = folders["tiny-llama-gqa"]
    tokenizer = Tokenizer.load(folder)
    assert main(["generate", str(folder), "--prompt", PROMPTS[1], "--max-new-tokens", "10"]) == 0
    out, err = capsys.readouterr()
    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder))
    prompt = tokenizer.encode(PROMPTS[1], True)
    import torch

    expected = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                              do_sample=False, max_new_tokens=10)[0, len(prompt):].tolist()
    stops = stop_ids(resolve(folder))
    kept = expected[:next((i for i, t in enumerate(expected) if t in stops), len(expected))]
    assert out == tokenizer.decode(kept) + "\n"
    assert "generate:" in err and "tokens in" in err


def test_cli_sampling_is_identical_between_mindspore_and_torch(folders, capsys):
    folder = str(folders["tiny-opt-pre-ln"])
    args = ["generate", folder, "--prompt", PROMPTS[0], "--max-new-tokens", "16", "--temperature", "0.8",
            "--top-p", "0.9", "--seed", "3", "--ids"]
    assert main(args + ["--framework", "mindspore", "--mode", "graph"]) == 0
    ms_out, ms_err = capsys.readouterr()
    assert main(args + ["--framework", "torch"]) == 0
    pt_out, pt_err = capsys.readouterr()
    ids = [line for line in ms_err.splitlines() if "token ids" in line]
    assert ms_out == pt_out and ids == [line for line in pt_err.splitlines() if "token ids" in line]


def test_chat_template_is_applied_when_asked_or_for_instruct_models(folders, tiny_checkpoints, tmp_path):
    from types import SimpleNamespace

    from zoo.cli.generate import prompt_ids

    folder = with_tokenizer(tiny_checkpoints["tiny-qwen3"], tmp_path / "tiny-qwen3-instruct",
                            chat_template=CHAT_TEMPLATE)
    spec = resolve(folder)
    tokenizer = Tokenizer.load(folder)
    args = SimpleNamespace(model=str(folder), prompt="hello there", system=None, max_new_tokens=4, chat="auto")
    ids, chat = prompt_ids(args, spec, tokenizer)
    assert chat and ids == tokenizer.encode("<|user|>hello there\n<|assistant|>")
    args.chat = "off"
    assert prompt_ids(args, spec, tokenizer) == (tokenizer.encode("hello there", True), False)
    base = resolve(folders["tiny-llama-gqa"])        # no template: auto is plain text
    args.chat = "auto"
    assert prompt_ids(args, base, Tokenizer.load(base.folder))[1] is False


def test_stream_writes_the_decoded_text_piece_by_piece(folders):
    tokenizer = Tokenizer.load(folders["tiny-opt-pre-ln"])
    ids = tokenizer.encode("Answer: the flow of current.")
    pieces: list[str] = []
    stream = TextStream(tokenizer, pieces.append, {2})
    for token in ids + [2, 5, 6]:                  # EOS ends the text; what follows is not shown
        stream(np.array([token]))
    assert stream.finish() == tokenizer.decode(ids) == "".join(pieces)
    assert len(pieces) > 3


def test_bad_input_exits_2_with_one_line(folders, tiny_checkpoints, capsys):
    folder = str(folders["tiny-opt-pre-ln"])
    assert main(["generate", folder, "--prompt", "word " * 200, "--max-new-tokens", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--prompt is" in err[0] and "96 positions" in err[0]
    assert main(["generate", str(tiny_checkpoints["tiny-opt-pre-ln"]), "--prompt", "hi"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no tokenizer files" in err[0]
    assert main(["generate", folder, "--prompt", "hi", "--top-p", "2"]) == 2
    assert "--top-p" in capsys.readouterr().err
