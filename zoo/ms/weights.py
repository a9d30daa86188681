"""Loading a converted (zoo-named) numpy state dict into a MindSpore Cell, with an explicit compute dtype."""

from __future__ import annotations

from collections.abc import Mapping

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

DTYPES = {"float32": ms.float32, "float16": ms.float16, "bfloat16": ms.bfloat16}


def ms_dtype(name: str):
    return DTYPES[name]


def param_spec(net: nn.Cell) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape, what a state dict must provide (zoo.models.check_state)."""
    return {name: tuple(p.shape) for name, p in net.parameters_and_names()}


def set_parameter(param, array: np.ndarray, dtype=ms.float32) -> None:
    """One parameter from a float array (bf16 already widened to fp32 by the reader), cast to `dtype`."""
    param.set_data(Tensor(np.asarray(array, dtype=np.float32), dtype))


def load_state(net: nn.Cell, state: Mapping[str, np.ndarray], dtype=ms.float32) -> nn.Cell:
    """Set every parameter from `state` (already checked against the Cell) in `dtype`."""
    for name, param in net.parameters_and_names():
        set_parameter(param, state[name], dtype)
    return net


def state_dict(net: nn.Cell) -> dict[str, np.ndarray]:
    """Parameters back as float32 numpy arrays (bf16 widened: numpy has no bf16), in zoo names."""
    out = {}
    for name, param in net.parameters_and_names():
        value = param.astype(ms.float32) if param.dtype != ms.float32 else param
        out[name] = np.ascontiguousarray(value.asnumpy())
    return out
