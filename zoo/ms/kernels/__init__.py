"""The kernel policy: the one place that decides how each semantic layer of zoo/ms/layers.py runs.

A layer (RMSNorm, Attention, SwiGLU ...) holds its parameters and calls the implementation Cell this
module builds for it once, at init: MindSpore's fused Ascend ops where they fit (ascend.py), the C++
CPU kernels for float32 on a CPU target (cpu_cells.py over cpu.py), or plain ops (composed.py). The
decisions are pure functions of device, dtype and shapes (policy.py, unit-tested); the model files
never see them.
"""

from __future__ import annotations

from mindspore import nn

from zoo.ms.kernels import composed, cpu, policy
from zoo.ms.kernels.policy import (  # noqa: F401 - the policy's public names, re-exported
    ASCEND,
    ASCEND_PATH,
    COMPOSED_PATH,
    CPU_PATH,
    FLASH_SEQ_MULTIPLE,
    add_rms_norm_fits,
    device_name,
    dtype_name,
    flash_attention_fits,
    flash_attention_head_fits,
    flash_attention_seq_fits,
    rms_norm_fits,
    rotary_fits,
    swiglu_fits,
)


def _where(dtype) -> tuple[str, str, bool]:
    """(device, dtype name, whether the C++ library can be used for it) for a Cell being built now."""
    device, name = device_name(), dtype_name(dtype)
    return device, name, policy.cpu_wanted(device, name) and cpu.available()


def layer_norm(dim: int, eps: float, dtype) -> nn.Cell:
    device, name, cpu_ok = _where(dtype)
    if policy.layer_norm_path(device, name, cpu_ok) == CPU_PATH:
        from zoo.ms.kernels import cpu_cells

        return cpu_cells.LayerNorm(dim, eps, dtype)
    if device in ("GPU", ASCEND):
        return composed.LayerNormPrimitive(dim, eps, dtype)
    return composed.LayerNorm(dim, eps)


def rms_norm(dim: int, eps: float, dtype) -> nn.Cell:
    device, name, cpu_ok = _where(dtype)
    path = policy.rms_norm_path(device, name, cpu_ok)
    if path == ASCEND_PATH:
        from zoo.ms.kernels import ascend

        return ascend.RmsNorm(eps, add_fused=add_rms_norm_fits(device, name))
    if path == CPU_PATH:
        from zoo.ms.kernels import cpu_cells

        return cpu_cells.RmsNorm(dim, eps, dtype)
    return composed.RmsNorm(dim, eps)


def gelu(dtype) -> nn.Cell:
    device, name, cpu_ok = _where(dtype)
    if policy.gelu_path(device, name, cpu_ok) == CPU_PATH:
        from zoo.ms.kernels import cpu_cells

        return cpu_cells.Gelu()
    return composed.Gelu()


def swiglu(gate_first: bool, width: int, dtype) -> nn.Cell:
    device, name, cpu_ok = _where(dtype)
    path = policy.swiglu_path(device, name, width, cpu_ok)
    if path == ASCEND_PATH:
        from zoo.ms.kernels import ascend

        return ascend.SwiGLU(gate_first)
    if path == CPU_PATH:
        from zoo.ms.kernels import cpu_cells

        return cpu_cells.SwiGLU(gate_first)
    return composed.SwiGLU(gate_first)


def _cpu_attention_ok(num_heads: int, num_kv_heads: int) -> bool:
    return cpu.has_gemm() and (num_heads == num_kv_heads or cpu.supports_grouped_heads())


def attention(num_heads: int, num_kv_heads: int, head_dim: int, scale: float, dtype) -> nn.Cell:
    device, name, cpu_ok = _where(dtype)
    path = policy.attention_path(device, name, num_heads, num_kv_heads, head_dim,
                                 cpu_ok and _cpu_attention_ok(num_heads, num_kv_heads))
    if path == ASCEND_PATH:
        from zoo.ms.kernels import ascend

        return ascend.Attention(num_heads, num_kv_heads, scale)
    if path == CPU_PATH:
        from zoo.ms.kernels import cpu_cells

        return cpu_cells.Attention(num_heads, num_kv_heads, scale)
    return composed.Attention(num_heads, num_kv_heads, scale)


def rotary_qkv(num_heads: int, num_kv_heads: int, head_dim: int, dtype) -> nn.Cell:
    device, name, cpu_ok = _where(dtype)
    cpu_ok = cpu_ok and (num_heads == num_kv_heads or cpu.supports_grouped_heads())
    path = policy.rotary_path(device, name, head_dim, cpu_ok)
    if path == ASCEND_PATH:
        from zoo.ms.kernels import ascend

        return ascend.RotaryQKV(num_heads, num_kv_heads, head_dim)
    if path == CPU_PATH:
        from zoo.ms.kernels import cpu_cells

        return cpu_cells.RotaryQKV(num_heads, num_kv_heads, head_dim)
    return composed.RotaryQKV(num_heads, num_kv_heads, head_dim)


def rotary(head_dim: int, dtype) -> nn.Cell:
    """RoPE on one flat tensor: the Ascend op where it fits, else composed (no CPU kernel: the fused
    split-and-rotate of `rotary_qkv` is the one that earned its place)."""
    device, name, _ = _where(dtype)
    if policy.rotary_path(device, name, head_dim, cpu_available=False) == ASCEND_PATH:
        from zoo.ms.kernels import ascend

        return ascend.Rotary(head_dim)
    return composed.Rotary(head_dim)


def cross_entropy(dtype) -> nn.Cell:
    device, name, cpu_ok = _where(dtype)
    if policy.cross_entropy_path(device, name, cpu_ok) == CPU_PATH:
        from zoo.ms.kernels import cpu_cells

        return cpu_cells.CrossEntropy()
    return composed.CrossEntropy()


def bias_add() -> nn.Cell:
    if policy.bias_add_path(device_name()) == CPU_PATH:
        from zoo.ms.kernels import cpu_cells

        return cpu_cells.BiasAdd()
    return composed.BiasAdd()


def path_of(cell: nn.Cell) -> str:
    """Which implementation a kernel Cell built here is: "ascend", "cpu" or "composed" (tests, reports)."""
    module = type(cell).__module__.rsplit(".", 1)[-1]
    return {"ascend": ASCEND_PATH, "cpu_cells": CPU_PATH}.get(module, COMPOSED_PATH)


def adamw_update(dtype):
    """The C++ in-place AdamW update op for parameters of `dtype` on a CPU target, else None (MindSpore's
    fused AdamWeightDecay with the rescaling of zoo/ms/optim.py runs instead)."""
    _, _, cpu_ok = _where(dtype)
    return cpu.adamw_op() if cpu_ok else None
