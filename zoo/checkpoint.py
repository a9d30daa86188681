"""Checkpoint IO and the one strict conversion engine that every family's key table runs through.

Tensors travel as torch tensors: they carry bf16 without loss (numpy cannot) and safetensors can
stream them one at a time. Frameworks get their own copies only when a model is loaded.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from zoo.errors import CheckpointError, ConfigError

StateDict = dict[str, torch.Tensor]

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_SINGLE = "model.safetensors"
BIN_INDEX = "pytorch_model.bin.index.json"
BIN_SINGLE = "pytorch_model.bin"
SUPPORTED_FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


# ----------------------------------------------------------------------------------------------
# Reading a Hugging Face model folder
# ----------------------------------------------------------------------------------------------


def read_config(folder: str | os.PathLike) -> dict:
    """config.json of a model folder, with errors that say which file and what to do."""
    path = Path(folder) / "config.json"
    if not Path(folder).is_dir():
        raise CheckpointError(f"{folder}: not a directory; pass a model folder, a hub id or a registry name")
    if not path.is_file():
        raise CheckpointError(f"{folder}: no config.json; a model folder needs config.json and its weights")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid JSON ({err}); re-download the checkpoint") from err


def weight_files(folder: str | os.PathLike) -> list[Path]:
    """The weight files of a folder, safetensors first; .bin only when no safetensors exist."""
    folder = Path(folder)
    for index_name in (SAFETENSORS_INDEX, BIN_INDEX):
        index = folder / index_name
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (json.JSONDecodeError, KeyError, UnicodeDecodeError) as err:
                raise CheckpointError(f"{index}: unreadable shard index ({err}); re-download it") from err
            shards = sorted(set(weight_map.values()))
            missing = [s for s in shards if not (folder / s).is_file()]
            if missing:
                raise CheckpointError(
                    f"{index} names shards that are not in {folder}: {', '.join(missing)}; "
                    "the download is incomplete: pull it again"
                )
            return [folder / s for s in shards]
    for single in (SAFETENSORS_SINGLE, BIN_SINGLE):
        if (folder / single).is_file():
            return [folder / single]
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    raise CheckpointError(
        f"{folder}: no weights (looked for {SAFETENSORS_SINGLE}, {SAFETENSORS_INDEX}, {BIN_SINGLE}, "
        f"{BIN_INDEX}); the folder has: {', '.join(present) or 'nothing'}"
    )


def _iter_safetensors(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    from safetensors import SafetensorError, safe_open

    try:
        handle = safe_open(str(path), framework="pt")
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path}: truncated or corrupted safetensors file ({err}); delete it and download it again"
        ) from err
    with handle as f:
        for name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
            try:
                yield name, f.get_tensor(name)
            except (SafetensorError, OSError, ValueError) as err:
                raise CheckpointError(f"{path}: tensor {name!r} is unreadable ({err})") from err


def _iter_bin(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """A pickled checkpoint, read with weights_only=True so that it can never execute code."""
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(
            f"{path}: not a loadable weights-only checkpoint ({type(err).__name__}: {err}); "
            "mindzoo never unpickles code: convert it to safetensors with trusted tools"
        ) from err
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: expected a mapping of tensors, found {type(state).__name__}")
    yield from state.items()


def iter_tensors(folder: str | os.PathLike) -> Iterator[tuple[str, torch.Tensor]]:
    """Stream (name, tensor) over every weight file of a folder, one tensor at a time."""
    seen: set[str] = set()
    for path in weight_files(folder):
        reader = _iter_safetensors if path.suffix == ".safetensors" else _iter_bin
        for name, tensor in reader(path):
            if name in seen:
                raise CheckpointError(f"{folder}: tensor {name!r} appears in more than one shard")
            seen.add(name)
            yield name, tensor


def load_tensors(folder: str | os.PathLike) -> StateDict:
    return dict(iter_tensors(folder))


def save_safetensors(state: Mapping[str, torch.Tensor], path: str | os.PathLike,
                     metadata: Mapping[str, str] | None = None) -> Path:
    """Write atomically (temp file + rename) so an interrupted write never looks complete."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: v.contiguous() for k, v in state.items()}, tmp, metadata=dict(metadata or {}))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# ----------------------------------------------------------------------------------------------
# Declarative key tables
# ----------------------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace(r"\{\}", r"(\d+)") + "$")


