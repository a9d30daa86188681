"""The MindSpore side of scoring: forward, log-softmax and the gather of the targets as one Cell, so that
graph mode compiles the three as one graph and only (B, L) numbers leave the device. Imported by
zoo/eval/backends.py when a MindSpore backend is asked for (a torch-only machine never imports it)."""

from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops


class TargetLogprobs(nn.Cell):
    """(ids, mask, targets) -> (log p(targets | prefix) (B, L) float32, targets == argmax (B, L) bool)."""

    def __init__(self, model: nn.Cell) -> None:
        super().__init__()
        self.model = model

    def construct(self, ids, mask, targets):
        logits = self.model(ids, mask)[0].astype(ms.float32)
        logprobs = ops.log_softmax(logits, -1)
        picked = ops.gather_elements(logprobs, 2, targets.expand_dims(-1)).squeeze(-1)
        greedy = ops.equal(logits.argmax(-1).astype(targets.dtype), targets)
        return picked, greedy
