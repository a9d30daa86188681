"""The torch twins of zoo/ms/layers.py: the same semantic layers, the same arguments, the same names.

torch's own modules are used where their parameter names already match (Linear, Embedding); the norms
add the residual-sum call form of the MindSpore side, so that the families' model files read the same.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

IGNORE_INDEX = -100

Linear = nn.Linear
Embedding = nn.Embedding

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def gelu(x: Tensor) -> Tensor:
    return 0.5 * x * (1.0 + torch.erf(x * _INV_SQRT2))


class GELU(nn.Module):
    """Exact (erf) GELU."""

    def __init__(self, dtype=torch.float32) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return gelu(x)


def relu(x: Tensor) -> Tensor:
    return F.relu(x)


def silu(x: Tensor) -> Tensor:
    return x * torch.sigmoid(x)


def swiglu(x: Tensor, gate_first: bool) -> Tensor:
    half = x.shape[-1] // 2
    first, second = x[..., :half], x[..., half:]
    return silu(first) * second if gate_first else silu(second) * first


class SwiGLU(nn.Module):
    """silu(gate) * value on the two halves of a fused (value | gate) or (gate | value) projection."""

    def __init__(self, gate_first: bool, width: int, dtype=torch.float32) -> None:
        super().__init__()
        self.gate_first = gate_first

    def forward(self, x: Tensor) -> Tensor:
        return swiglu(x, self.gate_first)


class _Norm(nn.Module):
    """`norm(x)` is N(x); `norm(x, residual)` is (N(residual + x), residual + x), as on the MindSpore side."""

    def forward(self, x: Tensor, residual: Tensor | None = None):
        if residual is None:
            return self.normalise(x)
        total = residual + x
        return self.normalise(total), total


class LayerNorm(_Norm):
    """LayerNorm over the last axis, biased variance (F.layer_norm); weight and bias each optional."""

    def __init__(self, dim: int, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=torch.float32) -> None:
        super().__init__()
        self.eps = eps
        self.dim = dim
        self.weight = nn.Parameter(torch.ones(dim, dtype=dtype)) if elementwise_affine else None
        self.bias = nn.Parameter(torch.zeros(dim, dtype=dtype)) if elementwise_affine and bias else None

    def normalise(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, (self.dim,), self.weight, self.bias, self.eps)


class RMSNorm(_Norm):
    """y = x / sqrt(mean(x^2) + eps) * w, normalised in fp32 then cast back."""

    def __init__(self, dim: int, eps: float = 1e-6, elementwise_affine: bool = True, dtype=torch.float32) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, dtype=dtype)) if elementwise_affine else None

    def normalise(self, x: Tensor) -> Tensor:
        h = x.float()
        h = (h * torch.rsqrt((h * h).mean(-1, keepdim=True) + self.eps)).to(x.dtype)
        return h if self.weight is None else self.weight * h


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, S, H*D) -> (B, H, S, D)."""
    batch, seq, width = x.shape
    return x.reshape(batch, seq, num_heads, width // num_heads).permute(0, 2, 1, 3)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, S, D) -> (B, S, H*D)."""
    batch, heads, seq, head_dim = x.shape
    return x.permute(0, 2, 1, 3).reshape(batch, seq, heads * head_dim)


def repeat_kv(x: Tensor, groups: int) -> Tensor:
    """(B, Hkv, S, D) -> (B, Hkv * groups, S, D): query head h reads key-value head h // groups."""
    if groups == 1:
        return x
    batch, kv_heads, seq, head_dim = x.shape
    return x[:, :, None].expand(batch, kv_heads, groups, seq, head_dim).reshape(batch, kv_heads * groups, seq,
                                                                                 head_dim)


ATTENTION_IMPLS = ("math", "sdpa")
_attention_impl = "math"


def set_attention_impl(impl: str) -> None:
    """"math" (written out, the parity path) or "sdpa" (torch's fused kernels: the fast GPU path)."""
    global _attention_impl
    if impl not in ATTENTION_IMPLS:
        raise ValueError(f"attention implementation {impl!r}: choose one of {', '.join(ATTENTION_IMPLS)}")
    _attention_impl = impl


def attention(q: Tensor, k: Tensor, v: Tensor, additive_mask: Tensor, scale: float) -> Tensor:
    """softmax(q k^T * scale + mask) v on (B, H, S, D); the mask is additive (padding and causality in one)."""
    if _attention_impl == "sdpa":
        return F.scaled_dot_product_attention(q, k, v, attn_mask=additive_mask.to(q.dtype), scale=scale)
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale + additive_mask
    return torch.matmul(torch.softmax(scores, -1), v)


def write_cache(cache: Tensor, new: Tensor, cache_positions: Tensor) -> Tensor:
    """Write new (B, H, T, D) into slots `cache_positions` (T,) of cache (B, H, L, D); exact in fp32."""
    length = cache.shape[2]
    onehot = (torch.arange(length, device=cache.device)[None, :] == cache_positions[:, None]).to(cache.dtype)  # (T, L)
    written = onehot.sum(0)  # (L,)
    return cache * (1.0 - written)[:, None] + torch.matmul(onehot.transpose(0, 1), new)  # (B, H, L, D)


class Attention(nn.Module):
    """softmax(q k^T * scale + bias) v over flat (B, S, H*D) queries and (B, S, Hkv*D) keys and values (the
    twin of zoo.ms.layers.Attention, grouped-query attention included)."""

    def __init__(self, num_heads: int, scale: float, num_kv_heads: int | None = None, head_dim: int = 0,
                 dtype=torch.float32) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads or num_heads
        self.groups = num_heads // self.num_kv_heads
        self.scale = scale

    def forward(self, q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
        keys = repeat_kv(split_heads(k, self.num_kv_heads), self.groups)
        values = repeat_kv(split_heads(v, self.num_kv_heads), self.groups)
        return merge_heads(attention(split_heads(q, self.num_heads), keys, values, bias, self.scale))

    def cached(self, q: Tensor, k: Tensor, v: Tensor, key_cache: Tensor, value_cache: Tensor,
               cache_positions: Tensor, bias: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        keys = write_cache(key_cache, split_heads(k, self.num_kv_heads), cache_positions)
        values = write_cache(value_cache, split_heads(v, self.num_kv_heads), cache_positions)
        out = attention(split_heads(q, self.num_heads), repeat_kv(keys, self.groups), repeat_kv(values, self.groups),
                        bias, self.scale)
        return merge_heads(out), keys, values


def rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), -1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    return x * cos + rotate_half(x) * sin


class RotaryQKV(nn.Module):
    """A fused (B, T, (H + 2 Hkv) D) [q | k | v] projection split into flat q, k, v with RoPE on q and k per
    head; cos / sin (T, D)."""

    def __init__(self, num_heads: int, head_dim: int, num_kv_heads: int | None = None, dtype=torch.float32) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads or num_heads, head_dim

    def forward(self, qkv: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        batch, seq, _ = qkv.shape
        q_width, kv_width = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        cos, sin = cos.reshape(1, seq, 1, -1), sin.reshape(1, seq, 1, -1)
        q = apply_rotary(qkv[:, :, :q_width].reshape(batch, seq, self.num_heads, -1), cos, sin)
        k = apply_rotary(qkv[:, :, q_width:q_width + kv_width].reshape(batch, seq, self.num_kv_heads, -1), cos, sin)
        return q.reshape(batch, seq, q_width), k.reshape(batch, seq, kv_width), qkv[:, :, q_width + kv_width:]


class Rotary(nn.Module):
    """Rotary position embedding (rotate-half layout) on every head of a flat (B, T, N D) tensor; cos / sin:
    (T, D)."""

    def __init__(self, head_dim: int, dtype=torch.float32) -> None:
        super().__init__()
        self.head_dim = head_dim

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        batch, seq, width = x.shape
        cos, sin = cos.reshape(1, seq, 1, -1), sin.reshape(1, seq, 1, -1)
        return apply_rotary(x.reshape(batch, seq, width // self.head_dim, self.head_dim), cos, sin).reshape(
            batch, seq, width)


def mask_min(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).min


def padding_mask_to_additive(attention_mask: Tensor, dtype: torch.dtype, lowest: float) -> Tensor:
    keep = attention_mask.to(dtype)[:, None, None, :]
    return (1.0 - keep) * lowest


def causal_padding_bias(attention_mask: Tensor, dtype: torch.dtype, lowest: float) -> Tensor:
    steps = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    causal = (steps[None, :] <= steps[:, None]).to(dtype)                             # (S, S): [t, s]
    keep = causal[None, None, :, :] * attention_mask.to(dtype)[:, None, None, :]      # (B, 1, S, S)
    return (1.0 - keep) * lowest


class CrossEntropy(nn.Module):
    """Mean cross-entropy of (N, V) logits against (N,) labels; rows labelled -100 are left out."""

    def __init__(self, dtype=torch.float32) -> None:
        super().__init__()

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return F.cross_entropy(logits, labels.long(), ignore_index=IGNORE_INDEX)


class CausalLMBase(nn.Module):
    """The twin of zoo.ms.layers.CausalLMBase: the LM head (own or tied to the token embeddings), the
    causal padding bias, the static KV-cache shape and the loss the decoder families share."""

    def init_causal_lm(self, config, width: int, vocab: int, dtype: torch.dtype) -> None:
        self.num_layers = config.num_layers
        self.num_kv_heads = getattr(config, "num_kv_heads", config.num_heads)
        self.head_dim = config.head_dim
        self.dtype = dtype
        self.mask_value = mask_min(dtype)
        self.lm_head = None if config.tie_word_embeddings else Linear(width, vocab, bias=False, dtype=dtype)
        self.cross_entropy = CrossEntropy(dtype)

    def token_embeddings(self) -> Tensor:
        raise NotImplementedError

    def hidden_states(self, input_ids: Tensor, attention_mask: Tensor, bias: Tensor) -> Tensor:
        raise NotImplementedError

    def head(self, hidden: Tensor) -> Tensor:
        if self.lm_head is not None:
            return self.lm_head(hidden)
        batch, seq, width = hidden.shape
        logits = F.linear(hidden.reshape(batch * seq, width), self.token_embeddings())
        return logits.reshape(batch, seq, -1)                                                # (B, T, V)

    def next_token_logits(self, hidden: Tensor) -> Tensor:
        """(B, 1, V): the head on the last position only (what a generation step reads)."""
        return self.head(hidden[:, -1:])

    def forward(self, input_ids: Tensor, attention_mask: Tensor):
        bias = causal_padding_bias(attention_mask, self.dtype, self.mask_value)              # (B, 1, S, S)
        return (self.head(self.hidden_states(input_ids, attention_mask, bias)),)

    def cache_shape(self, batch: int, max_len: int) -> tuple[int, int, int, int]:
        """(B, Hkv, L, D): the cache holds the key-value heads only."""
        return (batch, self.num_kv_heads, max_len, self.head_dim)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Next-token cross-entropy (zoo.core.loss): logits at t predict labels at t + 1; -100 is ignored."""
        vocab = logits.shape[-1]
        return self.cross_entropy(logits[:, :-1].reshape(-1, vocab).float(), labels[:, 1:].reshape(-1))