@dataclass(frozen=True)
class Split:
    """One fused upstream tensor that is several zoo tensors (e.g. fused QKV), cut along `dim`.

    `sizes` gives each piece's share in units of the smallest piece (e.g. (1, 1, 1) for equal q, k, v).
    """

    upstream: str
    zoo: tuple[str, ...]
    dim: int = 0
    sizes: tuple[int, ...] | None = None

    def pieces(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        shares = self.sizes or (1,) * len(self.zoo)
        unit, rest = divmod(tensor.shape[self.dim], sum(shares))
        if rest:
            raise CheckpointError(
                f"cannot split a tensor of shape {tuple(tensor.shape)} along dim {self.dim} "
                f"into parts {shares} for {self.zoo}"
            )
        return list(torch.split(tensor, [unit * s for s in shares], dim=self.dim))


@dataclass(frozen=True)
class Fuse:
    """Several upstream tensors that are one zoo tensor, concatenated along `dim` in this order
    (e.g. transformers' separate q, k, v projections -> a fused QKV). The inverse of Split."""

    upstream: tuple[str, ...]
    zoo: str
    dim: int = 0


@dataclass(frozen=True)
class KeyMap:
    """Upstream name pattern -> zoo name pattern; `{}` stands for a layer index.

    rules:   one upstream tensor is one zoo tensor.
    splits:  one upstream tensor is several zoo tensors.
    fuses:   several upstream tensors are one zoo tensor.
    ignored: upstream patterns that hold no weights (e.g. registered `position_ids` buffers).
    tied:    zoo name -> the zoo name whose tensor it shares; the model has no parameter for it.
             An upstream copy of a tied tensor must equal its source and is then dropped.
    """

    rules: Mapping[str, str]
    splits: tuple[Split, ...] = ()
    fuses: tuple[Fuse, ...] = ()
    ignored: tuple[str, ...] = ()
    tied: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_forward", [(_pattern_regex(u), z) for u, z in self.rules.items()])
        object.__setattr__(self, "_backward", [(_pattern_regex(z), u) for u, z in self.rules.items()])
        object.__setattr__(self, "_ignored", [_pattern_regex(p) for p in self.ignored])
        object.__setattr__(self, "_splits", [(_pattern_regex(s.upstream), s) for s in self.splits])
        object.__setattr__(self, "_fuses", [(_pattern_regex(u), f, i) for f in self.fuses
                                            for i, u in enumerate(f.upstream)])

    def zoo_name(self, upstream_name: str) -> str | None:
        for regex, target in self._forward:
            m = regex.match(upstream_name)
            if m:
                return target.format(*m.groups())
        return None

    def upstream_name(self, zoo_name: str) -> str | None:
        for regex, target in self._backward:
            m = regex.match(zoo_name)
            if m:
                return target.format(*m.groups())
        return None

    def is_ignored(self, upstream_name: str) -> bool:
        return any(r.match(upstream_name) for r in self._ignored)

    def fuse_for(self, upstream_name: str) -> tuple[Fuse, int, tuple[str, ...]] | None:
        """The fuse rule this upstream tensor is part `index` of, and its layer indices."""
        for regex, fuse, index in self._fuses:
            m = regex.match(upstream_name)
            if m:
                return fuse, index, m.groups()
        return None

    def split_for(self, upstream_name: str) -> tuple[Split, tuple[str, ...]] | None:
        for regex, split in self._splits:
            m = regex.match(upstream_name)
            if m:
                return split, m.groups()
        return None


ParamSpec = Mapping[str, tuple[tuple[int, ...], torch.dtype]]


def _format_keys(title: str, keys: Iterable[str], limit: int = 12) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")
    return f"{title} ({len(keys)}): {shown}"


def to_zoo(upstream: Mapping[str, torch.Tensor] | Iterable[tuple[str, torch.Tensor]], keymap: KeyMap,
           expected: ParamSpec, source: str = "checkpoint") -> StateDict:
    """Rename an upstream state dict to zoo names, strictly.

    Every upstream tensor is used exactly once (or declared ignored / tied), every expected zoo
    parameter is set exactly once with the expected shape and a supported float dtype; anything
    else raises one CheckpointError listing every offending key.
    """
    items = upstream.items() if isinstance(upstream, Mapping) else upstream
    state: StateDict = {}
    origin: dict[str, str] = {}
    unexpected, duplicated, tied_copies = [], [], {}
    fuse_parts: dict[str, dict[int, tuple[str, torch.Tensor]]] = {}
    fuse_rules: dict[str, Fuse] = {}
    for name, tensor in items:
        if keymap.is_ignored(name):
            continue
        fused = keymap.fuse_for(name)
        if fused is not None:
            rule, index, groups = fused
            target = rule.zoo.format(*groups)
            fuse_rules[target] = rule
            parts = fuse_parts.setdefault(target, {})
            if index in parts:
                duplicated.append(f"{target} <- {parts[index][0]} and {name}")
            parts[index] = (name, tensor)
            continue
        split = keymap.split_for(name)
        if split is not None:
            rule, groups = split
            targets = [p.format(*groups) for p in rule.zoo]
            pieces = list(zip(targets, rule.pieces(tensor), strict=True))
        else:
            target = keymap.zoo_name(name)
            if target is None:
                unexpected.append(name)
                continue
            pieces = [(target, tensor)]
        for target, piece in pieces:
            if target in keymap.tied:
                tied_copies[target] = (name, piece)
            elif target in state:
                duplicated.append(f"{target} <- {origin[target]} and {name}")
            else:
                state[target] = piece
                origin[target] = name

    problems = []
    for target, parts in fuse_parts.items():
        rule = fuse_rules[target]
        absent = [p for i, p in enumerate(rule.upstream) if i not in parts]
        if absent:
            groups = _pattern_regex(rule.zoo).match(target).groups()
            problems.append(f"{target} needs {', '.join(p.format(*groups) for p in absent)} to fuse with "
                            f"{', '.join(n for n, _ in parts.values())}")
            continue
        names = [parts[i][0] for i in range(len(rule.upstream))]
        try:
            state[target] = torch.cat([parts[i][1] for i in range(len(rule.upstream))], dim=rule.dim)
        except RuntimeError as err:
            problems.append(f"cannot fuse {', '.join(names)} into {target}: {err}")
            continue
        origin[target] = "+".join(names)
    for target, (name, piece) in tied_copies.items():
        source_name = keymap.tied[target]
        if source_name in state and not torch.equal(state[source_name], piece):
            problems.append(f"{name} is declared tied to {origin[source_name]} but their values differ")
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    bad_shape = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k][0])} (from {origin[k]})"
        for k in sorted(set(state) & set(expected))
        if tuple(state[k].shape) != tuple(expected[k][0])
    ]
    bad_dtype = [
        f"{k}: {state[k].dtype} (from {origin[k]}); expected a float tensor"
        for k in sorted(set(state) & set(expected))
        if state[k].dtype not in SUPPORTED_FLOAT_DTYPES and expected[k][1].is_floating_point
    ]
    if unexpected:
        problems.append(_format_keys("unexpected keys", unexpected))
    if missing:
        problems.append(_format_keys("missing keys", [keymap.upstream_name(m) or m for m in missing]))
    if extra:
        problems.append(_format_keys("keys the model has no parameter for", [origin[e] for e in extra]))
    if duplicated:
        problems.append(_format_keys("keys set twice", duplicated))
    if bad_shape:
        problems.append(_format_keys("shape mismatches", bad_shape, limit=6))
    if bad_dtype:
        problems.append(_format_keys("dtype mismatches", bad_dtype, limit=6))
    if problems:
        raise CheckpointError(f"{source} does not match the model: " + "; ".join(problems))
    return state


