"""One MindSpore training step: loss and gradients by value_and_grad, AdamW update, compiled by ms.jit.

The losses are written like the torch twin's in zoo/pt/train.py; both take the same numpy batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

from zoo.distributed import ms_grad_reducer
from zoo.ms.layers import cross_entropy
from zoo.ms.optim import AdamWConfig, adamw


def classification_loss(logits: Tensor, labels: Tensor, valid: Tensor) -> Tensor:
    """Mean cross-entropy over the valid rows of a batch (padding rows have valid = 0)."""
    per_row = ops.cross_entropy(logits, labels, reduction="none")       # (B,)
    weights = valid.astype(per_row.dtype)
    return (per_row * weights).sum() / weights.sum()


def causal_lm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean next-token cross-entropy; labels are already shifted (labels[t] follows input_ids[t])."""
    vocab = logits.shape[-1]
    return cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1))


LOSSES = {"sequence-classification": classification_loss, "causal-lm": causal_lm_loss}


def to_tensors(batch: dict[str, np.ndarray], names: Sequence[str]) -> tuple[Tensor, ...]:
    return tuple(Tensor(batch[n]) for n in names)


class TrainStep:
    """loss = L(net(*inputs)[0], *targets); grads by value_and_grad; AdamW; one compiled graph per shape."""

    def __init__(self, net: nn.Cell, task: str | Callable, num_inputs: int, optim: AdamWConfig,
                 graph: bool = True) -> None:
        """`task` names a loss in LOSSES, or is the loss itself (e.g. a family's `modeling_ms.loss`)."""
        self.net = net
        self.loss_fn: Callable = task if callable(task) else LOSSES[task]
        self.num_inputs = num_inputs
        self.optimizer = adamw(net.trainable_params(), optim)
        grad_fn = ms.value_and_grad(self._forward, None, self.optimizer.parameters)
        reducer = ms_grad_reducer(self.optimizer.parameters)   # None unless msrun data parallel (zoo.distributed)

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
