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
