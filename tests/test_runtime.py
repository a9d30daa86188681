"""zoo/ms/runtime.py: the host-blocking rule, and that importing zoo.ms applied it on this CPU."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("mindspore")

from zoo.ms import runtime  # noqa: E402


def test_rule_blocks_on_cpu_only_and_never_against_the_user():
    assert runtime.host_blocking_wanted("CPU", {})
    assert not runtime.host_blocking_wanted("Ascend", {})
    assert not runtime.host_blocking_wanted("GPU", {})
    assert not runtime.host_blocking_wanted("CPU", {runtime.HOST_BLOCKING_ENV: "0"})


def test_import_set_it_here():
    """The suite runs on CPU: the variable is in force (unless whoever started it exported one)."""
    assert os.environ.get(runtime.HOST_BLOCKING_ENV) in ("1", "0")
    assert runtime.prefer_host_blocking_run("CPU") == (os.environ[runtime.HOST_BLOCKING_ENV] == "1")
