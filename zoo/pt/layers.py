"""Twin of zoo.ms.layers: the same math with torch's own modules where their names already match."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

Linear = nn.Linear
Embedding = nn.Embedding
LayerNorm = nn.LayerNorm

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def gelu(x: Tensor) -> Tensor:
    return 0.5 * x * (1.0 + torch.erf(x * _INV_SQRT2))


def relu(x: Tensor) -> Tensor:
    return F.relu(x)


def mask_min(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).min


def padding_mask_to_additive(attention_mask: Tensor, dtype: torch.dtype, lowest: float) -> Tensor:
    keep = attention_mask.to(dtype)[:, None, None, :]
    return (1.0 - keep) * lowest


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    batch, seq, width = x.shape
    return x.reshape(batch, seq, num_heads, width // num_heads).permute(0, 2, 1, 3)


def merge_heads(x: Tensor) -> Tensor:
    batch, heads, seq, head_dim = x.shape
    return x.permute(0, 2, 1, 3).reshape(batch, seq, heads * head_dim)


ATTENTION_IMPLS = ("math", "sdpa")
_attention_impl = "math"


def set_attention_impl(impl: str) -> None:
    """"math" (written out, the parity path) or "sdpa" (torch's fused kernels: the fast GPU path)."""
    global _attention_impl
    if impl not in ATTENTION_IMPLS:
        raise ValueError(f"attention implementation {impl!r}: choose one of {', '.join(ATTENTION_IMPLS)}")
    _attention_impl = impl


def attention(q: Tensor, k: Tensor, v: Tensor, additive_mask: Tensor, scale: float) -> Tensor:
    """softmax(q k^T * scale + mask) v; the mask is additive (padding and causality in one tensor)."""
    if _attention_impl == "sdpa":
        return F.scaled_dot_product_attention(q, k, v, attn_mask=additive_mask.to(q.dtype), scale=scale)
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale + additive_mask
    return torch.matmul(torch.softmax(scores, -1), v)


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * w, normalised in fp32 then cast back."""

    def __init__(self, dim: int, eps: float = 1e-6, elementwise_affine: bool = True, dtype=torch.float32) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, dtype=dtype)) if elementwise_affine else None

    def forward(self, x: Tensor) -> Tensor:
        h = x.float()
        h = (h * torch.rsqrt((h * h).mean(-1, keepdim=True) + self.eps)).to(x.dtype)
        return h if self.weight is None else self.weight * h


def rotary_tables(max_positions: int, head_dim: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """cos, sin (P, D) in rotate-half layout: angle[p, i] = p * theta^(-2(i mod D/2)/D), in fp32 like torch.

    Plain numpy, shared by both twins (zoo.ms.layers re-exports it) so that both use one table.
    """
    inv_freq = 1.0 / (np.float32(theta) ** (np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim)))
    angles = np.outer(np.arange(max_positions, dtype=np.float32), inv_freq.astype(np.float32)).astype(np.float32)
    angles = np.concatenate([angles, angles], axis=-1)                           # (P, D)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), -1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    return x * cos + rotate_half(x) * sin


def silu(x: Tensor) -> Tensor:
    return x * torch.sigmoid(x)


def swiglu(x: Tensor, gate_first: bool) -> Tensor:
    half = x.shape[-1] // 2
    first, second = x[..., :half], x[..., half:]
    return silu(first) * second if gate_first else silu(second) * first


def causal_padding_bias(attention_mask: Tensor, dtype: torch.dtype, lowest: float) -> Tensor:
    steps = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    causal = (steps[None, :] <= steps[:, None]).to(dtype)                             # (S, S): [t, s]
    keep = causal[None, None, :, :] * attention_mask.to(dtype)[:, None, None, :]      # (B, 1, S, S)
    return (1.0 - keep) * lowest


class CausalLMBase(nn.Module):
    """The twin of zoo.ms.layers.CausalLMBase: the LM head (own or tied to the token embeddings), the
    causal padding bias and the static KV-cache shape OPT and OLMo share."""

    def init_causal_lm(self, config, width: int, vocab: int, dtype: torch.dtype) -> None:
        self.num_layers = config.num_layers
        self.num_heads = config.num_heads
        self.head_dim = config.head_dim
        self.dtype = dtype
        self.mask_value = mask_min(dtype)
        self.lm_head = None if config.tie_word_embeddings else Linear(width, vocab, bias=False, dtype=dtype)

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
        return (batch, self.num_heads, max_len, self.head_dim)


def causal_lm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Next-token cross-entropy: logits at t predict labels at t + 1; -100 is ignored; mean over the rest."""
    vocab = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, vocab).float(), labels[:, 1:].reshape(-1).long(),
                           ignore_index=-100)
