"""Tiny random checkpoints written by the upstream libraries themselves (save_pretrained).

Each family's tiny.py writes its own in the upstream's layout; this module holds what they share.
Used by the demo and the tests: loading code is exercised on real upstream files, never on
hand-written ones. Weights are perturbed so that norms are not ones and biases are not zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

TinyWriter = Callable[[Path], Path]


def perturb_(model, seed: int = 0, scale: float = 0.1):
    """Add noise to every parameter so that LayerNorm weights != 1 and biases != 0."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * scale)
    return model


def save_perturbed(model, folder: Path, seed: int) -> Path:
    """Perturb, then write with the upstream class's own save_pretrained (safetensors)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    perturb_(model, seed).save_pretrained(str(folder), safe_serialization=True)
    return folder


def seeded(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
