"""The zoo's one label convention for language-model losses, written once for both twins to follow.

Causal LM: `labels` are aligned with `input_ids` (transformers' convention: labels = input_ids, with
-100 wherever no target is wanted, e.g. padding). The loss shifts them: the logits at position t are
scored against labels[t + 1], the last position predicts nothing, rows labelled -100 are left out, and
the mean is over the rest. Packed pretraining windows of T + 1 tokens therefore give T targets each.

Sequence classification: one label per sequence, mean cross-entropy over the batch.

`causal_lm_loss` is the reference in numpy (float64), for tests and for scoring outside a framework.
"""

from __future__ import annotations

import numpy as np

IGNORE_INDEX = -100


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float64)
    shifted = x - x.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def causal_lm_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean next-token cross-entropy of (B, T, V) logits against aligned (B, T) labels."""
    targets = np.asarray(labels)[:, 1:]
    scores = log_softmax(np.asarray(logits)[:, :-1])
    kept = targets != IGNORE_INDEX
    if not kept.any():
        return float("nan")
    picked = np.take_along_axis(scores, np.where(kept, targets, 0)[..., None], -1)[..., 0]
    return float(-(picked[kept]).mean())
