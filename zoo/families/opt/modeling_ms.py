"""OPT decoder in MindSpore (graph mode first): causal self-attention, ReLU MLP, learned positions.

Same classes, attributes and parameter names as modeling_pt.py. One code path serves training
(`construct`: whole sequences) and cached generation (`forward_cached`: docs/decoders.md).
"""

from __future__ import annotations

import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops

from zoo.families.opt.config import POSITION_OFFSET, OPTConfig
from zoo.ms.layers import (
    Attention,
    CausalLMBase,
    Embedding,
    LayerNorm,
    Linear,
    relu,
)


def positions_from_mask(attention_mask: Tensor) -> Tensor:
    """0-based index of each token among its row's tokens; -1 at pads (transformers: cumsum * mask - 1)."""
    return ops.cumsum(attention_mask, 1) * attention_mask - 1


def embed_tokens_without_pad_grad(embed_tokens: Embedding, input_ids: Tensor, padding_idx: int) -> Tensor:
    """Row lookup whose gradient skips the pad row, as torch's nn.Embedding(padding_idx=...) does.

    Forward is exact: x * 1 + sg(x) * 0 = x. Only the gradient of rows looked up by pad ids is cut.
    """
    x = embed_tokens(input_ids)                                               # (B, S, E)
    keep = (input_ids != padding_idx).astype(x.dtype)[:, :, None]
    return x * keep + ops.stop_gradient(x) * (1.0 - keep)


class OPTAttention(nn.Cell):
    """softmax((Q / sqrt(d)) K^T + bias) V W_o; q is scaled before the product, as in transformers."""

    def __init__(self, config: OPTConfig, dtype=ms.float32) -> None:
        super().__init__()
        width = config.hidden_size
        self.num_heads = config.num_heads
        self.scale = config.head_dim ** -0.5
        self.q_proj = Linear(width, width, bias=config.enable_bias, dtype=dtype)
        self.k_proj = Linear(width, width, bias=config.enable_bias, dtype=dtype)
        self.v_proj = Linear(width, width, bias=config.enable_bias, dtype=dtype)
        self.out_proj = Linear(width, width, bias=config.enable_bias, dtype=dtype)
        self.attend = Attention(self.num_heads, 1.0, head_dim=config.head_dim, dtype=dtype)  # q scaled before

    def construct(self, x: Tensor, bias: Tensor, key_cache=None, value_cache=None, cache_positions=None):
        q = self.q_proj(x) * self.scale                                 # (B, T, H D)
        k = self.k_proj(x)
        v = self.v_proj(x)
        if key_cache is None:                                           # whole sequences
            return self.out_proj(self.attend(q, k, v, bias)), k, v
        out, keys, values = self.attend.cached(q, k, v, key_cache, value_cache, cache_positions, bias)
        return self.out_proj(out), keys, values                         # caches (B, H, L, D)


