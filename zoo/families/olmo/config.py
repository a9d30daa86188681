"""OLMo-1 (hf_olmo format, the DataDecide / OLMo ladder models): one frozen config, read strictly.

Expressed: RMS or non-parametric (or weight-only) LayerNorm, RoPE, SwiGLU, fused QKV, sequential
pre-norm blocks, tied or untied output embeddings, clip_qkv, embedding_size padded past vocab_size.
Everything else an hf_olmo config can say (ALiBi, learned positions, llama / parallel blocks, QK
norm, biases, GQA / MQA, norm_after, scale_logits, ...) is refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.core.config import ConfigReader, check_token_inputs
from zoo.core.errors import ConfigError

FAMILY = "hf_olmo"
NORM_TYPES = {"rms": "rms", "default": "layer", "low_precision": "layer"}

# hf_olmo fields that never change inference or gradient math in fp32.
IRRELEVANT = (
    "attention_dropout", "residual_dropout", "embedding_dropout", "init_device", "init_fn", "init_std",
    "init_cutoff_factor", "emb_init_std", "scale_emb_init", "precision", "flash_attention",
    "rope_full_precision",      # RoPE in fp32 whatever the compute dtype: equal in fp32
    "alibi_bias_max",           # read only with alibi, which is refused
    "attention_layer_norm_with_affine",  # read only with attention_layer_norm, which is refused
    "mlp_ratio",                # superseded by mlp_hidden_size when that is set
    "auto_map",
    "tie_word_embeddings",      # transformers' generic default; hf_olmo ties by weight_tying alone
)


def _refuse(field: str, value, why: str) -> ConfigError:
    return ConfigError(f"{FAMILY} config: {field}={value!r} ({why}) is not expressed by the zoo's OLMo family; "
                       "it supports the OLMo-1 / DataDecide options (RoPE, SwiGLU, sequential blocks, "
                       "RMS or non-parametric LayerNorm, weight tying, clip_qkv)")


@dataclass(frozen=True)
class OLMoConfig:
    vocab_size: int               # real tokens; ids at or past it are refused
    embedding_size: int           # rows of the embedding / logits columns (padded past vocab_size)
    hidden_size: int              # d_model
    num_layers: int
    num_heads: int
    mlp_hidden_size: int          # ff_proj output width: value and gate halves of SwiGLU together
    max_position_embeddings: int  # max_sequence_length: the RoPE table's rows
    norm_type: str                # "rms" or "layer"
    norm_affine: bool             # a learned weight (never a bias) on every norm
    norm_eps: float
    rope_theta: float
    clip_qkv: float | None        # clamp the fused q, k, v to [-c, c]
    tie_word_embeddings: bool     # logits = h W_E^T, no separate output matrix
    eos_token_id: int | None = None
    pad_token_id: int | None = None
    task: str = "causal-lm"
    upstream_format: str = FAMILY  # "hf_olmo" (ai2-olmo) or "olmo" (transformers' OlmoForCausalLM)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("logits",)

    @classmethod
    def from_hf(cls, raw: dict) -> OLMoConfig:
        model_type = raw.get("model_type")
        if model_type == "olmo":
            return cls.from_transformers_olmo(raw)
        if model_type == "olmo2":
            raise ConfigError(
                "model_type 'olmo2' (OLMo-2: norms after attention and MLP, QK RMSNorm) is not expressed by the "
                "zoo's OLMo family, which has OLMo-1's pre-norm blocks; supported: hf_olmo and olmo (OLMo-1)"
            )
        if model_type != FAMILY:
            raise ConfigError(f"model_type {model_type!r} is not an hf_olmo checkpoint")
        reader = ConfigReader(raw, FAMILY)
        d_model = reader.take("d_model")
        n_heads = reader.take("n_heads")

        def refuse_unless(field: str, allowed: tuple, default, why: str):
            value = reader.take(field, default)
            if value not in allowed:
                raise _refuse(field, value, why)
            return value

        refuse_unless("alibi", (False,), False, "ALiBi attention biases")
        refuse_unless("rope", (True,), False, "without RoPE hf_olmo learns absolute positions")
        refuse_unless("block_type", ("sequential",), "sequential", "only sequential pre-norm blocks")
        refuse_unless("block_group_size", (1,), 1, "grouped blocks change the checkpoint's key names")
        refuse_unless("activation_type", ("swiglu",), "swiglu", "only the SwiGLU MLP")
        refuse_unless("include_bias", (False,), True, "biases in the linear layers")
        refuse_unless("bias_for_layer_norm", (None, False), None, "LayerNorm biases")
        refuse_unless("attention_layer_norm", (False,), False, "QK LayerNorm")
        refuse_unless("norm_after", (False,), False, "norm after attention / MLP")
        refuse_unless("embedding_layer_norm", (False,), False, "LayerNorm on the embeddings")
        refuse_unless("scale_logits", (False,), False, "logits scaled by 1/sqrt(d_model)")
        multi_query = reader.take("multi_query_attention", None)
        n_kv_heads = reader.take("n_kv_heads", None)
        if multi_query or n_kv_heads not in (None, n_heads):
            raise _refuse("n_kv_heads", n_kv_heads if n_kv_heads is not None else 1,
                          "grouped- or multi-query attention")
        norm_type = reader.take("layer_norm_type", "default")
        if norm_type not in NORM_TYPES:
            raise _refuse("layer_norm_type", norm_type, f"known types: {', '.join(NORM_TYPES)}")

        vocab_size = reader.take("vocab_size")
        embedding_size = reader.take("embedding_size", None) or vocab_size
        if embedding_size < vocab_size:
            raise ConfigError(f"{FAMILY} config: embedding_size={embedding_size} is smaller than "
                              f"vocab_size={vocab_size}; the checkpoint is inconsistent")
        mlp_hidden = reader.take("mlp_hidden_size", None) or reader.take("mlp_ratio", 4) * d_model
        if mlp_hidden % 2:
            raise ConfigError(f"{FAMILY} config: the SwiGLU projection width {mlp_hidden} must be even")
        if d_model % n_heads:
            raise ConfigError(f"{FAMILY} config: d_model={d_model} is not divisible by n_heads={n_heads}")
        clip_qkv = reader.take("clip_qkv", None)
        if clip_qkv is not None and clip_qkv <= 0:
            raise ConfigError(f"{FAMILY} config: clip_qkv={clip_qkv} must be positive")
        config = cls(
            vocab_size=vocab_size,
            embedding_size=embedding_size,
            hidden_size=d_model,
            num_layers=reader.take("n_layers"),
            num_heads=n_heads,
            mlp_hidden_size=int(mlp_hidden),
            max_position_embeddings=reader.take("max_sequence_length"),
            norm_type=NORM_TYPES[norm_type],
            norm_affine=bool(reader.take("layer_norm_with_affine", True)),
            norm_eps=float(reader.take("layer_norm_eps", 1e-5)),
            rope_theta=float(reader.take("rope_theta", 10000)),
            clip_qkv=None if clip_qkv is None else float(clip_qkv),
            tie_word_embeddings=bool(reader.take("weight_tying", True)),
            eos_token_id=raw.get("eos_token_id"),
            pad_token_id=raw.get("pad_token_id"),
        )
        reader.ignore(*IRRELEVANT)
        reader.done()
        return config

    @classmethod
    def from_transformers_olmo(cls, raw: dict) -> OLMoConfig:
        """transformers' own OLMo-1 format (`OlmoForCausalLM`): the same math as hf_olmo with a
        non-parametric LayerNorm (eps 1e-5, fixed in transformers) and separate q, k, v / gate, up."""
        reader = ConfigReader(raw, "olmo")
        heads = reader.take("num_attention_heads")
        kv_heads = reader.take("num_key_value_heads", None)
        if kv_heads not in (None, heads):
            raise _refuse("num_key_value_heads", kv_heads, "grouped-query attention")
        for field, allowed, default, why in (
            ("hidden_act", ("silu",), "silu", "only the SwiGLU MLP"),
            ("attention_bias", (False,), False, "biases in the attention projections"),
            ("rope_scaling", (None,), None, "scaled RoPE"),
        ):
            value = reader.take(field, default)
            if value not in allowed:
                raise _refuse(field, value, why)
        hidden = reader.take("hidden_size")
        if hidden % heads:
            raise ConfigError(f"olmo config: hidden_size={hidden} is not divisible by {heads} heads")
        clip_qkv = reader.take("clip_qkv", None)
        vocab = reader.take("vocab_size")
        config = cls(
            vocab_size=vocab, embedding_size=vocab, hidden_size=hidden,
            num_layers=reader.take("num_hidden_layers"), num_heads=heads,
            mlp_hidden_size=2 * reader.take("intermediate_size"),
            max_position_embeddings=reader.take("max_position_embeddings"),
            norm_type="layer", norm_affine=False, norm_eps=1e-5,
            rope_theta=float(reader.take("rope_theta", 10000.0)),
            clip_qkv=None if clip_qkv is None else float(clip_qkv),
            tie_word_embeddings=bool(reader.take("tie_word_embeddings", False)),
            eos_token_id=raw.get("eos_token_id"), pad_token_id=raw.get("pad_token_id"),
            upstream_format="olmo",
        )
        reader.ignore("attention_dropout", "rope_parameters")
        reader.done()
        return config

    def check_inputs(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> None:
        check_token_inputs(input_ids, attention_mask, self.vocab_size, self.max_position_embeddings,
                           "max_sequence_length",
                           f" (the embedding has {self.embedding_size} rows, the rest are padding)")
