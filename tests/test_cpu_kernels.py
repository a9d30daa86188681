"""The hand-written CPU kernels (zoo/ms/cpu_kernels.py): the same numbers as torch, in both modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

ms = pytest.importorskip("mindspore")

from zoo.ms import cpu_kernels, layers  # noqa: E402
from zoo.ms.layers import GELU, causal_lm_loss, cross_entropy, gelu, use_cpu_cross_entropy  # noqa: E402


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
    assert net.gelu.use_cpu_kernel
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
    assert cpu_kernels.wanted("CPU", "float32")
    assert not cpu_kernels.wanted("CPU", "float16")
    assert not cpu_kernels.wanted("Ascend", "float32") and not cpu_kernels.wanted("GPU", "float32")
    monkeypatch.setenv(cpu_kernels.ENV_SWITCH, "0")
    cpu_kernels.library.cache_clear()
    try:
        assert cpu_kernels.library() is None
        assert cpu_kernels.status() == {"reason": "MINDZOO_CPU_KERNELS=0"}
        assert not GELU(ms.float32).use_cpu_kernel
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


class _LinearLoss(ms.nn.Cell):
    def __init__(self, linear) -> None:
        super().__init__()
        self.linear = linear

    def construct(self, x, dy):
        return (self.linear(x) * dy).sum()


@pytest.mark.parametrize("mode", ["pynative", "graph"])
@pytest.mark.parametrize("shape", [(1, 1, 24), (3, 171, 96)])  # one row (decode), several row chunks
def test_linear_kernel_matches_fp64_torch(mode, shape):
    from zoo.ms.layers import Linear

    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    rng = np.random.default_rng(2)
    out_features = 200
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((out_features, shape[-1])) * 0.1).astype(np.float32)
    b = rng.standard_normal(out_features).astype(np.float32)
    dy = rng.standard_normal(shape[:-1] + (out_features,)).astype(np.float32)

    def ms_run(use_kernel: bool):
        linear = Linear(shape[-1], out_features)
        assert linear.use_cpu_kernel
        linear.use_cpu_kernel = use_kernel
        linear.weight.set_data(ms.Tensor(w))
        linear.bias.set_data(ms.Tensor(b))
        net = _LinearLoss(linear)
        grad_fn = ms.grad(net, grad_position=0, weights=net.trainable_params())
        if mode == "graph":
            grad_fn = ms.jit(grad_fn)
        dx, (dw, db) = grad_fn(ms.Tensor(x), ms.Tensor(dy))
        return [t.asnumpy().astype(np.float64) for t in (linear(ms.Tensor(x)), dx, dw, db)]

    def torch_run(dtype):
        xt, wt, bt = (torch.tensor(a, dtype=dtype, requires_grad=True) for a in (x, w, b))
        yt = torch.nn.functional.linear(xt, wt, bt)
        yt.backward(torch.tensor(dy, dtype=dtype))
        return [t.detach().numpy().astype(np.float64) for t in (yt, xt.grad, wt.grad, bt.grad)]

    # within 4x the larger fp32 error of torch and of MindSpore's composed MatMul + Add (fp32 sums of
    # 513 terms: the bias gradient's GEMV sums in order, torch's reduction pairwise)
    exact, fp32, composed = torch_run(torch.float64), torch_run(torch.float32), ms_run(False)
    for name, got, ref, theirs, ours in zip(("y", "dx", "dw", "db"), ms_run(True), exact, fp32, composed, strict=True):
        assert got.shape == ref.shape, name
        bound = 4 * max(np.abs(theirs - ref).max(), np.abs(ours - ref).max(), 1e-7 * np.abs(ref).max())
        assert np.abs(got - ref).max() <= bound, (name, np.abs(got - ref).max(), bound)


class _Loss(ms.nn.Cell):
    def __init__(self, causal: bool) -> None:
        super().__init__()
        self.causal = causal
        use_cpu_cross_entropy(ms.float32)

    def construct(self, logits, labels):
        return causal_lm_loss(logits, labels) if self.causal else cross_entropy(logits, labels)


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
    assert layers._cpu_cross_entropy is not None, cpu_kernels.status()
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
