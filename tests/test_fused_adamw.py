"""The optimizer's update (zoo/ms/fused_adamw.py): torch's AdamW to the bit on CPU, in both modes, and
the in-place kernel ordered after every read of the parameters it updates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

ms = pytest.importorskip("mindspore")

from mindspore import Parameter, Tensor, nn, ops  # noqa: E402

from zoo.ms.kernels import cpu as cpu_kernels  # noqa: E402
from zoo.ms.optim import AdamWConfig, adamw  # noqa: E402

CONFIG = AdamWConfig(lr=3e-3, weight_decay=0.05)
# a vectorised bulk with a scalar tail, a block of several thread chunks, an odd 3-D one, a 0-d one
SHAPES = [(300, 77), (70_001,), (3, 5, 7), ()]


def _set_mode(mode: str) -> None:
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)


def _grads(rng: np.random.Generator) -> list[np.ndarray]:
    # magnitudes from 1e-6 to 10, so that eps, decay and the bias corrections all matter somewhere
    return [np.asarray(rng.standard_normal(s) * 10 ** rng.uniform(-6, 1), dtype=np.float32) for s in SHAPES]


def _torch_replay(state, grads, step: int) -> None:
    """torch.optim.AdamW's single-tensor update (torch/optim/adam.py), op for op, except sqrt: torch's
    comes from MKL and is not always correctly rounded; this one is IEEE's."""
    lr, (b1, b2), eps, wd = CONFIG.lr, CONFIG.betas, CONFIG.eps, CONFIG.weight_decay
    for (p, m, v), g in zip(state, grads, strict=True):
        g = torch.from_numpy(g)
        p.mul_(1 - lr * wd)
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = torch.from_numpy(np.asarray(np.sqrt(v.numpy()))) / ((1 - b2**step) ** 0.5) + eps
        p.addcdiv_(m, denom, value=-lr / (1 - b1**step))


@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_cpu_update_is_torch_adamw_to_the_bit(mode):
    _set_mode(mode)
    rng = np.random.default_rng(0)
    init = [np.asarray(rng.standard_normal(s), dtype=np.float32) for s in SHAPES]
    params = [Parameter(Tensor(a), name=f"p{i}") for i, a in enumerate(init)]
    optimizer = adamw(params, CONFIG)
    assert optimizer.cpu_kernel is not None, cpu_kernels.status()
    run = ms.jit(optimizer.construct) if mode == "graph" else optimizer
    replay = [(torch.from_numpy(a.copy()), torch.zeros(a.shape), torch.zeros(a.shape)) for a in init]
    official = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    reference = torch.optim.AdamW(official, lr=CONFIG.lr, betas=CONFIG.betas, eps=CONFIG.eps,
                                  weight_decay=CONFIG.weight_decay, foreach=False)
    for step in range(1, 21):
        grads = _grads(rng)
        run(tuple(Tensor(g) for g in grads))
        _torch_replay(replay, grads, step)
        for t, g in zip(official, grads, strict=True):
            t.grad = torch.from_numpy(g)
        reference.step()
    for i, (p, (tp, tm, tv)) in enumerate(zip(params, replay, strict=True)):
        np.testing.assert_array_equal(p.asnumpy(), tp.numpy(), err_msg=f"parameter {i}")
        np.testing.assert_array_equal(optimizer.exp_avg[i].asnumpy(), tm.numpy(), err_msg=f"exp_avg {i}")
        np.testing.assert_array_equal(optimizer.exp_avg_sq[i].asnumpy(), tv.numpy(), err_msg=f"exp_avg_sq {i}")
        # torch.optim.AdamW itself differs only through its sqrt: within a few float32 ulps of the
        # parameter's scale after 20 steps (measured: a few elements, <= 1e-7 relative)
        ours, theirs = p.asnumpy(), official[i].detach().numpy()
        assert np.abs(ours - theirs).max() <= 1e-6 * max(np.abs(theirs).max(), 1.0)
    assert float(optimizer.step.asnumpy()) == 20.0


class _TwoLayers(nn.Cell):
    """The backward reads w2 after w2's own gradient exists (for dx of the first layer): an update
    scheduled too early would change w1's gradient."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.w1 = Parameter(Tensor(np.asarray(rng.standard_normal((6, 5)), dtype=np.float32)), name="w1")
        self.w2 = Parameter(Tensor(np.asarray(rng.standard_normal((5, 3)), dtype=np.float32)), name="w2")

    def construct(self, x):
        return (ops.tanh(ops.matmul(x, self.w1)).matmul(self.w2) ** 2).sum()


@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_in_place_update_runs_after_the_backward(mode):
    _set_mode(mode)
    rng = np.random.default_rng(3)
    net = _TwoLayers(rng)
    optimizer = adamw(net.trainable_params(), AdamWConfig(lr=0.5))
    assert optimizer.cpu_kernel is not None, cpu_kernels.status()
    grad_fn = ms.value_and_grad(net, None, optimizer.parameters)

    def train_step(x):
        loss, grads = grad_fn(x)
        optimizer(grads)
        return loss, grads

    run = ms.jit(train_step) if mode == "graph" else train_step
    x = Tensor(np.asarray(rng.standard_normal((4, 6)), dtype=np.float32))
    for _ in range(3):
        before = [p.asnumpy().copy() for p in optimizer.parameters]
        expected = [g.asnumpy() for g in grad_fn(x)[1]]  # the gradients at `before`, no update
        _, grads = run(x)
        for got, want in zip(grads, expected, strict=True):
            np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6, atol=1e-7)
        for p, b in zip(optimizer.parameters, before, strict=True):
            assert np.abs(p.asnumpy() - b).max() > 1e-3  # and the step did update them


def test_fallback_is_mindspores_kernel(monkeypatch):
    """Without the aot kernel, AdamWeightDecay with rescaled scalars takes the same steps (its own
    rounding: within 1e-6 of the parameter scale after 20 steps)."""
    _set_mode("graph")
    rng = np.random.default_rng(5)
    init = [np.asarray(rng.standard_normal(s), dtype=np.float32) for s in SHAPES]
    runs = []
    for kernel in (True, False):
        if not kernel:
            monkeypatch.setattr(cpu_kernels, "adamw_op", lambda: None)
        params = [Parameter(Tensor(a), name=f"p{i}") for i, a in enumerate(init)]
        optimizer = adamw(params, CONFIG)
        assert (optimizer.cpu_kernel is not None) == kernel
        run = ms.jit(optimizer.construct)
        grads_rng = np.random.default_rng(6)
        for _ in range(20):
            run(tuple(Tensor(g) for g in _grads(grads_rng)))
        runs.append([p.asnumpy() for p in params])
    for a, b in zip(*runs, strict=True):
        assert np.abs(a - b).max() <= 1e-6 * max(np.abs(b).max(), 1.0)
