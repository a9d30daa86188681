"""Rotary position embedding tables, and the RoPE scalings the zoo's configs can name.

One numpy implementation serves both twins, so both read the very same cos / sin tables. Layout is
rotate-half (the halves of the rotated part of a head are the two coordinates of each pair): angle
[p, i] = p * inv_freq[i mod R/2] over the first R = `rotary_dim` features of a head, computed in
float32 as transformers does (inv_freq = 1 / theta^(2i/R), then an outer product with the positions).

Scalings (a config's `rope_scaling`):
- linear:  positions divided by `factor`.
- dynamic: NTK-aware scaling that transformers applies only once a sequence is longer than the
           config's `max_position_embeddings`; the zoo refuses longer inputs, so within what it runs
           the table is the unscaled one (proven by parity, not assumed: tests/core/test_rope.py).
- llama3:  Llama 3.1/3.2's band-wise frequency scaling (low frequencies divided by `factor`, high
           ones kept, a smooth blend between `low_freq_factor` and `high_freq_factor`).
Any other type (yarn, longrope, ...) is refused by name in `read_scaling`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from zoo.core.errors import ConfigError

SCALINGS = ("linear", "dynamic", "llama3")


@dataclass(frozen=True)
class RopeScaling:
    kind: str                                  # one of SCALINGS
    factor: float
    low_freq_factor: float = 1.0               # llama3 only
    high_freq_factor: float = 4.0              # llama3 only
    original_max_position_embeddings: int = 8192   # llama3 only: the pre-training context


def read_scaling(raw: Mapping | None, family: str) -> RopeScaling | None:
    """A config's `rope_scaling` dict (None: no scaling), strictly: unknown types and fields refused."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{family} config: rope_scaling={raw!r} must be an object or null")
    kind = raw.get("rope_type", raw.get("type"))
    if kind in (None, "default"):
        return None
    if kind not in SCALINGS:
        raise ConfigError(f"{family} config: rope_scaling type {kind!r} is not supported by the zoo "
                          f"(supported: {', '.join(SCALINGS)}); field rope_scaling.rope_type")
    allowed = {"rope_type", "type", "factor"}
    if kind == "llama3":
        allowed |= {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{family} config: rope_scaling fields {', '.join(unknown)} are not expressed for "
                          f"rope type {kind!r}")

    def number(name: str, default=None, integer: bool = False):
        value = raw.get(name, default)
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if value is None or isinstance(value, bool) or not ok or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{family} config: rope_scaling.{name}={value!r} must be a positive "
                              f"{'integer' if integer else 'number'}")
        return int(value) if integer else float(value)

    factor = number("factor")
    if kind != "llama3":
        return RopeScaling(kind, factor)
    scaling = RopeScaling(kind, factor, number("low_freq_factor", 1.0), number("high_freq_factor", 4.0),
                          number("original_max_position_embeddings", 8192, integer=True))
    if scaling.high_freq_factor <= scaling.low_freq_factor:
        raise ConfigError(f"{family} config: rope_scaling.high_freq_factor={scaling.high_freq_factor} must exceed "
                          f"low_freq_factor={scaling.low_freq_factor}")
    return scaling


def inverse_frequencies(rotary_dim: int, theta: float, scaling: RopeScaling | None = None) -> np.ndarray:
    """(R/2,) float32 inverse frequencies, with a llama3 scaling applied."""
    inv_freq = (1.0 / (np.float32(theta) ** (np.arange(0, rotary_dim, 2, dtype=np.int64).astype(np.float32)
                                            / np.float32(rotary_dim)))).astype(np.float32)
    if scaling is not None and scaling.kind == "llama3":
        old = scaling.original_max_position_embeddings
        low_wavelen = old / scaling.low_freq_factor
        high_wavelen = old / scaling.high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        scaled = np.where(wavelen > low_wavelen, inv_freq / scaling.factor, inv_freq)
        smooth = (old / wavelen - scaling.low_freq_factor) / (scaling.high_freq_factor - scaling.low_freq_factor)
        blended = (1 - smooth) * scaled / scaling.factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        inv_freq = np.where(medium, blended, scaled).astype(np.float32)
    return inv_freq


def rotary_tables(max_positions: int, rotary_dim: int, theta: float,
                  scaling: RopeScaling | None = None) -> tuple[np.ndarray, np.ndarray]:
    """cos, sin of shape (P, R), float32, rotate-half layout, for positions 0 .. P-1."""
    if rotary_dim < 2 or rotary_dim % 2:
        raise ConfigError(f"rotary dimension {rotary_dim} must be an even number >= 2")
    inv_freq = inverse_frequencies(rotary_dim, theta, scaling)
    positions = np.arange(max_positions, dtype=np.float32)
    if scaling is not None and scaling.kind == "linear":
        positions = (positions / np.float32(scaling.factor)).astype(np.float32)
    angles = np.outer(positions, inv_freq).astype(np.float32)
    angles = np.concatenate([angles, angles], axis=-1)                           # (P, R)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)
