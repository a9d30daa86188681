"""The semantic layers' CPU implementations: Cells around the C++ kernels of zoo/ms/kernels/cpu.py.

Each takes the same arguments as its composed twin in composed.py and computes the same formula in one
op each way (forward, and one gradient kernel), where MindSpore 2.9's CPU kernels take several launches
or run scalar code (docs/PERFORMANCE.md). Built only when the policy chose the "cpu" path: float32 on a
CPU target, library built. `composed()` gives each one's composed equivalent (benchmarks.ab measures what
a kernel is worth by swapping it in); the norms' `fuse_add = False` keeps the kernel but does the residual
sum as a separate Add.
"""

from __future__ import annotations

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

from zoo.ms.kernels import composed, cpu


class _Eps(nn.Cell):
    """`eps` as a float and as the (1,) float32 tensor the kernels take, kept in step when it is set (the
    parity self-test edits it). A graph compiled before such an edit keeps the old value."""

    @property
    def eps(self) -> float:
        return self._eps

    @eps.setter
    def eps(self, value: float) -> None:
        self._eps = float(value)
        self.eps_tensor = Tensor([value], ms.float32)


class LayerNorm(_Eps):
    """One pass forward, one backward; the residual-sum form writes (N(residual + x), residual + x)."""

    def __init__(self, dim: int, eps: float, dtype) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.ones = Tensor(np.ones(dim), dtype)
        self.zeros = Tensor(np.zeros(dim), dtype)
        self.kernel = cpu.layer_norm_op()
        self.add_kernel = cpu.add_layer_norm_op()
        self.fuse_add = True

    def construct(self, x: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
        return self.kernel(x, self.ones if weight is None else weight, self.zeros if bias is None else bias,
                           self.eps_tensor)

    def add(self, residual: Tensor, x: Tensor, weight: Tensor | None, bias: Tensor | None):
        if not self.fuse_add:
            total = residual + x
            return self.construct(total, weight, bias), total
        total, y = self.add_kernel(residual, x, self.ones if weight is None else weight,
                                   self.zeros if bias is None else bias, self.eps_tensor)
        return y, total

    def composed(self) -> nn.Cell:
        return composed.LayerNorm(self.dim, self.eps)


class RmsNorm(_Eps):
    def __init__(self, dim: int, eps: float, dtype) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.ones = Tensor(np.ones(dim), dtype)
        self.kernel = cpu.rms_norm_op()
        self.add_kernel = cpu.add_rms_norm_op()
        self.fuse_add = True

    def construct(self, x: Tensor, weight: Tensor | None) -> Tensor:
        return self.kernel(x, self.ones if weight is None else weight, self.eps_tensor)

    def add(self, residual: Tensor, x: Tensor, weight: Tensor | None):
        if not self.fuse_add:
            total = residual + x
            return self.construct(total, weight), total
        total, y = self.add_kernel(residual, x, self.ones if weight is None else weight, self.eps_tensor)
        return y, total

    def composed(self) -> nn.Cell:
        return composed.RmsNorm(self.dim, self.eps)


class Gelu(nn.Cell):
    """Exact GELU with glibc's vector erf (MindSpore's scalar Erf was 15% of a BERT forward)."""

    def __init__(self) -> None:
        super().__init__()
        self.kernel = cpu.gelu_op()

    def construct(self, x: Tensor) -> Tensor:
        return self.kernel(x)

    def composed(self) -> nn.Cell:
        return composed.Gelu()


class SwiGLU(nn.Cell):
    def __init__(self, gate_first: bool) -> None:
        super().__init__()
        self.kernel = cpu.swiglu_op()
        self.gate_first_flag = gate_first
        self.gate_first = Tensor([int(gate_first)], ms.int32)

    def construct(self, x: Tensor) -> Tensor:
        return self.kernel(x, self.gate_first)

    def composed(self) -> nn.Cell:
        return composed.SwiGLU(self.gate_first_flag)


class Attention(nn.Cell):
    """Every head read in place from the flat (B, S, H*D) queries and (B, S, Hkv*D) keys and values by
    oneDNN's sgemm (no split / merge transposes, no separate scale, bias add and softmax); a key-value head
    shared by a group of H / Hkv query heads (grouped- or multi-query attention) is read where it is, not
    repeated, and its gradient is the sum over its group. The cached form writes the new keys and values
    into copies of the (B, Hkv, L, D) caches, once per key-value head, and attends over every slot, one op
    per layer and step. The kernels take the heads as the int32 tensor [H, Hkv]."""

    def __init__(self, num_heads: int, num_kv_heads: int, scale: float) -> None:
        super().__init__()
        self.kernel = cpu.attention_op(num_heads)
        self.cached_kernel = cpu.cached_attention_op()
        self.scale = Tensor([scale], ms.float32)
        self.heads = Tensor([num_heads, num_kv_heads], ms.int32)
        self.config = (num_heads, num_kv_heads, scale)

    def construct(self, q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
        return self.kernel(q, k, v, bias, self.scale, self.heads)[0]

    def cached(self, q: Tensor, k: Tensor, v: Tensor, key_cache: Tensor, value_cache: Tensor,
               cache_positions: Tensor, bias: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.cached_kernel(q, k, v, key_cache, value_cache, cache_positions, bias, self.scale, self.heads)

    def composed(self) -> nn.Cell:
        return composed.Attention(*self.config)


class RotaryQKV(nn.Cell):
    """Split a fused (B, T, (H + 2 Hkv) D) [q | k | v] projection into q (B, T, H D), k and v (B, T, Hkv D)
    and rotate q and k, one op (the composed form is ~17)."""

    def __init__(self, num_heads: int, num_kv_heads: int, head_dim: int) -> None:
        super().__init__()
        self.kernel = cpu.rotary_qkv_op(num_heads, num_kv_heads)
        self.heads = Tensor([num_heads, num_kv_heads], ms.int32)
        self.config = (num_heads, num_kv_heads, head_dim)

    def construct(self, qkv: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.kernel(qkv, cos, sin, self.heads)

    def composed(self) -> nn.Cell:
        return composed.RotaryQKV(*self.config)


class CrossEntropy(nn.Cell):
    """Fused log-softmax and NLL, one pass each way, where the composed ops (one-hot Equal, ReduceMax, Exp,
    Sub, Neg ... over B x T x V) took ~0.5 s of an OPT-350m-shaped train step."""

    def __init__(self) -> None:
        super().__init__()
        self.kernel = cpu.cross_entropy_op()
        self.ignore = Tensor([cpu.IGNORE_INDEX], ms.int32)

    def construct(self, logits: Tensor, labels: Tensor) -> Tensor:
        if logits.dtype != ms.float32:
            return ops.cross_entropy(logits, labels.astype(ms.int32), ignore_index=cpu.IGNORE_INDEX)
        return self.kernel(logits, labels.astype(ms.int32), self.ignore)[0].reshape(())


class BiasAdd(nn.Cell):
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
