"""The MindSpore twin: a mindspore.dataset pipeline (GeneratorDataset -> batch) in the shared sampler's order.

The examples are visited in the order of the shared BatchSampler (a SubsetSampler keeps the order
given), and `batch` cuts them into the same consecutive groups; `per_batch_map` is the pipeline's
numpy collation, so padding and bucketing are the torch twin's, line for line.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import numpy as np

from zoo.data.pipeline import Batch, Collate, Pipeline


class ExampleSource:
    """Random-access source for GeneratorDataset: index -> the pipeline's example."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def __len__(self) -> int:
        return len(self.pipeline)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        return self.pipeline.example(int(index))


class MsCollate(Collate):
    """per_batch_map: one list per example column (+ BatchInfo) -> the batch's columns, in `fields` order."""

    @property
    def __signature__(self) -> inspect.Signature:
        """mindspore.dataset checks that per_batch_map takes one argument per input column, plus BatchInfo."""
        names = [*self.pipeline.example_fields, "batch_info"]
        return inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in names])

    def __call__(self, *columns_and_info):
        columns = columns_and_info[:-1]
        batch = self.pipeline.collate(list(zip(*columns, strict=True)))
        return tuple(batch[name] for name in self.pipeline.fields)


def ms_dataset(pipeline: Pipeline, epoch: int = 0, workers: int = 1):
    """workers=1 runs in this process; workers=N>1 uses N worker processes for examples and batches."""
    import mindspore.dataset as ds

    order = np.concatenate(pipeline.sampler.batches(epoch)).tolist()
    parallel = {"num_parallel_workers": workers, "python_multiprocessing": workers > 1}
    data = ds.GeneratorDataset(ExampleSource(pipeline), column_names=list(pipeline.example_fields),
                               sampler=ds.SubsetSampler(order), **parallel)
    return data.batch(pipeline.sampler.batch_size, drop_remainder=False, per_batch_map=MsCollate(pipeline),
                      input_columns=list(pipeline.example_fields), output_columns=list(pipeline.fields),
                      **parallel)


def iterate(pipeline: Pipeline, epoch: int = 0, workers: int = 1) -> Iterator[Batch]:
    """The MindSpore twin's batches as numpy, in `fields` order."""
    data = ms_dataset(pipeline, epoch, workers)
    for row in data.create_dict_iterator(num_epochs=1, output_numpy=True):
        yield {name: row[name] for name in pipeline.fields}
