"""Session-wide fixtures: tiny checkpoints written by the upstream libraries, built once per session."""

from __future__ import annotations

import os

os.environ.setdefault("GLOG_v", "3")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from zoo.families import tiny_writers  # noqa: E402


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """name -> folder for every family's tiny writer (written lazily, once per session)."""
    root = tmp_path_factory.mktemp("tiny")
    writers = tiny_writers()

    class Lazy(dict):
        def __missing__(self, name: str) -> Path:
            self[name] = writers[name](root / name)
            return self[name]

    return Lazy()


@pytest.fixture(scope="session")
def minilm_folder() -> Path:
    from zoo import registry
    from zoo.hub import entry_folder

    return entry_folder(registry.get("minilm-l6"))
