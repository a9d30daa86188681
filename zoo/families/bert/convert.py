"""transformers' BERT / DistilBERT key names -> zoo names. Data, applied by zoo.core.checkpoint."""

from __future__ import annotations

from collections.abc import Iterable

from zoo.core.checkpoint import KeyMap
from zoo.families.bert.config import BertConfig

_BERT = {
    "embeddings.word_embeddings.weight": "encoder.embeddings.word_embeddings.weight",
    "embeddings.position_embeddings.weight": "encoder.embeddings.position_embeddings.weight",
    "embeddings.token_type_embeddings.weight": "encoder.embeddings.token_type_embeddings.weight",
    "embeddings.LayerNorm.*": "encoder.embeddings.norm.*",
    "encoder.layer.{}.attention.self.query.*": "encoder.layers.{}.attention.q_proj.*",
    "encoder.layer.{}.attention.self.key.*": "encoder.layers.{}.attention.k_proj.*",
    "encoder.layer.{}.attention.self.value.*": "encoder.layers.{}.attention.v_proj.*",
    "encoder.layer.{}.attention.output.dense.*": "encoder.layers.{}.attention.out_proj.*",
    "encoder.layer.{}.attention.output.LayerNorm.*": "encoder.layers.{}.attention_norm.*",
    "encoder.layer.{}.intermediate.dense.*": "encoder.layers.{}.mlp.up_proj.*",
    "encoder.layer.{}.output.dense.*": "encoder.layers.{}.mlp.down_proj.*",
    "encoder.layer.{}.output.LayerNorm.*": "encoder.layers.{}.mlp_norm.*",
    "pooler.dense.*": "encoder.pooler.dense.*",
}
_DISTILBERT = {
    "embeddings.word_embeddings.weight": "encoder.embeddings.word_embeddings.weight",
    "embeddings.position_embeddings.weight": "encoder.embeddings.position_embeddings.weight",
    "embeddings.LayerNorm.*": "encoder.embeddings.norm.*",
    "transformer.layer.{}.attention.q_lin.*": "encoder.layers.{}.attention.q_proj.*",
    "transformer.layer.{}.attention.k_lin.*": "encoder.layers.{}.attention.k_proj.*",
    "transformer.layer.{}.attention.v_lin.*": "encoder.layers.{}.attention.v_proj.*",
    "transformer.layer.{}.attention.out_lin.*": "encoder.layers.{}.attention.out_proj.*",
    "transformer.layer.{}.sa_layer_norm.*": "encoder.layers.{}.attention_norm.*",
    "transformer.layer.{}.ffn.lin1.*": "encoder.layers.{}.mlp.up_proj.*",
    "transformer.layer.{}.ffn.lin2.*": "encoder.layers.{}.mlp.down_proj.*",
    "transformer.layer.{}.output_layer_norm.*": "encoder.layers.{}.mlp_norm.*",
}
# Heads sit outside the base model prefix in transformers' checkpoints.
_HEADS = {
    "classifier.*": "head.classifier.*",
    "pre_classifier.*": "head.pre_classifier.*",
}
# Registered buffers that some transformers versions saved; they hold no weights.
_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
# Pre-2019 checkpoints name LayerNorm parameters gamma / beta; transformers renames them on load.
_LEGACY_SUFFIXES = {"weight": ("weight", "gamma"), "bias": ("bias", "beta")}

PREFIXES = {"bert": "bert.", "distilbert": "distilbert."}


def _expand(table: dict[str, str], prefix: str) -> dict[str, str]:
    """`*` means weight and bias; LayerNorms also accept their legacy gamma / beta names."""
    rules: dict[str, str] = {}
    for upstream, zoo in table.items():
        if not upstream.endswith("*"):
            rules[prefix + upstream] = zoo
            continue
        for zoo_suffix, upstream_suffixes in _LEGACY_SUFFIXES.items():
            for suffix in upstream_suffixes if "LayerNorm" in upstream or "layer_norm" in upstream else (
                    zoo_suffix,):
                rules[prefix + upstream[:-1] + suffix] = zoo[:-1] + zoo_suffix
    return rules


def keymap(config: BertConfig, upstream_names: Iterable[str] = ()) -> KeyMap:
    """The key table for a checkpoint; the base-model prefix (`bert.`) is used when the file has it."""
    base_prefix = PREFIXES[config.variant]
    names = list(upstream_names)
    if names:
        prefix = base_prefix if any(n.startswith(base_prefix) for n in names) else ""
    else:  # writing a checkpoint: transformers' own layout for the task
        prefix = base_prefix if config.task == "sequence-classification" else ""
    table = _BERT if config.variant == "bert" else _DISTILBERT
    rules = _expand(table, prefix)
    if config.task == "sequence-classification":
        rules.update(_expand(_HEADS, ""))
    return KeyMap(rules=rules, ignored=tuple(prefix + b for b in _BUFFERS))
