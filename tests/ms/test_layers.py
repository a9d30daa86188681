"""Shared MindSpore layers that replace slow indexing: same values and gradients as the indexing."""

from __future__ import annotations

import mindspore as ms
import numpy as np
import pytest
from mindspore import Parameter, Tensor, nn, ops

from zoo.ms.layers import causal_padding_bias, leading_rows, padding_mask_to_additive


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
