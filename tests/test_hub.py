"""`mindzoo pull` against a fake hub on 127.0.0.1, with the real huggingface_hub client doing the downloads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from fakehub import FakeHub

import zoo.hub.fetch as hub
from zoo.core.checkpoint import load_tensors, to_zoo
from zoo.core.errors import HubError
from zoo.families.bert import tiny
from zoo.families.tiny import perturb_
from zoo.hub import cache

SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"   # registry name: distilbert-sst2
BIN_ONLY = "fake-org/tiny-bert-bin"
OLMO = "fake-org/tiny-hf-olmo"
EVIL = "fake-org/evil-index"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def fake_hub(tmp_path_factory):
    """One server for the session: SST-2-named DistilBERT at three commits, a .bin-only BERT, an hf_olmo
    checkpoint on a DataDecide-style branch, and a repository whose shard index tries to escape."""
    import transformers

    root = tmp_path_factory.mktemp("fakehub")
    hub_ = FakeHub().start()
    old = tiny.distilbert_classifier(root / "old", seed=3)
    new = tiny.distilbert_classifier(root / "new", seed=4)
    transformers.AutoModelForSequenceClassification.from_pretrained(new).save_pretrained(
        root / "sharded", max_shard_size="40KB")
    commits = {
        "v1": hub_.add_folder(SST2, old, branches=("step1000-seed-default",), tags=("v1.0",)),
        "main": hub_.add_folder(SST2, new, extra={"vocab.txt": b"[PAD]\n[UNK]\nhello\n",
                                                  "modeling_evil.py": b"raise SystemExit('never run')\n",
                                                  "README.md": b"# tiny\n"}),
        "sharded": hub_.add_folder(SST2, root / "sharded", branches=()),
    }
    bert = tiny.bert_classifier(root / "bert")
    model = transformers.AutoModelForSequenceClassification.from_pretrained(bert)
    model.save_pretrained(root / "bert-bin", safe_serialization=False)
    commits["bin"] = hub_.add_folder(BIN_ONLY, root / "bert-bin")
    commits["olmo"] = hub_.add_folder(OLMO, _hf_olmo_tiny(root / "olmo"), branches=("step20-seed-default",))
    hub_.add_commit(EVIL, {"config.json": (old / "config.json").read_bytes(),
                           "model.safetensors.index.json": json.dumps(
                               {"metadata": {}, "weight_map": {"a": "../../escape.safetensors"}}).encode()})
    hub_.commits = commits
    hub_.folders = {"old": old, "new": new, "bert": bert}
    yield hub_
    hub_.stop()


def _hf_olmo_tiny(folder: Path) -> Path:
    """A tiny checkpoint written by hf_olmo itself (the upstream code of the DataDecide models).

    MindSpore is imported first: hf_olmo pulls in google.cloud.storage's protobuf, after which
    MindSpore's own protobuf descriptors fail to load (see zoo/families/olmo).
    """
    import importlib

    import mindspore  # noqa: F401 - import order, see above

    hf_olmo = importlib.import_module("hf_olmo")
    OLMoConfig, OLMoForCausalLM = hf_olmo.OLMoConfig, hf_olmo.OLMoForCausalLM

    torch.manual_seed(0)
    config = OLMoConfig(d_model=32, n_heads=4, n_layers=2, mlp_ratio=2, vocab_size=64, embedding_size=64,
                        max_sequence_length=32, weight_tying=False, init_device="cpu")
    perturb_(OLMoForCausalLM(config)).save_pretrained(str(folder), safe_serialization=True)
    return folder


@pytest.fixture
def online(fake_hub, tmp_path, monkeypatch):
    """HF_ENDPOINT at the fake hub, a fresh cache, and the client online (conftest sets HF_HUB_OFFLINE=1
    before huggingface_hub is imported, which freezes it into the client's constants)."""
    import huggingface_hub.constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setenv("HF_ENDPOINT", fake_hub.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("MINDZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    reset_sessions()
    fake_hub.log.clear()
    fake_hub.faults.clear()
    yield fake_hub
    reset_sessions()


def _expected_zoo(folder: Path, keymap_folder: Path | None = None) -> dict[str, np.ndarray]:
    from zoo.models import expected_params, resolve

    spec = resolve(keymap_folder or folder)
    upstream = load_tensors(folder)
    return to_zoo(upstream, spec.family.keymap(spec.config, upstream.keys()), expected_params(spec))


def _assert_loads_as(folder: Path, expected: dict[str, np.ndarray]) -> None:
    """What the zoo's loaders read from a pulled folder: the source checkpoint's weights, bit for bit."""
    from zoo.models import resolve, zoo_state

    got = zoo_state(resolve(folder))
    assert sorted(got) == sorted(expected)
    for name, array in expected.items():
        assert got[name].dtype == array.dtype and np.array_equal(got[name], array), name


def test_pull_branch_tag_and_commit(online):
    commits = online.commits
    main = hub.pull("distilbert-sst2")
    assert main.downloaded and main.entry.commit == commits["main"]
    assert sorted(p.name for p in main.folder.iterdir()) == ["config.json", "model.safetensors", "vocab.txt"]
    _assert_loads_as(main.folder, _expected_zoo(online.folders["new"]))
    assert main.checked == "bert family; 40 upstream tensors -> 40 zoo parameters"
    fetched = {r["path"].rsplit("/", 1)[-1] for r in online.requests("HEAD", "/resolve/")}
    assert fetched == {"config.json", "vocab.txt", "model.safetensors"}   # never the .py, never the README
    assert all(f"/resolve/{commits['main']}/" in r["path"] for r in online.requests(contains="/resolve/"))

    tag = hub.pull(f"{SST2}@v1.0")
    assert tag.entry.commit == commits["v1"]
    _assert_loads_as(tag.folder, _expected_zoo(online.folders["old"]))

    by_commit = hub.pull(SST2, revision=commits["sharded"])
    assert by_commit.entry.commit == commits["sharded"]
    assert (by_commit.folder / "model.safetensors.index.json").is_file()
    shards = sorted(p.name for p in by_commit.folder.glob("model-*.safetensors"))
    assert len(shards) >= 2
    _assert_loads_as(by_commit.folder, _expected_zoo(online.folders["new"]))

    branch = hub.pull(SST2, revision="step1000-seed-default")
    assert branch.entry.commit == commits["v1"] and not branch.downloaded   # same commit as v1.0: no fetch
    root = cache.cache_root()
    assert cache.refs_of(cache.repo_dir(root, "hf", SST2)) == {
        "main": commits["main"], "v1.0": commits["v1"], "step1000-seed-default": commits["v1"]}

    online.log.clear()
    again = hub.pull("distilbert-sst2")
    assert not again.downloaded and again.folder == main.folder
    assert [r["path"] for r in online.log] == [f"/api/models/{SST2}/revision/main"]   # metadata only


def test_resume_after_dropped_connection(online, monkeypatch):
    import huggingface_hub.constants

    # The client writes what arrived in DOWNLOAD_CHUNK_SIZE pieces (10 MB); shrink it so that a tiny
    # file has whole chunks on disk when the connection drops.
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 4096)
    size = (online.folders["new"] / "model.safetensors").stat().st_size
    online.fault(SST2, "model.safetensors", drop_after=size // 2)
    result = hub.pull(SST2)
    gets = online.requests("GET", "/lfs/")
    assert len(gets) == 2 and gets[0]["range"] is None
    resumed_at = int(gets[1]["range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= size // 2 and resumed_at % 4096 == 0
    assert cache.sha256_file(result.folder / "model.safetensors") == \
        cache.sha256_file(online.folders["new"] / "model.safetensors")


def test_corrupted_file_is_refetched_once_then_refused(online):
    online.fault(SST2, "model.safetensors", corrupt=True, times=1)
    result = hub.pull(SST2)
    assert len(online.requests("GET", "/lfs/")) == 2
    assert cache.sha256_file(result.folder / "model.safetensors") == \
        cache.sha256_file(online.folders["new"] / "model.safetensors")

    online.log.clear()
    online.fault(SST2, "model.safetensors", corrupt=True, times=2)
    with pytest.raises(HubError, match=r"model\.safetensors failed verification twice \(sha256 [0-9a-f]{64}, "
                                       r"the hub says [0-9a-f]{64}\)"):
        hub.pull(SST2, revision="v1.0", cache_dir=cache.cache_root() / "other")
    assert len(online.requests("GET", "/lfs/")) == 2
    assert cache.lookup(cache.cache_root() / "other", "hf", SST2, "v1.0") is None


def test_missing_model_and_missing_revision(online):
    with pytest.raises(HubError, match=r"model 'fake-org/no-such-model' not found on http://127\.0\.0\.1"):
        hub.pull("fake-org/no-such-model")
    with pytest.raises(HubError, match=r"has no revision 'step9-seed-x'; .*`mindzoo revisions " + SST2):
        hub.pull(SST2, revision="step9-seed-x")


def test_unsafe_names_and_remote_code_are_refused(online):
    with pytest.raises(HubError, match=r"refusing file name '\.\./\.\./escape\.safetensors'"):
        hub.pull(EVIL)
    for bad in ("/etc/passwd", "a/../../b", "..", "a\\b", "C:/x", "a//b", "./a"):
        with pytest.raises(HubError, match="refusing file name"):
            hub.check_filename(bad)
    assert hub.check_filename("1_Pooling/config.json") == "1_Pooling/config.json"


def test_bin_only_repo_is_read_weights_only(online):
    result = hub.pull(BIN_ONLY)
    assert sorted(p.name for p in result.folder.iterdir()) == ["config.json", "pytorch_model.bin"]
    _assert_loads_as(result.folder, _expected_zoo(online.folders["bert"]))


def test_hf_olmo_checkpoint_at_a_datadecide_branch(online):
    result = hub.pull(OLMO, revision="step20-seed-default", check=False)
    assert result.entry.commit == online.commits["olmo"] and result.checked is None
    assert sorted(p.name for p in result.folder.iterdir()) == ["config.json", "generation_config.json",
                                                               "model.safetensors"]
    files = result.entry.manifest()["files"]
    assert files["model.safetensors"]["sha256"] == cache.sha256_file(result.folder / "model.safetensors")


def test_unknown_family_fails_before_the_weights(online):
    online.add_commit("fake-org/other-arch", {"config.json": b'{"model_type": "not-in-the-zoo"}',
                                              "model.safetensors": b"x" * 64})
    with pytest.raises(HubError, match="not-in-the-zoo.*--no-check"):
        hub.pull("fake-org/other-arch")
    assert online.requests("GET", "/lfs/") == []


def test_token_is_sent(online, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    hub.pull(BIN_ONLY, check=False)
    assert {r["auth"] for r in online.requests(contains=BIN_ONLY)} == {"Bearer hf_test_token"}


def test_revisions_lists_branches_and_tags(online, capsys):
    from zoo.cli import main

    online.commits.setdefault("later", online.add_commit(
        SST2, {"config.json": b"{}"}, branches=("step200-seed-default", "step30-seed-default")))
    rows = hub.revisions("distilbert-sst2")
    assert [(k, n) for k, n, _ in rows] == [
        ("branch", "main"), ("branch", "step30-seed-default"), ("branch", "step200-seed-default"),
        ("branch", "step1000-seed-default"), ("tag", "v1.0")]
    assert main(["revisions", "distilbert-sst2"]) == 0
    assert "5 revisions of " + SST2 in capsys.readouterr().out


def test_offline(online, monkeypatch):
    hub.pull("distilbert-sst2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    online.log.clear()
    again = hub.pull("distilbert-sst2")                  # checking the conversion needs no network
    assert again.checked and online.log == []
    from zoo.hub import locate

    assert locate("distilbert-sst2") == again.folder
    with pytest.raises(HubError) as err:
        hub.pull(SST2, revision="v1.0")
    message = str(err.value)
    for part in (f"{SST2}@v1.0", "HF_HUB_OFFLINE", "--revision v1.0 --local-dir DIR",
                 "--source local --from DIR"):
        assert part in message
    with pytest.raises(HubError, match="HF_HUB_OFFLINE"):
        locate(f"{SST2}@v1.0")


def test_local_source_then_offline_use(online, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = hub.pull("distilbert-sst2", revision="v1.0", source="local", local_folder=online.folders["old"])
    assert result.entry.source == "local" and online.log == []
    from zoo.hub import locate

    assert locate("distilbert-sst2@v1.0") == result.folder
    with pytest.raises(HubError, match="--source local needs --from"):
        hub.pull("distilbert-sst2", source="local")


def test_modelscope_selection(online, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "modelscope", None)
    with pytest.raises(HubError, match=r"pip install 'mindzoo\[modelscope\]'"):
        hub.pull("distilbert-sst2", source="modelscope")

    # The package's two calls, faked: a listing with sha256 and a snapshot download of chosen files.
    folder = online.folders["old"]
    listing = [{"Path": p.name, "Name": p.name, "Type": "blob", "Size": p.stat().st_size,
                "Sha256": cache.sha256_file(p)} for p in folder.iterdir()]
    calls = []

    class HubApi:
        def get_model_files(self, model_id, revision, recursive):
            calls.append(("list", model_id, revision))
            return listing

    def snapshot_download(model_id, revision, local_dir, allow_patterns):
        calls.append(("get", model_id, revision, tuple(allow_patterns)))
        for name in allow_patterns:
            (Path(local_dir) / name).write_bytes((folder / name).read_bytes())

    modules = {"modelscope": types.ModuleType("modelscope"), "modelscope.hub": types.ModuleType("modelscope.hub"),
               "modelscope.hub.api": types.ModuleType("modelscope.hub.api"),
               "modelscope.hub.snapshot_download": types.ModuleType("modelscope.hub.snapshot_download")}
    modules["modelscope.hub.api"].HubApi = HubApi
    modules["modelscope.hub.snapshot_download"].snapshot_download = snapshot_download
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    result = hub.pull("distilbert-sst2", revision="master", source="modelscope")
    assert result.entry.source == "modelscope" and online.log == []
    assert calls[0] == ("list", SST2, "master")
    assert {c[3][0] for c in calls[1:]} == {"config.json", "model.safetensors"}
    _assert_loads_as(result.folder, _expected_zoo(folder))


def _cli_env(fake_hub: FakeHub, cache_dir: Path, offline: bool) -> dict[str, str]:
    env = {**os.environ, "HF_ENDPOINT": fake_hub.url, "MINDZOO_CACHE": str(cache_dir),
           "HF_HUB_OFFLINE": "1" if offline else "0", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "GLOG_v": "3"}
    env.pop("HF_TOKEN", None)
    return env


def test_two_concurrent_pulls_leave_one_good_entry(online, tmp_path):
    online.fault(SST2, "model.safetensors", delay=3.0)   # the first pull holds the lock while it downloads
    env = _cli_env(online, tmp_path / "shared", offline=False)
    cmd = [sys.executable, "-m", "zoo.cli", "pull", "distilbert-sst2"]
    procs = [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    rows = cache.list_entries(tmp_path / "shared")
    assert [(r.commit, r.partial, r.family) for r in rows] == [(online.commits["main"], False, "bert")]
    assert len(online.requests("GET", "/lfs/")) == 1
    assert sorted("downloaded" in out for out, _ in outputs) == [False, True]
    _assert_loads_as(rows[0].path / cache.UPSTREAM, _expected_zoo(online.folders["new"]))


def test_parity_runs_from_the_cache_with_no_server(online, monkeypatch, tmp_path):
    """A registry name, pulled from a hub that is then shut down, checked offline by the CLI."""
    with FakeHub() as fake:
        tiny.distilbert_classifier(tmp_path / "tiny", seed=5)
        fake.add_folder(SST2, tmp_path / "tiny")
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        hub.pull("distilbert-sst2", cache_dir=tmp_path / "cache")
        env = _cli_env(fake, tmp_path / "cache", offline=True)
    report = tmp_path / "report.json"
    parity = subprocess.run([sys.executable, "-m", "zoo.cli", "parity", "distilbert-sst2", "--backends", "pt,ref",
                             "--no-grads", "--json", str(report)], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert parity.returncode == 0, parity.stdout + parity.stderr
    assert "PASSED" in parity.stdout and "parity: distilbert-sst2" in parity.stdout
    revision = json.loads(report.read_text())["revision"]
    assert revision["repo_id"] == SST2 and len(revision["commit"]) == 40 and revision["source"] == "hf"


def test_cache_ls_and_rm(online, capsys):
    from zoo.cli import main

    hub.pull("distilbert-sst2", check=False)
    hub.pull(SST2, revision="v1.0", check=False)
    assert main(["cache", "ls"]) == 0
    out = capsys.readouterr().out
    assert "2 cached commits" in out and online.commits["v1"][:12] in out
    assert main(["cache", "rm", f"{SST2}@v1.0"]) == 0
    assert [r.commit for r in cache.list_entries(cache.cache_root())] == [online.commits["main"]]
    assert cache.refs_of(cache.repo_dir(cache.cache_root(), "hf", SST2)) == {"main": online.commits["main"]}
    assert main(["cache", "rm", "distilbert-sst2"]) == 0
    assert cache.list_entries(cache.cache_root()) == []
    assert main(["cache", "rm", "distilbert-sst2"]) == 2
    assert "nothing cached for distilbert-sst2" in capsys.readouterr().err


def test_gated_repository_says_how_to_get_access(online, monkeypatch, tmp_path):
    """A gated repository (Llama-3.2): metadata is public, files need an accepted license. Without HF_TOKEN
    (401) and with a token whose account has no access (403) the pull fails naming HF_TOKEN, caching
    nothing; with an accepted token it pulls."""
    from zoo.families.llama import tiny as llama_tiny

    repo = "meta-llama/Llama-3.2-1B"                        # registry name llama-3.2-1b
    if repo not in online.repos:
        online.add_folder(repo, llama_tiny.llama_gqa(tmp_path / "llama"))
        online.gate(repo, allowed_tokens=("hf_accepted",))
    with pytest.raises(HubError, match=r"is gated: .*set HF_TOKEN") as err:
        hub.pull("llama-3.2-1b")
    assert "HF_TOKEN is set" not in str(err.value)
    monkeypatch.setenv("HF_TOKEN", "hf_not_accepted")
    with pytest.raises(HubError, match=r"HF_TOKEN is set, but its account has no access"):
        hub.pull("llama-3.2-1b")
    assert cache.lookup(cache.cache_root(), "hf", repo, "main") is None
    monkeypatch.setenv("HF_TOKEN", "hf_accepted")
    result = hub.pull("llama-3.2-1b")
    assert result.checked == "llama family; 20 upstream tensors -> 14 zoo parameters"   # tied: no lm_head
