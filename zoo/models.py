"""From what a user names (a folder, a registry name, a hub id) to a loaded model in either framework.

    spec = resolve("datadecide-dolma1_7-4M")        # config read strictly by the model's family
    net = load_ms(spec)                              # MindSpore; imports no torch
    model = load_pt(spec)                            # the torch twin; imports no MindSpore

Loading converts the upstream checkpoint to zoo names on the way in (the family's key table, applied
strictly by zoo.core.checkpoint) and checks it against the parameters of the model being built, so each
framework needs only itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core.checkpoint import Converter, ParamSpec, StateDict, iter_tensors, read_config, tensor_names, to_zoo
from zoo.core.errors import CheckpointError
from zoo.core.family import Family
from zoo.families import family_for
from zoo.hub import locate

DTYPES = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class ModelSpec:
    name: str              # what the user asked for
    folder: Path           # the upstream checkpoint folder
    family: Family
    config: Any            # the family's frozen config
    raw_config: dict


def resolve(model: str | Path, task: str | None = None) -> ModelSpec:
    folder = locate(str(model))
    raw = read_config(folder)
    family = family_for(raw)
    config = family.read_config(raw, folder, task)
    return ModelSpec(str(model), folder, family, config, raw)


def zoo_state(spec: ModelSpec) -> StateDict:
    """The checkpoint renamed to zoo names, strictly by the family's key table (numpy arrays; bf16 widened).
    Each loader then checks it against the parameters of the model it builds (`check_state`)."""
    keymap = spec.family.keymap(spec.config, tensor_names(spec.folder))
    return to_zoo(iter_tensors(spec.folder), keymap, None, source=str(spec.folder))


def to_zoo_names(spec: ModelSpec, upstream: Mapping[str, np.ndarray], source: str) -> StateDict:
    """Any upstream-named arrays (weights or their gradients) renamed to zoo names, strictly."""
    keymap = spec.family.keymap(spec.config, upstream.keys())
    return to_zoo(upstream, keymap, None, source=source)


def check_state(state: Mapping[str, np.ndarray], expected: ParamSpec, source: str,
                spec: ModelSpec | None = None) -> None:
    """Every parameter of the built model set exactly once, with its shape; nothing left over. With `spec`,
    missing parameters are named by their upstream keys (what the user's checkpoint lacks)."""
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k])}"
              for k in sorted(set(state) & set(expected)) if tuple(state[k].shape) != tuple(expected[k])]
    if missing and spec is not None:
        keymap = spec.family.keymap(spec.config, tensor_names(spec.folder))
        missing = sorted(keymap.upstream_name(m) or m for m in missing)
    problems = [f"missing keys ({len(missing)}): {', '.join(missing[:12])}" if missing else "",
                f"keys the model has no parameter for ({len(extra)}): {', '.join(extra[:12])}" if extra else "",
                f"shape mismatches: {'; '.join(shapes[:6])}" if shapes else ""]
    problems = [p for p in problems if p]
    if problems:
        raise CheckpointError(f"{source} does not match the model: " + "; ".join(problems))


def stream_state(spec: ModelSpec, expected: ParamSpec, assign) -> None:
    """Convert the checkpoint tensor by tensor, calling `assign(zoo name, array)` for each parameter as soon as
    it is complete, and check the whole against the model's `expected` shapes at the end. Peak memory is the
    model plus about one tensor, where `load_tensors` + `to_zoo` would hold the checkpoint as well."""
    keymap = spec.family.keymap(spec.config, tensor_names(spec.folder))
    converter = Converter(keymap, str(spec.folder))
    for name, tensor in iter_tensors(spec.folder):
        for target, array in converter.feed(name, tensor):
            if target in expected and tuple(array.shape) == tuple(expected[target]):
                assign(target, array)
    converter.finish(expected)


def _check_dtype(dtype: str) -> str:
    if dtype not in DTYPES:
        raise CheckpointError(f"dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    return dtype


# ------------------------------------------------------------------------------------------- MindSpore


def build_ms(spec: ModelSpec, dtype: str = "float32"):
    from zoo.ms.weights import ms_dtype

    return spec.family.ms_modeling().build(spec.config, ms_dtype(_check_dtype(dtype)))


def load_ms(spec: ModelSpec, dtype: str = "float32", state: StateDict | None = None):
    """The MindSpore model with the checkpoint's weights (streamed from the folder unless `state` is given)."""
    from zoo.ms.weights import load_state, ms_dtype, param_spec, set_parameter

    net = build_ms(spec, dtype)
    if state is None:
        params = dict(net.parameters_and_names())
        stream_state(spec, param_spec(net), lambda name, array: set_parameter(params[name], array, ms_dtype(dtype)))
    else:
        check_state(state, param_spec(net), str(spec.folder), spec)
        load_state(net, state, ms_dtype(dtype))
    net.set_train(False)
    return net


# ----------------------------------------------------------------------------------------------- torch


def build_pt(spec: ModelSpec, dtype: str = "float32", device: str = "cpu"):
    import torch

    from zoo.pt.weights import torch_dtype

    with torch.device(device):
        return spec.family.pt_modeling().build(spec.config, torch_dtype(_check_dtype(dtype)))


def load_pt(spec: ModelSpec, dtype: str = "float32", state: StateDict | None = None):
    """The torch twin with the checkpoint's weights (streamed from the folder unless `state` is given)."""
    from zoo.pt.weights import load_state, param_spec, set_parameter

    model = build_pt(spec, dtype)
    if state is None:
        params = dict(model.named_parameters())
        stream_state(spec, param_spec(model), lambda name, array: set_parameter(params[name], array))
    else:
        check_state(state, param_spec(model), str(spec.folder), spec)
        load_state(model, state)
    return model.eval()


def expected_params(spec: ModelSpec, framework: str = "torch") -> ParamSpec:
    """Zoo parameter names and shapes of the model `framework` builds ("torch": the twin on torch's meta
    device, no memory; "mindspore": the Cell, whose parameters initialise lazily)."""
    if framework == "mindspore":
        from zoo.ms.weights import param_spec

        return param_spec(build_ms(spec))
    from zoo.pt.weights import param_spec

    return param_spec(build_pt(spec, device="meta"))
