"""Layers every MindSpore family shares, written for graph mode and for the CPU kernels that exist.

Parameter names follow torch (`weight`, `bias`) so that one converted state dict loads into both
twins. MindSpore's own nn.LayerNorm (gamma/beta) and nn.Embedding (embedding_table) are not used
for that reason, and because several `mint` ops have no CPU kernel (MINDSPORE_NOTES.md).
"""

from __future__ import annotations

import math

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import Normal, One, Zero, initializer

from zoo.ms import cpu_kernels, kernels
from zoo.ms.generation import write_cache
from zoo.pt.layers import rotary_tables  # noqa: F401 - numpy only: one table for both twins


def _param(init, shape: tuple[int, ...], dtype) -> Parameter:
    return Parameter(initializer(init, shape, dtype))


class BiasAddColumnSumGrad(nn.Cell):
    """y = x + b over the rows of an (N, C) block (BiasAdd), whose bias gradient, the column sums of
    dy, is a GEMV, 1^T dy: MindSpore's CPU BiasAddGrad reduces at ~1.7 GB/s, 49 ms (5%) of a
    DistilBERT-shaped train step (docs/PERFORMANCE.md, eighth round)."""

    def __init__(self) -> None:
        super().__init__()
        self.bias_add = ops.BiasAdd()
        self.matmul = ops.MatMul()

    def construct(self, x: Tensor, bias: Tensor) -> Tensor:
        return self.bias_add(x, bias)

    def bprop(self, x: Tensor, bias: Tensor, out: Tensor, dout: Tensor):
        ones = ops.ones((1, dout.shape[0]), dout.dtype)
        return dout, self.matmul(ones, dout).reshape(bias.shape)


