"""`mindzoo pull`: fetch a checkpoint (hub, mirror, ModelScope or a local folder), verify it, cache it.

    result = pull("distilbert-sst2")                      # registry name, hub id, or `id@revision`
    result = pull("allenai/DataDecide-dolma1_7-1B", revision="step1000-seed-default")
    result.folder        # upstream files: config.json, weights, tokenizer

The cache holds the upstream files only: loading converts them to zoo names on the way into a model
(zoo.models), so there is one copy of the weights and nothing that a loader would not read. A pull
checks that conversion without running it: the family reads the config, and its key table places every
tensor named in the weight headers exactly once.

Downloads go through the real `huggingface_hub` client (HF_ENDPOINT for mirrors, HF_TOKEN, resumable
`.incomplete` files), pinned to the commit the revision resolved to, so every file of a pull comes
from one commit. Each file is checked against the hub's metadata (size; sha256 for LFS files, git
blob id for the others), re-fetched once if it fails, then refused. Only config, weights (safetensors
first; `.bin` only without safetensors, read with weights_only) and tokenizer files are fetched:
never code, so nothing from a repository is ever executed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from zoo.core.checkpoint import BIN_INDEX, BIN_SINGLE, SAFETENSORS_INDEX, SAFETENSORS_SINGLE
from zoo.core.errors import CheckpointError, ConfigError, HubError
from zoo.hub import cache

SOURCES = ("hf", "modelscope", "local")
DEFAULT_ENDPOINT = "https://huggingface.co"
# Files a model folder needs besides its weights; anything else in a repository is left on the hub.
EXTRA_FILES = (
    "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt", "tokenizer.model", "spiece.model",
    "sentencepiece.bpe.model", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
    "1_Pooling/config.json",
)
TRANSIENT_RETRIES = 3   # dropped connections: each retry resumes the `.incomplete` file


Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _is_true(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE), read when asked, not at import."""
    return _is_true(os.environ.get("HF_HUB_OFFLINE")) or _is_true(os.environ.get("TRANSFORMERS_OFFLINE"))


def endpoint() -> str:
    """The hub or mirror to talk to: HF_ENDPOINT (e.g. https://hf-mirror.com), read when asked."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _token() -> str | None:
    return os.environ.get("HF_TOKEN") or None


# ----------------------------------------------------------------------------------------------
# What the user named
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str          # as typed: registry name, hub id, or id@revision
    repo_id: str
    revision: str
    registry_name: str | None = None


def parse_target(model: str, revision: str | None = None) -> Target:
    """A registry name (its upstream id and revision), `org/name`, or `org/name@revision`."""
    from zoo import registry

    base, _, at_revision = model.partition("@")
    if at_revision and revision and at_revision != revision:
        raise HubError(f"{model}: names revision {at_revision!r} but --revision is {revision!r}; give one")
    revision = revision or at_revision or None
    entry = registry.get(base)
    if entry is not None:
        return Target(model, entry.upstream, revision or entry.revision, entry.name)
    cache.check_repo_id(base)
    return Target(model, base, revision or "main")


def check_filename(name: str) -> str:
    """A file name from a hub listing or shard index: relative, no `..`, no backslashes, nothing odd."""
    parts = PurePosixPath(name).parts
    if (not name or name.startswith(("/", "~")) or "\\" in name or "\0" in name or re.match(r"^[A-Za-z]:", name)
            or any(p in ("", ".", "..") for p in parts) or name != "/".join(parts)):
        raise HubError(f"refusing file name {name!r} from the hub: it could write outside the cache")
    return name


@dataclass(frozen=True)
class RemoteFile:
    """A file as the hub describes it; size and hashes are None where the hub gives none."""

    name: str
    size: int | None = None
    sha256: str | None = None     # LFS files: the LFS object id (also their ETag)
    git_sha1: str | None = None   # other files: the git blob id (also their ETag)


def select_files(listing: Mapping[str, RemoteFile]) -> tuple[list[str], str | None, list[str]]:
    """(metadata files, shard index or None, single weight file or []) for a model folder.

    safetensors first; a pickled `.bin` only when the repository has no safetensors at all.
    """
    if "config.json" not in listing:
        raise HubError("the repository has no config.json: it is not a transformers model folder")
    meta = ["config.json"] + [f for f in EXTRA_FILES if f in listing]
    for index, single in ((SAFETENSORS_INDEX, SAFETENSORS_SINGLE), (BIN_INDEX, BIN_SINGLE)):
        if index in listing:
            return meta, index, []
        if single in listing:
            return meta, None, [single]
    shown = ", ".join(sorted(listing)[:12])
    raise HubError(f"the repository has no weights this zoo reads ({SAFETENSORS_SINGLE}, {SAFETENSORS_INDEX}, "
                   f"{BIN_SINGLE}, {BIN_INDEX}); it has: {shown}")


def shards_of(index_path: Path, listing: Mapping[str, RemoteFile]) -> list[str]:
    try:
        weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise HubError(f"{index_path.name}: unreadable shard index ({err})") from err
    shards = sorted({check_filename(s) for s in weight_map.values()})
    missing = [s for s in shards if s not in listing]
    if missing:
        raise HubError(f"{index_path.name} names shards the repository does not have: {', '.join(missing)}")
    return shards


def verify(path: Path, remote: RemoteFile) -> str | None:
    """None if the file matches what the hub said; else what is wrong."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        return f"size {size} bytes, the hub says {remote.size}"
    if remote.sha256:
        got = cache.sha256_file(path)
        if got != remote.sha256:
            return f"sha256 {got}, the hub says {remote.sha256}"
    elif remote.git_sha1:
        got = cache.git_blob_sha1(path)
        if got != remote.git_sha1:
            return f"git blob id {got}, the hub says {remote.git_sha1}"
    return None


