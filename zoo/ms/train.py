"""One MindSpore training step: loss and gradients by value_and_grad, AdamW update, compiled by ms.jit.

The twin of zoo/pt/train.py; both take the same numpy batch. A causal LM trains on its own `loss`
(zoo.core.loss: labels aligned with the inputs, shifted by the loss); a classifier on the batch's valid
rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

from zoo.core.optim import AdamWConfig
from zoo.ms.optim import adamw


def classification_loss(logits: Tensor, labels: Tensor, valid: Tensor) -> Tensor:
    """Mean cross-entropy over the valid rows of a batch (padding rows have valid = 0)."""
    per_row = ops.cross_entropy(logits, labels, reduction="none")       # (B,)
    weights = valid.astype(per_row.dtype)
    return (per_row * weights).sum() / weights.sum()


TASKS = ("sequence-classification", "causal-lm")


def to_tensors(batch: dict[str, np.ndarray], names: Sequence[str]) -> tuple[Tensor, ...]:
    return tuple(Tensor(batch[n]) for n in names)


class TrainStep:
    """loss = L(net(*inputs)[0], *targets); grads by value_and_grad; AdamW; one compiled graph per shape."""

    def __init__(self, net: nn.Cell, task: str | Callable, num_inputs: int, optim: AdamWConfig,
                 graph: bool = True, grad_reducer: Callable | None = None) -> None:
        """`task`: "causal-lm" (the model's own loss), "sequence-classification" (`classification_loss`), or
        the loss itself. `grad_reducer(parameters)` builds the data-parallel gradient mean (None: one process;
        zoo.train.distributed.ms_grad_reducer under msrun)."""
        self.net = net
        self.loss_fn: Callable = (task if callable(task) else
                                  net.loss if task == "causal-lm" else classification_loss)
        self.num_inputs = num_inputs
        self.optimizer = adamw(net.trainable_params(), optim)
        grad_fn = ms.value_and_grad(self._forward, None, self.optimizer.parameters)
        reducer = grad_reducer(self.optimizer.parameters) if grad_reducer is not None else None

        def step(*tensors):
            loss, grads = grad_fn(*tensors)
            if reducer is not None:
                grads = reducer(grads)                          # mean over ranks (AllReduce)
            self.optimizer(grads)
            return loss

        self._step = ms.jit(step) if graph else step
        net.set_train(True)

    def _forward(self, *tensors):
        logits = self.net(*tensors[: self.num_inputs])[0]
        return self.loss_fn(logits, *tensors[self.num_inputs:])

    def __call__(self, *tensors: Tensor) -> float:
        return float(self._step(*tensors).asnumpy())


def predict(net: nn.Cell, inputs: tuple[Tensor, ...]) -> np.ndarray:
    net.set_train(False)
    return net(*inputs)[0].asnumpy()
