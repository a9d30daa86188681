"""Checkpoint IO and the one strict conversion engine that every family's key table runs through.

Tensors travel as numpy arrays, so that both twins can load a checkpoint without the other framework:
safetensors files are read by zoo.core.safetensors (bfloat16 widened to float32, exactly); a pickled
`.bin` needs torch, which reads it with weights_only=True so that it can never execute code. The
compute dtype is chosen when a framework loads the arrays, never here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zoo.core import safetensors
from zoo.core.errors import CheckpointError, ConfigError

StateDict = dict[str, np.ndarray]
ParamSpec = Mapping[str, tuple[int, ...]]     # zoo parameter name -> shape

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_SINGLE = "model.safetensors"
BIN_INDEX = "pytorch_model.bin.index.json"
BIN_SINGLE = "pytorch_model.bin"


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
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid JSON ({err}); re-download the checkpoint") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a JSON object, found {type(raw).__name__}")
    return raw


def weight_files(folder: str | os.PathLike) -> list[Path]:
    """The weight files of a folder, safetensors first; .bin only when no safetensors exist."""
    folder = Path(folder)
    for index_name in (SAFETENSORS_INDEX, BIN_INDEX):
        index = folder / index_name
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
                shards = sorted(set(weight_map.values()))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as err:
                raise CheckpointError(f"{index}: unreadable shard index ({err}); re-download it") from err
            bad = [s for s in shards if not isinstance(s, str) or Path(s).name != s]
            if bad:
                raise CheckpointError(f"{index}: shard names must be plain file names, found {bad[:3]}")
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


def _iter_bin(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    """A pickled checkpoint, read by torch with weights_only=True so that it can never execute code."""
    try:
        import torch
    except ImportError as err:
        raise CheckpointError(f"{path}: a pickled .bin checkpoint needs torch to read it safely, and torch is "
                              "not installed; use a checkpoint with model.safetensors") from err
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(
            f"{path}: not a loadable weights-only checkpoint ({type(err).__name__}: {err}); "
            "mindzoo never unpickles code: convert it to safetensors with trusted tools"
        ) from err
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: expected a mapping of tensors, found {type(state).__name__}")
    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise CheckpointError(f"{path}: entry {name!r} is a {type(tensor).__name__}, not a tensor")
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        yield name, tensor.detach().numpy()


def tensor_names(folder: str | os.PathLike) -> list[str]:
    """Tensor names of a checkpoint folder; safetensors from their headers only (no data read)."""
    names = []
    for path in weight_files(folder):
        if path.suffix == ".safetensors":
            names += [s.name for s in safetensors.read_header(path)[0]]
        else:
            names += [n for n, _ in _iter_bin(path)]
    return names


def iter_tensors(folder: str | os.PathLike) -> Iterator[tuple[str, np.ndarray]]:
    """Stream (name, array) over every weight file of a folder, one tensor at a time."""
    seen: set[str] = set()
    for path in weight_files(folder):
        reader = safetensors.iter_file if path.suffix == ".safetensors" else _iter_bin
        for name, tensor in reader(path):
            if name in seen:
                raise CheckpointError(f"{folder}: tensor {name!r} appears in more than one shard")
            seen.add(name)
            yield name, tensor


def load_tensors(folder: str | os.PathLike) -> StateDict:
    return dict(iter_tensors(folder))


# ----------------------------------------------------------------------------------------------
# Declarative key tables
# ----------------------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace(r"\{\}", r"(\d+)") + "$")


@dataclass(frozen=True)
class Split:
    """One fused upstream tensor that is several zoo tensors (e.g. fused QKV), cut along `dim`.

    `sizes` gives each piece's share in units of the smallest piece (e.g. (1, 1, 1) for equal q, k, v,
    (4, 1, 1) for grouped-query attention with 4 query heads per key-value head).
    """

    upstream: str
    zoo: tuple[str, ...]
    dim: int = 0
    sizes: tuple[int, ...] | None = None

    def pieces(self, tensor: np.ndarray) -> list[np.ndarray]:
        shares = self.sizes or (1,) * len(self.zoo)
        unit, rest = divmod(tensor.shape[self.dim], sum(shares))
        if rest or self.dim >= tensor.ndim:
            raise CheckpointError(
                f"cannot split a tensor of shape {tuple(tensor.shape)} along dim {self.dim} "
                f"into parts {shares} for {self.zoo}"
            )
        cuts = np.cumsum([unit * s for s in shares])[:-1]
        return [np.ascontiguousarray(p) for p in np.split(tensor, cuts, axis=self.dim)]


@dataclass(frozen=True)
class Fuse:
    """Several upstream tensors that are one zoo tensor, concatenated along `dim` in this order
    (e.g. transformers' separate q, k, v projections -> a fused QKV). The inverse of Split.

    `sizes` is how to cut the zoo tensor back into the upstream pieces (shares, like Split); equal
    pieces when None."""

    upstream: tuple[str, ...]
    zoo: str
    dim: int = 0
    sizes: tuple[int, ...] | None = None


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


def _format_keys(title: str, keys: Iterable[str], limit: int = 12) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")
    return f"{title} ({len(keys)}): {shown}"


class Converter:
    """The strict conversion, one upstream tensor at a time: `feed` returns the zoo tensors that are complete
    (a fused tensor once all its parts arrived), so a loader can place each into the model and drop it; peak
    memory is about one tensor (and the parts of one fuse), not the checkpoint. `finish` raises one
    CheckpointError listing every problem seen: unused or duplicated keys, incomplete fuses, tied copies that
    differ from their source (compared by digest), non-float weights and, given the model's parameter
    shapes, missing, extra and mis-shaped parameters."""

    def __init__(self, keymap: KeyMap, source: str = "checkpoint") -> None:
        self.keymap = keymap
        self.source = source
        self.origin: dict[str, str] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.unexpected: list[str] = []
        self.duplicated: list[str] = []
        self.not_float: list[str] = []
        self.problems: list[str] = []
        self.fuse_parts: dict[str, dict[int, tuple[str, np.ndarray]]] = {}
        self.fuse_rules: dict[str, Fuse] = {}
        self.tied_copies: dict[str, tuple[str, str]] = {}      # tied zoo name -> (upstream name, digest)
        self.source_digests: dict[str, str] = {}
        self.tied_sources = set(keymap.tied.values())

    @staticmethod
    def _digest(array: np.ndarray) -> str:
        import hashlib

        digest = hashlib.sha256(f"{array.dtype}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).view(np.uint8).reshape(-1).data)
        return digest.hexdigest()

    def _place(self, target: str, piece: np.ndarray, name: str) -> list[tuple[str, np.ndarray]]:
        if target in self.keymap.tied:
            self.tied_copies[target] = (name, self._digest(piece))
            return []
        if target in self.origin:
            self.duplicated.append(f"{target} <- {self.origin[target]} and {name}")
            return []
        self.origin[target] = name
        self.shapes[target] = tuple(piece.shape)
        if piece.dtype.kind != "f":
            self.not_float.append(f"{target}: {piece.dtype} (from {name})")
        if target in self.tied_sources:
            self.source_digests[target] = self._digest(piece)
        return [(target, piece)]

    def feed(self, name: str, tensor: np.ndarray) -> list[tuple[str, np.ndarray]]:
        if self.keymap.is_ignored(name):
            return []
        fused = self.keymap.fuse_for(name)
        if fused is not None:
            rule, index, groups = fused
            target = rule.zoo.format(*groups)
            self.fuse_rules[target] = rule
            parts = self.fuse_parts.setdefault(target, {})
            if index in parts:
                self.duplicated.append(f"{target} <- {parts[index][0]} and {name}")
            parts[index] = (name, tensor)
            if len(parts) < len(rule.upstream):
                return []
            del self.fuse_parts[target]
            names = [parts[i][0] for i in range(len(rule.upstream))]
            try:
                whole = np.concatenate([parts[i][1] for i in range(len(rule.upstream))], axis=rule.dim)
            except ValueError as err:
                self.problems.append(f"cannot fuse {', '.join(names)} into {target}: {err}")
                return []
            return self._place(target, whole, "+".join(names))
        split = self.keymap.split_for(name)
        if split is not None:
            rule, groups = split
            try:
                pieces = rule.pieces(tensor)
            except CheckpointError as err:
                self.problems.append(f"{name}: {err}")
                return []
            out = []
            for pattern, piece in zip(rule.zoo, pieces, strict=True):
                out += self._place(pattern.format(*groups), piece, name)
            return out
        target = self.keymap.zoo_name(name)
        if target is None:
            self.unexpected.append(name)
            return []
        return self._place(target, tensor, name)

    def finish(self, expected: ParamSpec | None = None) -> None:
        problems = list(self.problems)
        for target, parts in self.fuse_parts.items():
            rule = self.fuse_rules[target]
            groups = _pattern_regex(rule.zoo).match(target).groups()
            absent = [p.format(*groups) for i, p in enumerate(rule.upstream) if i not in parts]
            problems.append(f"{target} needs {', '.join(absent)} to fuse with "
                            f"{', '.join(n for n, _ in parts.values())}")
        for target, (name, digest) in self.tied_copies.items():
            source_name = self.keymap.tied[target]
            if source_name in self.source_digests and self.source_digests[source_name] != digest:
                problems.append(f"{name} is declared tied to {self.origin[source_name]} but their values differ")
        if self.unexpected:
            problems.append(_format_keys("unexpected keys", self.unexpected))
        if self.duplicated:
            problems.append(_format_keys("keys set twice", self.duplicated))
        if self.not_float:
            problems.append(_format_keys("not floating-point weights", self.not_float, limit=6))
        if expected is not None:
            missing = sorted(set(expected) - set(self.shapes))
            extra = sorted(set(self.shapes) - set(expected))
            bad_shape = [f"{k}: checkpoint {self.shapes[k]} vs model {tuple(expected[k])} (from {self.origin[k]})"
                         for k in sorted(set(self.shapes) & set(expected)) if self.shapes[k] != tuple(expected[k])]
            if missing:
                problems.append(_format_keys("missing keys", [self.keymap.upstream_name(m) or m for m in missing]))
            if extra:
                problems.append(_format_keys("keys the model has no parameter for", [self.origin[e] for e in extra]))
            if bad_shape:
                problems.append(_format_keys("shape mismatches", bad_shape, limit=6))
        if problems:
            raise CheckpointError(f"{self.source} does not match the model: " + "; ".join(problems))


def to_zoo(upstream: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]], keymap: KeyMap,
           expected: ParamSpec | None, source: str = "checkpoint") -> StateDict:
    """Rename an upstream state dict to zoo names, strictly (Converter, collected into one dict).

    Every upstream tensor is used exactly once (or declared ignored / tied), every expected zoo
    parameter is set exactly once with the expected shape from a float tensor; anything else raises
    one CheckpointError listing every offending key. `expected=None` checks the key table alone (what
    `mindzoo pull` can do before any framework builds the model).
    """
    items = upstream.items() if isinstance(upstream, Mapping) else upstream
    converter = Converter(keymap, source)
    state: StateDict = {}
    for name, tensor in items:
        state.update(converter.feed(name, tensor))
    converter.finish(expected)
    return state


def from_zoo(state: Mapping[str, np.ndarray], keymap: KeyMap) -> StateDict:
    """The inverse of to_zoo: zoo names back to upstream names, fused tensors re-fused / re-split."""
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
        upstream[up_name] = np.concatenate([state[p] for p in parts], axis=rule.dim)
        used.update(parts)
    for rule in keymap.fuses:
        regex = _pattern_regex(rule.zoo)
        for name, tensor in state.items():
            m = regex.match(name)
            if m and name not in used:
                shares = rule.sizes or (1,) * len(rule.upstream)
                unit = tensor.shape[rule.dim] // sum(shares)
                cuts = np.cumsum([unit * s for s in shares])[:-1]
                for pattern, piece in zip(rule.upstream, np.split(tensor, cuts, axis=rule.dim), strict=True):
                    upstream[pattern.format(*m.groups())] = np.ascontiguousarray(piece)
                used.add(name)
    for name, tensor in state.items():
        if name in used:
            continue
        up_name = keymap.upstream_name(name)
        if up_name is None:
            raise CheckpointError(f"zoo parameter {name!r} has no upstream name in the key table")
        upstream[up_name] = tensor
    return upstream


def save_state(state: Mapping[str, np.ndarray], path: str | os.PathLike,
               metadata: Mapping[str, str] | None = None) -> Path:
    """A state dict as safetensors, atomically (see zoo.core.safetensors.save_file)."""
    return safetensors.save_file(state, path, metadata)
