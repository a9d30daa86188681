"""The families the zoo knows: one line each below registers a family folder's `Family`.

Everything else reaches a family through FAMILIES, `family_for(config)` or `by_name(name)`: nothing outside
zoo/families/ asks which family it has (docs/architecture.md, docs/adding-a-family.md).
"""

from __future__ import annotations

from zoo.core.errors import ConfigError
from zoo.core.family import Family, TinyWriter
from zoo.families.bert.family import FAMILY as BERT
from zoo.families.llama.family import FAMILY as LLAMA
from zoo.families.olmo.family import FAMILY as OLMO
from zoo.families.opt.family import FAMILY as OPT
from zoo.families.qwen.family import FAMILY as QWEN

FAMILIES: tuple[Family, ...] = (BERT, OPT, OLMO, LLAMA, QWEN)


def _index() -> dict[str, Family]:
    by_type: dict[str, Family] = {}
    for family in FAMILIES:
        for model_type in family.model_types:
            if model_type in by_type:
                raise RuntimeError(f"model_type {model_type!r} is claimed by families {by_type[model_type].name} "
                                   f"and {family.name}")
            by_type[model_type] = family
    return by_type


_BY_MODEL_TYPE = _index()


def family_for(raw_config: dict) -> Family:
    """The family whose config reader takes this config.json (by its `model_type`)."""
    model_type = raw_config.get("model_type")
    if not isinstance(model_type, str) or model_type not in _BY_MODEL_TYPE:
        archs = raw_config.get("architectures") or []
        archs = ", ".join(a for a in archs if isinstance(a, str)) if isinstance(archs, list) else str(archs)
        raise ConfigError(
            f"model_type {model_type!r} (architectures: {archs or 'none listed'}) is not in the zoo; "
            f"supported model types: {', '.join(sorted(_BY_MODEL_TYPE))}"
        )
    return _BY_MODEL_TYPE[model_type]


def by_name(name: str) -> Family:
    for family in FAMILIES:
        if family.name == name:
            return family
    raise ConfigError(f"no family named {name!r}; families: {', '.join(f.name for f in FAMILIES)}")


def tiny_writers() -> dict[str, TinyWriter]:
    """Every family's tiny checkpoint writers by name (the demo and the tests use them)."""
    writers: dict[str, TinyWriter] = {}
    for family in FAMILIES:
        writers.update(family.tiny)
    return writers
