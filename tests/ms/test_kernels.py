"""Ascend kernel selection: pure functions of (device, dtype, shape), and what the OLMo Cells pick with them."""

from __future__ import annotations

import pytest

from zoo.ms import kernels

A = kernels.ASCEND
RAW = {"model_type": "hf_olmo", "n_layers": 1, "mlp_ratio": 8, "rope": True, "include_bias": False,
       "layer_norm_type": "rms", "weight_tying": False, "vocab_size": 100, "embedding_size": 128,
       "max_sequence_length": 64}


def test_cpu_selects_nothing():
    assert kernels.device_name() == "CPU"
    assert not kernels.flash_attention_fits("CPU", "float16", 2, 8, 128, 128, 64)
    assert not kernels.rms_norm_fits("CPU", "float32")
    assert not kernels.add_rms_norm_fits("CPU", "float32")
    assert not kernels.rotary_fits("CPU", "float16", 64)
    assert not kernels.swiglu_fits("CPU", "bfloat16", 1024)
    assert not kernels.flash_attention_fits("GPU", "float16", 2, 8, 128, 128, 64)


@pytest.mark.parametrize(
    ("dtype", "batch", "heads", "q_len", "kv_len", "head_dim", "fits"),
    [
        ("float16", 2, 8, 128, 128, 64, True),
        ("bfloat16", 2, 16, 2048, 2048, 128, True),
        ("bfloat16", 1, 16, 16, 64, 96, True),      # prefill of 16 into a 64-slot cache
        ("bfloat16", 1, 16, 64, 64, 256, True),
        ("float32", 2, 8, 128, 128, 64, False),     # FlashAttentionScore: fp16 / bf16 only
        ("float16", 2, 12, 128, 128, 44, False),    # DataDecide-90M: head_dim 44 is not a multiple of 16
        ("float16", 2, 16, 128, 128, 84, False),    # DataDecide-530M: head_dim 84
        ("float16", 2, 8, 128, 128, 120, False),    # 120: in DESIGN.md's example list, not a multiple of 16
        ("float16", 2, 8, 128, 128, 528, False),    # past 512
        ("float16", 2, 8, 100, 100, 64, False),     # sequence not a multiple of 16
        ("float16", 2, 8, 1, 64, 64, False),        # a decode step (one query)
        ("float16", 2, 300, 128, 128, 64, False),   # more than 256 heads
        ("float16", 4096, 8, 128, 128, 64, False),  # batch past 2048
    ],
)
def test_flash_attention_constraints(dtype, batch, heads, q_len, kv_len, head_dim, fits):
    assert kernels.flash_attention_fits(A, dtype, batch, heads, q_len, kv_len, head_dim) is fits


@pytest.mark.parametrize(("dtype", "head_dim", "fits"), [
    ("float16", 64, True), ("bfloat16", 44, True), ("float32", 84, True), ("float16", 45, False),
    ("float16", 896, False), ("float16", 894, True), ("int32", 64, False)])
def test_rotary_constraints(dtype, head_dim, fits):
    assert kernels.rotary_fits(A, dtype, head_dim) is fits


def test_rms_norm_and_swiglu_constraints():
    assert kernels.rms_norm_fits(A, "float32") and kernels.rms_norm_fits(A, "bfloat16")
    assert not kernels.rms_norm_fits(A, "float64")
    assert kernels.add_rms_norm_fits(A, "float16") and not kernels.add_rms_norm_fits(A, "float64")
    assert kernels.swiglu_fits(A, "float16", 8448) and not kernels.swiglu_fits(A, "float16", 8447)


def test_dtype_names():
    import mindspore as ms

    assert [kernels.dtype_name(d) for d in (ms.float16, ms.bfloat16, ms.float32)] == ["float16", "bfloat16",
                                                                                       "float32"]


@pytest.mark.parametrize(("d_model", "heads", "dtype", "attention", "rotary"), [
    (1024, 16, "float16", True, True),    # DataDecide-300M in fp16: every fused kernel
    (528, 12, "float16", False, True),    # DataDecide-90M: head_dim 44 -> composed attention
    (1024, 16, "float32", False, True),   # fp32: no FlashAttentionScore
])
def test_olmo_cells_pick_kernels_on_ascend(monkeypatch, d_model, heads, dtype, attention, rotary):
    """With the device reported as Ascend, the layers' implementations are the fused ones where they fit
    (built only: nothing runs here)."""
    import mindspore as ms

    from zoo.families.olmo.config import OLMoConfig
    from zoo.families.olmo.modeling_ms import OLMoAttention, OLMoMLP
    from zoo.ms.layers import RMSNorm

    monkeypatch.setattr(kernels, "device_name", lambda: A)
    config = OLMoConfig.from_hf({**RAW, "d_model": d_model, "n_heads": heads})
    ms_dtype = {"float16": ms.float16, "float32": ms.float32}[dtype]
    cell = OLMoAttention(config, ms_dtype)
    assert (kernels.path_of(cell.attend.kernel) == "ascend") is attention
    assert (kernels.path_of(cell.rotary_qkv.kernel) == "ascend") is rotary
    assert kernels.path_of(OLMoMLP(config, ms_dtype).act.kernel) == "ascend"
    norm = RMSNorm(d_model, dtype=ms_dtype)
    assert kernels.path_of(norm.kernel) == "ascend" and norm.kernel.add_fused   # RmsNorm, and AddRmsNorm


@pytest.mark.parametrize(("device", "dtype", "cpu_available", "expected"), [
    ("CPU", "float32", True, "cpu"),
    ("CPU", "float32", False, "composed"),     # no compiler: composed ops
    ("CPU", "float16", True, "composed"),      # the C++ kernels are float32 only
    ("GPU", "float32", True, "composed"),
    (A, "float16", True, "ascend"),
    (A, "float32", True, "ascend"),            # RmsNorm takes fp32 too
])
def test_norm_paths(device, dtype, cpu_available, expected):
    from zoo.ms.kernels import policy

    assert policy.rms_norm_path(device, dtype, cpu_available) == expected
    assert policy.layer_norm_path(device, dtype, cpu_available) == ("composed" if expected == "ascend" else expected)


@pytest.mark.parametrize(("heads", "kv_heads", "head_dim", "dtype", "expected"), [
    (16, 16, 64, "float16", "ascend"),
    (16, 4, 64, "float16", "ascend"),          # GQA: FlashAttentionScore takes N2 dividing N1
    (16, 16, 44, "float16", "composed"),       # head_dim not a multiple of 16
    (16, 16, 64, "float32", "composed"),       # FlashAttentionScore is fp16 / bf16 only
])
def test_attention_paths_on_ascend(heads, kv_heads, head_dim, dtype, expected):
    from zoo.ms.kernels import policy

    assert policy.attention_path(A, dtype, heads, kv_heads, head_dim, cpu_available=True) == expected


def test_bias_add_and_cross_entropy_paths():
    from zoo.ms.kernels import policy

    assert policy.bias_add_path("CPU") == "cpu" and policy.bias_add_path("GPU") == "composed"
    assert policy.cross_entropy_path("CPU", "float32", True) == "cpu"
    assert policy.cross_entropy_path("CPU", "bfloat16", True) == "composed"
