"""Llama-architecture decoders (Llama 1-3.2, SmolLM2, TinyLlama; and, read by the qwen family, Qwen2 /
Qwen2.5 / Qwen3): one frozen config for both twins, read strictly.

The architecture: pre-norm blocks of RMSNorm, attention with rotary positions over grouped key-value
heads, and a SwiGLU MLP; an RMSNorm at the end; the LM head its own matrix or the token embeddings.
What varies between checkpoints is said by the config and expressed here: the key-value head count,
a head_dim decoupled from hidden_size / heads, biases on q/k/v (and on o_proj, and on the MLP), a
per-head RMSNorm on q and k (Qwen3), tied embeddings, rope_theta and the `linear`, `dynamic` and
`llama3` RoPE scalings. Everything else (other RoPE scalings, sliding-window attention, an activation
other than SiLU) is refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.core.config import ConfigReader, check_token_inputs
from zoo.core.errors import ConfigError
from zoo.core.rope import RopeScaling, read_scaling

# The RoPE tables are built once, as constants, for this many positions at most; a config that allows
# more (Llama-3.2: 131072) runs sequences up to this length (check_inputs says so).
MAX_TABLE_POSITIONS = 8192
ARCHITECTURES = {"llama": ("LlamaForCausalLM", "LlamaModel"), "qwen2": ("Qwen2ForCausalLM", "Qwen2Model"),
                 "qwen3": ("Qwen3ForCausalLM", "Qwen3Model")}
# is_llama_config, rope_interleaved: written by nanotron exports (SmolLM2); transformers reads neither and
# always rotates halves, and transformers is the reference.
IRRELEVANT = ("attention_dropout", "pretraining_tp", "max_window_layers", "sliding_window", "rope_parameters",
              "is_llama_config", "rope_interleaved")


@dataclass(frozen=True)
class LlamaConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    max_position_embeddings: int
    rms_norm_eps: float
    rope_theta: float
    rope_scaling: RopeScaling | None
    qkv_bias: bool                 # biases on q, k, v (Qwen2: always; Llama / Qwen3: attention_bias)
    output_bias: bool              # a bias on o_proj (Llama / Qwen3 attention_bias; Qwen2: never)
    mlp_bias: bool
    qk_norm: bool                  # Qwen3: RMSNorm over each head of q and k, before RoPE
    tie_word_embeddings: bool
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    pad_token_id: int | None = None
    task: str = "causal-lm"
    upstream_format: str = "llama"   # "llama", "qwen2" or "qwen3": which transformers class is the reference

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("logits",)

    @property
    def table_positions(self) -> int:
        return min(self.max_position_embeddings, MAX_TABLE_POSITIONS)

    @classmethod
    def from_hf(cls, raw: dict) -> LlamaConfig:
        model_type = raw.get("model_type")
        if model_type not in ARCHITECTURES:
            raise ConfigError(f"model_type {model_type!r} is not a Llama-architecture model "
                              f"({', '.join(ARCHITECTURES)})")
        reader = ConfigReader(raw, model_type)
        archs = [a for a in raw.get("architectures") or [] if a not in ARCHITECTURES[model_type]]
        if archs:
            raise ConfigError(f"{model_type} config: architecture {archs[0]} is not supported; the zoo reads "
                              f"{', '.join(ARCHITECTURES[model_type])} (a causal LM)")
        reader.require("hidden_act", ("silu",), "silu")
        hidden = _positive(reader, "hidden_size")
        heads = _positive(reader, "num_attention_heads")
        kv_heads = reader.take("num_key_value_heads", None)
        kv_heads = heads if kv_heads is None else kv_heads
        _check_positive(model_type, "num_key_value_heads", kv_heads)
        if heads % kv_heads:
            raise ConfigError(f"{model_type} config: num_attention_heads={heads} is not a multiple of "
                              f"num_key_value_heads={kv_heads}")
        head_dim = reader.take("head_dim", None)
        if head_dim is None:
            if hidden % heads:
                raise ConfigError(f"{model_type} config: hidden_size={hidden} is not divisible by "
                                  f"num_attention_heads={heads} (and no head_dim is given)")
            head_dim = hidden // heads
        _check_positive(model_type, "head_dim", head_dim)
        if head_dim % 2:
            raise ConfigError(f"{model_type} config: head_dim={head_dim} must be even for rotary embeddings")
        if reader.take("use_sliding_window", False):
            raise ConfigError(f"{model_type} config: use_sliding_window=True (sliding-window attention) is not "
                              "expressed by the zoo; every released Qwen2 / Qwen3 checkpoint has it off")
        layer_types = reader.take("layer_types", None)
        if layer_types is not None and any(t != "full_attention" for t in layer_types):
            raise ConfigError(f"{model_type} config: layer_types has {sorted(set(layer_types) - {'full_attention'})} "
                              "layers; the zoo expresses full attention only")
        attention_bias = bool(reader.take("attention_bias", False))
        if model_type == "qwen2":
            qkv_bias, output_bias, mlp_bias = True, False, False
        else:
            qkv_bias = output_bias = attention_bias
            mlp_bias = bool(reader.take("mlp_bias", False)) if model_type == "llama" else False
        theta = float(reader.take("rope_theta", 10000.0))
        if not np.isfinite(theta) or theta <= 0:
            raise ConfigError(f"{model_type} config: rope_theta={theta} must be a positive number")
        eps = float(reader.take("rms_norm_eps", 1e-6))
        if not np.isfinite(eps) or eps <= 0:
            raise ConfigError(f"{model_type} config: rms_norm_eps={eps} must be a positive number")
        config = cls(
            vocab_size=_positive(reader, "vocab_size"),
            hidden_size=hidden,
            intermediate_size=_positive(reader, "intermediate_size"),
            num_layers=_positive(reader, "num_hidden_layers"),
            num_heads=heads,
            num_kv_heads=kv_heads,
            head_dim=head_dim,
            max_position_embeddings=_positive(reader, "max_position_embeddings"),
            rms_norm_eps=eps,
            rope_theta=theta,
            rope_scaling=read_scaling(reader.take("rope_scaling", None), model_type),
            qkv_bias=qkv_bias,
            output_bias=output_bias,
            mlp_bias=mlp_bias,
            qk_norm=model_type == "qwen3",
            tie_word_embeddings=bool(reader.take("tie_word_embeddings", False)),   # transformers' default
            bos_token_id=raw.get("bos_token_id"),
            eos_token_id=_first(raw.get("eos_token_id")),
            pad_token_id=raw.get("pad_token_id"),
            upstream_format=model_type,
        )
        reader.ignore(*IRRELEVANT)
        reader.done()
        return config

    def check_inputs(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> None:
        limit = "max_position_embeddings" if self.table_positions == self.max_position_embeddings else \
            f"the zoo's RoPE table ({MAX_TABLE_POSITIONS} positions; the config allows {self.max_position_embeddings})"
        check_token_inputs(input_ids, attention_mask, self.vocab_size, self.table_positions, limit)


def _first(value):
    """eos_token_id may be a list (Llama-3.2-Instruct: several end tokens); generation stops at the first."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _check_positive(model_type: str, field: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{model_type} config: {field}={value!r} must be a positive integer")


def _positive(reader: ConfigReader, field: str) -> int:
    value = reader.take(field)
    _check_positive(reader.family, field, value)
    return value
