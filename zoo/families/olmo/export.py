"""OLMo-1 / DataDecide as MindFormers' Llama (the family's export hook; zoo/export/mindformers.py writes it).

The OLMo-1 ladder (DataDecide) models are Llama math: pre-norm blocks, RMSNorm with a weight, RoPE in
the rotate-half layout, SwiGLU, no biases, one KV head per query head. So MindFormers' `LlamaForCausalLM`
trains them as they are. The export is a key table run backwards by the zoo's conversion engine:

    att_proj = [wq; wk; wv]            (rows: q | k | v, each d_model)
    ff_proj  = [w3; w1]                (rows: value | gate: hf_olmo's SwiGLU is silu(gate) * value)
    Llama:  w2(silu(w1 x) * w3 x)      so  w1 = gate (second half), w3 = value (first half), w2 = ff_out

What the Llama cannot say is refused by name: LayerNorm (OLMo-1B/7B's non-parametric, mean-subtracting
norm), clip_qkv. An RMSNorm without a weight is a Llama RMSNorm whose weight is 1: written as ones.
"""

from __future__ import annotations

from zoo.core.checkpoint import Fuse, KeyMap
from zoo.core.errors import ExportError
from zoo.core.family import MindFormersLlama
from zoo.families.olmo.config import OLMoConfig

FLASH_HEAD_DIM_MULTIPLE = 16    # MindFormers' FlashAttentionScore needs head_dim a multiple of 16

KEYMAP = KeyMap(
    rules={
        "model.tok_embeddings.embedding_weight": "model.embed_tokens.weight",
        "model.layers.{}.attention_norm.weight": "model.layers.{}.attn_norm.weight",
        "model.layers.{}.attention.wo.weight": "model.layers.{}.attention.attn_out.weight",
        "model.layers.{}.ffn_norm.weight": "model.layers.{}.ff_norm.weight",
        "model.layers.{}.feed_forward.w2.weight": "model.layers.{}.mlp.ff_out.weight",
        "model.norm_out.weight": "model.norm.weight",
        "lm_head.weight": "lm_head.weight",
    },
    fuses=(
        Fuse(("model.layers.{}.attention.wq.weight", "model.layers.{}.attention.wk.weight",
              "model.layers.{}.attention.wv.weight"), "model.layers.{}.attention.att_proj.weight"),
        Fuse(("model.layers.{}.feed_forward.w3.weight", "model.layers.{}.feed_forward.w1.weight"),  # value|gate
             "model.layers.{}.mlp.ff_proj.weight"),
    ),
)
NORMS = ("model.layers.{}.attention_norm.weight", "model.layers.{}.ffn_norm.weight")


def mindformers_llama(config: OLMoConfig, name: str) -> MindFormersLlama:
    """The export spec, or an ExportError naming what MindFormers' Llama would compute differently."""
    if config.norm_type != "rms":
        weight = "" if config.norm_affine else ", without a weight"
        raise ExportError(
            f"{name}: its norms are LayerNorm (mean-subtracting{weight}), as in OLMo-1B / 7B; MindFormers' "
            "Llama normalises with RMSNorm and would compute different activations. Only RMSNorm OLMo models "
            "(the DataDecide ladder) can be exported")
    if config.clip_qkv is not None:
        raise ExportError(f"{name}: clip_qkv={config.clip_qkv} clamps q, k and v; MindFormers' Llama has no such "
                          "clamp and would train a different model")
    fields = {
        "hidden_size": config.hidden_size,
        "num_layers": config.num_layers,
        "num_heads": config.num_heads,
        "n_kv_heads": config.num_heads,
        "intermediate_size": config.mlp_hidden_size // 2,
        "vocab_size": config.embedding_size,        # the embedding's rows (padded past the tokenizer's vocabulary)
        "max_position_embedding": config.max_position_embeddings,
        "rms_norm_eps": config.norm_eps,
        "theta": config.rope_theta,
        "tie_word_embeddings": config.tie_word_embeddings,
        "qkv_has_bias": False,
        "use_flash_attention": config.head_dim % FLASH_HEAD_DIM_MULTIPLE == 0,
    }
    if config.eos_token_id is not None:
        fields["eos_token_id"] = config.eos_token_id
    if config.pad_token_id is not None:
        fields["pad_token_id"] = config.pad_token_id
    units = () if config.norm_affine else tuple(
        [p.format(i) for i in range(config.num_layers) for p in NORMS] + ["model.norm_out.weight"])
    return MindFormersLlama(KEYMAP, fields, units, config.hidden_size)
