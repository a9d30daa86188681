"""The pull cache: upstream files by upstream id + resolved commit (loading converts them: zoo.models).

Layout under the cache root (`--cache-dir`, else $MINDZOO_CACHE, else ~/.cache/mindzoo):

    <source>/<org>--<name>/<commit>/upstream/      the hub's files, verified (config, weights, tokenizer)
    <source>/<org>--<name>/<commit>/mindzoo.json   manifest: files with sizes and hashes, the family
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

from zoo.core.errors import HubError
from zoo.core.paths import cache_root  # noqa: F401 - callers use cache.cache_root

MANIFEST = "mindzoo.json"
UPSTREAM = "upstream"
PARTIAL_SUFFIX = ".partial"
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?$")


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
    family: str
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
                    family=str(manifest.get("family") or ""),
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
