"""The torch twin: a torch.utils.data.DataLoader over a pipeline, batched by the shared sampler."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from zoo.data.pipeline import Batch, Collate, Pipeline


class ExampleDataset(Dataset):
    """Map-style dataset: index -> the pipeline's example (tokenized in the worker that asks)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def __len__(self) -> int:
        return len(self.pipeline)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        return self.pipeline.example(index)


class EpochBatchSampler(Sampler):
    """The shared BatchSampler's index batches for one epoch."""

    def __init__(self, pipeline: Pipeline, epoch: int) -> None:
        self.pipeline, self.epoch = pipeline, epoch

    def __len__(self) -> int:
        return self.pipeline.num_batches()

    def __iter__(self) -> Iterator[list[int]]:
        for indices in self.pipeline.sampler.batches(self.epoch):
            yield indices.tolist()


class TorchCollate(Collate):
    """numpy batch -> torch tensors (zero-copy; int32 stays int32)."""

    def __call__(self, examples) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(v) for k, v in self.pipeline.collate(examples).items()}


def torch_loader(pipeline: Pipeline, epoch: int = 0, workers: int = 1) -> DataLoader:
    """workers=1 loads in this process; workers=N>1 uses N worker processes (batch order is kept)."""
    return DataLoader(ExampleDataset(pipeline), batch_sampler=EpochBatchSampler(pipeline, epoch),
                      collate_fn=TorchCollate(pipeline), num_workers=0 if workers <= 1 else workers)


def iterate(pipeline: Pipeline, epoch: int = 0, workers: int = 1) -> Iterator[Batch]:
    """The torch twin's batches as numpy (for comparison and for framework-neutral drivers)."""
    for batch in torch_loader(pipeline, epoch, workers):
        yield {k: v.numpy() for k, v in batch.items()}
