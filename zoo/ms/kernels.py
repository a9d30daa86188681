"""Ascend fused-kernel selection: one switch, decided when a Cell is built, composed ops everywhere else.

FlashAttentionScore, RmsNorm, RotaryPositionEmbedding and SwiGLU exist only on Ascend (on CPU they
fail with "kernel ... unregistered", ASCEND_NOTES.md section 0). The `*_fits` functions below are
pure: they take a device name, a dtype name and shapes, and say whether the fused kernel may run,
following the documented constraints (ASCEND_NOTES.md sections 1-2, DESIGN.md). Cells call
`device_name()` and `dtype_name()` once at init and keep the answer as a constant Python bool, so
graph mode compiles only the branch that runs.

None of the fused branches has run on Ascend hardware: the composed path is what runs and is
parity-tested here (README, section "Ascend").
"""

from __future__ import annotations

import mindspore as ms
from mindspore import Tensor, ops

ASCEND = "Ascend"
HALF = ("float16", "bfloat16")
FLOATS = ("float16", "bfloat16", "float32")

# ops.flash_attention_score (2.9 docstring): q/k/v fp16 or bf16, B <= 2048, N <= 256, D a multiple
# of 16 up to 512, S <= 512k. DESIGN.md adds: sequence lengths a multiple of 16. DESIGN.md's example
# list {64, 80, 96, 120, 128, 256} includes 120, which is not a multiple of 16: we keep the stricter
# docstring rule (120 -> composed), so OLMo ladder head dims 44 (90M) and 84 (530M) run composed too.
FLASH_MAX_BATCH = 2048
FLASH_MAX_HEADS = 256
FLASH_MAX_HEAD_DIM = 512
FLASH_MAX_SEQ = 512 * 1024
FLASH_SEQ_MULTIPLE = 16
FLASH_HEAD_DIM_MULTIPLE = 16
# ops.rotary_position_embedding: 4-D input, head dim even and below 896; deprecated, "removed after 2.9.0".
ROPE_MAX_HEAD_DIM = 896

_DTYPE_NAMES = {ms.float16: "float16", ms.bfloat16: "bfloat16", ms.float32: "float32", ms.float64: "float64"}


def device_name() -> str:
    """"Ascend" when MindSpore targets an Ascend NPU (set, or the default on a machine that has one)."""
    target = ms.get_context("device_target")
    if target == ASCEND:
        return ASCEND
    if target not in ("CPU", "GPU"):
        try:
            if ms.device_context.ascend.is_available():
                return ASCEND
        except (AttributeError, RuntimeError):
            pass
    return str(target)


def dtype_name(dtype) -> str:
    return _DTYPE_NAMES.get(dtype, str(dtype))


# ----------------------------------------------------------------------------------------------
# Selection: pure functions of (device, dtype, shape)
# ----------------------------------------------------------------------------------------------


def flash_attention_head_fits(device: str, dtype: str, num_heads: int, head_dim: int) -> bool:
    """The part of FlashAttentionScore's constraints known when the Cell is built."""
    return (device == ASCEND and dtype in HALF and hasattr(ops, "flash_attention_score")
            and 0 < num_heads <= FLASH_MAX_HEADS
            and head_dim % FLASH_HEAD_DIM_MULTIPLE == 0 and 0 < head_dim <= FLASH_MAX_HEAD_DIM)


def flash_attention_seq_fits(batch: int, q_len: int, kv_len: int) -> bool:
    """The part known only from the input shape (static in graph mode)."""
    return (batch <= FLASH_MAX_BATCH and q_len % FLASH_SEQ_MULTIPLE == 0 and kv_len % FLASH_SEQ_MULTIPLE == 0
            and 0 < q_len <= FLASH_MAX_SEQ and 0 < kv_len <= FLASH_MAX_SEQ)


def flash_attention_fits(device: str, dtype: str, batch: int, num_heads: int, q_len: int, kv_len: int,
                         head_dim: int) -> bool:
    return flash_attention_head_fits(device, dtype, num_heads, head_dim) and flash_attention_seq_fits(
        batch, q_len, kv_len)


def rms_norm_fits(device: str, dtype: str) -> bool:
    """RmsNorm: x and gamma of one dtype, fp16 / bf16 / fp32."""
    return device == ASCEND and dtype in FLOATS and hasattr(ops, "rms_norm")


def add_rms_norm_fits(device: str, dtype: str) -> bool:
    """AddRmsNorm (the residual sum fused in front): x1, x2 and gamma of one dtype, fp16 / bf16 / fp32."""
    return device == ASCEND and dtype in FLOATS and hasattr(ops, "add_rms_norm")


def rotary_fits(device: str, dtype: str, head_dim: int) -> bool:
    """RotaryPositionEmbedding, rotate-half mode 0: head dim even and < 896."""
    return (device == ASCEND and dtype in FLOATS and hasattr(ops, "rotary_position_embedding")
            and head_dim % 2 == 0 and 0 < head_dim < ROPE_MAX_HEAD_DIM)


def swiglu_fits(device: str, dtype: str, width: int) -> bool:
    """SwiGLU: the split dimension (the fused projection's width, 2 x hidden) must be even."""
    return device == ASCEND and dtype in FLOATS and hasattr(ops, "swiglu") and width % 2 == 0


# ----------------------------------------------------------------------------------------------
# The fused calls (Ascend only; never run on CPU, where they are unregistered)
# ----------------------------------------------------------------------------------------------


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
