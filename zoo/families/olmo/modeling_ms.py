"""OLMo-1 decoder in MindSpore (Groeneveld et al. 2024; the DataDecide ladder): RoPE, SwiGLU, pre-norm.

Same classes, attributes and parameter names as modeling_pt.py. One code path serves training
(`construct`: whole sequences) and cached generation (`forward_cached`: docs/decoders.md). The layers
pick their kernels (Ascend fused ops, CPU C++ kernels, composed ops) through zoo.ms.kernels.

Positions: like hf_olmo, a token's RoPE position is its column in the batch (its cache slot when
decoding), not its index among the row's real tokens. RoPE scores depend only on the distance
between query and key, so left padding shifts every position of a row by the same amount and
leaves its logits unchanged up to rounding (tests/families/test_olmo.py measures it).
"""

from __future__ import annotations

import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops

from zoo.core.rope import rotary_tables
from zoo.families.olmo.config import OLMoConfig
from zoo.ms.layers import (
    Attention,
    CausalLMBase,
    Embedding,
    LayerNorm,
    Linear,
    RMSNorm,
    RotaryQKV,
    SwiGLU,
    leading_rows,
)


def make_norm(config: OLMoConfig, dtype=ms.float32) -> nn.Cell:
    """RMSNorm, or LayerNorm without a bias; either with a weight only when the config has one."""
    if config.norm_type == "rms":
        return RMSNorm(config.hidden_size, config.norm_eps, config.norm_affine, dtype=dtype)
    return LayerNorm(config.hidden_size, config.norm_eps, config.norm_affine, bias=False, dtype=dtype)


class OLMoAttention(nn.Cell):
    """softmax(R(Q) R(K)^T / sqrt(d) + bias) V W_o with [Q | K | V] = clip(x W_qkv^T), R the rotation."""

    def __init__(self, config: OLMoConfig, dtype=ms.float32) -> None:
        super().__init__()
        width = config.hidden_size
        self.clip_qkv = config.clip_qkv
        self.att_proj = Linear(width, 3 * width, bias=False, dtype=dtype)
        self.attn_out = Linear(width, width, bias=False, dtype=dtype)
        self.rotary_qkv = RotaryQKV(config.num_heads, config.head_dim, dtype=dtype)
        self.attend = Attention(config.num_heads, config.head_dim ** -0.5, head_dim=config.head_dim, dtype=dtype)

    def construct(self, x: Tensor, bias: Tensor, cos: Tensor, sin: Tensor, key_cache=None, value_cache=None,
                  cache_positions=None):
        qkv = self.att_proj(x)                                                   # (B, T, 3d)
        if self.clip_qkv is not None:
            qkv = ops.clamp(qkv, -self.clip_qkv, self.clip_qkv)
        q, k, v = self.rotary_qkv(qkv, cos, sin)                                 # (B, T, d) each, RoPE on q, k
        if key_cache is None:                                                    # whole sequences
            return self.attn_out(self.attend(q, k, v, bias)), k, v
        out, keys, values = self.attend.cached(q, k, v, key_cache, value_cache, cache_positions, bias)
        return self.attn_out(out), keys, values                                 # caches (B, H, L, D)


class OLMoMLP(nn.Cell):
    """W_out (silu(x W_gate^T) * x W_value^T), value and gate rows fused in ff_proj (gate second)."""

    def __init__(self, config: OLMoConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.ff_proj = Linear(config.hidden_size, config.mlp_hidden_size, bias=False, dtype=dtype)
        self.ff_out = Linear(config.mlp_hidden_size // 2, config.hidden_size, bias=False, dtype=dtype)
        self.act = SwiGLU(gate_first=False, width=config.mlp_hidden_size, dtype=dtype)

    def construct(self, x: Tensor) -> Tensor:
        return self.ff_out(self.act(self.ff_proj(x)))


class OLMoBlock(nn.Cell):
    """Sequential pre-norm block: h = x + Attn(N(x)); y = h + MLP(N(h))."""

    def __init__(self, config: OLMoConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.attn_norm = make_norm(config, dtype)
        self.attention = OLMoAttention(config, dtype)
        self.ff_norm = make_norm(config, dtype)
        self.mlp = OLMoMLP(config, dtype)

    def construct(self, x: Tensor, bias: Tensor, cos: Tensor, sin: Tensor, key_cache=None, value_cache=None,
                  cache_positions=None):
        a, k, v = self.attention(self.attn_norm(x), bias, cos, sin, key_cache, value_cache, cache_positions)
        normed, h = self.ff_norm(a, x)                      # N(h), h = x + a: one op where a kernel has it
        return h + self.mlp(normed), k, v


class OLMoModel(nn.Cell):
    """Token embeddings, N blocks, final norm; the RoPE tables are constants built at init."""

    def __init__(self, config: OLMoConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.embed_tokens = Embedding(config.embedding_size, config.hidden_size, dtype=dtype)
        self.layers = nn.CellList([OLMoBlock(config, dtype) for _ in range(config.num_layers)])
        self.norm = make_norm(config, dtype)
        cos, sin = rotary_tables(config.max_position_embeddings, config.head_dim, config.rope_theta)
        self.cos = Tensor(cos, dtype)                                            # (P, D)
        self.sin = Tensor(sin, dtype)

    def construct(self, input_ids: Tensor, bias: Tensor) -> Tensor:
        seq = input_ids.shape[1]
        cos = leading_rows(self.cos, seq)                                        # (S, D)
        sin = leading_rows(self.sin, seq)
        x = self.embed_tokens(input_ids)                                         # (B, S, d)
        for layer in self.layers:
            x, _, _ = layer(x, bias, cos, sin)
        return self.norm(x)

    def forward_cached(self, input_ids, bias, key_cache, value_cache, cache_positions):
        cos = ops.gather(self.cos, cache_positions, 0)                          # (T, D)
        sin = ops.gather(self.sin, cache_positions, 0)
        x = self.embed_tokens(input_ids)
        keys, values = (), ()
        for i, layer in enumerate(self.layers):
            x, k, v = layer(x, bias, cos, sin, key_cache[i], value_cache[i], cache_positions)
            keys = keys + (k,)
            values = values + (v,)
        return self.norm(x), keys, values


class OLMoForCausalLM(CausalLMBase):
    """logits = h W_out^T over embedding_size columns (W_out = W_E when the embeddings are tied)."""

    def __init__(self, config: OLMoConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.model = OLMoModel(config, dtype)
        self.init_causal_lm(config, config.hidden_size, config.embedding_size, dtype)

    def token_embeddings(self) -> Parameter:
        return self.model.embed_tokens.weight

    def hidden_states(self, input_ids: Tensor, attention_mask: Tensor, bias: Tensor) -> Tensor:
        return self.model(input_ids, bias)

    def forward_cached(self, input_ids, position_ids, attention_bias, key_cache, value_cache, cache_positions):
        """docs/decoders.md. RoPE uses the cache slots (as hf_olmo does), so position_ids is not read."""
        hidden, keys, values = self.model.forward_cached(input_ids, attention_bias, key_cache, value_cache,
                                                         cache_positions)
        return self.next_token_logits(hidden), keys, values


def build(config: OLMoConfig, dtype=ms.float32) -> nn.Cell:
    return OLMoForCausalLM(config, dtype)

