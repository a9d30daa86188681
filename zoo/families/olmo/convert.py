"""hf_olmo key names -> zoo names. Data, applied by zoo.core.checkpoint.

The fused tensors stay fused: `att_proj` (q | k | v rows) and `ff_proj` (value | gate rows of
SwiGLU) are one matrix each in the zoo too. One GEMM instead of three (or two) per block is what
both the CPU measurements (MINDSPORE_NOTES.md: slicing a fused QKV beat separate projections) and
Ascend's large-GEMM throughput favour, clip_qkv clamps the fused output exactly as hf_olmo does,
and the round trip to hf_olmo is a pure rename. The models slice the outputs (never mint.split,
whose PyNative gradients are wrong).
"""

from __future__ import annotations

from collections.abc import Iterable

from zoo.core.checkpoint import Fuse, KeyMap
from zoo.families.olmo.config import OLMoConfig

_PREFIX = "model.transformer."
_BLOCK = {
    "blocks.{}.attn_norm.weight": "model.layers.{}.attn_norm.weight",
    "blocks.{}.att_proj.weight": "model.layers.{}.attention.att_proj.weight",
    "blocks.{}.attn_out.weight": "model.layers.{}.attention.attn_out.weight",
    "blocks.{}.ff_norm.weight": "model.layers.{}.ff_norm.weight",
    "blocks.{}.ff_proj.weight": "model.layers.{}.mlp.ff_proj.weight",
    "blocks.{}.ff_out.weight": "model.layers.{}.mlp.ff_out.weight",
}
_TOP = {
    "wte.weight": "model.embed_tokens.weight",
    "ln_f.weight": "model.norm.weight",
    "ff_out.weight": "lm_head.weight",
}


# transformers' OlmoForCausalLM keeps q, k, v and gate, up apart: they are fused on the way in.
_TRANSFORMERS = {
    "model.embed_tokens.weight": "model.embed_tokens.weight",
    "model.layers.{}.self_attn.o_proj.weight": "model.layers.{}.attention.attn_out.weight",
    "model.layers.{}.mlp.down_proj.weight": "model.layers.{}.mlp.ff_out.weight",
    "lm_head.weight": "lm_head.weight",
}
_TRANSFORMERS_FUSES = (
    Fuse(("model.layers.{}.self_attn.q_proj.weight", "model.layers.{}.self_attn.k_proj.weight",
          "model.layers.{}.self_attn.v_proj.weight"), "model.layers.{}.attention.att_proj.weight"),
    Fuse(("model.layers.{}.mlp.up_proj.weight", "model.layers.{}.mlp.gate_proj.weight"),   # value | gate
         "model.layers.{}.mlp.ff_proj.weight"),
)


def keymap(config: OLMoConfig, upstream_names: Iterable[str] = ()) -> KeyMap:
    """The key table; norms without a weight (non-parametric LayerNorm) simply have no key to match."""
    if config.upstream_format == "olmo":
        tied = {"lm_head.weight": "model.embed_tokens.weight"} if config.tie_word_embeddings else {}
        return KeyMap(rules=_TRANSFORMERS, fuses=_TRANSFORMERS_FUSES, tied=tied)
    rules = {_PREFIX + up: zoo for up, zoo in {**_BLOCK, **_TOP}.items()}
    return KeyMap(rules=rules)
