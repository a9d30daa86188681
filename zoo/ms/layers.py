"""The semantic layers every MindSpore family is written with: what they compute, not how.

Each layer holds its parameters (named as torch names them: `weight`, `bias`, so that one converted
state dict loads into both twins) and calls an implementation Cell that the kernel policy
(zoo/ms/kernels/) chose when the layer was built: an Ascend fused op, a C++ CPU kernel, or composed
ops. zoo/pt/layers.py is the twin, layer for layer.
"""

from __future__ import annotations

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import Normal, One, Zero, initializer

from zoo.ms import kernels
from zoo.ms.kernels.composed import IGNORE_INDEX, merge_heads, split_heads  # noqa: F401 - re-exported


def _param(init, shape: tuple[int, ...], dtype) -> Parameter:
    return Parameter(initializer(init, shape, dtype))


class Linear(nn.Cell):
    """y = x W^T + b, with W stored (out_features, in_features) like torch.

    MatMul then BiasAdd: on CPU, inside whole models, this beat a hand-written threaded-sgemm kernel
    with the bias fused in (OPT-350m-shaped forward 1 x 512 1.18x, train 1.10x, decode 1.11x), and
    BiasAdd beat a broadcast Add (docs/PERFORMANCE.md, sixth round)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=ms.float32, init_std: float = 0.02) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = _param(Normal(init_std), (out_features, in_features), dtype)
        self.bias = _param(Zero(), (out_features,), dtype) if bias else None
        self.matmul = ops.MatMul(transpose_b=True)
        self.bias_add = kernels.bias_add() if bias else None

    def construct(self, x: Tensor) -> Tensor:
        y = self.matmul(x.reshape(-1, self.in_features), self.weight)
        if self.bias is not None:
            y = self.bias_add(y, self.bias)
        return y.reshape(x.shape[:-1] + (self.out_features,))


class Embedding(nn.Cell):
    """Row lookup through ops.gather: mint.embedding has no CPU kernel in PyNative."""

    def __init__(self, num_embeddings: int, dim: int, dtype=ms.float32, init_std: float = 0.02) -> None:
        super().__init__()
        self.weight = _param(Normal(init_std), (num_embeddings, dim), dtype)

    def construct(self, ids: Tensor) -> Tensor:
        return ops.gather(self.weight, ids, 0)


class _Norm(nn.Cell):
    """What both norms share: the call, and `eps`.

    `norm(x)` is N(x); `norm(x, residual)` is (N(residual + x), residual + x), a pre-norm block's residual
    sum and the norm after it (one op with the CPU kernels, AddRmsNorm on Ascend). The normalised value
    comes first, so a forward hook sees what the torch twin's norm returns. Setting `eps` reaches the
    implementation (the parity self-test edits it)."""

    def construct(self, x: Tensor, residual: Tensor | None = None):
        if residual is None:
            return self.normalise(x)
        return self.add_and_normalise(residual, x)

    @property
    def eps(self) -> float:
        return self.kernel.eps

    @eps.setter
    def eps(self, value: float) -> None:
        self.kernel.eps = float(value)


class LayerNorm(_Norm):
    """LayerNorm over the last axis, biased variance, as torch; weight and bias each optional."""

    def __init__(self, dim: int, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=ms.float32) -> None:
        super().__init__()
        self.weight = _param(One(), (dim,), dtype) if elementwise_affine else None
        self.bias = _param(Zero(), (dim,), dtype) if elementwise_affine and bias else None
        self.kernel = kernels.layer_norm(dim, eps, dtype)

    def normalise(self, x: Tensor) -> Tensor:
        return self.kernel(x, self.weight, self.bias)

    def add_and_normalise(self, residual: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.kernel.add(residual, x, self.weight, self.bias)


class RMSNorm(_Norm):
    """y = x / sqrt(mean(x^2) + eps) * w, normalised in fp32 (as OLMo and Llama do) then cast back."""

    def __init__(self, dim: int, eps: float = 1e-6, elementwise_affine: bool = True, dtype=ms.float32) -> None:
        super().__init__()
        self.weight = _param(One(), (dim,), dtype) if elementwise_affine else None
        self.kernel = kernels.rms_norm(dim, eps, dtype)

    def normalise(self, x: Tensor) -> Tensor:
        return self.kernel(x, self.weight)

    def add_and_normalise(self, residual: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.kernel.add(residual, x, self.weight)


class GELU(nn.Cell):
    """Exact (erf) GELU."""

    def __init__(self, dtype=ms.float32) -> None:
        super().__init__()
        self.kernel = kernels.gelu(dtype)

    def construct(self, x: Tensor) -> Tensor:
        return self.kernel(x)


def relu(x: Tensor) -> Tensor:
    return ops.relu(x)


class SwiGLU(nn.Cell):
    """silu(gate) * value on the two halves of a fused (value | gate) or (gate | value) projection."""

    def __init__(self, gate_first: bool, width: int, dtype=ms.float32) -> None:
        super().__init__()
        self.kernel = kernels.swiglu(gate_first, width, dtype)

    def construct(self, x: Tensor) -> Tensor:
        return self.kernel(x)


class Attention(nn.Cell):
    """softmax(q k^T * scale + bias) v over flat (B, S, H*D) queries and (B, S, Hkv*D) keys and values, each
    key-value head serving H / Hkv query heads (grouped-query attention; Hkv = 1: multi-query), merged back
    to (B, S, H*D). The additive bias is an encoder's key mask (B, 1, 1, S) or a decoder's causal bias
    (B, 1, S, S).

    `cached` is a generation step (docs/decoders.md): the new keys and values go into the (B, Hkv, L, D)
    caches at `cache_positions`, then the queries attend over the whole cache with a (B, 1, T, L) bias."""

    def __init__(self, num_heads: int, scale: float, num_kv_heads: int | None = None, head_dim: int = 0,
                 dtype=ms.float32) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads or num_heads
        self.scale = scale
        self.kernel = kernels.attention(num_heads, self.num_kv_heads, head_dim, scale, dtype)

    def construct(self, q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
        return self.kernel(q, k, v, bias)

    def cached(self, q: Tensor, k: Tensor, v: Tensor, key_cache: Tensor, value_cache: Tensor,
               cache_positions: Tensor, bias: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.kernel.cached(q, k, v, key_cache, value_cache, cache_positions, bias)


class RotaryQKV(nn.Cell):
    """A fused (B, T, (H + 2 Hkv) D) [q | k | v] projection split into q (B, T, H D), k and v (B, T, Hkv D),
    with rotary position embedding (rotate-half layout) applied to each head of q and k. cos / sin: (T, D)."""

    def __init__(self, num_heads: int, head_dim: int, num_kv_heads: int | None = None, dtype=ms.float32) -> None:
        super().__init__()
        self.kernel = kernels.rotary_qkv(num_heads, num_kv_heads or num_heads, head_dim, dtype)

    def construct(self, qkv: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.kernel(qkv, cos, sin)


class Rotary(nn.Cell):
    """Rotary position embedding (rotate-half layout) on every head of a flat (B, T, N D) tensor; cos / sin:
    (T, D). For projections that are not fused, or whose heads are normalised before RoPE (Qwen3)."""

    def __init__(self, head_dim: int, dtype=ms.float32) -> None:
        super().__init__()
        self.kernel = kernels.rotary(head_dim, dtype)

    def construct(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        return self.kernel(x, cos, sin)


_LOWEST = {ms.float32: float(np.finfo(np.float32).min), ms.float16: float(np.finfo(np.float16).min),
           ms.bfloat16: -3.3895313892515355e38}


def mask_min(dtype) -> float:
    """The additive mask value torch uses: the lowest finite number of the compute dtype.

    Call it at init: graph mode cannot run numpy on a dtype inside construct.
    """
    return _LOWEST[dtype]


def padding_mask_to_additive(attention_mask: Tensor, dtype, lowest: float) -> Tensor:
    """(B, S) 1/0 mask -> (B, 1, 1, S) additive mask: 0 where kept, `lowest` (mask_min) where padded."""
    batch, seq = attention_mask.shape
    keep = attention_mask.astype(dtype).reshape(batch, 1, 1, seq)
    return (1.0 - keep) * lowest


def causal_padding_bias(attention_mask: Tensor, dtype, lowest: float) -> Tensor:
    """(B, S) 1/0 mask -> (B, 1, S, S) additive bias: 0 where key s <= query t and s is a token, else lowest."""
    batch, seq = attention_mask.shape
    steps = ops.arange(seq)
    causal = (steps.reshape(1, seq) <= steps.reshape(seq, 1)).astype(dtype)          # (S, S): [t, s]
    # reshape, not [None, None, :, :]: that indexing is a StridedSlice, whose full-extent copy costs
    # ~50 ns per element on CPU (13 ms at S = 512; docs/MINDSPORE_NOTES.md)
    keep = causal.reshape(1, 1, seq, seq) * attention_mask.astype(dtype).reshape(batch, 1, 1, seq)
    return (1.0 - keep) * lowest                                                        # (B, 1, S, S)


def leading_rows(table: Tensor, count: int) -> Tensor:
    """table[:count] without MindSpore's StridedSlice, whose CPU kernel copies a slice spanning the
    whole table at ~70 ns per element (26 ms for 512 x 768; docs/MINDSPORE_NOTES.md)."""
    if count == table.shape[0]:
        return table
    return ops.slice(table, (0,) * table.ndim, (count,) + tuple(table.shape[1:]))


class CrossEntropy(nn.Cell):
    """Mean cross-entropy of (N, V) logits against (N,) labels; rows labelled -100 are left out."""

    def __init__(self, dtype=ms.float32) -> None:
        super().__init__()
        self.kernel = kernels.cross_entropy(dtype)

    def construct(self, logits: Tensor, labels: Tensor) -> Tensor:
        return self.kernel(logits, labels)


class CausalLMBase(nn.Cell):
    """What the decoder families share around their stacks: logits = h W^T with W the LM head's own
    matrix or, tied, the token embeddings; the causal padding bias; the static KV-cache shape; the loss.

    A family calls `init_causal_lm` after building its stack, and says where its token embeddings are
    (`token_embeddings`) and how its stack runs (`hidden_states`)."""

    def init_causal_lm(self, config, width: int, vocab: int, dtype) -> None:
        self.num_layers = config.num_layers
        self.num_kv_heads = getattr(config, "num_kv_heads", config.num_heads)
        self.head_dim = config.head_dim
        self.dtype = dtype
        self.mask_value = mask_min(dtype)
        self.lm_head = None if config.tie_word_embeddings else Linear(width, vocab, bias=False, dtype=dtype)
        self.matmul = ops.MatMul(transpose_b=True)
        self.cross_entropy = CrossEntropy(dtype)

    def token_embeddings(self) -> Parameter:
        raise NotImplementedError

    def hidden_states(self, input_ids: Tensor, attention_mask: Tensor, bias: Tensor) -> Tensor:
        raise NotImplementedError

    def head(self, hidden: Tensor) -> Tensor:
        if self.lm_head is not None:
            return self.lm_head(hidden)
        batch, seq, width = hidden.shape
        logits = self.matmul(hidden.reshape(batch * seq, width), self.token_embeddings())
        return logits.reshape(batch, seq, -1)                                                # (B, T, V)

    def next_token_logits(self, hidden: Tensor) -> Tensor:
        """(B, 1, V): the head on the last position only. A generation step reads nothing else, and at
        prefill the other P - 1 rows of logits were most of a small model's prompt pass (the DataDecide-4M
        head over 128 x 50304 took 6.5 ms and its reshape copy 2.8 ms of ~25 ms; docs/PERFORMANCE.md)."""
        batch, seq, width = hidden.shape
        if seq > 1:
            hidden = ops.slice(hidden, (0, seq - 1, 0), (batch, 1, width))
        return self.head(hidden)

    def construct(self, input_ids: Tensor, attention_mask: Tensor):
        bias = causal_padding_bias(attention_mask, self.dtype, self.mask_value)              # (B, 1, S, S)
        return (self.head(self.hidden_states(input_ids, attention_mask, bias)),)

    def cache_shape(self, batch: int, max_len: int) -> tuple[int, int, int, int]:
        """(B, Hkv, L, D): the cache holds the key-value heads only."""
        return (batch, self.num_kv_heads, max_len, self.head_dim)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Next-token cross-entropy (zoo.core.loss): logits at t predict labels at t + 1; -100 is ignored;
        mean over the rest. The labels are shifted, not the logits: the last position gets -100, and the
        B x T x V logits are not copied."""
        batch, _, vocab = logits.shape
        last = ops.full((batch, 1), IGNORE_INDEX, dtype=ms.int32)
        shifted_labels = ops.concat((labels[:, 1:].astype(ms.int32), last), 1)
        return self.cross_entropy(logits.reshape(-1, vocab).astype(ms.float32), shifted_labels.reshape(-1))
