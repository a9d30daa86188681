"""What the decoder families share outside their model code: example batches, and how the upstream
reference is called (forward, and greedy decoding for the benchmarks)."""

from __future__ import annotations

import numpy as np


def example_inputs(config, batch: int = 4, seq: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Random ids (past the special tokens 0-2) right-padded to different lengths, and LM labels.

    Labels are the ids with -100 at pads (what a data collator writes; zoo.core.loss): right padding
    keeps every counted label predicted from a real token.
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


def torch_inputs(model, inputs: dict, names: tuple[str, ...]) -> dict:
    """numpy arrays or torch tensors -> int64 torch tensors on the model's device."""
    import torch

    device = next(model.parameters()).device
    return {n: torch.as_tensor(inputs[n]).long().to(device) for n in names}


def reference_forward(model, config, inputs: dict, with_loss: bool = False) -> dict:
    """Run an upstream causal LM on (numpy or torch) inputs: its logits, and its own `loss` when asked."""
    kwargs = torch_inputs(model, inputs, ("input_ids", "attention_mask") + (("labels",) if with_loss else ()))
    out = model(**kwargs, use_cache=False)
    return {"logits": out.logits, **({"loss": out.loss} if with_loss else {})}


def transformers_greedy(model, input_ids, attention_mask, new_tokens: int, pad_token_id: int | None) -> int:
    """Exactly `new_tokens` greedy tokens from a transformers model's own generate (EOS ignored)."""
    import torch

    with torch.no_grad():
        out = model.generate(input_ids, attention_mask=attention_mask, do_sample=False, max_new_tokens=new_tokens,
                             min_new_tokens=new_tokens, pad_token_id=pad_token_id or 0, eos_token_id=None)
    return int(out.shape[1] - input_ids.shape[1])
