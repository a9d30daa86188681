"""transformers' Llama / Qwen2 / Qwen3 key names -> zoo names. Data, applied by zoo.core.checkpoint.

q, k and v are fused into one `qkv_proj` (rows q | k | v: H D, Hkv D, Hkv D) and gate and up into one
`gate_up_proj` (rows gate | up): one GEMM each instead of three and two, and the layouts the CPU
kernels (RoPE on a fused projection, SwiGLU) and Ascend's SwiGLU (gate first) take. The round trip to
transformers' names is exact (the fuses split back by their shares).
"""

from __future__ import annotations

from collections.abc import Iterable

from zoo.core.checkpoint import Fuse, KeyMap
from zoo.families.llama.config import LlamaConfig

_LAYER = "model.layers.{}."


def keymap(config: LlamaConfig, upstream_names: Iterable[str] = ()) -> KeyMap:
    rules = {
        "model.embed_tokens.weight": "model.embed_tokens.weight",
        "model.norm.weight": "model.norm.weight",
        _LAYER + "input_layernorm.weight": _LAYER + "input_layernorm.weight",
        _LAYER + "post_attention_layernorm.weight": _LAYER + "post_attention_layernorm.weight",
        _LAYER + "self_attn.o_proj.weight": _LAYER + "self_attn.o_proj.weight",
        _LAYER + "mlp.down_proj.weight": _LAYER + "mlp.down_proj.weight",
        "lm_head.weight": "lm_head.weight",
    }
    if config.output_bias:
        rules[_LAYER + "self_attn.o_proj.bias"] = _LAYER + "self_attn.o_proj.bias"
    if config.mlp_bias:
        rules[_LAYER + "mlp.down_proj.bias"] = _LAYER + "mlp.down_proj.bias"
    if config.qk_norm:
        rules[_LAYER + "self_attn.q_norm.weight"] = _LAYER + "self_attn.q_norm.weight"
        rules[_LAYER + "self_attn.k_norm.weight"] = _LAYER + "self_attn.k_norm.weight"
    shares = (config.num_heads, config.num_kv_heads, config.num_kv_heads)
    fuses = [Fuse(tuple(_LAYER + f"self_attn.{p}_proj.weight" for p in "qkv"), _LAYER + "self_attn.qkv_proj.weight",
                  sizes=shares),
             Fuse((_LAYER + "mlp.gate_proj.weight", _LAYER + "mlp.up_proj.weight"), _LAYER + "mlp.gate_up_proj.weight")]
    if config.qkv_bias:
        fuses.append(Fuse(tuple(_LAYER + f"self_attn.{p}_proj.bias" for p in "qkv"), _LAYER + "self_attn.qkv_proj.bias",
                          sizes=shares))
    if config.mlp_bias:
        fuses.append(Fuse((_LAYER + "mlp.gate_proj.bias", _LAYER + "mlp.up_proj.bias"),
                          _LAYER + "mlp.gate_up_proj.bias"))
    tied = {"lm_head.weight": "model.embed_tokens.weight"} if config.tie_word_embeddings else {}
    # Old checkpoints saved the RoPE inverse frequencies as buffers; the zoo computes its own tables.
    ignored = (_LAYER + "self_attn.rotary_emb.inv_freq", "model.rotary_emb.inv_freq")
    return KeyMap(rules=rules, fuses=tuple(fuses), tied=tied, ignored=ignored)
