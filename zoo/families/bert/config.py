"""BERT and DistilBERT: one frozen config for both twins, read strictly from config.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.core.config import ConfigReader, check_token_inputs
from zoo.core.errors import ConfigError, InputError

TASK_BY_ARCHITECTURE = {
    "BertModel": "embedding",
    "DistilBertModel": "embedding",
    "BertForSequenceClassification": "sequence-classification",
    "DistilBertForSequenceClassification": "sequence-classification",
}
TASKS = ("embedding", "sequence-classification")


@dataclass(frozen=True)
class BertConfig:
    variant: str                  # "bert" or "distilbert"
    task: str                     # "embedding" or "sequence-classification"
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int          # 0 for DistilBERT: no segment embeddings
    layer_norm_eps: float
    hidden_act: str               # "gelu" (exact erf) or "relu"
    pad_token_id: int = 0
    num_labels: int = 2
    normalize_embeddings: bool = False   # sentence-transformers' Normalize module after mean pooling

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def has_pooler(self) -> bool:
        """BERT's tanh pooler on [CLS]; DistilBERT has none (its classifier has pre_classifier)."""
        return self.variant == "bert"

    @property
    def output_names(self) -> tuple[str, ...]:
        if self.task == "sequence-classification":
            return ("logits",)
        return ("last_hidden_state",) + (("pooler_output",) if self.has_pooler else ()) + (
            "sentence_embedding",)

    @classmethod
    def from_hf(cls, raw: dict, task: str | None = None, normalize_embeddings: bool = False) -> BertConfig:
        model_type = raw.get("model_type")
        reader = ConfigReader(raw, model_type or "bert")
        archs = raw.get("architectures") or []
        if task is None:
            unknown = [a for a in archs if a not in TASK_BY_ARCHITECTURE]
            if unknown:
                raise ConfigError(
                    f"{model_type} config: architecture {unknown[0]} is not supported; the zoo's BERT "
                    f"family has: {', '.join(TASK_BY_ARCHITECTURE)}"
                )
            task = TASK_BY_ARCHITECTURE[archs[0]] if archs else "embedding"
        if task not in TASKS:
            raise ConfigError(f"task {task!r} is not one of {', '.join(TASKS)}")
        reader.require("is_decoder", (False,), False)
        reader.require("add_cross_attention", (False,), False)
        reader.require("problem_type", (None, "single_label_classification"), None)
        labels = raw.get("id2label") or {}
        num_labels = len(labels) if labels else int(raw.get("num_labels", 2))
        if task == "sequence-classification" and num_labels < 2:
            raise ConfigError(
                f"{model_type} config: num_labels={num_labels} means regression in transformers; "
                "the zoo's classifier supports single-label classification with 2 or more labels"
            )
        if model_type == "bert":
            reader.require("position_embedding_type", ("absolute",), "absolute")
            config = cls(
                variant="bert", task=task,
                vocab_size=reader.take("vocab_size"),
                hidden_size=reader.take("hidden_size"),
                num_layers=reader.take("num_hidden_layers"),
                num_heads=reader.take("num_attention_heads"),
                intermediate_size=reader.take("intermediate_size"),
                max_position_embeddings=reader.take("max_position_embeddings"),
                type_vocab_size=reader.take("type_vocab_size"),
                layer_norm_eps=reader.take("layer_norm_eps", 1e-12),
                hidden_act=reader.require("hidden_act", ("gelu", "relu"), "gelu"),
                pad_token_id=raw.get("pad_token_id", 0),
                num_labels=num_labels,
                normalize_embeddings=normalize_embeddings,
            )
            reader.ignore("hidden_dropout_prob", "attention_probs_dropout_prob", "num_labels")
        elif model_type == "distilbert":
            reader.take("sinusoidal_pos_embds", False)   # the table is stored in the checkpoint either way
            config = cls(
                variant="distilbert", task=task,
                vocab_size=reader.take("vocab_size"),
                hidden_size=reader.take("dim"),
                num_layers=reader.take("n_layers"),
                num_heads=reader.take("n_heads"),
                intermediate_size=reader.take("hidden_dim"),
                max_position_embeddings=reader.take("max_position_embeddings"),
                type_vocab_size=0,
                layer_norm_eps=1e-12,                    # hard-coded in transformers' DistilBERT
                hidden_act=reader.require("activation", ("gelu", "relu"), "gelu"),
                pad_token_id=raw.get("pad_token_id", 0),
                num_labels=num_labels,
                normalize_embeddings=normalize_embeddings,
            )
            reader.ignore("dropout", "attention_dropout", "qa_dropout", "seq_classif_dropout",
                          "tie_weights_", "num_labels")
        else:
            raise ConfigError(f"model_type {model_type!r} is not a BERT-family model")
        if config.hidden_size % config.num_heads:
            raise ConfigError(
                f"{model_type} config: hidden size {config.hidden_size} is not divisible by "
                f"{config.num_heads} heads"
            )
        reader.done()
        return config

    @classmethod
    def from_folder(cls, folder: str | Path, raw: dict, task: str | None = None) -> BertConfig:
        """Also reads sentence-transformers' modules.json: mean pooling, then Normalize if listed."""
        modules = Path(folder) / "modules.json"
        normalize = False
        if modules.is_file():
            entries = json.loads(modules.read_text(encoding="utf-8"))
            kinds = [e.get("type", "").rsplit(".", 1)[-1] for e in entries]
            normalize = "Normalize" in kinds
            pooling = Path(folder) / "1_Pooling" / "config.json"
            if pooling.is_file():
                pool = json.loads(pooling.read_text(encoding="utf-8"))
                if not pool.get("pooling_mode_mean_tokens", True) or any(
                    pool.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                          "pooling_mode_mean_sqrt_len_tokens")
                ):
                    raise ConfigError(f"{pooling}: only mean-token pooling is supported")
        return cls.from_hf(raw, task=task, normalize_embeddings=normalize)

    def check_inputs(self, input_ids: np.ndarray, attention_mask: np.ndarray,
                     token_type_ids: np.ndarray | None = None) -> None:
        check_token_inputs(input_ids, attention_mask, self.vocab_size, self.max_position_embeddings)
        if token_type_ids is not None and self.type_vocab_size and (
                (token_type_ids < 0) | (token_type_ids >= self.type_vocab_size)).any():
            raise InputError(f"token_type_ids must lie in [0, {self.type_vocab_size})")
