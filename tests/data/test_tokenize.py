import pytest

from zoo.data.causal_lm import PackedSequences
from zoo.data.classification import ClassificationPipeline
from zoo.data.errors import TokenizerError
from zoo.data.sources import Labelled
from zoo.data.tokenize import TextTokenizer


def test_minilm_special_tokens(minilm_tokenizer):
    assert minilm_tokenizer.special_id("pad", "test") == 0
    ids = minilm_tokenizer.encode("a charming journey", special_tokens=True)
    assert ids[0] == 101 and ids[-1] == 102 and ids.dtype.name == "int32"   # [CLS] ... [SEP]
    with pytest.raises(TokenizerError, match="no EOS token .*causal-LM"):
        PackedSequences.from_documents(["some text"], minilm_tokenizer, 8)


def test_tokenizer_without_pad_is_refused(word_tokenizer_factory):
    tokenizer = TextTokenizer.load(word_tokenizer_factory(pad=False, eos=True))
    data = Labelled(("a b",), (0,), ("x", "y"), ("t:1",))
    with pytest.raises(TokenizerError, match=r"no PAD token \(\[PAD\] / <pad>.*classification pipeline"):
        ClassificationPipeline(data, tokenizer, batch_size=1, max_length=16)


def test_declared_eos_must_exist(tmp_path, word_tokenizer_factory):
    import json
    import shutil

    folder = tmp_path / "tok"
    shutil.copytree(word_tokenizer_factory(pad=True, eos=True), folder)
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|endoftext|>"}), encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"<\|endoftext\|> not in its vocabulary"):
        TextTokenizer.load(folder).special_id("eos", "the causal-LM pipeline")


def test_missing_tokenizer_file(tmp_path):
    with pytest.raises(TokenizerError, match="no tokenizer.json"):
        TextTokenizer.load(tmp_path)
