"""Loading a converted (zoo-named) numpy state dict into the torch twin, with an explicit compute dtype."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def torch_dtype(name: str) -> torch.dtype:
    return DTYPES[name]


def param_spec(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape, what a state dict must provide (zoo.models.check_state)."""
    return {name: tuple(p.shape) for name, p in model.named_parameters()}


@torch.no_grad()
def set_parameter(param: torch.nn.Parameter, array: np.ndarray) -> None:
    """One parameter from an array, cast to the parameter's own dtype."""
    param.copy_(torch.from_numpy(np.ascontiguousarray(array)).to(param.dtype))


def load_state(model: nn.Module, state: Mapping[str, np.ndarray]) -> nn.Module:
    """Copy every parameter from `state` into the model, cast to each parameter's own dtype."""
    for name, param in model.named_parameters():
        set_parameter(param, state[name])
    return model


def state_dict(model: nn.Module) -> dict[str, np.ndarray]:
    """Parameters back as float32 numpy arrays, in zoo names."""
    return {name: p.detach().float().cpu().numpy().copy() for name, p in model.named_parameters()}
