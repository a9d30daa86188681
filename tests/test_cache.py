"""The pull cache on its own: layout, refs, listing, removal, locks, verification hashes."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

import zoo.hub.fetch as hub
from zoo.core.errors import HubError
from zoo.hub import cache

COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


def _fake_entry(root: Path, repo_id: str, commit: str, partial: bool = False) -> Path:
    folder = cache.repo_dir(root, "hf", repo_id) / (commit + (cache.PARTIAL_SUFFIX if partial else ""))
    (folder / cache.UPSTREAM).mkdir(parents=True)
    (folder / cache.UPSTREAM / "config.json").write_text("{}")
    if not partial:
        cache.CacheEntry("hf", repo_id, commit, folder).write_manifest({"repo_id": repo_id, "family": "bert"})
    return folder


def test_cache_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("MINDZOO_CACHE", str(tmp_path / "env"))
    assert cache.cache_root(tmp_path / "arg") == tmp_path / "arg"
    assert cache.cache_root() == tmp_path / "env"
    monkeypatch.delenv("MINDZOO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "mindzoo"


@pytest.mark.parametrize("bad", ["../x", "a/b/c", "/abs", "a/..", "a b/c", ""])
def test_repo_ids_that_could_escape_are_refused(bad):
    with pytest.raises(HubError, match="is not a model id"):
        cache.check_repo_id(bad)


def test_refs_lookup_list_and_remove(tmp_path):
    repo_id = "org/model"
    _fake_entry(tmp_path, repo_id, COMMIT_A)
    _fake_entry(tmp_path, repo_id, COMMIT_B)
    _fake_entry(tmp_path, repo_id, "c" * 40, partial=True)
    cache.write_ref(tmp_path, "hf", repo_id, "main", COMMIT_A)
    cache.write_ref(tmp_path, "hf", repo_id, "feature/x", COMMIT_A)   # a slash in a branch name
    cache.write_ref(tmp_path, "hf", repo_id, "step-100", COMMIT_B)
    cache.write_ref(tmp_path, "hf", repo_id, COMMIT_B, COMMIT_B)        # a commit needs no ref
    assert cache.lookup(tmp_path, "hf", repo_id, "feature/x").commit == COMMIT_A
    assert cache.lookup(tmp_path, "hf", repo_id, COMMIT_B).commit == COMMIT_B
    assert cache.lookup(tmp_path, "hf", repo_id, "c" * 40) is None            # partial: not a cache hit
    assert cache.lookup(tmp_path, "hf", repo_id, "nope") is None
    rows = {r.commit: r for r in cache.list_entries(tmp_path)}
    assert sorted(rows[COMMIT_A].revisions) == ["feature/x", "main"] and rows[COMMIT_A].family == "bert"
    assert rows["c" * 40].partial and not rows[COMMIT_A].partial

    removed = cache.remove(tmp_path, repo_id, "main")
    assert removed == [cache.repo_dir(tmp_path, "hf", repo_id) / COMMIT_A]
    assert cache.refs_of(cache.repo_dir(tmp_path, "hf", repo_id)) == {"step-100": COMMIT_B}
    assert cache.lookup(tmp_path, "hf", repo_id, COMMIT_B) is not None           # untouched
    assert cache.remove(tmp_path, repo_id, "main") == []
    assert cache.remove(tmp_path, repo_id) == [cache.repo_dir(tmp_path, "hf", repo_id)]
    assert cache.list_entries(tmp_path) == []


def test_atomic_write_leaves_no_temp_files(tmp_path):
    cache.atomic_write_text(tmp_path / "d" / "f.json", "one")
    cache.atomic_write_text(tmp_path / "d" / "f.json", "two")
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["f.json"]
    assert (tmp_path / "d" / "f.json").read_text() == "two"


def test_model_lock_serialises_two_holders(tmp_path):
    events: list[str] = []
    held = threading.Event()

    def first() -> None:
        with cache.model_lock(tmp_path, "hf", "org/model"):
            events.append("first in")
            held.set()
            time.sleep(0.5)
            events.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    with cache.model_lock(tmp_path, "hf", "org/model", log=lambda m: events.append("waiting")):
        events.append("second in")
    thread.join()
    assert events == ["first in", "waiting", "first out", "second in"]


def test_verification_hashes(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"hello zoo\n" * 1000)
    git = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True)
    if git.returncode == 0:
        assert cache.git_blob_sha1(path) == git.stdout.strip()
    assert cache.git_blob_sha1(path) == "b148041ac3bd4b8dd820d7de3b5f9780f364fdc0"
    sha = cache.sha256_file(path)
    assert hub.verify(path, hub.RemoteFile("f.bin", 10000, sha256=sha)) is None
    assert hub.verify(path, hub.RemoteFile("f.bin", 10001)) == "size 10000 bytes, the hub says 10001"
    assert hub.verify(path, hub.RemoteFile("f.bin", 10000, sha256="0" * 64)).startswith(f"sha256 {sha}")
    assert hub.verify(path, hub.RemoteFile("f.bin", None, git_sha1="0" * 40)).startswith("git blob id b148041a")


def test_file_selection_prefers_safetensors():
    def listing(*names):
        return {n: hub.RemoteFile(n) for n in names}

    meta, index, singles = hub.select_files(listing("config.json", "pytorch_model.bin", "model.safetensors",
                                                    "vocab.txt", "modeling_x.py", "tf_model.h5"))
    assert (meta, index, singles) == (["config.json", "vocab.txt"], None, ["model.safetensors"])
    assert hub.select_files(listing("config.json", "pytorch_model.bin"))[2] == ["pytorch_model.bin"]
    assert hub.select_files(listing("config.json", "model.safetensors.index.json", "pytorch_model.bin"))[1] == \
        "model.safetensors.index.json"
    with pytest.raises(HubError, match="no weights this zoo reads"):
        hub.select_files(listing("config.json", "tf_model.h5"))
    with pytest.raises(HubError, match="no config.json"):
        hub.select_files(listing("model.safetensors"))


def test_targets_from_registry_names_and_ids():
    t = hub.parse_target("distilbert-sst2")
    assert (t.repo_id, t.revision, t.registry_name) == (
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "main", "distilbert-sst2")
    assert hub.parse_target("org/m@step-10").revision == "step-10"
    assert hub.parse_target("org/m", revision="v2").revision == "v2"
    with pytest.raises(HubError, match="names revision 'a' but --revision is 'b'"):
        hub.parse_target("org/m@a", revision="b")
