"""Sentence classification: text + label -> [CLS] tokens [SEP], padded to a bucket length (multiple of 16).

Graph mode compiles one graph per input shape, so a batch is padded to the smallest bucket that holds
its longest sentence (16, 32, ... up to `max_length`): a handful of shapes, each compiled once. With
`pad_last`, a final short batch is filled with copies of its first row marked `valid = 0`, so the
batch size is static too (metrics count `valid` rows only).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zoo.core.errors import InputError
from zoo.data.errors import DataError
from zoo.data.pipeline import Batch, Pipeline
from zoo.data.sampler import BatchSampler
from zoo.data.sources import Labelled
from zoo.data.tokenize import TextTokenizer

BUCKET = 16


def bucket_length(longest: int, max_length: int, bucket: int = BUCKET) -> int:
    """The smallest multiple of `bucket` that is >= longest, at most max_length."""
    return min(max_length, -(-longest // bucket) * bucket)


class ClassificationPipeline(Pipeline):
    name = "classification"
    example_fields = ("input_ids", "label")
    fields = ("input_ids", "attention_mask", "token_type_ids", "labels", "valid")

    def __init__(self, data: Labelled, tokenizer: TextTokenizer, batch_size: int, max_length: int = 128,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = True, pad_last: bool = True) -> None:
        if max_length % BUCKET or max_length < BUCKET:
            raise InputError(f"max_length must be a positive multiple of {BUCKET} (the bucket size), "
                             f"got {max_length}")
        if len(data) == 0:
            raise DataError("no labelled examples to build a classification pipeline from")
        self.data = data
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.special_id("pad", "the classification pipeline (padding to buckets)")
        self.max_length = max_length
        self.pad_last = pad_last
        self.batch_size = batch_size
        self.sampler = BatchSampler(len(data), batch_size, shuffle, seed, drop_last)

    @property
    def num_classes(self) -> int:
        return len(self.data.classes)

    def example(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        ids = self.tokenizer.encode(self.data.texts[index], special_tokens=True)
        if len(ids) > self.max_length:  # keep the closing special token ([SEP]) as BERT's truncation does
            ids = np.concatenate([ids[: self.max_length - 1], ids[-1:]])
        return ids, np.asarray(self.data.labels[index], dtype=np.int32)

    def collate(self, examples: Sequence[tuple[np.ndarray, np.ndarray]]) -> Batch:
        length = bucket_length(max(len(ids) for ids, _ in examples), self.max_length)
        rows = len(examples)
        size = self.batch_size if self.pad_last else rows
        input_ids = np.full((size, length), self.pad_id, dtype=np.int32)         # (B, L)
        attention_mask = np.zeros((size, length), dtype=np.int32)
        labels = np.zeros((size,), dtype=np.int32)
        valid = np.zeros((size,), dtype=np.int32)
        for row in range(size):
            ids, label = examples[row if row < rows else 0]
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
            labels[row] = label
            valid[row] = row < rows
        return {"input_ids": input_ids, "attention_mask": attention_mask,
                "token_type_ids": np.zeros((size, length), dtype=np.int32), "labels": labels, "valid": valid}
