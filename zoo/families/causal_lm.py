"""What every causal-LM family shares outside the model code: example batches and the reference call."""

from __future__ import annotations

import numpy as np


def example_inputs(config, batch: int = 4, seq: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
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


def reference_forward(model, config, inputs: dict[str, np.ndarray], with_loss: bool = False):
    """Run an upstream causal LM on numpy inputs: its logits, and its own `loss` when asked."""
    import torch

    kwargs = {"input_ids": torch.from_numpy(inputs["input_ids"]).long(),
              "attention_mask": torch.from_numpy(inputs["attention_mask"]).long()}
    if with_loss:
        kwargs["labels"] = torch.from_numpy(inputs["labels"]).long()
    out = model(**kwargs, use_cache=False)
    return {"logits": out.logits, **({"loss": out.loss} if with_loss else {})}
