"""Where the zoo keeps files on this machine (the pull cache, the compiled CPU kernels)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """--cache-dir, else $MINDZOO_CACHE, else $XDG_CACHE_HOME/mindzoo, else ~/.cache/mindzoo."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get("MINDZOO_CACHE"):
        return Path(os.environ["MINDZOO_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "mindzoo"
