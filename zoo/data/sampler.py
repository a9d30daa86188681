"""The one sampler both twins use: numpy only, seeded per (seed, epoch), so they shuffle identically.

An epoch is a permutation of the example indices (or the identity), cut into consecutive batches.
Batch b of epoch e depends only on (seed, e, b, number of examples, batch size): not on the
framework, the worker count, or how many epochs ran before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.core.errors import InputError


@dataclass(frozen=True)
class BatchSampler:
    num_examples: int
    batch_size: int
    shuffle: bool = True
    seed: int = 0
    drop_last: bool = True   # training keeps every batch full (one compiled shape)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {self.batch_size}")
        if self.drop_last and self.num_examples < self.batch_size:
            raise InputError(f"{self.num_examples} examples cannot fill one batch of {self.batch_size} with "
                             "drop_last; lower the batch size or pass drop_last=False")

    def order(self, epoch: int) -> np.ndarray:
        """The example indices of an epoch in visiting order (int64)."""
        if not self.shuffle:
            return np.arange(self.num_examples, dtype=np.int64)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch]))
        return rng.permutation(self.num_examples).astype(np.int64)

    def __len__(self) -> int:
        full, rest = divmod(self.num_examples, self.batch_size)
        return full + (0 if self.drop_last or not rest else 1)

    def batches(self, epoch: int) -> list[np.ndarray]:
        order = self.order(epoch)[: len(self) * self.batch_size]
        return [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]


def split_indices(num_examples: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed-seed train/test split: (train indices, test indices), each sorted."""
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test fraction must lie in (0, 1), got {test_fraction}")
    order = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED])).permutation(num_examples)
    n_test = max(1, round(num_examples * test_fraction))
    return np.sort(order[n_test:]), np.sort(order[:n_test])