class Linear(nn.Cell):
    """y = x W^T + b, with W stored (out_features, in_features) like torch.

    MatMul then BiasAdd: on CPU, inside whole models, this beat a hand-written threaded-sgemm kernel
    with the bias fused in (OPT-350m-shaped forward 1 x 512 1.18x, train 1.10x, decode 1.11x), and
    BiasAdd beat a broadcast Add (docs/PERFORMANCE.md, sixth round). On CPU the bias gradient is a
    GEMV (BiasAddColumnSumGrad)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=ms.float32, init_std: float = 0.02) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = _param(Normal(init_std), (out_features, in_features), dtype)
        self.bias = _param(Zero(), (out_features,), dtype) if bias else None
        self.matmul = ops.MatMul(transpose_b=True)
        self.bias_add = BiasAddColumnSumGrad() if kernels.device_name() == "CPU" else ops.BiasAdd()

    def construct(self, x: Tensor) -> Tensor:
        y = self.matmul(x.reshape(-1, self.in_features), self.weight)
        if self.bias is not None:
            y = self.bias_add(y, self.bias)
        return y.reshape(x.shape[:-1] + (self.out_features,))


class CausalLMBase(nn.Cell):
    """What OPT and OLMo share around their decoder stacks: logits = h W^T with W the LM head's own
    matrix or, tied, the token embeddings; the causal padding bias; the static KV-cache shape.

    A family calls `init_causal_lm` after building its stack, and says where its token embeddings are
    (`token_embeddings`) and how its stack runs (`hidden_states`)."""

    def init_causal_lm(self, config, width: int, vocab: int, dtype) -> None:
        self.num_layers = config.num_layers
        self.num_heads = config.num_heads
        self.head_dim = config.head_dim
        self.dtype = dtype
        self.mask_value = mask_min(dtype)
        self.lm_head = None if config.tie_word_embeddings else Linear(width, vocab, bias=False, dtype=dtype)
        self.matmul = ops.MatMul(transpose_b=True)
        use_cpu_cross_entropy(dtype)

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
        return (batch, self.num_heads, max_len, self.head_dim)


class Embedding(nn.Cell):
    """Row lookup through ops.gather: mint.embedding has no CPU kernel in PyNative."""

    def __init__(self, num_embeddings: int, dim: int, dtype=ms.float32, init_std: float = 0.02) -> None:
        super().__init__()
        self.weight = _param(Normal(init_std), (num_embeddings, dim), dtype)

    def construct(self, ids: Tensor) -> Tensor:
        return ops.gather(self.weight, ids, 0)


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


class _Norm(nn.Cell):
    """What both norms share: the call, and `eps`.

    `norm(x)` is N(x); `norm(x, residual)` is (N(residual + x), residual + x), a pre-norm block's
    residual sum and the norm after it, one op on CPU (and AddRmsNorm on Ascend) where written out it
    is an Add, the norm and, in the backward, an AddN. The normalised value comes first, so a forward
    hook sees what the torch twin's norm returns.

    `eps` is a float (the written-out path) and the (1,) float32 tensor the CPU kernels take, built
    once and kept in step whenever `eps` is set (the parity self-test edits it). A graph-mode cell
    compiled before such an edit keeps the old value, like any other attribute."""

    def construct(self, x: Tensor, residual: Tensor | None = None):
        if residual is None:
            return self.normalise(x)
        return self.add_and_normalise(residual, x)

    def normalise(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def add_and_normalise(self, residual: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def sum_then_normalise(self, residual: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """The written-out form: an Add, then the norm."""
        total = residual + x
        return self.normalise(total), total

    @property
    def eps(self) -> float:
        return self._eps

    @eps.setter
    def eps(self, value: float) -> None:
        self._eps = float(value)
        self.eps_tensor = Tensor([value], ms.float32)


class LayerNorm(_Norm):
    """LayerNorm over the last axis with torch's parameter names (weight, bias).

    On CPU in float32 it is the hand-written kernel of zoo/ms/cpu_kernels.py (one pass forward, one
    backward); failing that, written out, (x - mean) * rsqrt(var + eps) in fp32, which beat the scalar
    ops.LayerNorm CPU kernel (docs/PERFORMANCE.md). Elsewhere (Ascend, GPU) ops.LayerNorm runs.
    """

    def __init__(self, dim: int, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=ms.float32) -> None:
        super().__init__()
        self.eps = eps
        self.weight = _param(One(), (dim,), dtype) if elementwise_affine else None
        self.bias = _param(Zero(), (dim,), dtype) if elementwise_affine and bias else None
        self.ones = Tensor(np.ones(dim), dtype)
        self.zeros = Tensor(np.zeros(dim), dtype)
        self.norm = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=eps)
        self.use_kernel = kernels.device_name() != "CPU"
        self.cpu_kernel = cpu_kernels.for_cell(cpu_kernels.layer_norm_op, dtype)
        self.add_cpu_kernel = cpu_kernels.for_cell(cpu_kernels.add_layer_norm_op, dtype)
        self.use_cpu_kernel = self.cpu_kernel is not None
        self.use_add_cpu_kernel = self.add_cpu_kernel is not None
        self.mean = RowMean(dim)

    def add_and_normalise(self, residual: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        if not (self.use_cpu_kernel and self.use_add_cpu_kernel):
            return self.sum_then_normalise(residual, x)
        weight = self.ones if self.weight is None else self.weight
        bias = self.zeros if self.bias is None else self.bias
        total, y = self.add_cpu_kernel(residual, x, weight, bias, self.eps_tensor)
        return y, total

    def normalise(self, x: Tensor) -> Tensor:
        weight = self.ones if self.weight is None else self.weight
        bias = self.zeros if self.bias is None else self.bias
        if self.use_cpu_kernel:
            return self.cpu_kernel(x, weight, bias, self.eps_tensor)
        if self.use_kernel:
            return self.norm(x, weight, bias)[0]
        h = x.astype(ms.float32)
        centred = h - self.mean(h)
        h = (centred * ops.rsqrt(self.mean(centred * centred) + self._eps)).astype(x.dtype)
        if self.weight is not None:
            h = h * self.weight
        return h if self.bias is None else h + self.bias


_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def gelu(x: Tensor) -> Tensor:
    """Exact (erf) GELU written out: the GeLU primitive is several times slower on CPU."""
    return 0.5 * x * (1.0 + ops.erf(x * _INV_SQRT2))


class GELU(nn.Cell):
    """Exact GELU; on CPU in float32 the hand-written kernel of zoo/ms/cpu_kernels.py (MindSpore's
    scalar Erf was 15% of a BERT forward), else `gelu` above. Chosen once, at init."""

    def __init__(self, dtype=ms.float32) -> None:
        super().__init__()
        self.cpu_kernel = cpu_kernels.for_cell(cpu_kernels.gelu_op, dtype)
        self.use_cpu_kernel = self.cpu_kernel is not None

    def construct(self, x: Tensor) -> Tensor:
        if self.use_cpu_kernel:
            return self.cpu_kernel(x)
        return gelu(x)


def relu(x: Tensor) -> Tensor:
    return ops.relu(x)


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


def leading_rows(table: Tensor, count: int) -> Tensor:
    """table[:count] without MindSpore's StridedSlice, whose CPU kernel copies a slice spanning the
    whole table at ~70 ns per element (26 ms for 512 x 768; docs/MINDSPORE_NOTES.md)."""
    if count == table.shape[0]:
        return table
    return ops.slice(table, (0,) * table.ndim, (count,) + tuple(table.shape[1:]))


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, S, H*D) -> (B, H, S, D)."""
    batch, seq, width = x.shape
    return ops.transpose(x.reshape(batch, seq, num_heads, width // num_heads), (0, 2, 1, 3))


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, S, D) -> (B, S, H*D)."""
    batch, heads, seq, head_dim = x.shape
    return ops.transpose(x, (0, 2, 1, 3)).reshape(batch, seq, heads * head_dim)


_MATMUL_NT = ops.BatchMatMul(transpose_b=True)  # q k^T without a Transpose kernel (forward and backward)


def attention(q: Tensor, k: Tensor, v: Tensor, additive_mask: Tensor, scale: float) -> Tensor:
    """softmax(q k^T * scale + mask) v on (B, H, S, D) tensors; the composed path for every device."""
    scores = _MATMUL_NT(q, k) * scale + additive_mask
    return ops.matmul(ops.softmax(scores, -1), v)


class HeadsAttention(nn.Cell):
    """softmax(q k^T * scale + bias) v over `num_heads` heads of (B, S, H*D) projections, merged back
    to (B, S, H*D). The additive bias is an encoder's key mask (B, 1, 1, S) or a decoder's causal
    bias (B, 1, S, S).

    On CPU in float32 it is one kernel of zoo/ms/cpu_kernels.py that reads every head in place (no
    split / merge transposes, no separate scale, bias add and softmax); elsewhere the composed path."""

    def __init__(self, num_heads: int, scale: float, dtype=ms.float32) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = scale
        self.cpu_kernel = cpu_kernels.for_cell(lambda: cpu_kernels.attention_op(num_heads), dtype)
        self.cached_kernel = cpu_kernels.for_cell(cpu_kernels.cached_attention_op, dtype)
        self.use_cpu_kernel = self.cpu_kernel is not None and self.cached_kernel is not None
        self.kernel_scale = Tensor([scale], ms.float32)
        self.kernel_heads = Tensor([num_heads], ms.int32)

    def construct(self, q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
        if self.use_cpu_kernel:
            return self.cpu_kernel(q, k, v, bias, self.kernel_scale, self.kernel_heads)[0]
        heads = self.num_heads
        out = attention(split_heads(q, heads), split_heads(k, heads), split_heads(v, heads), bias, self.scale)
        return merge_heads(out)

    def cached(self, q: Tensor, k: Tensor, v: Tensor, key_cache: Tensor, value_cache: Tensor,
               cache_positions: Tensor, bias: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """A generation step: new (B, T, H*D) keys / values into the (B, H, L, D) caches at
        `cache_positions`, then attention over the whole cache with a (B, 1, T, L) bias. Returns
        (out (B, T, H*D), key_cache, value_cache). On CPU one kernel (a decode step's ~16 ops per
        layer cost more in launches than in arithmetic), elsewhere the composed ops."""
        if self.use_cpu_kernel:
            return self.cached_kernel(q, k, v, key_cache, value_cache, cache_positions, bias, self.kernel_scale,
                                      self.kernel_heads)
        heads = self.num_heads
        keys = write_cache(key_cache, split_heads(k, heads), cache_positions)
        values = write_cache(value_cache, split_heads(v, heads), cache_positions)
        return merge_heads(attention(split_heads(q, heads), keys, values, bias, self.scale)), keys, values


# ----------------------------------------------------------------------------------------------
# Llama-style pieces (OLMo): RMSNorm, rotary position embedding, SwiGLU. Each picks its Ascend
# kernel at init through zoo.ms.kernels; the composed ops below are what runs everywhere else.
# ----------------------------------------------------------------------------------------------


class RMSNorm(_Norm):
    """y = x / sqrt(mean(x^2) + eps) * w, normalised in fp32 (as OLMo and Llama do) then cast back.

    The Ascend kernel where it fits; on CPU in float32 the kernel of zoo/ms/cpu_kernels.py (one op
    each way where the written-out form is six, and a decode step is launch-bound); else written out."""

    def __init__(self, dim: int, eps: float = 1e-6, elementwise_affine: bool = True, dtype=ms.float32) -> None:
        super().__init__()
        self.eps = eps
        self.weight = _param(One(), (dim,), dtype) if elementwise_affine else None
        self.ones = Tensor(np.ones(dim), dtype)
        device, dtype_name = kernels.device_name(), kernels.dtype_name(dtype)
        self.use_kernel = kernels.rms_norm_fits(device, dtype_name)
        self.use_add_kernel = kernels.add_rms_norm_fits(device, dtype_name)
        self.cpu_kernel = None if self.use_kernel else cpu_kernels.for_cell(cpu_kernels.rms_norm_op, dtype)
        self.add_cpu_kernel = None if self.use_kernel else cpu_kernels.for_cell(cpu_kernels.add_rms_norm_op, dtype)
        self.use_cpu_kernel = self.cpu_kernel is not None
        self.use_add_cpu_kernel = self.add_cpu_kernel is not None
        self.mean = RowMean(dim)

    def add_and_normalise(self, residual: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        weight = self.ones if self.weight is None else self.weight
        if self.use_add_kernel:
            return kernels.fused_add_rms_norm(residual, x, weight, self._eps)
        if self.use_cpu_kernel and self.use_add_cpu_kernel:
            total, y = self.add_cpu_kernel(residual, x, weight, self.eps_tensor)
            return y, total
        return self.sum_then_normalise(residual, x)

    def normalise(self, x: Tensor) -> Tensor:
        weight = self.ones if self.weight is None else self.weight
        if self.use_kernel:
            return kernels.fused_rms_norm(x, weight, self._eps)
        if self.use_cpu_kernel:
            return self.cpu_kernel(x, weight, self.eps_tensor)
        h = x.astype(ms.float32)
        h = (h * ops.rsqrt(self.mean(h * h) + self._eps)).astype(x.dtype)
        return h if self.weight is None else self.weight * h


def rotate_half(x: Tensor) -> Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last axis."""
    half = x.shape[-1] // 2
    return ops.concat((-x[..., half:], x[..., :half]), -1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor, fused: bool = False) -> Tensor:
    """RoPE on (B, H, T, D) with cos / sin broadcastable to it: x cos + rotate_half(x) sin."""
    if fused:
        return kernels.fused_rotary(x, cos, sin)
    return x * cos + rotate_half(x) * sin


class RotaryQKV(nn.Cell):
    """A fused (B, T, 3W) [q | k | v] projection split into (B, T, W) q, k, v, with RoPE on q and k per
    head: on CPU in float32 one kernel (zoo/ms/cpu_kernels.py) where the composed form is three
    slices and two rotations of seven ops; else exactly that composition. cos / sin: (T, D)."""

    def __init__(self, num_heads: int, width: int, dtype=ms.float32) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.width = width
        self.cpu_kernel = cpu_kernels.for_cell(cpu_kernels.rotary_qkv_op, dtype)
        self.use_cpu_kernel = self.cpu_kernel is not None
        self.heads = Tensor([num_heads], ms.int32)

    def construct(self, qkv: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if self.use_cpu_kernel:
            return self.cpu_kernel(qkv, cos, sin, self.heads)
        batch, seq, _ = qkv.shape
        cos, sin = cos.reshape(1, seq, 1, -1), sin.reshape(1, seq, 1, -1)
        q = apply_rotary(qkv[:, :, :self.width].reshape(batch, seq, self.num_heads, -1), cos, sin)
        k = apply_rotary(qkv[:, :, self.width:2 * self.width].reshape(batch, seq, self.num_heads, -1), cos, sin)
        return q.reshape(batch, seq, self.width), k.reshape(batch, seq, self.width), qkv[:, :, 2 * self.width:]


def silu(x: Tensor) -> Tensor:
    return x * ops.sigmoid(x)


class SwiGLU(nn.Cell):
    """silu(gate) * value on the two halves of a fused projection: the Ascend kernel where it fits
    (`fused`), the CPU float32 kernel of zoo/ms/cpu_kernels.py (one pass each way instead of
    Sigmoid, two Muls and their gradients), else the composed `swiglu`."""

    def __init__(self, gate_first: bool, fused: bool = False, dtype=ms.float32) -> None:
        super().__init__()
        self.gate_first = gate_first
        self.fused = fused
        self.cpu_kernel = None if fused else cpu_kernels.for_cell(cpu_kernels.swiglu_op, dtype)
        self.use_cpu_kernel = self.cpu_kernel is not None
        self.gate_first_flag = Tensor([int(gate_first)], ms.int32)

    def construct(self, x: Tensor) -> Tensor:
        if self.use_cpu_kernel:
            return self.cpu_kernel(x, self.gate_first_flag)
        return swiglu(x, self.gate_first, self.fused)


def swiglu(x: Tensor, gate_first: bool, fused: bool = False) -> Tensor:
    """silu(gate) * value on the two halves of a fused projection (OLMo puts the gate second)."""
    half = x.shape[-1] // 2
    first, second = x[..., :half], x[..., half:]
    if fused:  # the Ascend kernel gates with the first half
        return kernels.fused_swiglu(x if gate_first else ops.concat((second, first), -1))
    return silu(first) * second if gate_first else silu(second) * first


def causal_padding_bias(attention_mask: Tensor, dtype, lowest: float) -> Tensor:
    """(B, S) 1/0 mask -> (B, 1, S, S) additive bias: 0 where key s <= query t and s is a token, else lowest."""
    batch, seq = attention_mask.shape
    steps = ops.arange(seq)
    causal = (steps.reshape(1, seq) <= steps.reshape(seq, 1)).astype(dtype)          # (S, S): [t, s]
    # reshape, not [None, None, :, :]: that indexing is a StridedSlice, whose full-extent copy costs
    # ~50 ns per element on CPU (13 ms at S = 512; docs/MINDSPORE_NOTES.md)
    keep = causal.reshape(1, 1, seq, seq) * attention_mask.astype(dtype).reshape(batch, 1, 1, seq)
    return (1.0 - keep) * lowest                                                        # (B, 1, S, S)


# The losses are plain functions (the families export them as `loss`), and graph mode compiles them
# with the value this global has then. The families' model inits set it (use_cpu_cross_entropy), so
# a float32 model built on CPU trains with the cross-entropy kernel of zoo/ms/cpu_kernels.py: fused
# log-softmax and NLL, one pass each way, where the composed ops (one-hot Equal, ReduceMax, Exp, Sub,
# Neg ... over B x T x V) took ~0.5 s of an OPT-350m-shaped train step.
_cpu_cross_entropy = None
_IGNORE_INDEX = Tensor([cpu_kernels.IGNORE_INDEX], ms.int32)


def use_cpu_cross_entropy(dtype) -> None:
    global _cpu_cross_entropy
    if _cpu_cross_entropy is None:
        _cpu_cross_entropy = cpu_kernels.for_cell(cpu_kernels.cross_entropy_op, dtype)


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of (N, V) logits against (N,) labels; rows labelled -100 are left out."""
    if _cpu_cross_entropy is not None and logits.dtype == ms.float32:
        return _cpu_cross_entropy(logits, labels.astype(ms.int32), _IGNORE_INDEX)[0].reshape(())
    return ops.cross_entropy(logits, labels.astype(ms.int32), ignore_index=cpu_kernels.IGNORE_INDEX)


def causal_lm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Next-token cross-entropy: logits at t predict labels at t + 1; -100 is ignored; mean over the rest.

    The labels are shifted, not the logits: the last position gets -100, and the B x T x V logits are
    not copied."""
    batch, _, vocab = logits.shape
    last = ops.full((batch, 1), cpu_kernels.IGNORE_INDEX, dtype=ms.int32)
    shifted_labels = ops.concat((labels[:, 1:].astype(ms.int32), last), 1)
    return cross_entropy(logits.reshape(-1, vocab).astype(ms.float32), shifted_labels.reshape(-1))
