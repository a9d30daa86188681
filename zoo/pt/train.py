"""One torch training step, the twin of zoo/ms/train.py: same losses, torch.optim.AdamW."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

from zoo.core.optim import AdamWConfig


def classification_loss(logits: Tensor, labels: Tensor, valid: Tensor) -> Tensor:
    """Mean cross-entropy over the valid rows of a batch (padding rows have valid = 0)."""
    per_row = F.cross_entropy(logits, labels.long(), reduction="none")  # (B,)
    weights = valid.to(per_row.dtype)
    return (per_row * weights).sum() / weights.sum()


TASKS = ("sequence-classification", "causal-lm")


def to_tensors(batch: dict[str, np.ndarray], names: Sequence[str]) -> tuple[Tensor, ...]:
    return tuple(torch.from_numpy(batch[n]) for n in names)


class TrainStep:
    """loss = L(model(*inputs)[0], *targets); backward; AdamW."""

    def __init__(self, model: nn.Module, task: str | Callable, num_inputs: int, optim: AdamWConfig,
                 data_parallel: Callable | None = None) -> None:
        """`task`: "causal-lm" (the model's own loss), "sequence-classification" (`classification_loss`), or
        the loss itself. `data_parallel(model)` wraps the model for gradient averaging (None: one process;
        zoo.train.distributed.pt_data_parallel under torchrun)."""
        self.model = model
        self.replica = data_parallel(model) if data_parallel is not None else model
        self.loss_fn: Callable = (task if callable(task) else
                                  model.loss if task == "causal-lm" else classification_loss)
        self.num_inputs = num_inputs
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=optim.lr, betas=optim.betas, eps=optim.eps,
                                           weight_decay=optim.weight_decay)
        model.train()

    def __call__(self, *tensors: Tensor) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        inputs = tuple(t.long() for t in tensors[: self.num_inputs])
        loss = self.loss_fn(self.replica(*inputs)[0], *tensors[self.num_inputs:])
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())


@torch.no_grad()
def predict(model: nn.Module, inputs: tuple[Tensor, ...]) -> np.ndarray:
    model.eval()
    return model(*(t.long() for t in inputs))[0].numpy()
