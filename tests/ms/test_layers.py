"""Shared MindSpore layers that replace slow kernels (indexing, BiasAddGrad): same values and gradients."""

from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest
from mindspore import Parameter, Tensor, nn, ops

from zoo.ms.kernels.cpu_cells import BiasAdd as BiasAddColumnSumGrad
from zoo.ms.layers import Linear, causal_padding_bias, leading_rows, padding_mask_to_additive


class _FirstRowsSum(nn.Cell):
    def __init__(self, table: np.ndarray) -> None:
        super().__init__()
        self.table = Parameter(Tensor(table))

    def construct(self, x: Tensor) -> Tensor:
        return (leading_rows(self.table, x.shape[0]) * x).sum()


@pytest.mark.parametrize("mode", [ms.GRAPH_MODE, ms.PYNATIVE_MODE])
@pytest.mark.parametrize("count", [1, 5, 8])   # 8: the whole table, returned as it is
def test_leading_rows_values_and_gradient(mode, count):
    ms.set_context(mode=mode)
    rng = np.random.default_rng(count)
    table = rng.standard_normal((8, 3)).astype(np.float32)
    weights = rng.standard_normal((count, 3)).astype(np.float32)
    net = _FirstRowsSum(table)
    assert np.allclose(net(Tensor(weights)).asnumpy(), (table[:count] * weights).sum(), rtol=1e-6)
    grad = ms.grad(net, grad_position=None, weights=net.trainable_params())(Tensor(weights))[0].asnumpy()
    expected = np.zeros_like(table)
    expected[:count] = weights
    assert np.array_equal(grad, expected)
    ms.set_context(mode=ms.GRAPH_MODE)


def test_causal_padding_bias_matches_its_definition():
    mask = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 0]], np.int32)
    lowest = float(np.finfo(np.float32).min)
    bias = causal_padding_bias(Tensor(mask), ms.float32, lowest).asnumpy()
    t, s = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
    visible = (s <= t)[None] & (mask[:, None, :] == 1)
    assert bias.shape == (2, 1, 5, 5)
    assert np.array_equal(bias[:, 0], np.where(visible, 0.0, lowest).astype(np.float32))


def test_padding_mask_to_additive_shape_and_values():
    mask = np.array([[1, 1, 0], [0, 1, 1]], np.int32)
    bias = ops.stop_gradient(padding_mask_to_additive(Tensor(mask), ms.float32, -1e9)).asnumpy()
    assert bias.shape == (2, 1, 1, 3)
    assert np.array_equal(bias[:, 0, 0], np.where(mask == 1, 0.0, -1e9).astype(np.float32))


@pytest.mark.parametrize("mode", [ms.GRAPH_MODE, ms.PYNATIVE_MODE])
def test_linear_bias_gradient_as_gemv_matches_fp64_torch(mode):
    """Linear's bias gradient on CPU is 1^T dy (BiasAddColumnSumGrad), not BiasAddGrad: same sums."""
    import torch

    ms.set_context(mode=mode)
    rng = np.random.default_rng(3)
    linear = Linear(48, 33)
    assert isinstance(linear.bias_add, BiasAddColumnSumGrad)
    linear.bias.set_data(Tensor(rng.standard_normal(33).astype(np.float32)))
    x, dy = rng.standard_normal((3, 70, 48)).astype(np.float32), rng.standard_normal((3, 70, 33)).astype(np.float32)

    def weighted(x, dy):
        return (linear(x) * dy).sum()

    grad_fn = ms.grad(weighted, grad_position=0, weights=[linear.weight, linear.bias])
    if mode == ms.GRAPH_MODE:
        grad_fn = ms.jit(grad_fn)
    dx, (dw, db) = grad_fn(Tensor(x), Tensor(dy))

    def run_torch(dtype):
        xt = torch.from_numpy(x.astype(dtype)).requires_grad_()
        wt = torch.from_numpy(linear.weight.asnumpy().astype(dtype)).requires_grad_()
        bt = torch.from_numpy(linear.bias.asnumpy().astype(dtype)).requires_grad_()
        (torch.nn.functional.linear(xt, wt, bt) * torch.from_numpy(dy.astype(dtype))).sum().backward()
        return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()

    for ours, fp64, fp32 in zip((dx, dw, db), run_torch(np.float64), run_torch(np.float32), strict=True):
        # within 4x torch float32's own distance from float64 (210 rows summed per bias entry)
        assert np.abs(ours.asnumpy() - fp64).max() <= 4 * max(np.abs(fp32 - fp64).max(), 1e-6)
