"""The kernel policy's decisions: pure functions of (device, dtype, shapes) saying which implementation
of a semantic layer may run. Cells ask once, when they are built, and keep the answer as a constant,
so graph mode compiles only the branch taken.

Three kinds of implementation exist (zoo/ms/kernels/__init__.py builds them):
- "ascend":    MindSpore's fused Ascend ops (FlashAttentionScore, RmsNorm, AddRmsNorm,
               RotaryPositionEmbedding, SwiGLU), where their documented constraints hold. They exist only
               on Ascend; on CPU they fail with "kernel ... unregistered".
- "cpu":       the hand-written C++ kernels (zoo/ms/kernels/cpu.py), float32 on a CPU target, when the
               library built on this machine.
- "composed":  plain MindSpore ops; the path that runs everywhere else and that parity proves (on GPU and
               Ascend the LayerNorm and bias-add primitives count as composed: one op each).

None of the "ascend" branches has run on Ascend hardware (docs/ascend.md).
"""

from __future__ import annotations

import mindspore as ms
from mindspore import ops

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
# Paths: "ascend", "cpu" or "composed" for each semantic layer
# ----------------------------------------------------------------------------------------------

ASCEND_PATH, CPU_PATH, COMPOSED_PATH = "ascend", "cpu", "composed"


def cpu_wanted(device: str, dtype: str) -> bool:
    """The C++ kernels are float32 CPU kernels."""
    return device == "CPU" and dtype == "float32"


def _cpu_or_composed(device: str, dtype: str, cpu_available: bool) -> str:
    return CPU_PATH if cpu_available and cpu_wanted(device, dtype) else COMPOSED_PATH


def rms_norm_path(device: str, dtype: str, cpu_available: bool) -> str:
    return ASCEND_PATH if rms_norm_fits(device, dtype) else _cpu_or_composed(device, dtype, cpu_available)


def layer_norm_path(device: str, dtype: str, cpu_available: bool) -> str:
    return _cpu_or_composed(device, dtype, cpu_available)


def gelu_path(device: str, dtype: str, cpu_available: bool) -> str:
    return _cpu_or_composed(device, dtype, cpu_available)


def swiglu_path(device: str, dtype: str, width: int, cpu_available: bool) -> str:
    return ASCEND_PATH if swiglu_fits(device, dtype, width) else _cpu_or_composed(device, dtype, cpu_available)


def attention_path(device: str, dtype: str, num_heads: int, num_kv_heads: int, head_dim: int,
                   cpu_available: bool) -> str:
    """Whole-sequence and cached attention. Flash attention also needs the sequence lengths to fit; the
    Cell checks those per call shape (static in graph mode) and runs composed when they do not."""
    if flash_attention_head_fits(device, dtype, num_heads, head_dim) and num_heads % num_kv_heads == 0:
        return ASCEND_PATH
    return _cpu_or_composed(device, dtype, cpu_available)


def rotary_path(device: str, dtype: str, head_dim: int, cpu_available: bool) -> str:
    return ASCEND_PATH if rotary_fits(device, dtype, head_dim) else _cpu_or_composed(device, dtype, cpu_available)


def cross_entropy_path(device: str, dtype: str, cpu_available: bool) -> str:
    return _cpu_or_composed(device, dtype, cpu_available)


def bias_add_path(device: str) -> str:
    """On CPU a BiasAdd whose bias gradient is a GEMV (MindSpore's CPU BiasAddGrad is slow); else BiasAdd."""
    return CPU_PATH if device == "CPU" else COMPOSED_PATH
