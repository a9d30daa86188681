"""AdamW for MindSpore with torch.optim.AdamW's update, so loss curves can be compared step by step.

torch's decoupled-weight-decay Adam, step t:
    p <- p (1 - lr wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

`FusedAdamW` (the default) runs it through MindSpore's fused `AdamWeightDecay` kernel, one pass over
p, m, v and g per parameter. That kernel has no bias correction:
    p <- p - lr' (m / (sqrt(v) + eps') + wd' p)
and it becomes torch's update exactly with, per step,
    lr' = lr sqrt(1 - b2^t) / (1 - b1^t),   eps' = eps sqrt(1 - b2^t),   wd' = wd (1 - b1^t) / sqrt(1 - b2^t)
(lr' wd' = lr wd, the decoupled decay; lr' / (sqrt(v) + eps') = lr / (1 - b1^t) / (sqrt(v) / sqrt(1 - b2^t) + eps)).
On a DistilBERT-shaped train step on 2 CPU cores the unfused `mindspore.experimental.optim.AdamW`
(ten elementwise kernels per parameter) took ~1.3 s of a 3.2 s step (docs/PERFORMANCE.md).
`fused=False` keeps that one, for comparison.
"""

from __future__ import annotations

from zoo.core.optim import AdamWConfig


def adamw(params, config: AdamWConfig, fused: bool = True):
    if fused:
        from zoo.ms.fused_adamw import FusedAdamW  # imports MindSpore; AdamWConfig alone does not

        return FusedAdamW(params, config)
    from mindspore.experimental.optim import AdamW

    return AdamW(params, lr=float(config.lr), betas=(float(config.betas[0]), float(config.betas[1])),
                 eps=float(config.eps), weight_decay=float(config.weight_decay))
