"""transformers' OPT key names -> zoo names. Data, applied by zoo.core.checkpoint."""

from __future__ import annotations

from collections.abc import Iterable

from zoo.core.checkpoint import KeyMap
from zoo.families.opt.config import OPTConfig

# `*` stands for weight and bias (absent ones are simply never seen: enable_bias, elementwise affine).
_DECODER = {
    "decoder.embed_tokens.weight": "decoder.embed_tokens.weight",
    "decoder.embed_positions.weight": "decoder.embed_positions.weight",
    "decoder.project_in.weight": "decoder.project_in.weight",
    "decoder.project_out.weight": "decoder.project_out.weight",
    "decoder.final_layer_norm.*": "decoder.final_norm.*",
    "decoder.layers.{}.self_attn.q_proj.*": "decoder.layers.{}.attention.q_proj.*",
    "decoder.layers.{}.self_attn.k_proj.*": "decoder.layers.{}.attention.k_proj.*",
    "decoder.layers.{}.self_attn.v_proj.*": "decoder.layers.{}.attention.v_proj.*",
    "decoder.layers.{}.self_attn.out_proj.*": "decoder.layers.{}.attention.out_proj.*",
    "decoder.layers.{}.self_attn_layer_norm.*": "decoder.layers.{}.attention_norm.*",
    "decoder.layers.{}.fc1.*": "decoder.layers.{}.mlp.up_proj.*",
    "decoder.layers.{}.fc2.*": "decoder.layers.{}.mlp.down_proj.*",
    "decoder.layers.{}.final_layer_norm.*": "decoder.layers.{}.mlp_norm.*",
}
# OPTForCausalLM checkpoints nest the decoder under `model.`; OPTModel ones (some facebook/opt-*) do not.
PREFIX = "model."


def _expand(table: dict[str, str], prefix: str) -> dict[str, str]:
    rules: dict[str, str] = {}
    for upstream, zoo in table.items():
        for suffix in ("weight", "bias") if upstream.endswith("*") else ("",):
            rules[prefix + upstream.replace("*", suffix)] = zoo.replace("*", suffix)
    return rules


def keymap(config: OPTConfig, upstream_names: Iterable[str] = ()) -> KeyMap:
    """The key table for a checkpoint; `model.` is used when the file has it (and when writing one)."""
    names = list(upstream_names)
    prefix = PREFIX if not names or any(n.startswith(PREFIX) for n in names) else ""
    rules = _expand(_DECODER, prefix)
    rules["lm_head.weight"] = "lm_head.weight"
    tied = {"lm_head.weight": "decoder.embed_tokens.weight"} if config.tie_word_embeddings else {}
    return KeyMap(rules=rules, tied=tied)
