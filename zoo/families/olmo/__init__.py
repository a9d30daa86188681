"""OLMo family: OLMo-1 causal LMs in hf_olmo format (the DataDecide suite, OLMo ladder models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.families.olmo.config import OLMoConfig
from zoo.families.olmo.convert import keymap

NAME = "olmo"
Config = OLMoConfig
INPUT_NAMES = ("input_ids", "attention_mask")
__all__ = ["NAME", "Config", "INPUT_NAMES", "keymap", "config_from_folder", "reference", "reference_forward",
           "reference_generate", "example_inputs", "import_hf_olmo"]


def import_hf_olmo():
    """The hf_olmo module, imported after MindSpore.

    hf_olmo imports google.cloud.storage, and a MindSpore imported after that fails in its protobuf
    descriptors ("Descriptors cannot be created directly", docs/MINDSPORE_NOTES.md); MindSpore first
    is fine.
    """
    import importlib

    import mindspore  # noqa: F401 - import order, see above

    return importlib.import_module("hf_olmo")  # after mindspore: ruff's import sorting must not reorder it


def config_from_folder(folder: str | Path, raw: dict, task: str | None = None) -> OLMoConfig:
    from zoo.errors import ConfigError

    if task not in (None, "causal-lm"):
        raise ConfigError(f"task {task!r}: the OLMo family is a causal LM (task 'causal-lm')")
    return OLMoConfig.from_hf(raw)


def reference(folder: str | Path, config: OLMoConfig):
    """hf_olmo's OLMoForCausalLM (ai2-olmo) in fp32, eval mode."""
    import torch

    hf_olmo = import_hf_olmo()
    model = hf_olmo.OLMoForCausalLM.from_pretrained(str(folder), attn_implementation="eager",
                                                    dtype=torch.float32)
    return model.eval()


def reference_forward(model, config: OLMoConfig, inputs: dict[str, np.ndarray], with_loss: bool = False):
    """Run the reference on numpy inputs: its logits, and its own `loss` when asked."""
    import torch

    kwargs = {"input_ids": torch.from_numpy(inputs["input_ids"]).long(),
              "attention_mask": torch.from_numpy(inputs["attention_mask"]).long()}
    if with_loss:
        kwargs["labels"] = torch.from_numpy(inputs["labels"]).long()
    out = model(**kwargs, use_cache=False)
    return {"logits": out.logits, **({"loss": out.loss} if with_loss else {})}


def reference_generate(model, config: OLMoConfig, input_ids: np.ndarray, attention_mask: np.ndarray,
                       max_new_tokens: int):
    """hf_olmo's greedy `generate` on left-padded prompts: (new tokens (B, N) int64, step logits (B, N, V)).

    hf_olmo ignores the mask for positions, so prompts are re-packed as left padding (generated
    tokens then follow every prompt directly), as transformers recommends for decoder-only models.
    """
    import torch

    ids = np.asarray(input_ids)
    mask = np.asarray(attention_mask)
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    left_ids = np.full_like(ids, pad)
    left_mask = np.zeros_like(mask)
    for row in range(ids.shape[0]):
        real = ids[row][mask[row] == 1]
        left_ids[row, ids.shape[1] - len(real):] = real
        left_mask[row, ids.shape[1] - len(real):] = 1
    with torch.no_grad():
        out = model.generate(torch.from_numpy(left_ids).long(), attention_mask=torch.from_numpy(left_mask).long(),
                             max_new_tokens=max_new_tokens, do_sample=False, output_logits=True,
                             return_dict_in_generate=True, eos_token_id=config.eos_token_id, pad_token_id=pad,
                             use_cache=True)
    new = out.sequences[:, ids.shape[1]:].numpy().astype(np.int64)
    logits = torch.stack(out.logits, 1).float().numpy()
    return new, logits


def example_inputs(config: OLMoConfig, batch: int = 4, seq: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Random ids right-padded to different lengths, and LM labels (-100 at pads)."""
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
