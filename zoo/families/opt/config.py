"""OPT: one frozen config for both twins, read strictly from transformers' config.json."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.core.config import ConfigReader, check_token_inputs
from zoo.core.errors import ConfigError

ARCHITECTURES = ("OPTForCausalLM", "OPTModel")
POSITION_OFFSET = 2  # fairseq reserved ids 0 and 1 of the position table; transformers keeps the hack


@dataclass(frozen=True)
class OPTConfig:
    vocab_size: int
    hidden_size: int
    word_embed_proj_dim: int       # embedding width; != hidden_size means project_in / project_out
    num_layers: int
    num_heads: int
    ffn_dim: int
    max_position_embeddings: int
    do_layer_norm_before: bool     # True: pre-LN (125m, 1.3b, ...); False: post-LN (350m)
    final_layer_norm: bool         # pre-LN models end with a LayerNorm (unless _remove_final_layer_norm)
    enable_bias: bool              # biases of the attention and MLP projections
    layer_norm_elementwise_affine: bool
    tie_word_embeddings: bool
    layer_norm_eps: float = 1e-5   # transformers builds nn.LayerNorm with its default eps
    pad_token_id: int | None = 1
    bos_token_id: int | None = 2
    eos_token_id: int | None = 2
    task: str = "causal-lm"

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("logits",)

    @property
    def has_projections(self) -> bool:
        return self.word_embed_proj_dim != self.hidden_size

    @classmethod
    def from_hf(cls, raw: dict) -> OPTConfig:
        reader = ConfigReader(raw, "opt")
        if raw.get("model_type") != "opt":
            raise ConfigError(f"model_type {raw.get('model_type')!r} is not an OPT model")
        archs = [a for a in raw.get("architectures") or [] if a not in ARCHITECTURES]
        if archs:
            raise ConfigError(
                f"opt config: architecture {archs[0]} is not supported; the zoo's OPT family has "
                f"{', '.join(ARCHITECTURES)} (a causal LM; an OPTModel checkpoint gets the tied LM head)"
            )
        reader.require("activation_function", ("relu",), "relu")
        hidden = reader.take("hidden_size", 768)
        proj = reader.take("word_embed_proj_dim", None)
        do_ln_before = bool(reader.take("do_layer_norm_before", True))
        remove_final = bool(reader.take("_remove_final_layer_norm", False))
        config = cls(
            vocab_size=reader.take("vocab_size", 50272),
            hidden_size=hidden,
            word_embed_proj_dim=hidden if proj is None else proj,
            num_layers=reader.take("num_hidden_layers", 12),
            num_heads=reader.take("num_attention_heads", 12),
            ffn_dim=reader.take("ffn_dim", 3072),
            max_position_embeddings=reader.take("max_position_embeddings", 2048),
            do_layer_norm_before=do_ln_before,
            final_layer_norm=do_ln_before and not remove_final,
            enable_bias=bool(reader.take("enable_bias", True)),
            layer_norm_elementwise_affine=bool(reader.take("layer_norm_elementwise_affine", True)),
            tie_word_embeddings=bool(reader.take("tie_word_embeddings", True)),
            pad_token_id=reader.take("pad_token_id", 1),
            bos_token_id=reader.take("bos_token_id", 2),
            eos_token_id=reader.take("eos_token_id", 2),
        )
        # Dropouts and init only matter in training from scratch; the zoo runs the eval-mode math.
        reader.ignore("dropout", "attention_dropout", "activation_dropout", "layerdrop", "init_std",
                      "num_labels")
        if config.hidden_size % config.num_heads:
            raise ConfigError(
                f"opt config: hidden_size {config.hidden_size} is not divisible by "
                f"num_attention_heads {config.num_heads}"
            )
        reader.done()
        return config

    def check_inputs(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> None:
        check_token_inputs(input_ids, attention_mask, self.vocab_size, self.max_position_embeddings)
