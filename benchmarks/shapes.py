"""What a benchmark runs: a registry name or folder (real weights), or a shape-only name (random weights).

Shape-only models are the upstream configs of real checkpoints, written as config.json by the upstream
config classes and read by the families' own strict `from_hf`, so a shape benchmark builds exactly the
model a pulled checkpoint of that shape would give. Weights are random: fine for speed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from zoo.core.errors import InputError
from zoo.core.family import BenchShape
from zoo.families import FAMILIES
from zoo.models import ModelSpec, resolve


def _shapes() -> dict[str, BenchShape]:
    """Every family's benchmark shapes, by name."""
    shapes: dict[str, BenchShape] = {}
    for family in FAMILIES:
        shapes.update(family.bench_shapes)
    return shapes


SHAPES: dict[str, BenchShape] = _shapes()


def is_shape(model: str) -> bool:
    return model in SHAPES


def check_model(model: str) -> None:
    """Fail in the caller, before any measurement process starts, when `model` names nothing that can run:
    one clear error instead of a failed record per backend (a checkpoint that loads badly still fails in
    its worker, where the weights are read)."""
    if is_shape(model):
        return
    if model.endswith("-shape"):
        raise InputError(f"{model!r}: no such benchmark shape; choose one of {', '.join(SHAPES)}")
    resolve(model)       # an unknown name, an unpulled hub id, a folder without a usable config.json


def shape_folder(model: str, root: Path | None = None) -> Path:
    """A folder holding only the shape's config.json (no weights)."""
    root = Path(root or tempfile.mkdtemp(prefix="mindzoo-bench-"))
    folder = root / model
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(SHAPES[model].config(), indent=1, default=str), encoding="utf-8")
    return folder


def resolve_model(model: str) -> tuple[ModelSpec, bool]:
    """(spec, random_weights): a shape name gets a weightless folder; anything else resolves as usual."""
    if is_shape(model):
        spec = resolve(shape_folder(model))
        return ModelSpec(model, spec.folder, spec.family, spec.config, spec.raw_config), True
    return resolve(model), False
