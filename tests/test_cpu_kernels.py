"""The hand-written CPU kernels (zoo/ms/kernels/cpu.py, behind the semantic layers): the same numbers as
torch, in both modes, and as the composed path they replace."""

from __future__ import annotations

import numpy as np
import pytest
import torch

ms = pytest.importorskip("mindspore")

from zoo.core.rope import rotary_tables  # noqa: E402
from zoo.ms import kernels, layers  # noqa: E402
from zoo.ms.kernels import composed, policy  # noqa: E402
from zoo.ms.kernels import cpu as cpu_kernels  # noqa: E402
from zoo.ms.kernels.composed import gelu  # noqa: E402
from zoo.ms.layers import GELU  # noqa: E402


def _on_cpu_kernel(layer) -> bool:
    return kernels.path_of(layer.kernel) == kernels.CPU_PATH


def _inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    # the normal bulk, the tails where erf saturates, exact zeros, and an odd length (scalar tail)
    return np.concatenate([rng.standard_normal(70_001) * 3, np.linspace(-12, 12, 4001), np.zeros(3)]).astype(np.float32)


class _Weighted(ms.nn.Cell):
    """sum(GELU(x) * dy): its gradient in x is the kernel's backward applied to dy."""

    def __init__(self) -> None:
        super().__init__()
        self.gelu = GELU(ms.float32)

    def construct(self, x, dy):
        return (self.gelu(x) * dy).sum()


