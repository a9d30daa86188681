"""The pull cache: upstream files and their converted (zoo-named) weights, by upstream id + resolved commit.

Layout under the cache root (`--cache-dir`, else $MINDZOO_CACHE, else ~/.cache/mindzoo):

    <source>/<org>--<name>/<commit>/upstream/      the hub's files, verified (config, weights, tokenizer)
    <source>/<org>--<name>/<commit>/zoo/<dtype>.safetensors   converted weights in zoo names
    <source>/<org>--<name>/<commit>/mindzoo.json   manifest: files with sizes and hashes, conversions
    <source>/<org>--<name>/<commit>.partial/       a pull in progress (resumable); renamed when complete
    <source>/<org>--<name>/refs/<revision>         branch / tag -> commit, written after a complete pull
    locks/<source>--<org>--<name>.lock             one pull (or rm) of a model at a time

A commit folder only ever appears by renaming a finished `.partial` folder, so a folder that exists is
complete; files inside are written to a temp file and renamed; nothing cached is overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import torch

from zoo.checkpoint import KeyMap, ParamSpec, to_zoo, weight_files
from zoo.errors import CheckpointError, HubError

MANIFEST = "mindzoo.json"
UPSTREAM = "upstream"
CONVERTED = "zoo"
PARTIAL_SUFFIX = ".partial"
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?$")
OUT_DTYPES = {"keep": None, "fp32": torch.float32, "bf16": torch.bfloat16}


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """--cache-dir, else $MINDZOO_CACHE, else $XDG_CACHE_HOME/mindzoo, else ~/.cache/mindzoo."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get("MINDZOO_CACHE"):
        return Path(os.environ["MINDZOO_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "mindzoo"


def check_repo_id(repo_id: str) -> str:
    """Hub ids become folder names: `org/name` with letters, digits, `-`, `_`, `.`; never `..`."""
    if not REPO_ID_RE.match(repo_id) or ".." in repo_id:
        raise HubError(f"{repo_id!r} is not a model id (expected `org/name`, letters, digits, - _ .)")
    return repo_id


def repo_dir(root: Path, source: str, repo_id: str) -> Path:
    return root / source / check_repo_id(repo_id).replace("/", "--")


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def model_lock(root: Path, source: str, repo_id: str, log: Callable[[str], None] | None = None) -> Iterator[None]:
    """An OS file lock (released by the kernel if the process dies): one pull or rm of a model at a time."""
    from filelock import FileLock, Timeout

    path = root / "locks" / f"{source}--{check_repo_id(repo_id).replace('/', '--')}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        (log or _stderr)(f"waiting for another pull of {repo_id} to finish (lock {path}) ...")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Entries
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CacheEntry:
    """One complete cached commit of one model."""

    source: str
    repo_id: str
    commit: str
    path: Path

    @property
    def upstream(self) -> Path:
        return self.path / UPSTREAM

    def converted(self, dtype: str) -> Path:
        return self.path / CONVERTED / f"{dtype}.safetensors"

    def manifest(self) -> dict:
        try:
            return json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}

    def write_manifest(self, manifest: Mapping) -> None:
        atomic_write_text(self.path / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


def _ref_file(repo: Path, revision: str) -> Path:
    return repo / "refs" / quote(revision, safe="")


def lookup(root: Path, source: str, repo_id: str, revision: str) -> CacheEntry | None:
    """The cached commit for a revision: a commit hash directly, a branch or tag through refs/."""
    repo = repo_dir(root, source, repo_id)
    commit = revision
    if not COMMIT_RE.match(revision):
        ref = _ref_file(repo, revision)
        if not ref.is_file():
            return None
        commit = ref.read_text(encoding="utf-8").strip()
    if not (repo / commit / MANIFEST).is_file():
        return None
    return CacheEntry(source, repo_id, commit, repo / commit)


def entry_for(root: Path, source: str, repo_id: str, commit: str) -> CacheEntry | None:
    path = repo_dir(root, source, repo_id) / commit
    return CacheEntry(source, repo_id, commit, path) if (path / MANIFEST).is_file() else None


def write_ref(root: Path, source: str, repo_id: str, revision: str, commit: str) -> None:
    """Point a branch or tag at a commit (a commit hash needs no ref). Old commits stay in the cache."""
    if revision != commit:
        atomic_write_text(_ref_file(repo_dir(root, source, repo_id), revision), commit + "\n")


def refs_of(repo: Path) -> dict[str, str]:
    """revision -> commit for one model folder."""
    refs = repo / "refs"
    if not refs.is_dir():
        return {}
    return {unquote(p.name): p.read_text(encoding="utf-8").strip() for p in sorted(refs.iterdir())
            if p.is_file() and not p.name.endswith(".tmp")}


@dataclass(frozen=True)
class Listed:
    """A row of `mindzoo cache ls`."""

    source: str
    repo_id: str
    commit: str
    revisions: tuple[str, ...]
    converted: tuple[str, ...]
    size: int
    path: Path
    partial: bool


NOT_SOURCES = ("locks", "kernels")  # cache folders that hold no models (kernels: zoo/ms/cpu_kernels.py)


def list_entries(root: Path) -> list[Listed]:
    rows: list[Listed] = []
    sources = sorted(p for p in root.iterdir() if p.is_dir() and p.name not in NOT_SOURCES) if root.is_dir() else []
    for source_dir in sources:
        for repo in sorted(p for p in source_dir.iterdir() if p.is_dir()):
            refs = refs_of(repo)
            for commit_dir in sorted(p for p in repo.iterdir() if p.is_dir() and p.name != "refs"):
                partial = commit_dir.name.endswith(PARTIAL_SUFFIX)
                commit = commit_dir.name.removesuffix(PARTIAL_SUFFIX)
                if not partial and not (commit_dir / MANIFEST).is_file():
                    continue
                manifest = {} if partial else CacheEntry(source_dir.name, "", commit, commit_dir).manifest()
                rows.append(Listed(
                    source=source_dir.name,
                    repo_id=manifest.get("repo_id") or repo.name.replace("--", "/", 1),
                    commit=commit,
                    revisions=tuple(r for r, c in refs.items() if c == commit),
                    converted=tuple(sorted(manifest.get("converted", {}))),
                    size=sum(p.stat().st_size for p in commit_dir.rglob("*") if p.is_file()),
                    path=commit_dir,
                    partial=partial,
                ))
    return rows


def remove(root: Path, repo_id: str, revision: str | None = None, source: str | None = None) -> list[Path]:
    """Delete a model's cached commits (all, or the one a revision points at) and refs to them."""
    removed: list[Path] = []
    sources = [source] if source else sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != "locks") \
        if root.is_dir() else []
    for src in sources:
        repo = repo_dir(root, src, repo_id)
        if not repo.is_dir():
            continue
        with model_lock(root, src, repo_id):
            refs = refs_of(repo)
            if revision is None:
                shutil.rmtree(repo)
                removed.append(repo)
                continue
            commit = revision if COMMIT_RE.match(revision) else refs.get(revision)
            if commit is None:
                continue
            for folder in (repo / commit, repo / (commit + PARTIAL_SUFFIX)):
                if folder.is_dir():
                    shutil.rmtree(folder)
                    removed.append(folder)
            for name, target in refs.items():
                if target == commit:
                    _ref_file(repo, name).unlink()
    return removed


# ----------------------------------------------------------------------------------------------
# Streaming conversion: upstream checkpoint -> zoo-named safetensors, one tensor in memory at a time
# ----------------------------------------------------------------------------------------------

_ST_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
_ST_NAMES = {v: k for k, v in _ST_DTYPES.items()}


@dataclass(frozen=True)
class _Stored:
    """Where one upstream tensor lives: enough to read it later without holding it."""

    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    path: Path
    begin: int = 0      # absolute byte offsets in a safetensors file
    end: int = 0


def _safetensors_index(path: Path) -> list[_Stored]:
    """Names, shapes, dtypes and byte ranges from a safetensors header, without reading any tensor."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
            if header_len <= 0 or 8 + header_len > size:
                raise ValueError(f"header length {header_len} does not fit a file of {size} bytes")
            header = json.loads(f.read(header_len))
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: unreadable safetensors header ({err}); delete it and pull again") from err
    start = 8 + header_len
    stored = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        if info["dtype"] not in _ST_DTYPES or start + end > size or begin > end:
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {info['dtype']} or byte range "
                                  f"{begin}-{end} past the file's {size - start} data bytes; pull it again")
        stored.append(_Stored(name, tuple(info["shape"]), _ST_DTYPES[info["dtype"]], path, start + begin, start + end))
    return sorted(stored, key=lambda s: s.begin)


def _read(stored: _Stored) -> torch.Tensor:
    """One tensor read with plain file reads (no mmap: its pages would count as resident memory)."""
    buffer = torch.empty(stored.end - stored.begin, dtype=torch.uint8)
    with open(stored.path, "rb") as f:
        f.seek(stored.begin)
        if f.readinto(buffer.numpy()) != buffer.numel():
            raise CheckpointError(f"{stored.path}: tensor {stored.name!r} is truncated; pull it again")
    return buffer.view(stored.dtype).reshape(stored.shape)


def _upstream_tensors(folder: Path) -> tuple[list[_Stored], dict[str, torch.Tensor]]:
    """Every upstream tensor of a folder, safetensors by header; a `.bin` is memory-mapped (weights_only)."""
    stored: list[_Stored] = []
    mapped: dict[str, torch.Tensor] = {}
    for path in weight_files(folder):
        if path.suffix == ".safetensors":
            stored.extend(_safetensors_index(path))
            continue
        from zoo.checkpoint import _iter_bin

        for name, tensor in _iter_bin(path):
            stored.append(_Stored(name, tuple(tensor.shape), tensor.dtype, path))
            mapped[name] = tensor
    names = [s.name for s in stored]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise CheckpointError(f"{folder}: tensors appear in more than one shard: {', '.join(dup[:8])}")
    return stored, mapped


def upstream_names(folder: Path) -> list[str]:
    """Tensor names of a checkpoint folder, from headers only (what a family's keymap() looks at)."""
    return [s.name for s in _upstream_tensors(folder)[0]]


def _placeholder(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A tensor of the right shape and dtype backed by one element, for checking a key table for free."""
    return torch.zeros((), dtype=dtype).expand(shape)


def _targets(keymap: KeyMap, name: str, tensor: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """The (zoo name, piece) pairs an upstream tensor becomes; the same rules as zoo.checkpoint.to_zoo."""
    if keymap.is_ignored(name):
        return []
    split = keymap.split_for(name)
    if split is not None:
        rule, groups = split
        return list(zip([p.format(*groups) for p in rule.zoo], rule.pieces(tensor), strict=True))
    return [(keymap.zoo_name(name), tensor)]


def _out_dtype(dtype: torch.dtype, out: str) -> torch.dtype:
    if out not in OUT_DTYPES:
        raise HubError(f"dtype {out!r}: choose one of {', '.join(OUT_DTYPES)}")
    return OUT_DTYPES[out] if OUT_DTYPES[out] is not None and dtype.is_floating_point else dtype


def _digest(tensor: torch.Tensor) -> str:
    """Hash of dtype and bytes, read in place (no copy of a tensor that may be the largest of the model)."""
    digest = hashlib.sha256(str(tensor.dtype).encode())
    digest.update(tensor.contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def convert_streaming(folder: str | os.PathLike, keymap: KeyMap, expected: ParamSpec, out: str | os.PathLike,
                      dtype: str = "keep", metadata: Mapping[str, str] | None = None,
                      progress: bool = False) -> Path:
    """Write an upstream checkpoint as zoo-named safetensors, tensor by tensor (peak ~ the largest tensor).

    Pass 1 checks the key table strictly (zoo.checkpoint.to_zoo on one-element placeholders: same
    errors, no memory) and lays the output file out from the headers. Pass 2 reads each upstream
    tensor once, renames / splits / casts it and writes it at its offset. Upstream copies of tied
    weights are compared with their source by hash. The file appears atomically (temp + rename).
    """
    from tqdm.auto import tqdm

    folder, out = Path(folder), Path(out)
    stored, mapped = _upstream_tensors(folder)
    to_zoo(((s.name, _placeholder(s.shape, s.dtype)) for s in stored), keymap, expected, source=str(folder))

    layout: dict[str, dict] = {}
    offset = 0
    has_copies = False
    for s in stored:
        for target, piece in _targets(keymap, s.name, _placeholder(s.shape, s.dtype)):
            if target in keymap.tied:
                has_copies = True
                continue
            out_dtype = _out_dtype(piece.dtype, dtype)
            nbytes = piece.numel() * torch.empty((), dtype=out_dtype).element_size()
            layout[target] = {"dtype": _ST_NAMES[out_dtype], "shape": list(piece.shape),
                              "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
    header = json.dumps({"__metadata__": dict(metadata or {}), **layout}, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)

    tied_sources = set(keymap.tied.values()) if has_copies else set()   # hash sources only to compare copies
    digests: dict[str, tuple[str, str]] = {}   # tied source zoo name -> (upstream name, digest)
    copies: list[tuple[str, str, str]] = []   # (upstream name, tied zoo name, digest)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(len(header).to_bytes(8, "little"))
            f.write(header)
            data_start = f.tell()
            for s in tqdm(stored, desc=f"convert {out.name}", unit="tensor", disable=not progress):
                tensor = mapped[s.name] if s.name in mapped else _read(s)
                for target, piece in _targets(keymap, s.name, tensor):
                    if target in keymap.tied:
                        copies.append((s.name, target, _digest(piece)))
                        continue
                    if target in tied_sources:
                        digests[target] = (s.name, _digest(piece))
                    piece = piece.to(_out_dtype(piece.dtype, dtype)).contiguous()
                    assert f.tell() - data_start == layout[target]["data_offsets"][0], target
                    f.write(piece.reshape(-1).view(torch.uint8).numpy())
                del tensor
        differ = [f"{name} is declared tied to {digests[keymap.tied[target]][0]} but their values differ"
                  for name, target, digest in copies if digests[keymap.tied[target]][1] != digest]
        if differ:
            raise CheckpointError(f"{folder} does not match the model: " + "; ".join(differ))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def sha256_file(path: Path, chunk: int = 1 << 23) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def git_blob_sha1(path: Path, chunk: int = 1 << 23) -> str:
    """The git object id of a file: what the hub reports as blobId / ETag for files not in LFS."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
