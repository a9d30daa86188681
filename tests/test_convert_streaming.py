"""The streaming converter writes exactly what the in-memory one (zoo.checkpoint.to_zoo) produces, just as strictly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from zoo.cache import convert_streaming
from zoo.checkpoint import KeyMap, Split, load_tensors, save_safetensors, to_zoo
from zoo.errors import CheckpointError

CASTS = {"keep": None, "fp32": torch.float32, "bf16": torch.bfloat16}


def _cast(state, dtype):
    return {k: v.to(CASTS[dtype]) if CASTS[dtype] and v.is_floating_point() else v for k, v in state.items()}


def _assert_equal(path: Path, expected: dict[str, torch.Tensor]) -> None:
    got = load_file(str(path))
    assert sorted(got) == sorted(expected)
    for name, tensor in expected.items():
        assert got[name].dtype == tensor.dtype, name
        assert torch.equal(got[name], tensor), name


@pytest.mark.parametrize("dtype", ["keep", "fp32", "bf16"])
def test_bert_checkpoint_streams_to_the_same_tensors(tiny_checkpoints, tmp_path, dtype):
    from zoo.models import expected_params, resolve

    folder = tiny_checkpoints["tiny-bert-cls"]
    spec = resolve(folder)
    upstream = load_tensors(folder)
    keymap = spec.family.keymap(spec.config, upstream.keys())
    in_memory = _cast(to_zoo(upstream, keymap, expected_params(spec)), dtype)
    save_safetensors(in_memory, tmp_path / "memory.safetensors")
    out = convert_streaming(folder, keymap, expected_params(spec), tmp_path / f"{dtype}.safetensors", dtype,
                            metadata={"dtype": dtype})
    _assert_equal(out, in_memory)
    _assert_equal(out, load_file(str(tmp_path / "memory.safetensors")))
    from safetensors import safe_open

    with safe_open(str(out), "pt") as f:
        assert f.metadata() == {"dtype": dtype}


# A synthetic two-shard bf16 checkpoint with every rule kind: renames, a fused QKV split, a tied head
# copy, an ignored buffer.
KEYMAP = KeyMap(
    rules={"model.embed.weight": "embed.weight", "model.layers.{}.out.weight": "layers.{}.out.weight",
           "lm_head.weight": "head.weight"},
    splits=(Split("model.layers.{}.qkv.weight", ("layers.{}.q.weight", "layers.{}.k.weight",
                                                 "layers.{}.v.weight"), dim=0, sizes=(2, 1, 1)),),
    ignored=("model.rotary.inv_freq",),
    tied={"head.weight": "embed.weight"},
)
EXPECTED = {"embed.weight": ((16, 8), torch.float32),
            **{f"layers.{i}.{p}.weight": ((s, 8), torch.float32) for i in range(2)
               for p, s in (("q", 8), ("k", 4), ("v", 4), ("out", 8))}}
EXPECTED = {k: (v[0] if not k.endswith("out.weight") else (8, 8), v[1]) for k, v in EXPECTED.items()}


def _synthetic(folder: Path, head_differs: bool = False, extra: str | None = None) -> Path:
    g = torch.Generator().manual_seed(0)
    embed = torch.randn(16, 8, generator=g).to(torch.bfloat16)
    shard1 = {"model.embed.weight": embed, "model.rotary.inv_freq": torch.arange(4, dtype=torch.float32),
              "model.layers.0.qkv.weight": torch.randn(16, 8, generator=g).to(torch.bfloat16),
              "model.layers.0.out.weight": torch.randn(8, 8, generator=g).to(torch.bfloat16)}
    shard2 = {"model.layers.1.qkv.weight": torch.randn(16, 8, generator=g).to(torch.bfloat16),
              "model.layers.1.out.weight": torch.randn(8, 8, generator=g).to(torch.bfloat16),
              "lm_head.weight": embed.clone() + (1 if head_differs else 0)}
    if extra:
        shard2[extra] = torch.zeros(2)
    folder.mkdir(parents=True, exist_ok=True)
    weight_map = {}
    for i, shard in enumerate((shard1, shard2)):
        name = f"model-0000{i + 1}-of-00002.safetensors"
        save_file(shard, str(folder / name))
        weight_map.update(dict.fromkeys(shard, name))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


@pytest.mark.parametrize("dtype", ["keep", "fp32"])
def test_splits_tied_and_ignored_keys_stream_like_to_zoo(tmp_path, dtype):
    folder = _synthetic(tmp_path / "ckpt")
    in_memory = _cast(to_zoo(load_tensors(folder), KEYMAP, EXPECTED), dtype)
    out = convert_streaming(folder, KEYMAP, EXPECTED, tmp_path / "out.safetensors", dtype)
    _assert_equal(out, in_memory)
    assert load_file(str(out))["layers.1.q.weight"].shape == (8, 8)


@pytest.mark.parametrize("kwargs", [{"head_differs": True}, {"extra": "model.stray.weight"}])
def test_the_same_errors_as_to_zoo_and_no_file_left(tmp_path, kwargs):
    folder = _synthetic(tmp_path / "ckpt", **kwargs)
    with pytest.raises(CheckpointError) as in_memory:
        to_zoo(load_tensors(folder), KEYMAP, EXPECTED, source=str(folder))
    with pytest.raises(CheckpointError) as streaming:
        convert_streaming(folder, KEYMAP, EXPECTED, tmp_path / "out" / "x.safetensors")
    assert str(streaming.value) == str(in_memory.value)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_truncated_shard_is_a_clear_error(tmp_path):
    folder = _synthetic(tmp_path / "ckpt")
    shard = folder / "model-00002-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=r"model-00002-of-00002\.safetensors: tensor .* past the file"):
        convert_streaming(folder, KEYMAP, EXPECTED, tmp_path / "out.safetensors")


def test_mindspore_loads_the_converted_file_strictly(tiny_checkpoints, tmp_path):
    """The converted file is MindSpore-ready: ms.load_checkpoint + load_param_into_net, nothing left over."""
    import mindspore as ms

    from zoo.models import build_ms, expected_params, resolve

    folder = tiny_checkpoints["tiny-bert-cls"]
    spec = resolve(folder)
    keymap = spec.family.keymap(spec.config, load_tensors(folder).keys())
    out = convert_streaming(folder, keymap, expected_params(spec), tmp_path / "fp32.safetensors", "fp32")
    net = build_ms(spec)
    params = ms.load_checkpoint(str(out), format="safetensors")
    not_loaded, unused = ms.load_param_into_net(net, params, strict_load=True)
    assert (list(not_loaded), list(unused)) == ([], [])
    name = "head.classifier.weight"
    assert torch.equal(torch.from_numpy(net.parameters_dict()[name].asnumpy()), load_file(str(out))[name])
