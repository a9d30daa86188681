"""Twin of zoo.ms.layers: the same math with torch's own modules where their names already match."""

from __future__ import annotations

import math

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


def attention(q: Tensor, k: Tensor, v: Tensor, additive_mask: Tensor, scale: float) -> Tensor:
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale + additive_mask
    return torch.matmul(torch.softmax(scores, -1), v)
