"""OPT family: decoder-only causal LMs (facebook/opt-*, OPT-C4), pre- and post-LN, projected embeddings."""

from __future__ import annotations

from pathlib import Path

from zoo.families.causal_lm import example_inputs, reference_forward
from zoo.families.opt.config import OPTConfig
from zoo.families.opt.convert import keymap

NAME = "opt"
Config = OPTConfig
INPUT_NAMES = ("input_ids", "attention_mask")
__all__ = ["NAME", "Config", "INPUT_NAMES", "keymap", "config_from_folder", "reference", "reference_forward",
           "example_inputs"]


def config_from_folder(folder: str | Path, raw: dict, task: str | None = None) -> OPTConfig:
    from zoo.errors import ConfigError

    if task not in (None, "causal-lm"):
        raise ConfigError(f"task {task!r}: the OPT family is a causal LM (task 'causal-lm')")
    return OPTConfig.from_hf(raw)


def reference(folder: str | Path, config: OPTConfig):
    """transformers' OPTForCausalLM in fp32 with eager attention, eval mode."""
    import torch
    import transformers

    model = transformers.OPTForCausalLM.from_pretrained(str(folder), attn_implementation="eager",
                                                        dtype=torch.float32)
    return model.eval()
