"""Ascend's fused ops behind the semantic layers (selected by zoo/ms/kernels/policy.py; never run on CPU,
where they are unregistered, and not yet run on Ascend hardware either: docs/ascend.md).

Known risks for the first Ascend run: the fused ops' exact signatures (`rms_norm` and
`rotary_position_embedding` change after MindSpore 2.9.0; `add_rms_norm` is marked experimental),
FlashAttentionScore on fully-masked (left-pad) query rows, and the SwiGLU half swap.
"""

from __future__ import annotations

import mindspore as ms
from mindspore import Tensor, nn, ops

from zoo.ms.kernels import composed
from zoo.ms.kernels.policy import FLASH_SEQ_MULTIPLE, flash_attention_seq_fits


def fused_rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """RmsNorm returns (y, rstd); its signature changes after 2.9.0 (ASCEND_NOTES.md section 2)."""
    return ops.rms_norm(x, weight, eps)[0]


def fused_add_rms_norm(residual: Tensor, x: Tensor, weight: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """(RmsNorm(residual + x), residual + x): AddRmsNorm returns (y, rstd, x1 + x2)."""
    y, _, total = ops.add_rms_norm(residual, x, weight, eps)
    return y, total


def fused_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x (B, N, S, D), cos / sin (1, 1, S, D) in rotate-half layout; mode 0 is rotate-half."""
    return ops.rotary_position_embedding(x, cos, sin, 0)


def fused_swiglu(x: Tensor) -> Tensor:
    """silu(first half) * second half: the gate must come first (Llama / mindformers order)."""
    return ops.swiglu(x, -1)


def fused_attention(q: Tensor, k: Tensor, v: Tensor, additive_bias: Tensor, scale: float) -> Tensor:
    """FlashAttentionScore, BNSD layout; its mask is uint8 with 1 where attention is NOT allowed."""
    masked = (additive_bias < 0).astype(ms.uint8)  # (B, 1, S_q, S_kv)
    return ops.flash_attention_score(q, k, v, q.shape[1], attn_mask=masked, scalar_value=scale,
                                     input_layout="BNSD")


class RmsNorm(nn.Cell):
    """RmsNorm, and AddRmsNorm for the residual sum in front where the op exists."""

    def __init__(self, eps: float, add_fused: bool) -> None:
        super().__init__()
        self.eps = float(eps)
        self.add_fused = add_fused

    def construct(self, x: Tensor, weight: Tensor) -> Tensor:
        return fused_rms_norm(x, weight, self.eps)

    def add(self, residual: Tensor, x: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
        if self.add_fused:
            return fused_add_rms_norm(residual, x, weight, self.eps)
        total = residual + x
        return fused_rms_norm(total, weight, self.eps), total


class SwiGLU(nn.Cell):
    """The fused SwiGLU gates with the first half: halves swapped first when the family gates with the second."""

    def __init__(self, gate_first: bool) -> None:
        super().__init__()
        self.gate_first = gate_first

    def construct(self, x: Tensor) -> Tensor:
        if self.gate_first:
            return fused_swiglu(x)
        half = x.shape[-1] // 2
        return fused_swiglu(ops.concat((x[..., half:], x[..., :half]), -1))


class RotaryQKV(nn.Cell):
    """Split a fused [q | k | v] projection and rotate q and k with RotaryPositionEmbedding on a BSND view
    (no transposes; cos / sin broadcast as (1, T, 1, D))."""

    def __init__(self, num_heads: int, num_kv_heads: int, head_dim: int) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads, head_dim

    def construct(self, qkv: Tensor, cos: Tensor, sin: Tensor):
        batch, seq, _ = qkv.shape
        q_width, kv_width = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        cos, sin = cos.reshape(1, seq, 1, -1), sin.reshape(1, seq, 1, -1)
        q = fused_rotary(qkv[:, :, :q_width].reshape(batch, seq, self.num_heads, -1), cos, sin)
        k = fused_rotary(qkv[:, :, q_width:q_width + kv_width].reshape(batch, seq, self.num_kv_heads, -1), cos, sin)
        return q.reshape(batch, seq, q_width), k.reshape(batch, seq, kv_width), qkv[:, :, q_width + kv_width:]


class Rotary(nn.Cell):
    """RotaryPositionEmbedding on a BSND view of a flat (B, T, N D) tensor (cos / sin broadcast (1, T, 1, D))."""

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.head_dim = head_dim

    def construct(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        batch, seq, width = x.shape
        cos, sin = cos.reshape(1, seq, 1, -1), sin.reshape(1, seq, 1, -1)
        return fused_rotary(x.reshape(batch, seq, width // self.head_dim, self.head_dim), cos, sin).reshape(
            batch, seq, width)


class Attention(nn.Cell):
    """FlashAttentionScore where the call's shapes fit (BSH layout for whole sequences; BNSD after a cache
    write), the composed attention otherwise (a decode step's single query, odd lengths)."""

    def __init__(self, num_heads: int, num_kv_heads: int, scale: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = scale
        self.composed = composed.Attention(num_heads, num_kv_heads, scale)

    def construct(self, q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
        batch, seq, _ = q.shape
        if flash_attention_seq_fits(batch, seq, seq):
            masked = (bias < 0).astype(ms.uint8)
            return ops.flash_attention_score(q, k, v, self.num_heads, attn_mask=masked, scalar_value=self.scale,
                                             input_layout="BSH")
        return self.composed(q, k, v, bias)

    def cached(self, q: Tensor, k: Tensor, v: Tensor, key_cache: Tensor, value_cache: Tensor,
               cache_positions: Tensor, bias: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        keys, values = self.composed.write(k, v, key_cache, value_cache, cache_positions)
        if q.shape[1] % FLASH_SEQ_MULTIPLE == 0 and keys.shape[2] % FLASH_SEQ_MULTIPLE == 0:
            out = fused_attention(composed.split_heads(q, self.num_heads), keys, values, bias, self.scale)
            return composed.merge_heads(out), keys, values
        return self.composed.attend_cache(q, keys, values, bias), keys, values
