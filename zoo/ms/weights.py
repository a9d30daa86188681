"""Loading a converted (zoo-named) state dict into a MindSpore Cell, with an explicit compute dtype."""

from __future__ import annotations

from collections.abc import Mapping

import mindspore as ms
import numpy as np
import torch
from mindspore import Tensor, nn

from zoo.checkpoint import ParamSpec

DTYPES = {"float32": ms.float32, "float16": ms.float16, "bfloat16": ms.bfloat16}


def ms_dtype(name: str):
    return DTYPES[name]


def param_spec(net: nn.Cell) -> ParamSpec:
    torch_dtype = {ms.float32: torch.float32, ms.float16: torch.float16, ms.bfloat16: torch.bfloat16}
    return {name: (tuple(p.shape), torch_dtype.get(p.dtype, torch.float32))
            for name, p in net.parameters_and_names()}


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """bf16 has no numpy dtype: widen to fp32 (exact), the Cell's dtype decides what is stored."""
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.detach().cpu().numpy()


def load_state(net: nn.Cell, state: Mapping[str, torch.Tensor], dtype=ms.float32) -> nn.Cell:
    """Set every parameter from `state` (already checked by zoo.checkpoint.to_zoo) in `dtype`."""
    for name, param in net.parameters_and_names():
        param.set_data(Tensor(to_numpy(state[name]), dtype))
    return net


def state_dict(net: nn.Cell) -> dict[str, torch.Tensor]:
    """Parameters back as torch tensors (fp32 for bf16 Cells), for saving in zoo names."""
    out = {}
    for name, param in net.parameters_and_names():
        value = param.astype(ms.float32) if param.dtype == ms.bfloat16 else param
        out[name] = torch.from_numpy(np.ascontiguousarray(value.asnumpy()))
    return out
