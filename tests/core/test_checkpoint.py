"""Checkpoint IO (numpy, no framework) and the strict conversion engine."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from zoo.core import safetensors
from zoo.core.checkpoint import (
    Fuse,
    KeyMap,
    Split,
    from_zoo,
    iter_tensors,
    load_tensors,
    save_state,
    to_zoo,
    weight_files,
)
from zoo.core.errors import CheckpointError
from zoo.models import expected_params, resolve, zoo_state

TABLE = KeyMap(
    rules={"blocks.{}.proj.weight": "layers.{}.out.weight", "emb.weight": "embed.weight"},
    splits=(Split("blocks.{}.qkv.weight", ("layers.{}.q.weight", "layers.{}.k.weight", "layers.{}.v.weight")),),
    ignored=("pos_ids",),
    tied={"head.weight": "embed.weight"},
)
EXPECTED = {
    "embed.weight": (5, 2),
    **{f"layers.{i}.{n}.weight": (2, 2) for i in range(2) for n in ("q", "k", "v", "out")},
}


def upstream_state() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    state = {"emb.weight": rng.standard_normal((5, 2)).astype(np.float32), "pos_ids": np.arange(4)}
    for i in range(2):
        state[f"blocks.{i}.qkv.weight"] = rng.standard_normal((6, 2)).astype(np.float32)
        state[f"blocks.{i}.proj.weight"] = rng.standard_normal((2, 2)).astype(np.float32)
    return state


def test_table_maps_splits_and_round_trips_bit_exact():
    up = upstream_state()
    zoo = to_zoo(up, TABLE, EXPECTED)
    assert sorted(zoo) == sorted(EXPECTED)
    assert np.array_equal(zoo["layers.1.k.weight"], up["blocks.1.qkv.weight"][2:4])
    back = from_zoo(zoo, TABLE)
    assert sorted(back) == sorted(k for k in up if k != "pos_ids")
    assert all(np.array_equal(back[k], up[k]) for k in back)


def test_grouped_split_shares():
    """(4, 1, 1): 4 query heads per key-value head, the fused layout of grouped-query attention."""
    table = KeyMap(rules={}, splits=(Split("qkv", ("q", "k", "v"), sizes=(4, 1, 1)),))
    fused = np.arange(12 * 3, dtype=np.float32).reshape(12, 3)
    zoo = to_zoo({"qkv": fused}, table, {"q": (8, 3), "k": (2, 3), "v": (2, 3)})
    assert np.array_equal(zoo["q"], fused[:8]) and np.array_equal(zoo["v"], fused[10:])
    assert np.array_equal(from_zoo(zoo, table)["qkv"], fused)


def test_tied_copy_must_equal_its_source():
    up = upstream_state()
    up["lm.weight"] = up["emb.weight"].copy()
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
        (lambda s: s.__setitem__("blocks.0.extra.bias", np.zeros(2, np.float32)),
         r"unexpected keys \(1\): blocks.0.extra.bias"),
        (lambda s: s.__setitem__("emb.weight", np.zeros((4, 2), np.float32)),
         r"shape mismatches .*embed.weight: checkpoint \(4, 2\)"),
        (lambda s: s.__setitem__("emb.weight", np.zeros((5, 2), np.int64)), r"not floating-point .*int64"),
        (lambda s: s.__setitem__("blocks.2.proj.weight", np.zeros((2, 2), np.float32)),
         r"keys the model has no parameter for"),
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
    up["junk"] = np.zeros(1, np.float32)
    with pytest.raises(CheckpointError) as err:
        to_zoo(up, TABLE, EXPECTED)
    assert "unexpected keys (1): junk" in str(err.value) and "missing keys (1): emb.weight" in str(err.value)


def test_key_table_alone_without_a_model():
    """expected=None: what `mindzoo pull` checks before any framework builds the model."""
    up = upstream_state()
    assert sorted(to_zoo(up, TABLE, None)) == sorted(EXPECTED)
    up["junk"] = np.zeros(1, np.float32)
    with pytest.raises(CheckpointError, match="unexpected keys"):
        to_zoo(up, TABLE, None)


@pytest.mark.parametrize("name", ["tiny-distilbert-cls", "tiny-bert-cls", "tiny-bert-encoder"])
def test_transformers_checkpoint_round_trip_is_bit_exact(tiny_checkpoints, name):
    spec = resolve(tiny_checkpoints[name])
    upstream = load_tensors(spec.folder)
    zoo = zoo_state(spec)
    assert set(zoo) == set(expected_params(spec)) == set(expected_params(spec, "mindspore"))
    back = from_zoo(zoo, spec.family.keymap(spec.config, upstream))
    kept = {k for k in upstream if not spec.family.keymap(spec.config, upstream).is_ignored(k)}
    assert set(back) == kept
    assert all(np.array_equal(back[k], upstream[k]) and back[k].dtype == upstream[k].dtype for k in kept)


def test_numpy_reader_equals_safetensors_torch_including_bf16(tmp_path):
    """The zoo's own reader gives what safetensors' torch loader gives; bfloat16 widened exactly."""
    import torch
    from safetensors.torch import load_file, save_file

    g = torch.Generator().manual_seed(0)
    tensors = {"a": torch.randn(3, 5, generator=g), "b": torch.randn(7, generator=g).to(torch.bfloat16),
               "c": torch.randn(2, 2, generator=g).to(torch.float16), "d": torch.arange(6).reshape(2, 3),
               "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 4)}
    save_file(tensors, str(tmp_path / "x.safetensors"), metadata={"format": "pt"})
    ours = safetensors.load_file(tmp_path / "x.safetensors")
    theirs = load_file(str(tmp_path / "x.safetensors"))
    assert sorted(ours) == sorted(theirs)
    for name, tensor in theirs.items():
        expected = tensor.float().numpy() if tensor.dtype == torch.bfloat16 else tensor.numpy()
        assert ours[name].dtype == expected.dtype and np.array_equal(ours[name], expected), name
    assert safetensors.read_header(tmp_path / "x.safetensors")[1] == {"format": "pt"}
    stored = {s.name: s for s in safetensors.read_header(tmp_path / "x.safetensors")[0]}
    assert stored["b"].dtype == "BF16" and stored["b"].is_float and not stored["d"].is_float


def test_numpy_writer_round_trips_and_torch_reads_it(tmp_path):
    from safetensors.torch import load_file

    arrays = {"w": np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32),
              "i": np.arange(5, dtype=np.int32), "h": np.ones(3, np.float16)}
    path = save_state(arrays, tmp_path / "out" / "m.safetensors", {"step": "3"})
    assert [p.name for p in path.parent.iterdir()] == ["m.safetensors"]       # no temporary file left
    back = safetensors.load_file(path)
    assert all(np.array_equal(back[k], v) and back[k].dtype == v.dtype for k, v in arrays.items())
    theirs = load_file(str(path))
    assert all(np.array_equal(theirs[k].numpy(), v) for k, v in arrays.items())


def _write_raw(path, header: dict, data: bytes = b"") -> None:
    encoded = json.dumps(header).encode()
    path.write_bytes(len(encoded).to_bytes(8, "little") + encoded + data)


@pytest.mark.parametrize(("header", "data", "message"), [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4, "outside the 4 data bytes"),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8, "8 bytes for F32 \\[3\\]"),
    ({"a": {"dtype": "Q8", "shape": [1], "data_offsets": [0, 1]}}, b"\0", "unknown dtype 'Q8'"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "not a list of non-negative"),
    ({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}, b"\0" * 4, "not a list of non-negative"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}, b"\0" * 8, "overlap"),
    ({"a": {"dtype": "F32", "shape": [1]}}, b"\0" * 4, "exactly dtype, shape and data_offsets"),
    ({"__metadata__": {"x": 1}}, b"", "__metadata__ must map names to strings"),
])
def test_hostile_headers_are_refused_by_name(tmp_path, header, data, message):
    path = tmp_path / "bad.safetensors"
    _write_raw(path, header, data)
    with pytest.raises(CheckpointError, match=message):
        safetensors.load_file(path)


def test_header_length_past_the_file_and_garbage(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes((10**6).to_bytes(8, "little") + b"{}")
    with pytest.raises(CheckpointError, match="header length 1000000 does not fit"):
        safetensors.read_header(path)
    path.write_bytes(b"\x05\0\0\0\0\0\0\0[1,2]")
    with pytest.raises(CheckpointError, match="not a JSON object"):
        safetensors.read_header(path)
    path.write_bytes(b"abc")
    with pytest.raises(CheckpointError, match="shorter than the 8-byte header length"):
        safetensors.read_header(path)


def test_sharded_safetensors_and_bin_fallback(tmp_path, tiny_checkpoints):
    import torch

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
        save_state({k: state[k] for k in part}, sharded / shard)
        weight_map.update({k: shard for k in part})
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    assert len(weight_files(sharded)) == 2
    assert all(np.array_equal(t, state[k]) for k, t in iter_tensors(sharded))

    binary = tmp_path / "bin"
    shutil.copytree(src, binary)
    (binary / "model.safetensors").unlink()
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, binary / "pytorch_model.bin")
    assert weight_files(binary)[0].name == "pytorch_model.bin"
    assert all(np.array_equal(t, state[k]) for k, t in iter_tensors(binary))


def test_bin_with_code_is_refused(tmp_path, tiny_checkpoints):
    import torch

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
    with pytest.raises(CheckpointError, match="truncated"):
        load_tensors(folder)
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "shard-1.safetensors"}}))
    with pytest.raises(CheckpointError, match="shard-1.safetensors"):
        load_tensors(folder)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "../escape.safetensors"}}))
    with pytest.raises(CheckpointError, match="plain file names"):
        load_tensors(folder)


def test_folder_without_weights(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="no weights"):
        weight_files(tmp_path)


def test_fuse_rule_concatenates_and_splits_back():
    table = KeyMap(rules={}, fuses=(Fuse(("l.{}.q", "l.{}.k"), "layers.{}.qk"),))
    up = {"l.0.q": np.ones((2, 3), np.float32), "l.0.k": np.zeros((2, 3), np.float32)}
    zoo = to_zoo(up, table, {"layers.0.qk": (4, 3)})
    assert np.array_equal(zoo["layers.0.qk"], np.concatenate([up["l.0.q"], up["l.0.k"]]))
    back = from_zoo(zoo, table)
    assert set(back) == set(up) and all(np.array_equal(back[k], up[k]) for k in up)
    with pytest.raises(CheckpointError, match="cannot fuse"):
        to_zoo({"l.0.q": np.ones((2, 3), np.float32), "l.0.k": np.ones((2, 4), np.float32)}, table,
               {"layers.0.qk": (4, 3)})


def test_uneven_fuse_splits_back_by_its_shares():
    table = KeyMap(rules={}, fuses=(Fuse(("q", "k", "v"), "qkv", sizes=(2, 1, 1)),))
    up = {"q": np.ones((4, 3), np.float32), "k": np.zeros((2, 3), np.float32), "v": np.full((2, 3), 2, np.float32)}
    back = from_zoo(to_zoo(up, table, {"qkv": (8, 3)}), table)
    assert all(np.array_equal(back[k], up[k]) for k in up)
