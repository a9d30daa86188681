"""One folder per architecture family; `family_for` picks one from a config.json."""

from __future__ import annotations

from types import ModuleType

from zoo.errors import ConfigError

_BY_MODEL_TYPE = {
    "bert": "zoo.families.bert",
    "distilbert": "zoo.families.bert",
    "opt": "zoo.families.opt",
    "hf_olmo": "zoo.families.olmo",
    "olmo": "zoo.families.olmo",      # transformers' OlmoForCausalLM (OLMo-1)
    "olmo2": "zoo.families.olmo",     # refused there with the reason (OLMo-2 blocks differ)
}


def family_for(raw_config: dict) -> ModuleType:
    import importlib

    model_type = raw_config.get("model_type")
    if model_type not in _BY_MODEL_TYPE:
        archs = ", ".join(raw_config.get("architectures") or []) or "none listed"
        raise ConfigError(
            f"model_type {model_type!r} (architectures: {archs}) is not in the zoo; "
            f"supported model types: {', '.join(sorted(_BY_MODEL_TYPE))}"
        )
    return importlib.import_module(_BY_MODEL_TYPE[model_type])