def _torch_gelu_and_grad(x: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    y = torch.nn.functional.gelu(xt)
    y.backward(torch.from_numpy(dy.astype(np.float64)))
    return y.detach().numpy(), xt.grad.numpy()


def test_kernel_builds_here():
    """CI has a compiler: the kernel must be what runs, not the fallback (else nothing below is tested)."""
    assert cpu_kernels.library() is not None, cpu_kernels.status()


@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_gelu_kernel_matches_fp64_torch(mode):
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    x = _inputs()
    dy = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    net = _Weighted()
    assert _on_cpu_kernel(net.gelu)
    y_ref, dx_ref = _torch_gelu_and_grad(x, dy)

    grad_fn = ms.grad(net, grad_position=0)
    if mode == "graph":
        grad_fn = ms.jit(grad_fn)
    y = net.gelu(ms.Tensor(x)).asnumpy()
    dx = grad_fn(ms.Tensor(x), ms.Tensor(dy)).asnumpy()
    # within a few times fp32 torch's own distance from the fp64 answer (measured: comparable to it)
    xt = torch.from_numpy(x).requires_grad_()
    torch.nn.functional.gelu(xt).backward(torch.from_numpy(dy))
    torch_y_err = np.abs(torch.nn.functional.gelu(torch.from_numpy(x)).numpy() - y_ref).max()
    torch_dx_err = np.abs(xt.grad.numpy() - dx_ref).max()
    assert np.abs(y - y_ref).max() <= 4 * torch_y_err
    assert np.abs(dx - dx_ref).max() <= 4 * torch_dx_err
    assert np.abs(gelu(ms.Tensor(x)).asnumpy() - y_ref).max() <= 4 * torch_y_err  # the fallback, too
    assert np.array_equal(np.isnan(y), np.isnan(y_ref))


def test_gelu_kernel_propagates_nan():
    ms.set_context(mode=ms.PYNATIVE_MODE)
    x = np.array([np.nan, 1.0, -np.inf, np.inf] + [0.5] * 20, np.float32)
    y = GELU(ms.float32)(ms.Tensor(x)).asnumpy()
    assert np.isnan(y[0]) and y[3] == np.inf and abs(y[1] - 0.8413447) < 1e-6


def test_fallback_rules(monkeypatch, tmp_path):
    assert policy.cpu_wanted("CPU", "float32")
    assert not policy.cpu_wanted("CPU", "float16")
    assert not policy.cpu_wanted("Ascend", "float32") and not policy.cpu_wanted("GPU", "float32")
    assert policy.gelu_path("CPU", "float32", True) == "cpu" and policy.gelu_path("CPU", "float32", False) == "composed"
    monkeypatch.setenv(cpu_kernels.ENV_SWITCH, "0")
    cpu_kernels.library.cache_clear()
    try:
        assert cpu_kernels.library() is None
        assert cpu_kernels.status() == {"reason": "MINDZOO_CPU_KERNELS=0"}
        assert not _on_cpu_kernel(GELU(ms.float32))
    finally:
        monkeypatch.delenv(cpu_kernels.ENV_SWITCH)
        cpu_kernels.library.cache_clear()


def test_build_failure_is_reported(tmp_path):
    broken = tmp_path / "broken.cc"
    broken.write_text("this is not C++\n")
    with pytest.raises(RuntimeError, match="could not build broken.cc"):
        cpu_kernels.build(broken, tmp_path / "out", cpu_kernels.compiler(),
                          cpu_kernels.flag_sets(cpu_kernels.mindspore_lib()))
    assert not (tmp_path / "out" / cpu_kernels.LIBRARY).exists()
    assert list((tmp_path / "out").iterdir()) == []  # no temporary file left behind


class _Loss(layers.CausalLMBase):
    """The decoders' shifted loss (causal) or the plain cross-entropy, as the models hold them."""

    def __init__(self, causal: bool) -> None:
        super().__init__()
        self.causal = causal
        self.cross_entropy = layers.CrossEntropy(ms.float32)

    def construct(self, logits, labels):
        return self.loss(logits, labels) if self.causal else self.cross_entropy(logits, labels)


@pytest.mark.parametrize("mode", ["pynative", "graph"])
@pytest.mark.parametrize("causal", [False, True])
def test_cross_entropy_kernel_matches_fp64_torch(mode, causal):
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    rng = np.random.default_rng(2)
    # a vocabulary that is not a multiple of 8 (scalar tails), large logits (the max shift matters),
    # and ignored rows
    batch, seq, vocab = 3, 7, 1001
    logits = (rng.standard_normal((batch, seq, vocab)) * 8).astype(np.float32)
    labels = rng.integers(0, vocab, (batch, seq)).astype(np.int32)
    labels[0, 2] = labels[2, 5] = -100
    net = _Loss(causal)
    assert _on_cpu_kernel(net.cross_entropy), cpu_kernels.status()
    x = logits if causal else logits.reshape(-1, vocab)
    y = labels if causal else labels.reshape(-1)
    grad_fn = ms.value_and_grad(net, grad_position=0)
    if mode == "graph":
        grad_fn = ms.jit(grad_fn)
    loss, dx = grad_fn(ms.Tensor(x), ms.Tensor(y))

    def torch_loss(t):
        if causal:
            return torch.nn.functional.cross_entropy(t[:, :-1].reshape(-1, vocab),
                                                     torch.from_numpy(labels[:, 1:].reshape(-1)).long())
        return torch.nn.functional.cross_entropy(t, torch.from_numpy(y).long())

    ref = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    ref_loss = torch_loss(ref)
    ref_loss.backward()
    fp32 = torch.from_numpy(x).requires_grad_()
    fp32_loss = torch_loss(fp32)
    fp32_loss.backward()
    torch_err = max(abs(float(fp32_loss) - float(ref_loss)), 1e-7 * abs(float(ref_loss)))
    assert abs(float(loss.asnumpy()) - float(ref_loss)) <= 4 * torch_err
    grad_err = np.abs(fp32.grad.numpy() - ref.grad.numpy()).max()
    assert np.abs(dx.asnumpy() - ref.grad.numpy()).max() <= 4 * max(grad_err, 1e-9)


def test_cross_entropy_kernel_edge_cases():
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = _Loss(False)
    logits = np.zeros((2, 5), np.float32)
    # every row ignored: NaN, as torch
    assert np.isnan(float(net(ms.Tensor(logits), ms.Tensor(np.array([-100, -100], np.int32))).asnumpy()))
    # a NaN logit makes the loss NaN, not something finite
    bad = logits.copy()
    bad[1, 3] = np.nan
    assert np.isnan(float(net(ms.Tensor(bad), ms.Tensor(np.array([0, 1], np.int32))).asnumpy()))
    # a label outside the vocabulary is refused by the kernel, not read out of bounds
    with pytest.raises(RuntimeError):
        net(ms.Tensor(logits), ms.Tensor(np.array([0, 5], np.int32))).asnumpy()


class _WeightedAttention(ms.nn.Cell):
    """sum(Attention(q, k, v, mask) * dy): its gradients are the kernel's backward applied to dy."""

    def __init__(self, heads: int, scale: float, kv_heads: int | None = None) -> None:
        super().__init__()
        self.attend = layers.Attention(heads, scale, kv_heads, dtype=ms.float32)

    def construct(self, q, k, v, mask, dy):
        return (self.attend(q, k, v, mask) * dy).sum()


def _torch_attention(q, k, v, mask, heads: int, scale: float, kv_heads: int | None = None):
    batch, seq, width = q.shape
    kv_heads = kv_heads or heads
    head_dim = width // heads

    def split(t, n):
        return t.reshape(batch, t.shape[1], n, head_dim).transpose(1, 2).repeat_interleave(heads // n, dim=1)

    scores = split(q, heads) @ split(k, kv_heads).transpose(-1, -2) * scale + mask
    return (torch.softmax(scores, -1) @ split(v, kv_heads)).transpose(1, 2).reshape(batch, seq, width)


# (H, Hkv): multi-head, grouped-query (two query heads per key-value head), multi-query
HEAD_GROUPS = [(4, 4), (4, 2), (6, 1)]


@pytest.mark.parametrize(("heads", "kv_heads"), HEAD_GROUPS)
@pytest.mark.parametrize(("causal", "seq"), [(False, 37), (True, 37), (True, 150)])  # 150: 3 causal row blocks
@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_attention_kernel_matches_fp64_torch(mode, causal, seq, heads, kv_heads):
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    rng = np.random.default_rng(4)
    batch, head_dim = 2, 12                               # odd lengths: the softmax's scalar tail
    groups = heads // kv_heads
    scale = head_dim ** -0.5
    q, dy = (rng.standard_normal((batch, seq, heads * head_dim)).astype(np.float32) * 2 for _ in range(2))
    k, v = (rng.standard_normal((batch, seq, kv_heads * head_dim)).astype(np.float32) * 2 for _ in range(2))
    keep = np.ones((batch, seq), np.float32)
    if causal:
        keep[1, :5] = 0        # left padding: the first five queries of row 1 see no token (uniform rows)
    else:
        keep[1, -5:] = 0       # padded keys in the second sequence
    lowest = np.finfo(np.float32).min
    if causal:  # a decoder's (B, 1, S, S) bias, as causal_padding_bias builds it
        keep_causal = np.tril(np.ones((seq, seq), np.float32))[None, None] * keep[:, None, None, :]
        mask = ((1.0 - keep_causal) * lowest).astype(np.float32)
        np.testing.assert_array_equal(
            layers.causal_padding_bias(ms.Tensor(keep), ms.float32, layers.mask_min(ms.float32)).asnumpy(), mask)
    else:       # an encoder's key mask (B, 1, 1, S)
        mask = ((1.0 - keep) * lowest)[:, None, None, :]
    net = _WeightedAttention(heads, scale, kv_heads)
    # with Hkv < H as well: the policy saw the library's grouped-heads flag (supports_grouped_heads)
    assert _on_cpu_kernel(net.attend), cpu_kernels.status()
    grad_fn = ms.value_and_grad(net, grad_position=(0, 1, 2))
    if mode == "graph":
        grad_fn = ms.jit(grad_fn)
    out = net.attend(*(ms.Tensor(a) for a in (q, k, v, mask))).asnumpy()
    _, grads = grad_fn(*(ms.Tensor(a) for a in (q, k, v, mask, dy)))

    def run_torch(dtype):
        tensors = [torch.from_numpy(a.astype(dtype)).requires_grad_() for a in (q, k, v)]
        y = _torch_attention(*tensors, torch.from_numpy(mask.astype(dtype)), heads, scale, kv_heads)
        y.backward(torch.from_numpy(dy.astype(dtype)))
        return y.detach().numpy(), [t.grad.numpy() for t in tensors]

    y64, g64 = run_torch(np.float64)
    y32, g32 = run_torch(np.float32)
    if causal:  # a query that sees no token averages every value (its key-value head's), as the composed bias
        uniform = np.repeat(v[1].mean(0).reshape(kv_heads, head_dim), groups, axis=0).reshape(-1)
        np.testing.assert_allclose(out[1, :5], np.broadcast_to(uniform, (5, heads * head_dim)), atol=1e-5)
    assert np.abs(out - y64).max() <= 4 * max(np.abs(y32 - y64).max(), 1e-7)
    for name, got, ref, fp32 in zip("qkv", grads, g64, g32, strict=True):
        assert got.shape == ref.shape, name
        assert np.abs(got.asnumpy() - ref).max() <= 4 * max(np.abs(fp32 - ref).max(), 1e-7), name
    # the composed path on the same inputs (what runs off CPU) agrees as well
    net.attend.kernel = composed.Attention(heads, kv_heads, scale)
    composed_out = net.attend(*(ms.Tensor(a) for a in (q, k, v, mask))).asnumpy()
    assert np.abs(composed_out - y64).max() <= 4 * max(np.abs(y32 - y64).max(), 1e-7)


class _WeightedSwiGLU(ms.nn.Cell):
    def __init__(self, gate_first: bool) -> None:
        super().__init__()
        self.act = layers.SwiGLU(gate_first, 2 * 1003, dtype=ms.float32)

    def construct(self, x, dy):
        return (self.act(x) * dy).sum()


@pytest.mark.parametrize("mode", ["pynative", "graph"])
@pytest.mark.parametrize("gate_first", [False, True])
def test_swiglu_kernel_matches_fp64_torch(mode, gate_first):
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((3, 5, 2 * 1003)) * 4).astype(np.float32)   # odd half width: scalar tails
    x[0, 0, :4] = [0.0, -90.0, 90.0, np.inf]                              # exp overflow / underflow
    x[0, 0, 1003:1007] = [1.5, -2.0, 0.5, 1.0]
    dy = rng.standard_normal((3, 5, 1003)).astype(np.float32)
    net = _WeightedSwiGLU(gate_first)
    assert _on_cpu_kernel(net.act), cpu_kernels.status()
    grad_fn = ms.grad(net, grad_position=0)
    if mode == "graph":
        grad_fn = ms.jit(grad_fn)
    y = net.act(ms.Tensor(x)).asnumpy()
    dx = grad_fn(ms.Tensor(x), ms.Tensor(dy)).asnumpy()

    def run_torch(dtype):
        t = torch.from_numpy(x.astype(dtype)).requires_grad_()
        a, b = t.chunk(2, -1)
        gate, value = (a, b) if gate_first else (b, a)
        out = torch.nn.functional.silu(gate) * value
        out.backward(torch.from_numpy(dy.astype(dtype)))
        return out.detach().numpy(), t.grad.numpy()

    y64, g64 = run_torch(np.float64)
    y32, g32 = run_torch(np.float32)
    finite = np.isfinite(y64)
    assert np.array_equal(np.isfinite(y), finite)
    assert np.abs(y[finite] - y64[finite]).max() <= 4 * max(np.abs(y32[finite] - y64[finite]).max(), 1e-7)
    gfinite = np.isfinite(g64)
    assert np.abs(dx[gfinite] - g64[gfinite]).max() <= 4 * max(np.abs(g32[gfinite] - g64[gfinite]).max(), 1e-7)


@pytest.mark.parametrize("mode", ["pynative", "graph"])
@pytest.mark.parametrize("steps", [1, 4])                # a decode step, and a prefill of four slots
# head_dim 12: not a multiple of 8 lanes; length 5500: a long cache, heads spread over the threads
@pytest.mark.parametrize("head_dim, length", [(8, 13), (12, 13), (16, 5500)])
# (H, Hkv): multi-head; two query heads per key-value head (a decode step attends as one block per group,
# a four-slot prefill per query head); multi-query
@pytest.mark.parametrize(("heads", "kv_heads"), [(3, 3), (4, 2), (6, 1)])
def test_cached_attention_kernel_matches_composed_and_fp64_torch(mode, steps, head_dim, length, heads, kv_heads):
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    rng = np.random.default_rng(7)
    batch = 2
    width, kv_width = heads * head_dim, kv_heads * head_dim
    scale = head_dim ** -0.5
    q = rng.standard_normal((batch, steps, width)).astype(np.float32)
    k, v = (rng.standard_normal((batch, steps, kv_width)).astype(np.float32) for _ in range(2))
    key_cache, value_cache = (rng.standard_normal((batch, kv_heads, length, head_dim)).astype(np.float32)
                              for _ in range(2))
    slots = np.arange(5, 5 + steps, dtype=np.int32)
    lowest = np.finfo(np.float32).min
    bias = np.zeros((batch, 1, steps, length), np.float32)
    bias[:, :, :, 5 + steps:] = lowest                   # slots not written yet
    bias[1, :, :, :2] = lowest                           # row 1's left padding
    attend = layers.Attention(heads, scale, kv_heads, dtype=ms.float32)
    assert _on_cpu_kernel(attend), cpu_kernels.status()
    kernel = attend.kernel

    def run(use_kernel):
        attend.kernel = kernel if use_kernel else composed.Attention(heads, kv_heads, scale)
        call = ms.jit(attend.cached) if mode == "graph" else attend.cached
        out = call(*(ms.Tensor(a) for a in (q, k, v, key_cache, value_cache, slots, bias)))
        return [t.asnumpy() for t in out]

    out, keys, values = run(True)
    composed_out, composed_keys, composed_values = run(False)
    # the cache write is a copy: bit-identical to the composed one-hot blend, untouched slots kept
    np.testing.assert_array_equal(keys, composed_keys)
    np.testing.assert_array_equal(values, composed_values)
    expected_keys = key_cache.copy()
    expected_keys[:, :, slots] = k.reshape(batch, steps, kv_heads, head_dim).transpose(0, 2, 1, 3)
    np.testing.assert_array_equal(keys, expected_keys)
    expected_values = value_cache.copy()
    expected_values[:, :, slots] = v.reshape(batch, steps, kv_heads, head_dim).transpose(0, 2, 1, 3)
    np.testing.assert_array_equal(values, expected_values)

    def reference(dtype):
        split = torch.from_numpy(q.astype(dtype)).reshape(batch, steps, heads, head_dim).transpose(1, 2)
        # each key-value head's cache serves its query heads (transformers' repeat_kv)
        all_keys, all_values = (torch.from_numpy(a.astype(dtype)).repeat_interleave(heads // kv_heads, dim=1)
                                for a in (keys, values))
        scores = split @ all_keys.transpose(-1, -2) * scale
        probs = torch.softmax(scores + torch.from_numpy(bias.astype(dtype)), -1)
        return (probs @ all_values).transpose(1, 2).reshape(batch, steps, width).numpy()

    y64, y32 = reference(np.float64), reference(np.float32)
    assert np.abs(out - y64).max() <= 4 * max(np.abs(y32 - y64).max(), 1e-7)
    # (MindSpore's composed softmax is less exact, up to ~5x fp32 torch's error here; tests/test_generation.py
    # holds that path to the twin)
    assert composed_out.shape == out.shape


def test_cached_attention_kernel_refuses_a_slot_past_the_cache():
    ms.set_context(mode=ms.PYNATIVE_MODE)
    attend = layers.Attention(2, 0.5, dtype=ms.float32)
    q = ms.Tensor(np.zeros((1, 1, 4), np.float32))
    cache = ms.Tensor(np.zeros((1, 2, 3, 2), np.float32))
    bias = ms.Tensor(np.zeros((1, 1, 1, 3), np.float32))
    with pytest.raises(RuntimeError):
        attend.cached(q, q, q, cache, cache, ms.Tensor(np.array([3], np.int32)), bias)[0].asnumpy()


def _zeros(*shape: int) -> ms.Tensor:
    return ms.Tensor(np.zeros(shape, np.float32))


@pytest.mark.parametrize("case", ["heads_not_dividing", "key_width", "cache_heads"])
def test_attention_kernels_refuse_heads_that_do_not_fit(case):
    """Hkv not dividing H, or keys / caches not Hkv heads wide: refused, not read out of bounds."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    attend = layers.Attention(4, 0.5, 2, dtype=ms.float32)                 # H = 4, Hkv = 2, D = 2
    assert _on_cpu_kernel(attend), cpu_kernels.status()
    q, k, v, bias = _zeros(1, 3, 8), _zeros(1, 3, 4), _zeros(1, 3, 4), _zeros(1, 1, 1, 3)
    cache, slots, cache_bias = _zeros(1, 2, 5, 2), ms.Tensor(np.array([0, 1, 2], np.int32)), _zeros(1, 1, 3, 5)
    attend(q, k, v, bias).asnumpy()                                        # the fitting call runs
    attend.cached(q, k, v, cache, cache, slots, cache_bias)[0].asnumpy()
    if case == "heads_not_dividing":
        attend.kernel.heads = ms.Tensor([4, 3], ms.int32)
    elif case == "key_width":
        k = _zeros(1, 3, 6)                                                # three heads' width for Hkv = 2
    else:
        cache = _zeros(1, 4, 5, 2)                                         # a cache of H heads, not Hkv
    if case != "cache_heads":
        with pytest.raises(RuntimeError):
            attend(q, k, v, bias).asnumpy()
    with pytest.raises(RuntimeError):
        attend.cached(q, k, v, cache, cache, slots, cache_bias)[0].asnumpy()


def test_attention_kernels_take_one_element_heads():
    """heads [H] (the former calling convention) means Hkv = H: the same numbers as [H, H]."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    rng = np.random.default_rng(13)
    q, k, v = (ms.Tensor(rng.standard_normal((2, 5, 12)).astype(np.float32)) for _ in range(3))
    bias, scale = _zeros(2, 1, 1, 5), ms.Tensor([0.5], ms.float32)
    cache = ms.Tensor(rng.standard_normal((2, 3, 7, 4)).astype(np.float32))
    slots, cache_bias = ms.Tensor(np.arange(5, dtype=np.int32)), _zeros(2, 1, 5, 7)
    attention, cached = cpu_kernels.attention_op(3), cpu_kernels.cached_attention_op()
    results = []
    for heads in ([3], [3, 3]):
        heads = ms.Tensor(heads, ms.int32)
        outs = list(attention(q, k, v, bias, scale, heads)) + list(
            cached(q, k, v, cache, cache, slots, cache_bias, scale, heads))
        results.append([o.asnumpy() for o in outs])
    for one, two in zip(*results, strict=True):
        np.testing.assert_array_equal(one, two)


def _close_to_fp64(got: np.ndarray, fp64: np.ndarray, fp32: np.ndarray) -> None:
    """Within 4x torch float32's own distance from float64 (and 1e-6 for exact cases)."""
    assert np.abs(got - fp64).max() <= 4 * max(np.abs(fp32 - fp64).max(), 2.5e-7)


class _WeightedRMSNorm(ms.nn.Cell):
    def __init__(self, dim: int, affine: bool) -> None:
        super().__init__()
        self.norm = layers.RMSNorm(dim, eps=1e-5, elementwise_affine=affine, dtype=ms.float32)

    def construct(self, x, dy):
        return (self.norm(x) * dy).sum()


@pytest.mark.parametrize("mode", ["pynative", "graph"])
@pytest.mark.parametrize("affine", [True, False])
def test_rms_norm_kernel_matches_fp64_torch(mode, affine):
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    rng = np.random.default_rng(8)
    dim = 1003                                                             # odd: scalar tails
    x = (rng.standard_normal((3, 40, dim)) * 3 + 0.5).astype(np.float32)   # 120 rows: several threaded chunks
    x[0, 0] = 0.0                                                          # an all-zero row: eps alone
    dy = rng.standard_normal(x.shape).astype(np.float32)
    net = _WeightedRMSNorm(dim, affine)
    assert _on_cpu_kernel(net.norm), cpu_kernels.status()
    if affine:
        net.norm.weight.set_data(ms.Tensor(rng.uniform(0.5, 1.5, dim).astype(np.float32)))
    weight = net.norm.weight if affine else ms.Tensor(np.ones(dim, np.float32))
    grad_fn = ms.grad(net, grad_position=0, weights=[net.norm.weight] if affine else None)
    if mode == "graph":
        grad_fn = ms.jit(grad_fn)
    y = net.norm(ms.Tensor(x)).asnumpy()
    grads = grad_fn(ms.Tensor(x), ms.Tensor(dy))
    dx, dw = (grads[0].asnumpy(), grads[1][0].asnumpy()) if affine else (grads.asnumpy(), None)

    def run_torch(dtype):
        t = torch.from_numpy(x.astype(dtype)).requires_grad_()
        w = torch.from_numpy(weight.asnumpy().astype(dtype)).requires_grad_()
        out = t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + 1e-5) * w
        out.backward(torch.from_numpy(dy.astype(dtype)))
        return out.detach().numpy(), t.grad.numpy(), w.grad.numpy()

    y64, dx64, dw64 = run_torch(np.float64)
    y32, dx32, dw32 = run_torch(np.float32)
    _close_to_fp64(y, y64, y32)
    _close_to_fp64(dx, dx64, dx32)
    if affine:
        _close_to_fp64(dw, dw64, dw32)


@pytest.mark.parametrize("norm_name", ["LayerNorm", "RMSNorm"])
def test_norm_eps_set_after_init_reaches_kernel_and_written_out_path(norm_name):
    """`eps` set on a built norm (as the parity self-test does) is what both paths use next call."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    x = (np.random.default_rng(10).standard_normal((4, 16)) * 0.1).astype(np.float32)   # small: eps matters
    norm = getattr(layers, norm_name)(16, eps=1e-6, dtype=ms.float32)
    norm.eps = 0.5
    h = torch.from_numpy(x.astype(np.float64))
    if norm_name == "LayerNorm":
        h = h - h.mean(-1, keepdim=True)
    expected = (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 0.5)).numpy()
    assert _on_cpu_kernel(norm), cpu_kernels.status()
    np.testing.assert_allclose(norm(ms.Tensor(x)).asnumpy(), expected, atol=2e-6)
    norm.kernel = composed.LayerNorm(16, 1e-6) if norm_name == "LayerNorm" else composed.RmsNorm(16, 1e-6)
    norm.eps = 0.5
    np.testing.assert_allclose(norm(ms.Tensor(x)).asnumpy(), expected, atol=2e-6)


class _WeightedResidualNorm(ms.nn.Cell):
    """sum(N(x + a) dy) (+ sum((x + a) dh) when the sum flows on, as in a pre-norm block)."""

    def __init__(self, norm) -> None:
        super().__init__()
        self.norm = norm

    def construct(self, x, a, dy, dh):
        normed, total = self.norm(a, x)
        return (normed * dy).sum() + (total * dh).sum()


@pytest.mark.parametrize("mode", ["pynative", "graph"])
@pytest.mark.parametrize("norm_name", ["LayerNorm", "RMSNorm"])
@pytest.mark.parametrize("sum_flows_on", [True, False])                  # pre-norm / post-norm use
def test_residual_norm_kernel_matches_fp64_torch(mode, norm_name, sum_flows_on):
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    rng = np.random.default_rng(11)
    dim = 517                                                               # odd: scalar tails
    x, a, dy = (rng.standard_normal((2, 90, dim)).astype(np.float32) for _ in range(3))
    dh = rng.standard_normal(x.shape).astype(np.float32) if sum_flows_on else np.zeros_like(x)
    norm = getattr(layers, norm_name)(dim, eps=1e-5, dtype=ms.float32)
    assert _on_cpu_kernel(norm), cpu_kernels.status()
    norm.weight.set_data(ms.Tensor(rng.uniform(0.5, 1.5, dim).astype(np.float32)))
    if norm_name == "LayerNorm":
        norm.bias.set_data(ms.Tensor(rng.standard_normal(dim).astype(np.float32)))
    params = [norm.weight] + ([norm.bias] if norm_name == "LayerNorm" else [])
    net = _WeightedResidualNorm(norm)
    grad_fn = ms.grad(net, grad_position=(0, 1), weights=params)
    if mode == "graph":
        grad_fn = ms.jit(grad_fn)
    normed, total = (o.asnumpy() for o in norm(ms.Tensor(a), ms.Tensor(x)))
    (dx, da), dparams = grad_fn(*(ms.Tensor(t) for t in (x, a, dy, dh)))
    assert np.array_equal(total, x + a)
    assert np.array_equal(dx.asnumpy(), da.asnumpy())

    def run_torch(dtype):
        xt, at = (torch.from_numpy(t.astype(dtype)).requires_grad_() for t in (x, a))
        ps = [torch.from_numpy(p.asnumpy().astype(dtype)).requires_grad_() for p in params]
        h = xt + at
        centred = h - h.mean(-1, keepdim=True) if norm_name == "LayerNorm" else h
        out = centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + 1e-5) * ps[0]
        out = out + ps[1] if norm_name == "LayerNorm" else out
        ((out * torch.from_numpy(dy.astype(dtype))).sum() + (h * torch.from_numpy(dh.astype(dtype))).sum()).backward()
        return [out.detach().numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in ps]

    got = [normed, dx.asnumpy()] + [g.asnumpy() for g in dparams]
    for ours, fp64, fp32 in zip(got, run_torch(np.float64), run_torch(np.float32), strict=True):
        _close_to_fp64(ours, fp64, fp32)


def test_residual_norm_written_out_path_is_the_same_call():
    """With the fused kernel off, norm(x, residual) is the Add and the norm kernel: the same numbers."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    rng = np.random.default_rng(12)
    x, a = (ms.Tensor(rng.standard_normal((3, 5, 64)).astype(np.float32)) for _ in range(2))
    norm = layers.RMSNorm(64, dtype=ms.float32)
    fused = [o.asnumpy() for o in norm(a, x)]
    total = a + x
    written_out = [norm(total).asnumpy(), total.asnumpy()]
    np.testing.assert_array_equal(fused[1], written_out[1])
    np.testing.assert_allclose(fused[0], written_out[0], rtol=0, atol=1e-6)


class _WeightedRotary(ms.nn.Cell):
    def __init__(self, heads: int, head_dim: int, kv_heads: int | None = None) -> None:
        super().__init__()
        self.rotary = layers.RotaryQKV(heads, head_dim, kv_heads, dtype=ms.float32)

    def construct(self, qkv, cos, sin, dq, dk, dv):
        q, k, v = self.rotary(qkv, cos, sin)
        return (q * dq).sum() + (k * dk).sum() + (v * dv).sum()


@pytest.mark.parametrize("mode", ["pynative", "graph"])
@pytest.mark.parametrize("seq", [1, 7])                                    # a decode step, and a sequence
@pytest.mark.parametrize(("heads", "kv_heads"), [(3, 3), (4, 2), (6, 1)])   # multi-head, grouped, multi-query
def test_rotary_qkv_kernel_matches_composed_and_fp64_torch(mode, seq, heads, kv_heads):
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    rng = np.random.default_rng(9)
    batch, head_dim = 2, 10
    width, kv_width = heads * head_dim, kv_heads * head_dim
    qkv = rng.standard_normal((batch, seq, width + 2 * kv_width)).astype(np.float32)
    cos_table, sin_table = rotary_tables(64, head_dim, 10000.0)
    positions = rng.choice(64, seq, replace=False)                          # any slots, as a decode step's
    cos, sin = cos_table[positions].astype(np.float32), sin_table[positions].astype(np.float32)
    douts = [rng.standard_normal((batch, seq, n)).astype(np.float32) for n in (width, kv_width, kv_width)]
    kernel_net = _WeightedRotary(heads, head_dim, kv_heads)
    composed_net = _WeightedRotary(heads, head_dim, kv_heads)
    assert _on_cpu_kernel(kernel_net.rotary), cpu_kernels.status()      # Hkv < H too: the grouped-heads flag
    composed_net.rotary.kernel = composed.RotaryQKV(heads, kv_heads, head_dim)
    args = [ms.Tensor(a) for a in (qkv, cos, sin, *douts)]
    results = []
    for net in (kernel_net, composed_net):
        grad_fn = ms.grad(net, grad_position=0)
        if mode == "graph":
            grad_fn = ms.jit(grad_fn)
        outs = [o.asnumpy() for o in net.rotary(*args[:3])]
        results.append((outs, grad_fn(*args).asnumpy()))
    (q, k, v), dqkv = results[0]
    assert q.shape == (batch, seq, width) and k.shape == v.shape == (batch, seq, kv_width)
    assert np.array_equal(v, qkv[..., width + kv_width:])

    def run_torch(dtype):
        t = torch.from_numpy(qkv.astype(dtype)).requires_grad_()
        c, s = (torch.from_numpy(a.astype(dtype))[None, :, None, :] for a in (cos, sin))

        def rope(x):
            n = x.shape[-1] // head_dim
            x = x.reshape(batch, seq, n, head_dim)
            half = head_dim // 2
            rotated = torch.cat((-x[..., half:], x[..., :half]), -1)
            return (x * c + rotated * s).reshape(batch, seq, n * head_dim)

        outs = (rope(t[..., :width]), rope(t[..., width:width + kv_width]), t[..., width + kv_width:])
        sum(((o * torch.from_numpy(d.astype(dtype))).sum() for o, d in zip(outs, douts, strict=True))).backward()
        return [o.detach().numpy() for o in outs[:2]], t.grad.numpy()

    (q64, k64), g64 = run_torch(np.float64)
    (q32, k32), g32 = run_torch(np.float32)
    _close_to_fp64(q, q64, q32)
    _close_to_fp64(k, k64, k32)
    _close_to_fp64(dqkv, g64, g32)
    (cq, ck, cv), cgrad = results[1]                                       # the composed path: same numbers
    for got, other in ((q, cq), (k, ck), (v, cv), (dqkv, cgrad)):
        assert np.abs(got - other).max() <= 1e-6


def test_rotary_qkv_kernel_refuses_mismatched_tables():
    ms.set_context(mode=ms.PYNATIVE_MODE)
    rotary = layers.RotaryQKV(3, 10, dtype=ms.float32)
    assert _on_cpu_kernel(rotary)
    qkv = ms.Tensor(np.zeros((1, 4, 90), np.float32))
    table = ms.Tensor(np.zeros((5, 10), np.float32))                       # 5 rows for 4 tokens
    with pytest.raises(RuntimeError):
        rotary(qkv, table, table)[0].asnumpy()


@pytest.mark.parametrize("case", ["heads_not_dividing", "other_heads"])
def test_rotary_qkv_kernel_refuses_heads_that_do_not_fit(case):
    ms.set_context(mode=ms.PYNATIVE_MODE)
    rotary = layers.RotaryQKV(4, 10, 2, dtype=ms.float32)                 # [q | k | v] of 4 + 2 + 2 heads
    assert _on_cpu_kernel(rotary)
    qkv, table = _zeros(1, 3, 80), _zeros(3, 10)
    rotary(qkv, table, table)[0].asnumpy()                                 # the fitting call runs
    # 4 % 3 != 0; or (6, 1): 6 + 2 heads of 10 fill the row too, but not the outputs built for (4, 2)
    rotary.kernel.heads = ms.Tensor([4, 3] if case == "heads_not_dividing" else [6, 1], ms.int32)
    with pytest.raises(RuntimeError):
        rotary(qkv, table, table)[0].asnumpy()


def test_kernels_built_for_other_heads_keep_their_shapes():
    """Ops built for other heads, called on inputs of the same shapes (PyNative reuses one Custom op's
    inferred output shapes for another unless their attributes differ): each gets its own shapes, and
    its own numbers."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 5, 48)).astype(np.float32)
    mask = np.zeros((2, 1, 1, 5), np.float32)
    for heads in (4, 6):                                                   # D = 12 or 8: q, k, v (2, 5, 48)
        attend = layers.Attention(heads, 0.25, dtype=ms.float32)
        assert _on_cpu_kernel(attend)
        out = attend(*(ms.Tensor(a) for a in (x, x, x, mask))).asnumpy()
        y64, y32 = (_torch_attention(*(torch.from_numpy(x.astype(dtype)) for _ in range(3)),
                                     torch.from_numpy(mask.astype(dtype)), heads, 0.25).numpy()
                    for dtype in (np.float64, np.float32))
        _close_to_fp64(out, y64, y32)
    qkv = ms.Tensor(rng.standard_normal((2, 3, 80)).astype(np.float32))
    cos_table, sin_table = rotary_tables(3, 10, 10000.0)
    cos, sin = (ms.Tensor(t.astype(np.float32)) for t in (cos_table, sin_table))
    for heads, kv_heads in ((4, 2), (6, 1)):                               # 8 heads of 10 in a row either way
        rotary = layers.RotaryQKV(heads, 10, kv_heads, dtype=ms.float32)
        assert _on_cpu_kernel(rotary)
        got = [o.asnumpy() for o in rotary(qkv, cos, sin)]
        assert [o.shape for o in got] == [(2, 3, 10 * heads), (2, 3, 10 * kv_heads), (2, 3, 10 * kv_heads)]
        for ours, theirs in zip(got, composed.RotaryQKV(heads, kv_heads, 10)(qkv, cos, sin), strict=True):
            assert np.abs(ours - theirs.asnumpy()).max() <= 1e-6
