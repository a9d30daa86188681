"""The MindSpore side of scoring: forward, log-softmax and the gather of the targets as one Cell, so that
graph mode compiles the three as one graph and only (B, L) numbers leave the device. Imported by
zoo/eval/backends.py when a MindSpore backend is asked for (a torch-only machine never imports it).

The log-softmax is composed in float64 from the float32 logits. MindSpore 2.9's CPU `exp` and `log` in
float32 are fast approximations with a bias (relative error of exp -1.6e-6 on average, up to 5.2e-6;
log -8e-7 on average), and so is its `log_softmax` (also on a float64 input): over the 176 tokens of
one PIQA solution the float32 log-softmax alone moved the sum by 1.3e-4, past the 1e-4 gate, while the
two frameworks' logits differed by 4e-7 in total. In float64 the log-softmax adds nothing measurable.
"""

from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops


class TargetLogprobs(nn.Cell):
    """(ids, mask, targets) -> (log p(targets | prefix) (B, L) float64, targets == argmax (B, L) bool)."""

    def __init__(self, model: nn.Cell) -> None:
        super().__init__()
        self.model = model

    def construct(self, ids, mask, targets):
        logits = self.model(ids, mask)[0].astype(ms.float64)
        top = logits.max(-1, keepdims=True)
        lse = top + ops.log(ops.exp(logits - top).sum(-1, keepdims=True))
        picked = ops.gather_elements(logits, 2, targets.expand_dims(-1)).squeeze(-1) - lse.squeeze(-1)
        greedy = ops.equal(logits.argmax(-1).astype(targets.dtype), targets)
        return picked, greedy
