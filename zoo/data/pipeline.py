"""The framework-free core of every pipeline: examples, the shared sampler, and numpy collation.

A pipeline says what one example is (`example(i)`, a tuple of numpy arrays) and how a list of
examples becomes a batch (`collate`, a dict of numpy arrays with static shapes). The MindSpore
twin (`loader_ms`) and the torch twin (`loader_pt`) only move these through their frameworks'
loaders, in the order the shared `BatchSampler` gives; `batches` here is the reference both are
checked against byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from zoo.data.sampler import BatchSampler

Batch = dict[str, np.ndarray]


class Pipeline:
    """Subclasses set `name`, `example_fields`, `fields`, `sampler` and define `example` and `collate`."""

    name: str = "pipeline"
    example_fields: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    sampler: BatchSampler

    def __len__(self) -> int:
        return self.sampler.num_examples

    def example(self, index: int) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    def collate(self, examples: Sequence[tuple[np.ndarray, ...]]) -> Batch:
        raise NotImplementedError

    def batch(self, indices: Sequence[int]) -> Batch:
        return self.collate([self.example(int(i)) for i in indices])

    def batches(self, epoch: int = 0) -> Iterator[Batch]:
        """The reference order, in this process, with no framework involved."""
        for indices in self.sampler.batches(epoch):
            yield self.batch(indices)

    def num_batches(self) -> int:
        return len(self.sampler)

    def describe(self) -> str:
        s = self.sampler
        return (f"{self.name}: {s.num_examples} examples, batch {s.batch_size}, "
                f"{'shuffled (seed ' + str(s.seed) + ')' if s.shuffle else 'in order'}, {len(s)} batches/epoch")


class Collate:
    """A picklable `collate` for worker processes: the column lists a framework hands over -> batch dict."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def __call__(self, examples: Sequence[tuple[np.ndarray, ...]]) -> Batch:
        return self.pipeline.collate(examples)
