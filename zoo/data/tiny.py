"""Tiny tokenizers written by the upstream `tokenizers` library, for tests and demos of the pipelines."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SPECIALS = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "eos": "</s>"}


def word_level_tokenizer(folder: Path, words: Iterable[str], pad: bool = True, eos: bool = True,
                         bert_template: bool = True) -> Path:
    """A lower-casing whitespace word-level tokenizer.json over `words`; pad / eos tokens optional."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    specials = ["[UNK]", "[CLS]", "[SEP]"] + (["[PAD]"] if pad else []) + (["</s>"] if eos else [])
    vocab = {token: i for i, token in enumerate(specials)}
    for word in words:
        vocab.setdefault(word.lower(), len(vocab))
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if bert_template:
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder
