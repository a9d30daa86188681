"""Hand-written CPU kernels as MindSpore `Custom(func_type="aot")` ops: exact GELU, LayerNorm and
RMSNorm (each also with a residual sum in front), RoPE on a fused q | k | v, SwiGLU, cross-entropy
and multi-head attention (grouped- and multi-query attention included: H query heads sharing Hkv
key-value heads) with their gradients, a decoder's cached attention step, and an in-place AdamW update.

MindSpore 2.9's CPU element-wise kernels are slow at these shapes: exact GELU (`Erf`) on a 1024 x 3072
block takes ~25 ms against ~2 ms for torch, 15% of a DistilBERT-shaped forward, and a LayerNorm is
8-9 kernels (docs/PERFORMANCE.md). `csrc/cpu_kernels.cc` computes the same formulas in one pass each,
vectorised (glibc's vector erf / exp for GELU) and across the cores. It is compiled once per
machine with the system C++ compiler into the zoo cache (`<cache>/kernels/<hash>/`); where that is
not possible (no compiler, not CPU, not float32, MINDZOO_CPU_KERNELS=0) the composed MindSpore ops
run instead, and `status()` says why.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

SOURCE = Path(__file__).with_name("csrc") / "cpu_kernels.cc"
LIBRARY = "libzoo_cpu_kernels.so"
ENV_SWITCH = "MINDZOO_CPU_KERNELS"
# no errno: sqrt vectorises; no contraction: a fused multiply-add only where the source asks (AdamW's order)
BASE_FLAGS = ["-O3", "-fno-math-errno", "-ffp-contract=off", "-std=c++17", "-shared", "-fPIC", "-pthread"]
LIBMVEC = ["-Wl,--no-as-needed", "-lmvec"]   # glibc's vector math (erf, exp): glibc >= 2.35
ONEDNN = "libdnnl.so.3"                       # ships in MindSpore's lib folder; its MatMul runs on it


def flag_sets(mindspore_lib: Path | None) -> list[list[str]]:
    """Tried in order: with oneDNN and libmvec, without oneDNN, then plain libm (older C libraries)."""
    dnnl = []
    if mindspore_lib is not None and (mindspore_lib / ONEDNN).is_file():
        dnnl = [f"-L{mindspore_lib}", f"-Wl,-rpath,{mindspore_lib}", "-Wl,--no-as-needed", f"-l:{ONEDNN}"]
    sets = [BASE_FLAGS + dnnl + LIBMVEC, BASE_FLAGS + LIBMVEC, BASE_FLAGS]
    return [flags for i, flags in enumerate(sets) if flags not in sets[:i]]


def mindspore_lib() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("mindspore")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "lib"


_status: dict[str, str] = {}


def status() -> dict[str, str]:
    """What `library()` decided: {"library": path} or {"reason": why the composed ops run}."""
    library()
    return dict(_status)


def compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


def build(source: Path, out_dir: Path, cxx: str, flag_choices: list[list[str]]) -> Path:
    """Compile `source` into out_dir/LIBRARY (atomically: concurrent builders each write their own
    temporary file and the last rename wins with an identical library)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / LIBRARY
    errors = []
    for flags in flag_choices:
        fd, tmp = tempfile.mkstemp(prefix=LIBRARY + ".", suffix=".tmp", dir=out_dir)
        os.close(fd)
        try:
            done = subprocess.run([cxx, str(source), "-o", tmp, *flags], capture_output=True, text=True,
                                  timeout=300)
            if done.returncode == 0:
                os.replace(tmp, target)
                return target
            errors.append(f"{' '.join(flags)}: {done.stderr.strip()[-400:]}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise RuntimeError(f"{cxx} could not build {source.name}: " + " | ".join(errors))


def _build_key(source: Path, cxx: str, flag_choices: list[list[str]]) -> str:
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60).stdout
    digest = hashlib.sha256(source.read_bytes() + version.encode() + repr(flag_choices).encode())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def library() -> Path | None:
    """The compiled kernel library, built on first use; None (with a reason in status()) if unusable."""
    _status.clear()
    if os.environ.get(ENV_SWITCH, "1") == "0":
        _status["reason"] = f"{ENV_SWITCH}=0"
        return None
    if not sys.platform.startswith("linux"):
        _status["reason"] = f"aot CPU kernels need Linux (this is {sys.platform})"
        return None
    cxx = compiler()
    if cxx is None:
        _status["reason"] = "no C++ compiler (c++, g++, clang++ or $CXX) on PATH"
        return None
    from zoo.core.paths import cache_root

    flag_choices = flag_sets(mindspore_lib())
    out_dir = cache_root() / "kernels" / _build_key(SOURCE, cxx, flag_choices)
    target = out_dir / LIBRARY
    try:
        if not target.is_file():
            build(SOURCE, out_dir, cxx, flag_choices)
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        _status["reason"] = str(err)
        warnings.warn(f"mindzoo: CPU kernels not built, composed MindSpore ops run instead ({err})", stacklevel=2)
        return None
    _status["library"] = str(target)
    return target


def available() -> bool:
    """Whether the library built here (the policy's `cpu_available`)."""
    return library() is not None


def supports_grouped_heads() -> bool:
    """Whether the attention and RoPE kernels take (H, Hkv) with Hkv < H (grouped- and multi-query): a
    library built from a source that exports `ZooCpuKernelsGroupedHeads`."""
    path = library()
    return path is not None and _exports(str(path), "ZooCpuKernelsGroupedHeads")


def gelu_op():
    """Exact GELU as one Custom op whose gradient is the GeluErfGrad kernel; None when unavailable."""
    path = library()
    if path is None:
        return None
    from mindspore import ops

    grad = ops.Custom(f"{path}:GeluErfGrad", out_shape=lambda x, dy: x, out_dtype=lambda x, dy: x,
                      func_type="aot")

    def bprop(x, out, dout):
        return (grad(x, dout),)

    return ops.Custom(f"{path}:GeluErf", out_shape=lambda x: x, out_dtype=lambda x: x, func_type="aot",
                      bprop=bprop)


def layer_norm_op():
    """LayerNorm(x, weight, bias, eps[1]) over the last axis as one Custom op with a one-kernel
    gradient (dx, dweight, dbias); None when unavailable."""
    path = library()
    if path is None:
        return None
    from mindspore import ops

    grad = ops.Custom(f"{path}:LayerNormGrad", out_shape=lambda x, w, eps, dy: (x, w, w),
                      out_dtype=lambda x, w, eps, dy: (x, w, w), func_type="aot")

    def bprop(x, weight, bias, eps, out, dout):
        dx, dweight, dbias = grad(x, weight, eps, dout)
        return dx, dweight, dbias, ops.zeros_like(eps)

    return ops.Custom(f"{path}:LayerNorm", out_shape=lambda x, w, b, eps: x, out_dtype=lambda x, w, b, eps: x,
                      func_type="aot", bprop=bprop)


def rms_norm_op():
    """RMSNorm(x, weight, eps[1]) over the last axis as one Custom op with a one-kernel gradient
    (dx, dweight); None when unavailable."""
    path = library()
    if path is None:
        return None
    from mindspore import ops

    grad = ops.Custom(f"{path}:RmsNormGrad", out_shape=lambda x, w, eps, dy: (x, w),
                      out_dtype=lambda x, w, eps, dy: (x, w), func_type="aot")

    def bprop(x, weight, eps, out, dout):
        dx, dweight = grad(x, weight, eps, dout)
        return dx, dweight, ops.zeros_like(eps)

    return ops.Custom(f"{path}:RmsNorm", out_shape=lambda x, w, eps: x, out_dtype=lambda x, w, eps: x,
                      func_type="aot", bprop=bprop)


def add_layer_norm_op():
    """(h, y) = (x + a, LayerNorm(x + a)) as one Custom op, called op(x, a, weight, bias, eps[1]): a pre-norm
    block's residual sum and its next norm. The gradient is one kernel (dh from h's other consumers
    added into dx = da). None when unavailable."""
    path = library()
    if path is None:
        return None
    from mindspore import ops

    grad = ops.Custom(f"{path}:AddLayerNormGrad", out_shape=lambda h, w, eps, dy, dh: (h, w, w),
                      out_dtype=lambda h, w, eps, dy, dh: (h, w, w), func_type="aot")

    def bprop(x, a, weight, bias, eps, out, dout):
        dx, dweight, dbias = grad(out[0], weight, eps, dout[1], dout[0])
        return dx, dx, dweight, dbias, ops.zeros_like(eps)

    return ops.Custom(f"{path}:AddLayerNorm", out_shape=lambda x, a, w, b, eps: (x, x),
                      out_dtype=lambda x, a, w, b, eps: (x, x), func_type="aot", bprop=bprop)


def add_rms_norm_op():
    """(h, y) = (x + a, RMSNorm(x + a)) as one Custom op, called op(x, a, weight, eps[1]); its gradient
    one kernel, as add_layer_norm_op. None when unavailable."""
    path = library()
    if path is None:
        return None
    from mindspore import ops

    grad = ops.Custom(f"{path}:AddRmsNormGrad", out_shape=lambda h, w, eps, dy, dh: (h, w),
                      out_dtype=lambda h, w, eps, dy, dh: (h, w), func_type="aot")

    def bprop(x, a, weight, eps, out, dout):
        dx, dweight = grad(out[0], weight, eps, dout[1], dout[0])
        return dx, dx, dweight, ops.zeros_like(eps)

    return ops.Custom(f"{path}:AddRmsNorm", out_shape=lambda x, a, w, eps: (x, x),
                      out_dtype=lambda x, a, w, eps: (x, x), func_type="aot", bprop=bprop)


def rotary_qkv_op(num_heads: int = 1, num_kv_heads: int = 1):
    """A fused (B, T, (H + 2 Hkv) D) [q | k | v] projection split into (B, T, H D) q and (B, T, Hkv D) k, v
    with RoPE applied to q and k per head of width D, in one op (the composed path is ~17 ops); called as
    op(qkv, cos (T, D), sin (T, D), heads[2] int32 = (H, Hkv)), with the same (num_heads, num_kv_heads)
    as built with (the output shapes follow from them; the kernel refuses a call whose heads do not fit
    them). Its gradient is one kernel writing dqkv (B, T, (H + 2 Hkv) D). None when unavailable."""
    path = library()
    if path is None:
        return None
    from mindspore import ops

    units = num_heads + 2 * num_kv_heads

    grad = ops.Custom(f"{path}:RotaryQkvGrad",
                      out_shape=lambda dq, dk, dv, cos, sin, heads: list(dq[:-1]) + [dq[-1] + dk[-1] + dv[-1]],
                      out_dtype=lambda dq, *rest: dq, func_type="aot")

    def bprop(qkv, cos, sin, heads, out, dout):
        return grad(dout[0], dout[1], dout[2], cos, sin, heads), ops.zeros_like(cos), ops.zeros_like(sin), \
            ops.zeros_like(heads)

    def shapes(qkv, cos, sin, heads):
        unit = qkv[-1] // units
        return (list(qkv[:-1]) + [unit * num_heads], list(qkv[:-1]) + [unit * num_kv_heads],
                list(qkv[:-1]) + [unit * num_kv_heads])

    op = ops.Custom(f"{path}:RotaryQkv", out_shape=shapes, out_dtype=lambda qkv, *rest: (qkv, qkv, qkv),
                    func_type="aot", bprop=bprop)
    return _shape_attrs(op, num_heads=num_heads, num_kv_heads=num_kv_heads)


def _shape_attrs(op, **attrs):
    """`op` with the constants its out_shape reads recorded as primitive attributes. PyNative reuses the
    shapes it inferred for one Custom op for any other of the same function, attributes and input shapes:
    without them, a RotaryQkv op built for (H, Hkv) = (6, 1) got the output shapes of one built for (4, 2),
    whose fused width is the same, and an Attention op for 6 heads of 8 the (B, 4, S, S) probabilities of
    one for 4 heads of 12 (the kernels refuse such a mismatch rather than write past a buffer)."""
    for name, value in attrs.items():
        op.add_prim_attr(name, value)
    return op


def has_gemm() -> bool:
    """Whether the library was linked with oneDNN's sgemm (the attention kernels need it)."""
    path = library()
    return path is not None and _exports(str(path), "ZooCpuKernelsHasGemm")


@lru_cache(maxsize=8)
def _exports(path: str, flag: str) -> bool:
    """A library's capability flag: an exported `int flag()` returning non-zero (absent: False)."""
    import ctypes

    function = getattr(ctypes.CDLL(path), flag, None)
    return bool(function()) if function is not None else False


def adamw_op():
    """torch's AdamW update of (param, exp_avg, exp_avg_sq) in place, one pass per parameter: called as
    op(param, exp_avg, exp_avg_sq, grad, hyper, step) with hyper = float64 (lr, beta1, beta2, eps,
    weight_decay) and step a float32 scalar (1-based). None when unavailable.

    A Custom op's outputs are new buffers, so the update is written into its inputs instead. The
    signature marks the three state inputs as written (as MindSpore's own AdamWeightDecay does), so
    graph mode orders every read of a parameter in the step before its update and keeps the op
    although nothing uses its output (a 1-element flag)."""
    path = library()
    if path is None:
        return None
    from mindspore import ops
    from mindspore.common import dtype as mstype
    from mindspore.ops import signature as sig

    class InPlaceAdamW(ops.Custom):
        __mindspore_signature__ = (
            sig.make_sig("param", sig.sig_rw.RW_WRITE),
            sig.make_sig("exp_avg", sig.sig_rw.RW_WRITE),
            sig.make_sig("exp_avg_sq", sig.sig_rw.RW_WRITE),
            sig.make_sig("grad"),
            sig.make_sig("hyper"),
            sig.make_sig("step"),
        )

        def __init__(self) -> None:
            super().__init__(f"{path}:AdamW", out_shape=lambda *shapes: [1],
                             out_dtype=lambda *dtypes: mstype.float32, func_type="aot")
            self.add_prim_attr("side_effect_mem", True)

    return InPlaceAdamW()


