"""Calibrated low-precision tolerances: the reference's own fp16 error sets the bar, and bugs still fail."""

from __future__ import annotations

import pytest

import parity
from parity.calibrate import ALPHA, calibrated_bound
from parity.tolerances import bound_for
from zoo.cli import main
from zoo.families import by_name


def test_calibrated_bound_is_never_stricter_than_fp32():
    calibration = {"logits": {"finite": True, "max_abs": 1e-3, "rel_fro": 2e-3, "kl_max": 1e-9, "cosine": 0.99999999,
                              "top1_agreement": 1.0}}
    bound = calibrated_bound("logits", calibration)
    assert bound.max_abs == ALPHA * 1e-3
    assert bound.kl_max == bound_for("logits").kl_max           # the fp32 floor wins here
    assert bound.cosine == bound_for("logits").cosine
    assert calibrated_bound("hidden", {}) == bound_for("hidden")


def test_fp16_calibrated_passes_and_a_bug_still_fails(tiny_checkpoints):
    folder = tiny_checkpoints["tiny-bert-cls"]
    good = parity.compare(folder, backends=("ms-graph", "ref"), dtype="float16", calibrate=True, localize=False)
    assert good.passed, good.table()
    assert good.calibration["logits"]["rel_fro"] > 1e-4          # fp16 noise is real and measured
    assert all(c.b == "ref" for c in good.checks)
    transposed = next(b for b in by_name("bert").mutations() if b.name.startswith("transposed"))
    bad = parity.compare(folder, backends=("ms-graph", "ref"), dtype="float16", calibrate=True, localize=False,
                         ms_transform=transposed.inject)
    assert not bad.passed


def test_bf16_on_cpu_is_refused_clearly(tiny_checkpoints, capsys):
    code = main(["parity", str(tiny_checkpoints["tiny-bert-cls"]), "--backends", "ms-graph,ref", "--dtype", "bfloat16"])
    assert code == 2
    assert "no bfloat16 compute kernels on CPU" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["logits", "loss", "grad.encoder.layers.0.mlp.up_proj.weight"])
def test_every_output_kind_has_a_floor(name):
    assert calibrated_bound(name, {}).as_dict()
