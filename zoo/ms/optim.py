"""AdamW for MindSpore with torch.optim.AdamW's update, so loss curves can be compared step by step.

`mindspore.experimental.optim.AdamW` implements exactly torch's decoupled-weight-decay Adam:
    p <- p (1 - lr wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
(read in its source, and checked against torch by tests/test_train.py). `nn.AdamWeightDecay` is not
used: it has no bias correction, so its losses leave torch's after the first step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdamWConfig:
    lr: float = 5e-5
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.01


def adamw(params, config: AdamWConfig):
    from mindspore.experimental.optim import AdamW

    return AdamW(params, lr=float(config.lr), betas=(float(config.betas[0]), float(config.betas[1])),
                 eps=float(config.eps), weight_decay=float(config.weight_decay))