IGNORE_INDEX = -100


def cross_entropy_op():
    """Mean cross-entropy of logits (n, V) against int32 labels (n), rows labelled -100 left out, as
    one Custom op with a one-kernel gradient; called as op(logits, labels, ignore_index[1]) and
    returning (loss[1], per-row (max, log-sum-exp of the shifted row)). None when unavailable."""
    path = library()
    if path is None:
        return None
    from mindspore import ops

    grad = ops.Custom(f"{path}:CrossEntropyGrad", out_shape=lambda x, labels, ignore, stats, dloss: x,
                      out_dtype=lambda x, labels, ignore, stats, dloss: x, func_type="aot")

    def bprop(logits, labels, ignore, out, dout):
        return grad(logits, labels, ignore, out[1], dout[0]), ops.zeros_like(labels), ops.zeros_like(ignore)

    return ops.Custom(f"{path}:CrossEntropy", out_shape=lambda x, labels, ignore: ([1], [x[0], 2]),
                      out_dtype=lambda x, labels, ignore: (x, x), func_type="aot", bprop=bprop)


def attention_op(num_heads: int):
    """softmax(scale q k^T + bias) v for (B, S, H*D) queries and (B, S, Hkv*D) keys and values, without
    the head transposes: every head is a strided block that oneDNN's sgemm reads in place, and query
    head h reads key-value head h // (H / Hkv) (grouped-query attention; Hkv = H: multi-head, Hkv = 1:
    multi-query). Called as op(q, k, v, bias, scale[1], heads[2] int32 = (H, Hkv)) with an additive bias
    (B, 1, 1, S) (a key mask) or (B, 1, S, S) (a decoder's causal bias), returning (out (B, S, H*D),
    probabilities (B, H, S, S), kept for the backward); H = `num_heads`. The gradient is one kernel
    returning dq (B, S, H*D) and dk, dv (B, S, Hkv*D), a key-value head's the sum over its query heads.
    None when unavailable."""
    if not has_gemm():
        return None
    from mindspore import ops

    grad = ops.Custom(f"{library()}:AttentionGrad", out_shape=lambda q, k, v, m, s, h, p, do: (q, k, v),
                      out_dtype=lambda q, k, v, m, s, h, p, do: (q, k, v), func_type="aot")

    def bprop(q, k, v, bias, scale, heads, out, dout):
        dq, dk, dv = grad(q, k, v, bias, scale, heads, out[1], dout[0])
        return dq, dk, dv, ops.zeros_like(bias), ops.zeros_like(scale), ops.zeros_like(heads)

    def shapes(q, k, v, bias, scale, heads):
        return q, [q[0], num_heads, q[1], q[1]]

    op = ops.Custom(f"{library()}:Attention", out_shape=shapes, out_dtype=lambda q, *rest: (q, q),
                    func_type="aot", bprop=bprop)
    return _shape_attrs(op, num_heads=num_heads)


def cached_attention_op():
    """A decoder's generation step in one op: the new (B, T, Hkv*D) keys and values written into copies
    of the (B, Hkv, L, D) caches at `slots`, then softmax(scale q k^T + bias) v over every slot for the
    (B, T, H*D) queries, query head h on key-value head h // (H / Hkv). Called as op(q, k, v, key_cache,
    value_cache, slots (T) int32, bias (B, 1, T, L), scale[1], heads[2] int32 = (H, Hkv)), returning
    (out (B, T, H*D), key_cache, value_cache). Not differentiable (it serves generation only). None when
    unavailable."""
    if not has_gemm():
        return None
    from mindspore import ops

    def shapes(q, k, v, key_cache, value_cache, slots, bias, scale, heads):
        return q, key_cache, value_cache

    return ops.Custom(f"{library()}:CachedAttention", out_shape=shapes, out_dtype=lambda q, *rest: (q, q, q),
                      func_type="aot")


def swiglu_op():
    """silu(gate) * value on the two halves of the last axis as one Custom op with a one-kernel
    gradient; called as op(x, gate_first[1] int32). None when unavailable."""
    path = library()
    if path is None:
        return None
    from mindspore import ops

    grad = ops.Custom(f"{path}:SwiGluGrad", out_shape=lambda x, gate_first, dy: x,
                      out_dtype=lambda x, gate_first, dy: x, func_type="aot")

    def bprop(x, gate_first, out, dout):
        return grad(x, gate_first, dout), ops.zeros_like(gate_first)

    return ops.Custom(f"{path}:SwiGlu", out_shape=lambda x, gate_first: list(x[:-1]) + [x[-1] // 2],
                      out_dtype=lambda x, gate_first: x, func_type="aot", bprop=bprop)
