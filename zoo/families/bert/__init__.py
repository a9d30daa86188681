"""BERT family: BERT and DistilBERT encoders, sentence-embedding and sequence-classification heads."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.families.bert.config import BertConfig
from zoo.families.bert.convert import keymap

NAME = "bert"
Config = BertConfig
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
__all__ = ["NAME", "Config", "INPUT_NAMES", "keymap", "config_from_folder", "reference", "reference_forward",
           "example_inputs"]


def config_from_folder(folder: str | Path, raw: dict, task: str | None = None) -> BertConfig:
    return BertConfig.from_folder(folder, raw, task)


def reference(folder: str | Path, config: BertConfig):
    """The upstream transformers class for this checkpoint, in fp32 eager attention, eval mode."""
    import torch
    import transformers

    if config.task == "sequence-classification":
        cls = (transformers.BertForSequenceClassification if config.variant == "bert"
               else transformers.DistilBertForSequenceClassification)
    else:
        cls = transformers.BertModel if config.variant == "bert" else transformers.DistilBertModel
    model = cls.from_pretrained(str(folder), attn_implementation="eager", dtype=torch.float32)
    return model.eval()


def reference_forward(model, config: BertConfig, inputs: dict[str, np.ndarray], with_loss: bool = False):
    """Run the reference on numpy inputs: named torch outputs in zoo order, and its own `loss`."""
    import torch

    ids = torch.from_numpy(inputs["input_ids"]).long()
    mask = torch.from_numpy(inputs["attention_mask"]).long()
    kwargs = {"input_ids": ids, "attention_mask": mask}
    if config.variant == "bert":
        kwargs["token_type_ids"] = torch.from_numpy(inputs["token_type_ids"]).long()
    if with_loss:
        kwargs["labels"] = torch.from_numpy(inputs["labels"]).long()
    out = model(**kwargs)
    if config.task == "sequence-classification":
        return {"logits": out.logits, **({"loss": out.loss} if with_loss else {})}
    hidden = out.last_hidden_state
    weights = mask.to(hidden.dtype)[:, :, None]
    embedding = (hidden * weights).sum(1) / torch.clamp(weights.sum(1), min=1e-9)
    if config.normalize_embeddings:
        embedding = torch.nn.functional.normalize(embedding, p=2, dim=1)
    named = {"last_hidden_state": hidden}
    if config.has_pooler:
        named["pooler_output"] = out.pooler_output
    named["sentence_embedding"] = embedding
    return named


def example_inputs(config: BertConfig, batch: int = 4, seq: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Random token ids with right padding of different lengths inside the batch, and labels."""
    rng = np.random.default_rng(seed)
    seq = min(seq, config.max_position_embeddings)
    ids = rng.integers(1, config.vocab_size, size=(batch, seq), dtype=np.int64)
    lengths = np.linspace(seq, max(2, seq // 3), batch).astype(int)
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    ids = np.where(mask == 1, ids, config.pad_token_id)
    token_types = np.zeros_like(ids)
    if config.type_vocab_size > 1:
        token_types[:, seq // 2:] = 1
        token_types *= mask
    inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": token_types}
    if config.task == "sequence-classification":
        inputs["labels"] = rng.integers(0, config.num_labels, size=(batch,), dtype=np.int64)
    return inputs
