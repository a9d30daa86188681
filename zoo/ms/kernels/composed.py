"""The composed implementations: each semantic layer's math in plain MindSpore ops.

This is the path that runs wherever no fused or hand-written kernel applies (GPU, float16 / bfloat16 on
CPU, a machine whose compiler could not build the C++ kernels) and the one the other paths are checked
against. Written for graph mode and MindSpore's CPU kernels (docs/MINDSPORE_NOTES.md): no
`mint.split` (wrong PyNative gradients), no StridedSlice over whole tables, reductions as GEMVs where
that was measured faster.
"""

from __future__ import annotations

import math

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

IGNORE_INDEX = -100


class RowMean(nn.Cell):
    """mean over the last axis (keepdims) as a GEMV with a 1/d column: on CPU the ReduceMean kernel took
    3.3 ms on a (1024, 768) block against 0.7 ms for the GEMV, and a written-out LayerNorm's gradient
    66 -> 40 ms, with the same 1.7e-6 max error against an fp64 torch LayerNorm (docs/PERFORMANCE.md)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.column = Tensor(np.full((dim, 1), 1.0 / dim), ms.float32)
        self.matmul = ops.MatMul()

    def construct(self, h: Tensor) -> Tensor:
        return self.matmul(h.reshape(-1, self.dim), self.column).reshape(h.shape[:-1] + (1,))


class LayerNorm(nn.Cell):
    """(x - mean) * rsqrt(var + eps) in fp32, then weight and bias: written out, which beat the scalar
    ops.LayerNorm CPU kernel (docs/PERFORMANCE.md). `weight` / `bias` may be None (not learned)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = float(eps)
        self.mean = RowMean(dim)

    def construct(self, x: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
        h = x.astype(ms.float32)
        centred = h - self.mean(h)
        h = (centred * ops.rsqrt(self.mean(centred * centred) + self.eps)).astype(x.dtype)
        if weight is not None:
            h = h * weight
        return h if bias is None else h + bias

    def add(self, residual: Tensor, x: Tensor, weight: Tensor | None, bias: Tensor | None):
        total = residual + x
        return self.construct(total, weight, bias), total


class LayerNormPrimitive(nn.Cell):
    """ops.LayerNorm, one op, on GPU and Ascend (its CPU kernel is scalar code)."""

    def __init__(self, dim: int, eps: float, dtype) -> None:
        super().__init__()
        self.ones = Tensor(np.ones(dim), dtype)
        self.zeros = Tensor(np.zeros(dim), dtype)
        self.eps = eps

    @property
    def eps(self) -> float:
        return self._eps

    @eps.setter
    def eps(self, value: float) -> None:
        """The primitive bakes epsilon in: a new one for a new value."""
        self._eps = float(value)
        self.norm = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=self._eps)

    def construct(self, x: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
        return self.norm(x, self.ones if weight is None else weight, self.zeros if bias is None else bias)[0]

    def add(self, residual: Tensor, x: Tensor, weight: Tensor | None, bias: Tensor | None):
        total = residual + x
        return self.construct(total, weight, bias), total


class RmsNorm(nn.Cell):
    """x / sqrt(mean(x^2) + eps) in fp32, cast back, then the weight (OLMo's and Llama's order)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = float(eps)
        self.mean = RowMean(dim)

    def construct(self, x: Tensor, weight: Tensor | None) -> Tensor:
        h = x.astype(ms.float32)
        h = (h * ops.rsqrt(self.mean(h * h) + self.eps)).astype(x.dtype)
        return h if weight is None else weight * h

    def add(self, residual: Tensor, x: Tensor, weight: Tensor | None):
        total = residual + x
        return self.construct(total, weight), total


_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def gelu(x: Tensor) -> Tensor:
    """Exact (erf) GELU written out: the GeLU primitive is several times slower on CPU."""
    return 0.5 * x * (1.0 + ops.erf(x * _INV_SQRT2))


class Gelu(nn.Cell):
    def construct(self, x: Tensor) -> Tensor:
        return gelu(x)


def silu(x: Tensor) -> Tensor:
    return x * ops.sigmoid(x)


def swiglu(x: Tensor, gate_first: bool) -> Tensor:
    """silu(gate) * value on the two halves of a fused projection (OLMo puts the gate second)."""
    half = x.shape[-1] // 2
    first, second = x[..., :half], x[..., half:]
    return silu(first) * second if gate_first else silu(second) * first


class SwiGLU(nn.Cell):
    def __init__(self, gate_first: bool) -> None:
        super().__init__()
        self.gate_first = gate_first

    def construct(self, x: Tensor) -> Tensor:
        return swiglu(x, self.gate_first)


# ------------------------------------------------------------------------------------------ attention


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, S, H*D) -> (B, H, S, D)."""
    batch, seq, width = x.shape
    return ops.transpose(x.reshape(batch, seq, num_heads, width // num_heads), (0, 2, 1, 3))


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, S, D) -> (B, S, H*D)."""
    batch, heads, seq, head_dim = x.shape
    return ops.transpose(x, (0, 2, 1, 3)).reshape(batch, seq, heads * head_dim)


def repeat_kv(x: Tensor, groups: int) -> Tensor:
    """(B, Hkv, S, D) -> (B, Hkv * groups, S, D): each key-value head serves `groups` query heads in turn
    (query head h reads key-value head h // groups, as transformers' repeat_kv)."""
    if groups == 1:
        return x
    batch, kv_heads, seq, head_dim = x.shape
    return ops.broadcast_to(x.reshape(batch, kv_heads, 1, seq, head_dim),
                            (batch, kv_heads, groups, seq, head_dim)).reshape(batch, kv_heads * groups, seq, head_dim)


_MATMUL_NT = ops.BatchMatMul(transpose_b=True)  # q k^T without a Transpose kernel (forward and backward)


def attention(q: Tensor, k: Tensor, v: Tensor, additive_mask: Tensor, scale: float) -> Tensor:
    """softmax(q k^T * scale + mask) v on (B, H, S, D) tensors."""
    scores = _MATMUL_NT(q, k) * scale + additive_mask
    return ops.matmul(ops.softmax(scores, -1), v)


def write_cache(cache: Tensor, new: Tensor, cache_positions: Tensor) -> Tensor:
    """Write new (B, H, T, D) into slots `cache_positions` (T,) of cache (B, H, L, D), exactly in fp32: a
    one-hot blend, which compiles to static shapes (a scatter would need the positions at compile time)."""
    length = cache.shape[2]
    onehot = ops.equal(ops.arange(length)[None, :], cache_positions[:, None]).astype(cache.dtype)  # (T, L)
    written = onehot.sum(0)  # (L,)
    return cache * (1.0 - written)[:, None] + ops.matmul(ops.transpose(onehot, (1, 0)), new)  # (B, H, L, D)


class Attention(nn.Cell):
    """Multi-head attention over flat (B, S, H*D) queries and (B, S, Hkv*D) keys / values: split into
    heads, key-value heads repeated for grouped-query attention, softmax(q k^T scale + bias) v, merged."""

    def __init__(self, num_heads: int, num_kv_heads: int, scale: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.groups = num_heads // num_kv_heads
        self.scale = scale

    def construct(self, q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
        keys = repeat_kv(split_heads(k, self.num_kv_heads), self.groups)
        values = repeat_kv(split_heads(v, self.num_kv_heads), self.groups)
        return merge_heads(attention(split_heads(q, self.num_heads), keys, values, bias, self.scale))

    def write(self, k: Tensor, v: Tensor, key_cache: Tensor, value_cache: Tensor, cache_positions: Tensor):
        """New (B, T, Hkv*D) keys and values into the (B, Hkv, L, D) caches."""
        return (write_cache(key_cache, split_heads(k, self.num_kv_heads), cache_positions),
                write_cache(value_cache, split_heads(v, self.num_kv_heads), cache_positions))

    def attend_cache(self, q: Tensor, keys: Tensor, values: Tensor, bias: Tensor) -> Tensor:
        out = attention(split_heads(q, self.num_heads), repeat_kv(keys, self.groups), repeat_kv(values, self.groups),
                        bias, self.scale)
        return merge_heads(out)

    def cached(self, q: Tensor, k: Tensor, v: Tensor, key_cache: Tensor, value_cache: Tensor,
               cache_positions: Tensor, bias: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        keys, values = self.write(k, v, key_cache, value_cache, cache_positions)
        return self.attend_cache(q, keys, values, bias), keys, values


# ----------------------------------------------------------------------------------------------- RoPE


def rotate_half(x: Tensor) -> Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last axis."""
    half = x.shape[-1] // 2
    return ops.concat((-x[..., half:], x[..., :half]), -1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """RoPE with cos / sin broadcastable to x: x cos + rotate_half(x) sin."""
    return x * cos + rotate_half(x) * sin


class RotaryQKV(nn.Cell):
    """A fused (B, T, (H + 2 Hkv) D) [q | k | v] projection split into flat q, k, v with RoPE on q and k per
    head; cos / sin (T, D)."""

    def __init__(self, num_heads: int, num_kv_heads: int, head_dim: int) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads, head_dim

    def construct(self, qkv: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        batch, seq, _ = qkv.shape
        q_width, kv_width = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        cos, sin = cos.reshape(1, seq, 1, -1), sin.reshape(1, seq, 1, -1)
        q = apply_rotary(qkv[:, :, :q_width].reshape(batch, seq, self.num_heads, -1), cos, sin)
        k = apply_rotary(qkv[:, :, q_width:q_width + kv_width].reshape(batch, seq, self.num_kv_heads, -1), cos, sin)
        return q.reshape(batch, seq, q_width), k.reshape(batch, seq, kv_width), qkv[:, :, q_width + kv_width:]


class Rotary(nn.Cell):
    """RoPE on every head of a flat (B, T, N D) tensor; cos / sin (T, D)."""

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.head_dim = head_dim

    def construct(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        batch, seq, width = x.shape
        cos, sin = cos.reshape(1, seq, 1, -1), sin.reshape(1, seq, 1, -1)
        return apply_rotary(x.reshape(batch, seq, width // self.head_dim, self.head_dim), cos, sin).reshape(
            batch, seq, width)


# --------------------------------------------------------------------------------------------- misc


class CrossEntropy(nn.Cell):
    """Mean cross-entropy of (N, V) logits against (N,) labels; rows labelled -100 are left out."""

    def construct(self, logits: Tensor, labels: Tensor) -> Tensor:
        return ops.cross_entropy(logits, labels.astype(ms.int32), ignore_index=IGNORE_INDEX)


class BiasAdd(nn.Cell):
    def __init__(self) -> None:
        super().__init__()
        self.bias_add = ops.BiasAdd()

    def construct(self, x: Tensor, bias: Tensor) -> Tensor:
        return self.bias_add(x, bias)
