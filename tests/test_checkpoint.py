"""Checkpoint IO and the strict conversion engine."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import save_file

from zoo.core.checkpoint import KeyMap, Split, from_zoo, iter_tensors, load_tensors, to_zoo, weight_files
from zoo.core.errors import CheckpointError
from zoo.models import expected_params, resolve, zoo_state

TABLE = KeyMap(
    rules={"blocks.{}.proj.weight": "layers.{}.out.weight", "emb.weight": "embed.weight"},
    splits=(Split("blocks.{}.qkv.weight", ("layers.{}.q.weight", "layers.{}.k.weight", "layers.{}.v.weight")),),
    ignored=("pos_ids",),
    tied={"head.weight": "embed.weight"},
)
EXPECTED = {
    "embed.weight": ((5, 2), torch.float32),
    **{f"layers.{i}.{n}.weight": ((2, 2), torch.float32) for i in range(2) for n in ("q", "k", "v", "out")},
}


def upstream_state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    state = {"emb.weight": torch.randn(5, 2, generator=g), "pos_ids": torch.arange(4)}
    for i in range(2):
        state[f"blocks.{i}.qkv.weight"] = torch.randn(6, 2, generator=g)
        state[f"blocks.{i}.proj.weight"] = torch.randn(2, 2, generator=g)
    return state


def test_table_maps_splits_and_round_trips_bit_exact():
    up = upstream_state()
    zoo = to_zoo(up, TABLE, EXPECTED)
    assert sorted(zoo) == sorted(EXPECTED)
    assert torch.equal(zoo["layers.1.k.weight"], up["blocks.1.qkv.weight"][2:4])
    back = from_zoo(zoo, TABLE)
    assert sorted(back) == sorted(k for k in up if k != "pos_ids")
    assert all(torch.equal(back[k], up[k]) for k in back)


def test_tied_copy_must_equal_its_source():
    up = upstream_state()
    up["lm.weight"] = up["emb.weight"].clone()
    table = KeyMap(rules={**TABLE.rules, "lm.weight": "head.weight"}, splits=TABLE.splits, ignored=TABLE.ignored,
                   tied=TABLE.tied)
    assert "head.weight" not in to_zoo(up, table, EXPECTED)
    up["lm.weight"] = up["lm.weight"] + 1
    with pytest.raises(CheckpointError, match="declared tied .* values differ"):
        to_zoo(up, table, EXPECTED)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("blocks.1.proj.weight"), r"missing keys \(1\): blocks.1.proj.weight"),
        (lambda s: s.__setitem__("blocks.0.extra.bias", torch.zeros(2)), r"unexpected keys \(1\): blocks.0.extra.bias"),
        (lambda s: s.__setitem__("emb.weight", torch.zeros(4, 2)),
         r"shape mismatches .*embed.weight: checkpoint \(4, 2\)"),
        (lambda s: s.__setitem__("emb.weight", torch.zeros(5, 2, dtype=torch.int64)),
         r"dtype mismatches .*torch.int64"),
        (lambda s: s.__setitem__("blocks.2.proj.weight", torch.zeros(2, 2)), r"keys the model has no parameter for"),
    ],
)
def test_strictness_names_every_offending_key(edit, message):
    up = upstream_state()
    edit(up)
    with pytest.raises(CheckpointError, match=message):
        to_zoo(up, TABLE, EXPECTED)


def test_all_problems_reported_at_once():
    up = upstream_state()
    up.pop("emb.weight")
    up["junk"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as err:
        to_zoo(up, TABLE, EXPECTED)
    assert "unexpected keys (1): junk" in str(err.value) and "missing keys (1): emb.weight" in str(err.value)


@pytest.mark.parametrize("name", ["tiny-distilbert-cls", "tiny-bert-cls", "tiny-bert-encoder"])
def test_transformers_checkpoint_round_trip_is_bit_exact(tiny_checkpoints, name):
    spec = resolve(tiny_checkpoints[name])
    upstream = load_tensors(spec.folder)
    zoo = zoo_state(spec)
    assert set(zoo) == set(expected_params(spec))
    back = from_zoo(zoo, spec.family.keymap(spec.config, upstream))
    kept = {k for k in upstream if not spec.family.keymap(spec.config, upstream).is_ignored(k)}
    assert set(back) == kept
    assert all(torch.equal(back[k], upstream[k]) and back[k].dtype == upstream[k].dtype for k in kept)


def test_sharded_safetensors_and_bin_fallback(tmp_path, tiny_checkpoints):
    src = tiny_checkpoints["tiny-bert-cls"]
    state = load_tensors(src)
    names = sorted(state)
    sharded = tmp_path / "sharded"
    shutil.copytree(src, sharded)
    (sharded / "model.safetensors").unlink()
    half = len(names) // 2
    weight_map = {}
    for i, part in enumerate((names[:half], names[half:])):
        shard = f"model-0000{i + 1}-of-00002.safetensors"
        save_file({k: state[k].contiguous() for k in part}, str(sharded / shard))
        weight_map.update({k: shard for k in part})
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    assert len(weight_files(sharded)) == 2
    assert all(torch.equal(t, state[k]) for k, t in iter_tensors(sharded))

    binary = tmp_path / "bin"
    shutil.copytree(src, binary)
    (binary / "model.safetensors").unlink()
    torch.save(state, binary / "pytorch_model.bin")
    assert weight_files(binary)[0].name == "pytorch_model.bin"
    assert all(torch.equal(t, state[k]) for k, t in iter_tensors(binary))


def test_bin_with_code_is_refused(tmp_path, tiny_checkpoints):
    folder = tmp_path / "evil"
    shutil.copytree(tiny_checkpoints["tiny-bert-cls"], folder)
    (folder / "model.safetensors").unlink()
    torch.save({"weight": torch.zeros(1), "payload": shutil.copytree}, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="weights-only"):
        load_tensors(folder)


def test_truncated_safetensors_and_missing_shard(tmp_path, tiny_checkpoints):
    folder = tmp_path / "truncated"
    shutil.copytree(tiny_checkpoints["tiny-bert-cls"], folder)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_tensors(folder)
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "shard-1.safetensors"}}))
    with pytest.raises(CheckpointError, match="shard-1.safetensors"):
        load_tensors(folder)


def test_folder_without_weights(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="no weights"):
        weight_files(tmp_path)


def test_fuse_rule_concatenates_and_splits_back():
    from zoo.core.checkpoint import Fuse

    table = KeyMap(rules={}, fuses=(Fuse(("l.{}.q", "l.{}.k"), "layers.{}.qk"),))
    up = {"l.0.q": torch.ones(2, 3), "l.0.k": torch.zeros(2, 3)}
    zoo = to_zoo(up, table, {"layers.0.qk": ((4, 3), torch.float32)})
    assert torch.equal(zoo["layers.0.qk"], torch.cat([up["l.0.q"], up["l.0.k"]]))
    back = from_zoo(zoo, table)
    assert set(back) == set(up) and all(torch.equal(back[k], up[k]) for k in up)
    with pytest.raises(CheckpointError, match="cannot fuse"):
        to_zoo({"l.0.q": torch.ones(2, 3), "l.0.k": torch.ones(2, 4)}, table, {"layers.0.qk": ((4, 3), torch.float32)})
