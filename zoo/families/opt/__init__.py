"""OPT family: decoder-only causal LMs (facebook/opt-*, OPT-C4), pre- and post-LN, projected embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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


def reference_forward(model, config: OPTConfig, inputs: dict[str, np.ndarray], with_loss: bool = False):
    """Run the reference on numpy inputs: its logits, and its own `loss` when asked."""
    import torch

    kwargs = {"input_ids": torch.from_numpy(inputs["input_ids"]).long(),
              "attention_mask": torch.from_numpy(inputs["attention_mask"]).long()}
    if with_loss:
        kwargs["labels"] = torch.from_numpy(inputs["labels"]).long()
    out = model(**kwargs, use_cache=False)
    return {"logits": out.logits, **({"loss": out.loss} if with_loss else {})}


def example_inputs(config: OPTConfig, batch: int = 4, seq: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Random ids (past the special tokens 0-2) right-padded to different lengths, and LM labels.

    Labels are the ids with -100 at pads (what a data collator writes); right padding keeps every
    counted label predicted from a real token.
    """
    rng = np.random.default_rng(seed)
    seq = min(seq, config.max_position_embeddings)
    low = min(3, config.vocab_size - 1)
    ids = rng.integers(low, config.vocab_size, size=(batch, seq), dtype=np.int64)
    lengths = np.linspace(seq, max(2, seq // 3), batch).astype(int)
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    ids = np.where(mask == 1, ids, pad)
    labels = np.where(mask == 1, ids, -100)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
