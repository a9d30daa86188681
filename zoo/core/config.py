"""Reading upstream config.json files strictly: every field is used, known-irrelevant, or refused."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from zoo.core.errors import ConfigError, InputError

# Fields transformers writes into every config that never change a model's math.
GENERIC_IRRELEVANT = frozenset({
    "_name_or_path", "architectures", "transformers_version", "model_type", "torch_dtype", "dtype",
    "initializer_range", "gradient_checkpointing", "use_cache", "output_hidden_states",
    "output_attentions", "return_dict", "torchscript", "tie_encoder_decoder", "is_decoder",
    "is_encoder_decoder", "add_cross_attention", "chunk_size_feed_forward", "pruned_heads",
    "id2label", "label2id", "finetuning_task", "bos_token_id", "eos_token_id", "sep_token_id",
    "decoder_start_token_id", "prefix", "task_specific_params", "problem_type", "tokenizer_class",
    "classifier_dropout", "max_length", "min_length", "do_sample", "early_stopping", "num_beams",
    "temperature", "top_k", "top_p", "repetition_penalty", "length_penalty", "no_repeat_ngram_size",
    "bad_words_ids", "num_return_sequences", "output_scores", "return_dict_in_generate",
    "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values", "cross_attention_hidden_size",
    "encoder_no_repeat_ngram_size", "diversity_penalty", "num_beam_groups", "typical_p",
    "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens", "tf_legacy_loss",
    "use_bfloat16", "pad_token_id",
})


class ConfigReader:
    """Take fields from an upstream config; at `done()`, fields never taken nor ignored are reported."""

    def __init__(self, raw: dict[str, Any], family: str) -> None:
        self.raw = raw
        self.family = family
        self.seen: set[str] = set()

    def take(self, name: str, default: Any = ..., *aliases: str) -> Any:
        for key in (name, *aliases):
            if key in self.raw:
                self.seen.add(key)
                return self.raw[key]
        if default is ...:
            raise ConfigError(f"{self.family} config: required field {name!r} is missing")
        return default

    def ignore(self, *names: str) -> None:
        """Fields that are known and do not change inference math (dropouts, training-only knobs)."""
        self.seen.update(names)

    def require(self, name: str, allowed: tuple[Any, ...], default: Any = ...) -> Any:
        value = self.take(name, default)
        if value not in allowed:
            raise ConfigError(
                f"{self.family} config: {name}={value!r} is not supported by the zoo's {self.family} "
                f"family (supported: {', '.join(map(repr, allowed))})"
            )
        return value

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.seen - GENERIC_IRRELEVANT)
        if unknown:
            warnings.warn(
                f"{self.family} config: fields the zoo does not know were ignored: {', '.join(unknown)}; "
                "check that they do not change the model's math",
                stacklevel=3,
            )


def check_token_inputs(input_ids: np.ndarray, attention_mask: np.ndarray, vocab_size: int, max_positions: int,
                       max_name: str = "max_position_embeddings", vocab_note: str = "") -> None:
    """Refuse what kernels would silently mis-compute: ids past the table, rows past the maximum, bad masks."""
    if input_ids.ndim != 2:
        raise InputError(f"input_ids must be (batch, sequence), got shape {input_ids.shape}")
    if attention_mask.shape != input_ids.shape:
        raise InputError(f"attention_mask shape {attention_mask.shape} != input_ids {input_ids.shape}")
    if input_ids.shape[1] > max_positions:
        raise InputError(f"sequence length {input_ids.shape[1]} exceeds {max_name}={max_positions}; truncate the input")
    bad = (input_ids < 0) | (input_ids >= vocab_size)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputError(
            f"token id {int(input_ids[row, col])} at [{row}, {col}] is outside the vocabulary [0, {vocab_size})"
            f"{vocab_note}; was the input tokenized for another model?"
        )
    if not np.isin(attention_mask, (0, 1)).all() or (attention_mask.sum(1) == 0).any():
        raise InputError("attention_mask must be 0/1 with at least one attended token per row")