def from_zoo(state: Mapping[str, torch.Tensor], keymap: KeyMap) -> StateDict:
    """The inverse of to_zoo: zoo names back to upstream names, fused tensors re-fused."""
    upstream: StateDict = {}
    used: set[str] = set()
    split_sources: dict[str, tuple[Split, tuple[str, ...]]] = {}
    for regex_split in keymap.splits:
        first = _pattern_regex(regex_split.zoo[0])
        for name in state:
            m = first.match(name)
            if m:
                split_sources[regex_split.upstream.format(*m.groups())] = (regex_split, m.groups())
    for up_name, (rule, groups) in split_sources.items():
        parts = [p.format(*groups) for p in rule.zoo]
        upstream[up_name] = torch.cat([state[p] for p in parts], dim=rule.dim)
        used.update(parts)
    for rule in keymap.fuses:
        regex = _pattern_regex(rule.zoo)
        for name, tensor in state.items():
            m = regex.match(name)
            if m and name not in used:
                for pattern, piece in zip(rule.upstream, torch.chunk(tensor, len(rule.upstream), rule.dim),
                                          strict=True):
                    upstream[pattern.format(*m.groups())] = piece.clone()
                used.add(name)
    for name, tensor in state.items():
        if name in used:
            continue
        up_name = keymap.upstream_name(name)
        if up_name is None:
            raise CheckpointError(f"zoo parameter {name!r} has no upstream name in the key table")
        upstream[up_name] = tensor
    return upstream
