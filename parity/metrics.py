"""The metrics every comparison reports, on valid positions only, with NaN/Inf never hidden."""

from __future__ import annotations

import numpy as np


def valid_positions(array: np.ndarray, attention_mask: np.ndarray | None) -> np.ndarray:
    """Rows of a (B, S, ...) output where the attention mask is 1; other outputs unchanged."""
    if attention_mask is None or array.ndim < 2 or array.shape[:2] != attention_mask.shape:
        return array
    return array[attention_mask.astype(bool)]


def compare_arrays(actual: np.ndarray, expected: np.ndarray) -> dict[str, float | bool]:
    """max/mean abs diff, relative Frobenius diff, cosine; `finite` is False if either side has NaN/Inf."""
    if actual.shape != expected.shape:
        raise ValueError(f"shape mismatch: {actual.shape} vs {expected.shape}")
    a = actual.astype(np.float64).ravel()
    b = expected.astype(np.float64).ravel()
    finite = bool(np.isfinite(a).all() and np.isfinite(b).all())
    nan_pattern_equal = bool((np.isnan(a) == np.isnan(b)).all() and (np.isinf(a) == np.isinf(b)).all())
    if not finite:
        nan = float("nan")
        return {"max_abs": nan, "mean_abs": nan, "rel_fro": nan, "cosine": nan, "finite": False,
                "nan_pattern_equal": nan_pattern_equal}
    diff = a - b
    norm_b = float(np.linalg.norm(b))
    norm_a = float(np.linalg.norm(a))
    rel_fro = float(np.linalg.norm(diff) / norm_b) if norm_b > 0 else float(np.linalg.norm(diff))
    cosine = float(a @ b / (norm_a * norm_b)) if norm_a > 0 and norm_b > 0 else float(norm_a == norm_b)
    return {
        "max_abs": float(np.abs(diff).max()) if diff.size else 0.0,
        "mean_abs": float(np.abs(diff).mean()) if diff.size else 0.0,
        "rel_fro": rel_fro,
        "cosine": cosine,
        "finite": True,
        "nan_pattern_equal": True,
    }


def floored_rel_fro(actual: np.ndarray, expected: np.ndarray, floor: float) -> float:
    """||a - b|| / max(||b||, floor): relative error that stays meaningful where b is (near) zero."""
    diff = np.linalg.norm(actual.astype(np.float64) - expected.astype(np.float64))
    return float(diff / max(float(np.linalg.norm(expected.astype(np.float64))), floor))


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    shifted = x - x.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def logits_metrics(actual: np.ndarray, expected: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """Distribution-level agreement of (N, V) logits rows: KL(expected || actual), top-1, top-5, label NLL."""
    actual = actual.reshape(-1, actual.shape[-1])
    expected = expected.reshape(-1, expected.shape[-1])
    log_p, log_q = _log_softmax(expected), _log_softmax(actual)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(-1)
    k = min(5, actual.shape[-1])
    top_a = np.argsort(-actual, -1)[:, :k]
    top_e = np.argsort(-expected, -1)[:, :k]
    overlap = np.mean([len(set(a) & set(e)) / k for a, e in zip(top_a, top_e, strict=True)])
    out = {
        "kl_mean": float(kl.mean()), "kl_p99": float(np.percentile(kl, 99)), "kl_max": float(kl.max()),
        "top1_agreement": float((top_a[:, 0] == top_e[:, 0]).mean()), "top5_overlap": float(overlap),
    }
    if labels is not None:
        labels = labels.reshape(-1)
        counted = labels != -100
        rows = np.arange(len(labels))[counted]
        nll_a = -log_q[rows, labels[counted]].mean()
        nll_e = -log_p[rows, labels[counted]].mean()
        out["nll_diff"] = float(abs(nll_a - nll_e))
    return out


def logits_rows(logits: np.ndarray, attention_mask: np.ndarray | None,
                labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Valid (N, V) rows of logits and their labels: causal LMs predict token t+1 at position t."""
    if logits.ndim == 3:
        rows = logits[:, :-1]
        mask = attention_mask[:, 1:].astype(bool) if attention_mask is not None else np.ones(rows.shape[:2], bool)
        if attention_mask is not None:
            mask &= attention_mask[:, :-1].astype(bool)
        next_labels = labels[:, 1:][mask] if labels is not None and labels.shape == logits.shape[:2] else None
        return rows[mask], next_labels
    return logits, labels if labels is not None and labels.shape == logits.shape[:1] else None
