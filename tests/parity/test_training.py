"""Training parity: 20 AdamW steps, MindSpore PyNative and graph vs the twin, losses to rtol 1e-4."""

from __future__ import annotations

import pytest

from parity.training import LOSS_RTOL, training_parity
from zoo.cli import main


@pytest.mark.parametrize("name", ["tiny-bert-cls", "tiny-olmo-ladder"])
def test_twenty_adamw_steps_match(tiny_checkpoints, name):
    report = training_parity(tiny_checkpoints[name], steps=20)
    assert set(report.losses) == {"pt", "ms-pynative", "ms-graph"}
    assert all(len(v) == 20 for v in report.losses.values())
    assert report.losses["pt"][-1] < report.losses["pt"][0]                 # it trains
    for key in ("ms-pynative", "ms-graph"):
        assert report.loss_checks[key]["max_rel"] <= LOSS_RTOL
        assert report.update_checks[key]["passed"], report.update_checks[key]
    assert report.gradient_guard["passed"] and report.gradient_guard["global_norm"] > 0
    assert report.negative_control["caught"]
    assert report.passed


def test_cli_train_parity(tiny_checkpoints, capsys):
    assert main(["parity", str(tiny_checkpoints["tiny-opt-pre-ln"]), "--train", "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "5 AdamW steps" in out and "negative control" in out and "PASSED" in out
