"""Parity inputs: real sentences through the checkpoint's own tokenizer when it has one, else random ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Real sentences of very different lengths, so that every batch has padding inside it.
SENTENCES = (
    "A masterpiece.",
    "The plot was thin, but the performances carried the film from start to finish.",
    "I would not watch it again.",
    "MindSpore compiles the whole network into one graph before it runs a single step.",
    "Small language models are cheap to train, easy to study, and surprisingly capable "
    "when the data recipe is right.",
    "Terrible.",
    "Ascend and GPU results should agree to within the tolerance of the working precision.",
    "The acting is wooden, the dialogue is clumsy, and the ending makes no sense at all.",
)


def tokenize(folder: str | Path, sentences=SENTENCES, max_length: int | None = None) -> dict[str, np.ndarray]:
    """Tokenize with tokenizer.json (HF `tokenizers`), right-padded to the longest sentence."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tokenizer.no_padding()
    if max_length:
        tokenizer.enable_truncation(max_length)
    encodings = tokenizer.encode_batch(list(sentences))
    longest = max(len(e.ids) for e in encodings)
    pad_id = tokenizer.token_to_id("[PAD]") or 0
    ids = np.full((len(encodings), longest), pad_id, dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        ids[row, : len(enc.ids)] = enc.ids
        mask[row, : len(enc.ids)] = 1
        types[row, : len(enc.ids)] = enc.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def make_inputs(spec, batch: int = 4, seq: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Real text when the folder has a tokenizer whose ids fit the model, random ids otherwise."""
    inputs = spec.family.inputs.example(spec.config, batch, seq, seed)
    if (Path(spec.folder) / "tokenizer.json").is_file() and spec.family.inputs.text:
        real = tokenize(spec.folder, max_length=spec.config.max_position_embeddings)
        if real["input_ids"].max() < spec.config.vocab_size:
            if "labels" in inputs:
                rng = np.random.default_rng(seed)
                real["labels"] = rng.integers(0, spec.config.num_labels, size=len(SENTENCES), dtype=np.int64)
            inputs = real
    return inputs
