"""From what a user names (a folder, a registry name, a hub id) to a loaded model in either framework."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from zoo.checkpoint import ParamSpec, StateDict, load_tensors, read_config, to_zoo
from zoo.errors import HubError
from zoo.families import family_for


@dataclass(frozen=True)
class ModelSpec:
    name: str              # what the user asked for
    folder: Path           # the upstream checkpoint folder
    family: ModuleType     # zoo.families.<family>
    config: Any            # the family's frozen config
    raw_config: dict


def locate(model: str) -> Path:
    """A local folder as is; a registry name: its packaged checkpoint, else the pull cache; a hub id
    (or `id@revision`): the pull cache. Never the network (HF_HUB_OFFLINE only changes the error's advice)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    from zoo import hub, registry

    entry = registry.get(model)
    if entry is not None:
        return entry.local_folder()
    if path.exists():
        raise HubError(f"{model}: not a directory; pass a model folder")
    try:
        return hub.cached_folder(model)
    except HubError as err:
        base = model.partition("@")[0]
        if "/" in base or registry.get(base) is not None:
            raise
        raise HubError(
            f"{model!r} is neither a local folder nor a registry name (see `mindzoo list`) nor a pulled hub id; "
            f"fetch it with `mindzoo pull {model}` or pass a folder"
        ) from err


def resolve(model: str | Path, task: str | None = None) -> ModelSpec:
    folder = locate(str(model))
    raw = read_config(folder)
    family = family_for(raw)
    config = family.config_from_folder(folder, raw, task)
    return ModelSpec(str(model), folder, family, config, raw)


def build_pt(spec: ModelSpec, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"):
    import importlib

    modeling = importlib.import_module(spec.family.__name__ + ".modeling_pt")
    with torch.device(device):
        return modeling.build(spec.config, dtype)


def build_ms(spec: ModelSpec, dtype: str = "float32"):
    import importlib

    from zoo.ms.weights import ms_dtype

    modeling = importlib.import_module(spec.family.__name__ + ".modeling_ms")
    return modeling.build(spec.config, ms_dtype(dtype))


def expected_params(spec: ModelSpec) -> ParamSpec:
    """Zoo parameter names, shapes and dtypes, from the twin built on torch's meta device (no memory)."""
    meta_model = build_pt(spec, device="meta")
    return {n: (tuple(p.shape), p.dtype) for n, p in meta_model.named_parameters()}


def to_zoo_names(spec: ModelSpec, upstream: Mapping[str, torch.Tensor], source: str) -> StateDict:
    """Any upstream-named tensors (weights or their gradients) renamed to zoo names, strictly."""
    keymap = spec.family.keymap(spec.config, upstream.keys())
    return to_zoo(upstream, keymap, expected_params(spec), source=source)


def zoo_state(spec: ModelSpec) -> StateDict:
    """The checkpoint renamed to zoo names, strictly checked against the twin's parameters."""
    return to_zoo_names(spec, load_tensors(spec.folder), source=str(spec.folder))


def load_pt(spec: ModelSpec, dtype: torch.dtype = torch.float32, state: StateDict | None = None):
    model = build_pt(spec, dtype)
    state = zoo_state(spec) if state is None else state
    model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=True)
    return model.eval()


def load_ms(spec: ModelSpec, dtype: str = "float32", state: StateDict | None = None):
    from zoo.ms.weights import load_state, ms_dtype

    net = build_ms(spec, dtype)
    state = zoo_state(spec) if state is None else state
    load_state(net, state, ms_dtype(dtype))
    net.set_train(False)
    return net
