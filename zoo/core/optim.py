"""Optimizer settings shared by both twins (the update rules live in zoo/ms/optim.py and torch.optim)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdamWConfig:
    """torch.optim.AdamW's hyper-parameters; both frameworks' optimizers are built from one of these."""

    lr: float = 5e-5
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.01