# ----------------------------------------------------------------------------------------------
# Sources: each turns (target) into (commit, listing) and can fetch one file into a folder
# ----------------------------------------------------------------------------------------------


class HFSource:
    """The Hugging Face hub or a mirror of it (HF_ENDPOINT), through huggingface_hub."""

    name = "hf"

    def __init__(self) -> None:
        from huggingface_hub import HfApi

        self.endpoint = endpoint()
        self.api = HfApi(endpoint=self.endpoint, token=_token())

    def _error(self, err: Exception, target: Target, what: str = "") -> HubError:
        from huggingface_hub import errors as hf_errors

        where = f"{target.repo_id} on {self.endpoint}"
        if isinstance(err, hf_errors.GatedRepoError):
            if _token():
                return HubError(f"{where} is gated, and HF_TOKEN is set, but its account has no access: accept "
                                "the model's terms on its hub page with that account (or use another token)")
            return HubError(f"{where} is gated: accept its terms on the hub, then set HF_TOKEN to an access token "
                            "of that account")
        if isinstance(err, hf_errors.RevisionNotFoundError):
            return HubError(f"{where} has no revision {target.revision!r}; list branches, tags and commits "
                            f"with `mindzoo revisions {target.repo_id}`")
        if isinstance(err, hf_errors.RepositoryNotFoundError):
            return HubError(f"model {target.repo_id!r} not found on {self.endpoint} (check the id, see "
                            "`mindzoo list`; a private model needs HF_TOKEN)")
        if isinstance(err, hf_errors.EntryNotFoundError):
            return HubError(f"{where}@{target.revision}: file {what} is listed but cannot be downloaded")
        if isinstance(err, hf_errors.OfflineModeIsEnabled):
            return offline_error(target)
        return HubError(f"cannot fetch {what or 'metadata'} of {where}@{target.revision}: "
                        f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")

    def resolve(self, target: Target) -> tuple[str, dict[str, RemoteFile]]:
        """The commit a revision points at now, and every file of that commit with sizes and hashes."""
        import requests
        from huggingface_hub import errors as hf_errors

        try:
            info = self.api.model_info(target.repo_id, revision=target.revision, files_metadata=True)
        except (hf_errors.HfHubHTTPError, requests.RequestException, hf_errors.OfflineModeIsEnabled) as err:
            raise self._error(err, target) from err
        if not info.sha:
            raise HubError(f"{self.endpoint} gave no commit for {target.repo_id}@{target.revision}")
        listing = {}
        for s in info.siblings or []:
            listing[s.rfilename] = RemoteFile(s.rfilename, s.lfs.size if s.lfs else s.size,
                                              s.lfs.sha256 if s.lfs else None, None if s.lfs else s.blob_id)
        return info.sha, listing

    def fetch(self, target: Target, commit: str, remote: RemoteFile, folder: Path, force: bool = False) -> Path:
        """One file into `folder`, resuming a partial download; transient network errors are retried."""
        import requests
        from huggingface_hub import errors as hf_errors
        from huggingface_hub import hf_hub_download

        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                return Path(hf_hub_download(target.repo_id, remote.name, revision=commit, local_dir=folder,
                                            endpoint=self.endpoint, token=_token(), force_download=force))
            except hf_errors.OfflineModeIsEnabled as err:
                raise offline_error(target) from err
            except (hf_errors.LocalEntryNotFoundError, requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as err:
                if attempt == TRANSIENT_RETRIES:
                    raise HubError(f"cannot download {remote.name} of {target.repo_id}@{commit} from "
                                   f"{self.endpoint} after {attempt + 1} tries: {type(err).__name__}") from err
                _stderr(f"  {remote.name}: {type(err).__name__}; resuming ...")
                force = False   # keep what arrived: the `.incomplete` file resumes with a Range request
                time.sleep(0.2 * (attempt + 1))
            except (hf_errors.HfHubHTTPError, requests.RequestException) as err:
                raise self._error(err, target, remote.name) from err
            except OSError as err:   # the client's own size check ("Consistency check failed")
                raise _Mismatch(str(err).splitlines()[0]) from err
        raise AssertionError("unreachable")

    def forget(self, remote: RemoteFile, folder: Path) -> None:
        """Drop a bad file and the client's bookkeeping for it, so the next fetch starts clean."""
        (folder / remote.name).unlink(missing_ok=True)
        (folder / ".cache" / "huggingface" / "download" / f"{remote.name}.metadata").unlink(missing_ok=True)

    def revisions(self, repo_id: str) -> list[tuple[str, str, str]]:
        import requests
        from huggingface_hub import errors as hf_errors

        try:
            refs = self.api.list_repo_refs(repo_id)
        except (hf_errors.HfHubHTTPError, requests.RequestException, hf_errors.OfflineModeIsEnabled) as err:
            raise self._error(err, Target(repo_id, repo_id, "main")) from err
        rows = [("branch", r.name, r.target_commit) for r in refs.branches]
        rows += [("tag", r.name, r.target_commit) for r in refs.tags]
        return sorted(rows, key=lambda r: (r[0], _natural(r[1])))


class _Mismatch(Exception):
    """A downloaded file that does not match the hub's metadata."""


def _natural(name: str) -> list:
    """step2-seed-default < step10-seed-default."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


class ModelScopeSource:
    """ModelScope through the optional `modelscope` package (`pip install mindzoo[modelscope]`)."""

    name = "modelscope"

    def __init__(self) -> None:
        try:
            from modelscope.hub.api import HubApi
            from modelscope.hub.snapshot_download import snapshot_download
        except ImportError as err:
            raise HubError("--source modelscope needs the modelscope package: pip install 'mindzoo[modelscope]'") \
                from err
        self.api = HubApi()
        self.snapshot_download = snapshot_download

    def resolve(self, target: Target) -> tuple[str, dict[str, RemoteFile]]:
        """ModelScope lists files with sizes and sha256; the commit id is derived from that content."""
        import hashlib

        try:
            files = self.api.get_model_files(model_id=target.repo_id, revision=target.revision, recursive=True)
        except Exception as err:  # modelscope raises its own NotExistError, HTTPError, ValueError ...
            raise HubError(f"ModelScope: cannot list {target.repo_id}@{target.revision}: "
                           f"{type(err).__name__}: {err}") from err
        listing = {f["Path"]: RemoteFile(f["Path"], f.get("Size"), f.get("Sha256")) for f in files
                   if f.get("Type") != "tree"}
        content = "\n".join(f"{n} {r.sha256} {r.size}" for n, r in sorted(listing.items()))
        return hashlib.sha1(content.encode(), usedforsecurity=False).hexdigest(), listing

    def fetch(self, target: Target, commit: str, remote: RemoteFile, folder: Path, force: bool = False) -> Path:
        try:
            self.snapshot_download(target.repo_id, revision=target.revision, local_dir=str(folder),
                                   allow_patterns=[remote.name])
        except Exception as err:
            raise HubError(f"ModelScope: cannot download {remote.name} of {target.repo_id}@{target.revision}: "
                           f"{type(err).__name__}: {err}") from err
        return folder / remote.name

    def forget(self, remote: RemoteFile, folder: Path) -> None:
        (folder / remote.name).unlink(missing_ok=True)


class LocalSource:
    """A folder fetched elsewhere (e.g. `huggingface-cli download ID --local-dir DIR` on another machine).

    Files are copied into the cache. If the folder holds huggingface_hub's download metadata
    (`.cache/huggingface/download/*.metadata`), its commit and ETags are used: the copy is verified
    like a download. Otherwise the commit id is a hash of the files' contents.
    """

    name = "local"

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder).expanduser()
        if not (self.folder / "config.json").is_file():
            raise HubError(f"--from {folder}: not a model folder (no config.json)")

    def _metadata(self) -> dict[str, tuple[str, str]]:
        meta_dir = self.folder / ".cache" / "huggingface" / "download"
        found = {}
        for path in meta_dir.rglob("*.metadata") if meta_dir.is_dir() else []:
            lines = path.read_text(encoding="utf-8").splitlines()
            if len(lines) >= 2:
                found[path.relative_to(meta_dir).as_posix().removesuffix(".metadata")] = (lines[0], lines[1])
        return found

    def resolve(self, target: Target) -> tuple[str, dict[str, RemoteFile]]:
        meta = self._metadata()
        listing = {}
        for path in sorted(self.folder.rglob("*")):
            rel = path.relative_to(self.folder).as_posix()
            if not path.is_file() or rel.startswith(".cache/"):
                continue
            etag = meta.get(rel, ("", ""))[1]
            sha256 = etag if re.fullmatch(r"[0-9a-f]{64}", etag) else None
            git_sha1 = etag if re.fullmatch(r"[0-9a-f]{40}", etag) else None
            listing[rel] = RemoteFile(rel, path.stat().st_size, sha256, git_sha1)
        commits = {c for c, _ in meta.values()}
        if len(commits) == 1 and cache.COMMIT_RE.match(next(iter(commits))):
            return commits.pop(), listing
        import hashlib

        content = hashlib.sha1(usedforsecurity=False)
        for name in sorted(listing):
            content.update(f"{name} {cache.sha256_file(self.folder / name)}\n".encode())
        return content.hexdigest(), listing

    def fetch(self, target: Target, commit: str, remote: RemoteFile, folder: Path, force: bool = False) -> Path:
        dest = folder / remote.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".incomplete")
        shutil.copyfile(self.folder / remote.name, tmp)
        os.replace(tmp, dest)
        return dest

    def forget(self, remote: RemoteFile, folder: Path) -> None:
        (folder / remote.name).unlink(missing_ok=True)


def make_source(source: str, local_folder: str | os.PathLike | None = None):
    if source == "hf":
        return HFSource()
    if source == "modelscope":
        return ModelScopeSource()
    if source == "local":
        if local_folder is None:
            raise HubError("--source local needs --from FOLDER (a model folder fetched elsewhere)")
        return LocalSource(local_folder)
    raise HubError(f"source {source!r}: choose one of {', '.join(SOURCES)}")


# ----------------------------------------------------------------------------------------------
# Pull
# ----------------------------------------------------------------------------------------------


def offline_error(target: Target, root: Path | None = None) -> HubError:
    where = f" (cache: {root})" if root else ""
    return HubError(
        f"{target.name} ({target.repo_id}@{target.revision}) is not in the cache{where} and HF_HUB_OFFLINE is set. "
        f"On a machine with network run `huggingface-cli download {target.repo_id} --revision {target.revision} "
        f"--local-dir DIR` (or `mindzoo pull {target.repo_id} --revision {target.revision}`), copy DIR here, then "
        f"`mindzoo pull {target.name} --source local --from DIR --revision {target.revision}`"
    )


@dataclass(frozen=True)
class PullResult:
    target: Target
    entry: cache.CacheEntry
    checked: str | None       # check_conversion's summary (None: not checked)
    downloaded: bool          # False when the cache already had this commit

    @property
    def folder(self) -> Path:
        return self.entry.upstream


def _fetch_verified(src, target: Target, commit: str, remote: RemoteFile, folder: Path, log: Log) -> None:
    """Fetch, verify; on a mismatch drop the file and fetch it once more; then refuse."""
    for attempt in (1, 2):
        try:
            path = src.fetch(target, commit, remote, folder, force=attempt == 2)
            problem = verify(path, remote)
        except _Mismatch as err:
            problem = str(err)
        if problem is None:
            return
        src.forget(remote, folder)
        if attempt == 1:
            log(f"  {remote.name}: {problem}; fetching it again")
    raise HubError(f"{target.repo_id}@{commit}: {remote.name} failed verification twice ({problem}); "
                   "the download is corrupted or the mirror serves a different file: nothing was cached")


def _family_check(folder: Path) -> str:
    """The zoo family of a downloaded config.json, before any weights are fetched."""
    from zoo.core.checkpoint import read_config
    from zoo.families import family_for

    try:
        return family_for(read_config(folder)).name
    except ConfigError as err:
        raise HubError(f"{err}; pull with --no-check to download it anyway") from err


def check_conversion(folder: Path) -> str:
    """What loading will do, without a framework or reading a tensor: the family reads config.json, and its
    key table places every tensor of the weight headers exactly once. Returns a one-line summary."""
    import numpy as np

    from zoo.core.checkpoint import read_config, to_zoo, weight_files
    from zoo.core.safetensors import read_header
    from zoo.families import family_for

    raw = read_config(folder)
    family = family_for(raw)
    config = family.read_config(raw, folder, None)
    stored = [s for path in weight_files(folder) if path.suffix == ".safetensors" for s in read_header(path)[0]]
    if not stored:      # a pickled .bin: its names need torch; loading checks it
        return f"{family.name} family; weights are a pickled .bin, checked when loaded"
    placeholders = ((s.name, np.broadcast_to(np.zeros((), np.float32 if s.is_float else np.int64), s.shape))
                    for s in stored)
    state = to_zoo(placeholders, family.keymap(config, [s.name for s in stored]), None, source=str(folder))
    return f"{family.name} family; {len(stored)} upstream tensors -> {len(state)} zoo parameters"


def pull(model: str, revision: str | None = None, source: str = "hf", cache_dir: str | os.PathLike | None = None,
         check: bool = True, local_folder: str | os.PathLike | None = None, log: Log = _stderr) -> PullResult:
    """Fetch, verify and cache one model at one revision; a cached commit is not fetched again.

    check: refuse, before the weights are fetched, a config no family reads, and after, weights the
    family's key table cannot place (check_conversion); False only downloads and verifies.
    """
    target = parse_target(model, revision)
    root = cache.cache_root(cache_dir)

    if source != "local" and offline():
        entry = cache.lookup(root, source, target.repo_id, target.revision)
        if entry is None:
            raise offline_error(target, root)
        return PullResult(target, entry, _checked(entry, check), False)

    src = make_source(source, local_folder)
    commit, listing = src.resolve(target)
    with cache.model_lock(root, source, target.repo_id, log):
        entry = cache.entry_for(root, source, target.repo_id, commit)
        downloaded = entry is None
        if entry is None:
            entry = _download(src, target, commit, listing, root, source, check=check, log=log)
        cache.write_ref(root, source, target.repo_id, target.revision, commit)
    return PullResult(target, entry, _checked(entry, check), downloaded)


def _checked(entry: cache.CacheEntry, check: bool) -> str | None:
    if not check:
        return None
    try:
        return check_conversion(entry.upstream)
    except (CheckpointError, ConfigError) as err:
        raise HubError(f"{entry.repo_id}@{entry.commit}: cached, but the zoo cannot load it: {err}") from err


def _download(src, target: Target, commit: str, listing: Mapping[str, RemoteFile], root: Path, source: str,
              check: bool, log: Log) -> cache.CacheEntry:
    """Into `<commit>.partial/`, verified file by file, then renamed to `<commit>/` in one step."""
    repo = cache.repo_dir(root, source, target.repo_id)
    final = repo / commit
    staging = repo / (commit + cache.PARTIAL_SUFFIX)
    upstream = staging / cache.UPSTREAM
    upstream.mkdir(parents=True, exist_ok=True)
    try:
        meta, index, singles = select_files(listing)
    except HubError as err:
        raise HubError(f"{target.repo_id}@{target.revision}: {err}") from err
    for name in [*meta, *([index] if index else []), *singles]:
        check_filename(name)
    log(f"pulling {target.repo_id}@{target.revision} (commit {commit[:10]}) from {source} into {final}")

    _fetch_verified(src, target, commit, listing["config.json"], upstream, log)
    family = _family_check(upstream) if check else None
    names = list(meta[1:])
    if index:
        _fetch_verified(src, target, commit, listing[index], upstream, log)
        names += [index, *shards_of(upstream / index, listing)]
    else:
        names += singles
    for name in names:
        if name != index:
            _fetch_verified(src, target, commit, listing[name], upstream, log)

    shutil.rmtree(upstream / ".cache", ignore_errors=True)   # huggingface_hub's local-dir bookkeeping
    files = {}
    for name in ["config.json", *names]:
        remote = listing[name]
        files[name] = {"size": (upstream / name).stat().st_size, "sha256": remote.sha256,
                       "git_sha1": remote.git_sha1}
    manifest = {"repo_id": target.repo_id, "commit": commit, "source": source, "family": family,
                "endpoint": getattr(src, "endpoint", None) or str(getattr(src, "folder", "")) or None,
                "pulled_at": datetime.now(UTC).isoformat(timespec="seconds"), "files": files}
    partial_entry = cache.CacheEntry(source, target.repo_id, commit, staging)
    partial_entry.write_manifest(manifest)
    os.rename(staging, final)
    return cache.CacheEntry(source, target.repo_id, commit, final)


# ----------------------------------------------------------------------------------------------
# Lookups without network
# ----------------------------------------------------------------------------------------------


def cached_folder(model: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The upstream folder of a pulled model (any source), or a HubError saying how to get it."""
    target = parse_target(model)
    root = cache.cache_root(cache_dir)
    for source in SOURCES:
        entry = cache.lookup(root, source, target.repo_id, target.revision)
        if entry is not None:
            return entry.upstream
    if offline():
        raise offline_error(target, root)
    raise HubError(f"{target.name} ({target.repo_id}@{target.revision}) is not in the cache ({root}); "
                   f"fetch it with `mindzoo pull {target.name}`, or pass a model folder")


def revisions(model: str) -> list[tuple[str, str, str]]:
    """(kind, name, commit) of every branch and tag, from the hub API."""
    if offline():
        raise HubError("HF_HUB_OFFLINE is set: listing revisions needs the hub; unset it or ask on a "
                       "machine with network")
    return HFSource().revisions(parse_target(model).repo_id)


def describe_size(nbytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} GB"
