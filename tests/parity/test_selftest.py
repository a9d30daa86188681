"""The harness catches every injected bug and names the module it is in."""

from __future__ import annotations

import pytest

import parity.selftest
from parity.selftest import run_self_test
from zoo.cli import main
from zoo.families import FAMILIES

TESTED = [f for f in FAMILIES if f.self_test_model and f.mutations()]


@pytest.fixture(scope="module")
def rows(tiny_checkpoints):
    return run_self_test({f.self_test_model: tiny_checkpoints[f.self_test_model] for f in TESTED})


def test_self_test_catches_and_localises_every_bug(rows):
    assert len(rows) == sum(len(f.mutations()) + 1 for f in TESTED)   # every bug, and each clean model
    assert {"bert", "opt", "olmo"} <= {f.name for f in TESTED}
    clean = [r for r in rows if r["expected"] is None]
    assert len(clean) == len(TESTED) and all(r["ok"] and not r["caught"] for r in clean)
    bugs = [r for r in rows if r["expected"] is not None]
    assert {r["bug"] for r in bugs} >= {"RoPE theta 10000 -> 500000", "causal mask off by one", "swapped q / k"}
    for row in bugs:
        assert row["caught"], row
        assert row["named"] == row["expected"], row
        assert row["confirmed"] is True, row


def test_cli_self_test_table_and_exit_codes(rows, capsys, monkeypatch):
    monkeypatch.setattr(parity.selftest, "run_self_test", lambda **_: rows)
    assert main(["parity", "--self-test"]) == 0
    out = capsys.readouterr().out
    assert "self-test PASSED" in out and "swapped q / k" in out and "encoder.layers.1.mlp" in out
    broken = [dict(rows[0]), {**rows[1], "named": "encoder.layers.0", "ok": False}]
    assert "<root>" in out and "RoPE theta" in out
    monkeypatch.setattr(parity.selftest, "run_self_test", lambda **_: broken)
    assert main(["parity", "--self-test"]) == 1
