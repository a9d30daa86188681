"""Llama-architecture models (llama and qwen families) as MindFormers' Llama (the families' export hook;
zoo/export/mindformers.py writes it).

MindFormers 1.9's legacy `LlamaForCausalLM` trains pre-norm RMSNorm / RoPE / SwiGLU decoders with grouped
key-value heads (`n_kv_heads`), q/k/v biases (`qkv_has_bias`: Qwen2), an o_proj bias
(`attn_proj_has_bias`) and the llama3 RoPE scaling (`extend_method: LLAMA3`). The zoo's fused
projections split back into its names:

    qkv_proj     = [wq; wk; wv]      (rows H D | Hkv D | Hkv D, biases alike)
    gate_up_proj = [w1; w3]          (rows gate | up: Llama's w2(silu(w1 x) * w3 x))

What it cannot express is refused by name: a head_dim other than hidden_size / heads, Qwen3's q/k norms,
MLP biases, and the linear and dynamic RoPE scalings (MindFormers 1.9's own check refuses every linear
factor, and its DYNAMIC_NTK is not transformers' dynamic scaling).
"""

from __future__ import annotations

from zoo.core.checkpoint import Fuse, KeyMap
from zoo.core.errors import ExportError
from zoo.core.family import MindFormersLlama
from zoo.families.llama.config import LlamaConfig

FLASH_HEAD_DIM_MULTIPLE = 16    # MindFormers' FlashAttentionScore needs head_dim a multiple of 16
_MF = "model.layers.{}."
_ZOO = "model.layers.{}."


def keymap(config: LlamaConfig) -> KeyMap:
    """MindFormers' LlamaForCausalLM parameter names (the upstream side) -> the zoo's Llama names."""
    rules = {
        "model.tok_embeddings.embedding_weight": "model.embed_tokens.weight",
        _MF + "attention_norm.weight": _ZOO + "input_layernorm.weight",
        _MF + "attention.wo.weight": _ZOO + "self_attn.o_proj.weight",
        _MF + "ffn_norm.weight": _ZOO + "post_attention_layernorm.weight",
        _MF + "feed_forward.w2.weight": _ZOO + "mlp.down_proj.weight",
        "model.norm_out.weight": "model.norm.weight",
        "lm_head.weight": "lm_head.weight",
    }
    if config.output_bias:
        rules[_MF + "attention.wo.bias"] = _ZOO + "self_attn.o_proj.bias"
    shares = (config.num_heads, config.num_kv_heads, config.num_kv_heads)
    fuses = [Fuse(tuple(_MF + f"attention.w{p}.weight" for p in "qkv"), _ZOO + "self_attn.qkv_proj.weight",
                  sizes=shares),
             Fuse((_MF + "feed_forward.w1.weight", _MF + "feed_forward.w3.weight"), _ZOO + "mlp.gate_up_proj.weight")]
    if config.qkv_bias:
        fuses.append(Fuse(tuple(_MF + f"attention.w{p}.bias" for p in "qkv"), _ZOO + "self_attn.qkv_proj.bias",
                          sizes=shares))
    return KeyMap(rules=rules, fuses=tuple(fuses))


def mindformers_llama(config: LlamaConfig, name: str) -> MindFormersLlama:
    """The export spec, or an ExportError naming what MindFormers' Llama would compute differently."""
    if config.qk_norm:
        raise ExportError(f"{name}: Qwen3's per-head q/k RMSNorm has no place in MindFormers' Llama")
    if config.head_dim * config.num_heads != config.hidden_size:
        raise ExportError(f"{name}: head_dim={config.head_dim} is not hidden_size / heads "
                          f"({config.hidden_size} / {config.num_heads}); MindFormers' Llama derives the head size")
    if config.mlp_bias:
        raise ExportError(f"{name}: mlp_bias=True: MindFormers' Llama has no biases in its MLP")
    fields = {
        "hidden_size": config.hidden_size,
        "num_layers": config.num_layers,
        "num_heads": config.num_heads,
        "n_kv_heads": config.num_kv_heads,
        "intermediate_size": config.intermediate_size,
        "vocab_size": config.vocab_size,
        "max_position_embedding": config.max_position_embeddings,
        "rms_norm_eps": config.rms_norm_eps,
        "theta": config.rope_theta,
        "tie_word_embeddings": config.tie_word_embeddings,
        "qkv_has_bias": config.qkv_bias,
        "attn_proj_has_bias": config.output_bias,
        "use_flash_attention": config.head_dim % FLASH_HEAD_DIM_MULTIPLE == 0,
    }
    scaling = config.rope_scaling
    if scaling is not None:
        if scaling.kind != "llama3":
            raise ExportError(f"{name}: rope_scaling {scaling.kind!r}: MindFormers 1.9's Llama expresses the llama3 "
                              "scaling only (its linear check refuses every factor, its DYNAMIC_NTK is another method)")
        fields["extend_method"] = "LLAMA3"
        fields["scaling_factor"] = {"factor": float(scaling.factor), "low_freq_factor": scaling.low_freq_factor,
                                    "high_freq_factor": scaling.high_freq_factor,
                                    "original_max_position_embeddings": scaling.original_max_position_embeddings}
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if getattr(config, key) is not None:
            fields[key] = getattr(config, key)
    return MindFormersLlama(keymap(config), fields)