class OPTMLP(nn.Cell):
    """W_2 relu(W_1 x)."""

    def __init__(self, config: OPTConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.up_proj = Linear(config.hidden_size, config.ffn_dim, bias=config.enable_bias, dtype=dtype)
        self.down_proj = Linear(config.ffn_dim, config.hidden_size, bias=config.enable_bias, dtype=dtype)

    def construct(self, x: Tensor) -> Tensor:
        return self.down_proj(relu(self.up_proj(x)))


class OPTLayer(nn.Cell):
    """Pre-LN: h = x + Attn(LN(x)); y = h + MLP(LN(h)).  Post-LN: h = LN(x + Attn(x)); y = LN(h + MLP(h))."""

    def __init__(self, config: OPTConfig, dtype=ms.float32) -> None:
        super().__init__()
        affine = config.layer_norm_elementwise_affine
        self.pre_norm = config.do_layer_norm_before
        self.attention_norm = LayerNorm(config.hidden_size, config.layer_norm_eps, affine, dtype=dtype)
        self.attention = OPTAttention(config, dtype)
        self.mlp_norm = LayerNorm(config.hidden_size, config.layer_norm_eps, affine, dtype=dtype)
        self.mlp = OPTMLP(config, dtype)

    def construct(self, x: Tensor, bias: Tensor, key_cache=None, value_cache=None, cache_positions=None):
        if self.pre_norm:
            a, k, v = self.attention(self.attention_norm(x), bias, key_cache, value_cache, cache_positions)
            h = x + a
            return h + self.mlp(self.mlp_norm(h)), k, v
        a, k, v = self.attention(x, bias, key_cache, value_cache, cache_positions)
        h = self.attention_norm(x + a)
        return self.mlp_norm(h + self.mlp(h)), k, v


class OPTDecoder(nn.Cell):
    """Token embeddings (projected in), learned positions (offset 2), N layers, final LN, projection out."""

    def __init__(self, config: OPTConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.padding_idx = config.pad_token_id
        self.embed_tokens = Embedding(config.vocab_size, config.word_embed_proj_dim, dtype=dtype)
        self.embed_positions = Embedding(config.max_position_embeddings + POSITION_OFFSET, config.hidden_size,
                                         dtype=dtype)
        self.project_in = (Linear(config.word_embed_proj_dim, config.hidden_size, bias=False, dtype=dtype)
                           if config.has_projections else None)
        self.layers = nn.CellList([OPTLayer(config, dtype) for _ in range(config.num_layers)])
        self.final_norm = (LayerNorm(config.hidden_size, config.layer_norm_eps, config.layer_norm_elementwise_affine,
                                     dtype=dtype) if config.final_layer_norm else None)
        self.project_out = (Linear(config.hidden_size, config.word_embed_proj_dim, bias=False, dtype=dtype)
                            if config.has_projections else None)

    def embed(self, input_ids: Tensor, position_ids: Tensor) -> Tensor:
        """x_t = P_in E[id_t] + Pos[position_t + 2]."""
        if self.padding_idx is None:
            x = self.embed_tokens(input_ids)
        else:
            x = embed_tokens_without_pad_grad(self.embed_tokens, input_ids, self.padding_idx)  # (B, T, E)
        if self.project_in is not None:
            x = self.project_in(x)                                                           # (B, T, d)
        return x + self.embed_positions(position_ids + POSITION_OFFSET)

    def finish(self, x: Tensor) -> Tensor:
        if self.final_norm is not None:
            x = self.final_norm(x)
        if self.project_out is not None:
            x = self.project_out(x)                                                          # (B, T, E)
        return x

    def construct(self, input_ids: Tensor, attention_mask: Tensor, bias: Tensor) -> Tensor:
        x = self.embed(input_ids, positions_from_mask(attention_mask))
        for layer in self.layers:
            x, _, _ = layer(x, bias)
        return self.finish(x)

    def forward_cached(self, input_ids, position_ids, bias, key_cache, value_cache, cache_positions):
        x = self.embed(input_ids, position_ids)
        keys, values = (), ()
        for i, layer in enumerate(self.layers):
            x, k, v = layer(x, bias, key_cache[i], value_cache[i], cache_positions)
            keys = keys + (k,)
            values = values + (v,)
        return self.finish(x), keys, values


class OPTForCausalLM(CausalLMBase):
    """logits = h W_E^T (the LM head is the token embedding unless the config unties it)."""

    def __init__(self, config: OPTConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.decoder = OPTDecoder(config, dtype)
        self.init_causal_lm(config, config.word_embed_proj_dim, config.vocab_size, dtype)

    def token_embeddings(self) -> Parameter:
        return self.decoder.embed_tokens.weight

    def hidden_states(self, input_ids: Tensor, attention_mask: Tensor, bias: Tensor) -> Tensor:
        return self.decoder(input_ids, attention_mask, bias)

    def forward_cached(self, input_ids, position_ids, attention_bias, key_cache, value_cache, cache_positions):
        hidden, keys, values = self.decoder.forward_cached(input_ids, position_ids, attention_bias, key_cache,
                                                           value_cache, cache_positions)
        return self.next_token_logits(hidden), keys, values


def build(config: OPTConfig, dtype=ms.float32) -> nn.Cell:
    return OPTForCausalLM(config, dtype)

