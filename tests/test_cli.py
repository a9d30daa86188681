"""`mindzoo` exit codes: 0 within tolerance, 1 parity failure, 2 bad input with a one-line error."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from zoo.cli import main
from zoo.core.checkpoint import load_tensors, save_state

FAST = ["--backends", "pt,ref"]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_parity_passes_and_writes_json(tiny_checkpoints, tmp_path, capsys):
    report = tmp_path / "r.json"
    code, out, _ = run(capsys, "parity", str(tiny_checkpoints["tiny-distilbert-cls"]),
                       "--backends", "ms-graph,pt,ref", "--json", str(report))
    assert code == 0 and "PASSED" in out
    data = json.loads(report.read_text())
    assert set(data) >= {"model", "backends", "checks", "passed"} and data["passed"] is True
    assert {"a", "b", "output", "metrics", "tolerance", "passed"} <= set(data["checks"][0])
    assert data["backends"] == ["ms-graph", "pt", "ref"]


def test_parity_failure_exits_1(tiny_checkpoints, capsys, monkeypatch):
    from zoo.families.bert import modeling_pt

    monkeypatch.setattr(modeling_pt, "relu", lambda x: x)   # DistilBERT head's ReLU dropped in the twin
    code, out, _ = run(capsys, "parity", str(tiny_checkpoints["tiny-distilbert-cls"]), *FAST)
    assert code == 1 and "FAILED" in out


def copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def expect_exit_2(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("mindzoo: error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


def test_truncated_weights(tiny_checkpoints, tmp_path, capsys):
    folder = copy(tiny_checkpoints["tiny-distilbert-cls"], tmp_path / "m")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[:-100])
    expect_exit_2(capsys, ["parity", str(folder), *FAST], "truncated or not a safetensors file")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("drop", "missing keys (1): distilbert.transformer.layer.1.ffn.lin2.weight"),
        ("add", "unexpected keys (1): distilbert.transformer.layer.0.ffn.gate.weight"),
    ],
)
def test_missing_and_unexpected_keys(tiny_checkpoints, tmp_path, capsys, edit, message):
    folder = copy(tiny_checkpoints["tiny-distilbert-cls"], tmp_path / "m")
    state = load_tensors(folder)
    if edit == "drop":
        state.pop("distilbert.transformer.layer.1.ffn.lin2.weight")
    else:
        state["distilbert.transformer.layer.0.ffn.gate.weight"] = state["pre_classifier.weight"].copy()
    save_state(state, folder / "model.safetensors", {"format": "pt"})
    expect_exit_2(capsys, ["parity", str(folder), *FAST], message)


def test_unknown_architecture(tiny_checkpoints, tmp_path, capsys):
    folder = copy(tiny_checkpoints["tiny-distilbert-cls"], tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="mamba", architectures=["MambaForCausalLM"])
    (folder / "config.json").write_text(json.dumps(config))
    expect_exit_2(capsys, ["parity", str(folder), *FAST], "model_type 'mamba' (architectures: MambaForCausalLM)")


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (np.array([[1, 2, 500, 3]]), "token id 500 at [0, 2] is outside the vocabulary [0, 120)"),
        (np.ones((1, 65), np.int64), "sequence length 65 exceeds max_position_embeddings=64"),
    ],
)
def test_bad_token_ids_and_long_sequences(tiny_checkpoints, tmp_path, capsys, ids, message):
    path = tmp_path / "inputs.npz"
    np.savez(path, input_ids=ids)
    expect_exit_2(capsys, ["parity", str(tiny_checkpoints["tiny-distilbert-cls"]), *FAST, "--inputs", str(path)],
                  message)


def test_not_a_model(tmp_path, capsys):
    expect_exit_2(capsys, ["parity", "no-such-model", *FAST], "neither a local folder nor a registry name")


def test_list_shows_the_registry(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and "minilm-l6" in out and "sentence-transformers/all-MiniLM-L6-v2" in out
