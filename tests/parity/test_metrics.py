"""Metrics: valid positions only, NaN/Inf never hidden, distribution metrics for logits."""

from __future__ import annotations

import numpy as np
import pytest

from parity.metrics import compare_arrays, floored_rel_fro, logits_metrics, logits_rows, valid_positions
from parity.tolerances import Bound, bound_for


def test_exact_values():
    a = np.array([3.0, 4.0])
    m = compare_arrays(a + np.array([0.0, 0.5]), a)
    assert m["max_abs"] == 0.5 and m["mean_abs"] == 0.25 and m["rel_fro"] == pytest.approx(0.1)
    assert compare_arrays(a, a)["cosine"] == pytest.approx(1.0)


def test_nan_is_never_zeroed_away():
    a = np.array([1.0, np.nan])
    m = compare_arrays(a, a)
    assert m["finite"] is False and m["nan_pattern_equal"] is True
    assert not Bound(max_abs=1.0).check(m)
    assert compare_arrays(np.array([1.0, np.inf]), np.array([1.0, 2.0]))["nan_pattern_equal"] is False


def test_valid_positions_drop_padding():
    hidden = np.arange(12.0).reshape(2, 3, 2)
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    assert valid_positions(hidden, mask).shape == (3, 2)
    other = hidden.copy()
    other[0, 2] = 1e9          # garbage at a padded position does not count
    assert compare_arrays(valid_positions(other, mask), valid_positions(hidden, mask))["max_abs"] == 0


def test_logits_metrics():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 10))
    same = logits_metrics(logits, logits, np.arange(6))
    assert same["kl_max"] == pytest.approx(0, abs=1e-12) and same["top1_agreement"] == 1.0
    assert same["top5_overlap"] == 1.0 and same["nll_diff"] == 0
    flipped = logits.copy()
    flipped[0] = -flipped[0]
    changed = logits_metrics(flipped, logits)
    assert changed["top1_agreement"] == pytest.approx(5 / 6) and changed["kl_max"] > 0.1


def test_causal_logits_rows_predict_the_next_token():
    logits = np.zeros((1, 4, 5))
    labels = np.array([[7, 1, 2, -100]])
    mask = np.array([[1, 1, 1, 0]])
    rows, next_labels = logits_rows(logits, mask, labels)
    assert rows.shape == (2, 5) and next_labels.tolist() == [1, 2]


def test_floored_rel_fro_handles_zero_gradients():
    noise = np.full(4, 1e-10)
    assert floored_rel_fro(noise, np.zeros(4), floor=1e-4) < 1e-5
    assert floored_rel_fro(np.ones(4), np.zeros(4), floor=1e-4) > 1


def test_tolerance_table_keys():
    assert bound_for("grad.encoder.layers.0.q_proj.weight").rel_fro_floored == 1e-4
    assert bound_for("logits", "bfloat16", "ascend", "graph").top1_agreement == 0.9
    assert bound_for("loss").rel_fro == 1e-5


def test_summary_keeps_the_latest_report_per_model(tmp_path, capsys):
    import json

    from zoo.cli import main

    def report(created, max_abs, passed):
        check = {"a": "ms-graph", "b": "ref", "output": "logits", "passed": passed, "tolerance": {},
                 "metrics": {"max_abs": max_abs, "kl_max": 1e-9}}
        return {"model": "m", "dtype": "float32", "backends": ["ms-graph", "ref"], "created": created,
                "checks": [check], "passed": passed}

    (tmp_path / "old.json").write_text(json.dumps(report("2026-01-01T00:00:00", 0.5, False)))
    (tmp_path / "new.json").write_text(json.dumps(report("2026-02-01T00:00:00", 2e-7, True)))
    assert main(["parity-summary", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| m | float32 | ms-graph | 2e-07 | 1e-09 |" in out and "0.5" not in out
    assert main(["parity-summary", str(tmp_path / "nothing-here")]) == 2
