"""Llama-architecture decoder in MindSpore (Llama, SmolLM2, TinyLlama; Qwen2 / Qwen3 through the qwen family):
pre-norm blocks, RMSNorm, rotary attention over grouped key-value heads, SwiGLU.

Same classes, attributes and parameter names as modeling_pt.py. One code path serves training
(`construct`: whole sequences) and cached generation (`forward_cached`: docs/decoders.md); the cache
holds the key-value heads only. The layers pick their kernels through zoo.ms.kernels.

Positions: a token's RoPE position is its column in the batch (its cache slot when decoding), as for
OLMo: RoPE scores depend only on the distance between query and key, so padding on the left shifts a
row's positions by one constant and leaves its logits equal up to rounding.
"""

from __future__ import annotations

import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops

from zoo.core.rope import rotary_tables
from zoo.families.llama.config import LlamaConfig
from zoo.ms.layers import (
    Attention,
    CausalLMBase,
    Embedding,
    Linear,
    RMSNorm,
    Rotary,
    RotaryQKV,
    SwiGLU,
    leading_rows,
)


class LlamaAttention(nn.Cell):
    """softmax(R(Q) R(K)^T / sqrt(D) + bias) V W_o over Hkv key-value heads, each serving H / Hkv query heads;
    [Q | K | V] = x W_qkv^T (+ b); Qwen3 normalises each head of Q and K before the rotation R."""

    def __init__(self, config: LlamaConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.q_width = config.num_heads * config.head_dim
        self.kv_width = config.num_kv_heads * config.head_dim
        self.head_dim = config.head_dim
        self.qkv_proj = Linear(config.hidden_size, self.q_width + 2 * self.kv_width, bias=config.qkv_bias, dtype=dtype)
        self.o_proj = Linear(self.q_width, config.hidden_size, bias=config.output_bias, dtype=dtype)
        if config.qk_norm:
            self.q_norm = RMSNorm(config.head_dim, config.rms_norm_eps, dtype=dtype)
            self.k_norm = RMSNorm(config.head_dim, config.rms_norm_eps, dtype=dtype)
            self.rotary = Rotary(config.head_dim, dtype=dtype)
            self.rotary_qkv = None
        else:
            self.q_norm = self.k_norm = self.rotary = None
            self.rotary_qkv = RotaryQKV(config.num_heads, config.head_dim, config.num_kv_heads, dtype=dtype)
        self.attend = Attention(config.num_heads, config.head_dim ** -0.5, config.num_kv_heads, config.head_dim,
                                dtype=dtype)

    def construct(self, x: Tensor, bias: Tensor, cos: Tensor, sin: Tensor, key_cache=None, value_cache=None,
                  cache_positions=None):
        qkv = self.qkv_proj(x)                                                   # (B, T, (H + 2 Hkv) D)
        if self.rotary_qkv is not None:
            q, k, v = self.rotary_qkv(qkv, cos, sin)
        else:
            batch, seq, _ = qkv.shape
            q = self.q_norm(qkv[:, :, :self.q_width].reshape(batch, seq, -1, self.head_dim))   # (B, T, H, D)
            k = self.k_norm(qkv[:, :, self.q_width:self.q_width + self.kv_width].reshape(batch, seq, -1,
                                                                                         self.head_dim))
            q = self.rotary(q.reshape(batch, seq, self.q_width), cos, sin)
            k = self.rotary(k.reshape(batch, seq, self.kv_width), cos, sin)
            v = qkv[:, :, self.q_width + self.kv_width:]
        if key_cache is None:                                                    # whole sequences
            return self.o_proj(self.attend(q, k, v, bias)), k, v
        out, keys, values = self.attend.cached(q, k, v, key_cache, value_cache, cache_positions, bias)
        return self.o_proj(out), keys, values                                   # caches (B, Hkv, L, D)


class LlamaMLP(nn.Cell):
    """W_down (silu(x W_gate^T) * x W_up^T), gate and up rows fused in gate_up_proj (gate first)."""

    def __init__(self, config: LlamaConfig, dtype=ms.float32) -> None:
        super().__init__()
        width = 2 * config.intermediate_size
        self.gate_up_proj = Linear(config.hidden_size, width, bias=config.mlp_bias, dtype=dtype)
        self.down_proj = Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias, dtype=dtype)
        self.act = SwiGLU(gate_first=True, width=width, dtype=dtype)

    def construct(self, x: Tensor) -> Tensor:
        return self.down_proj(self.act(self.gate_up_proj(x)))


class LlamaBlock(nn.Cell):
    """Pre-norm block: h = x + Attn(N(x)); y = h + MLP(N(h))."""

    def __init__(self, config: LlamaConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps, dtype=dtype)
        self.self_attn = LlamaAttention(config, dtype)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps, dtype=dtype)
        self.mlp = LlamaMLP(config, dtype)

    def construct(self, x: Tensor, bias: Tensor, cos: Tensor, sin: Tensor, key_cache=None, value_cache=None,
                  cache_positions=None):
        a, k, v = self.self_attn(self.input_layernorm(x), bias, cos, sin, key_cache, value_cache, cache_positions)
        normed, h = self.post_attention_layernorm(a, x)     # N(h), h = x + a: one op where a kernel has it
        return h + self.mlp(normed), k, v


class LlamaModel(nn.Cell):
    """Token embeddings, N blocks, final RMSNorm; the RoPE tables (scaled as the config says) are constants."""

    def __init__(self, config: LlamaConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.embed_tokens = Embedding(config.vocab_size, config.hidden_size, dtype=dtype)
        self.layers = nn.CellList([LlamaBlock(config, dtype) for _ in range(config.num_layers)])
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps, dtype=dtype)
        self.rope_theta = config.rope_theta
        cos, sin = rotary_tables(config.table_positions, config.head_dim, config.rope_theta, config.rope_scaling)
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


class LlamaForCausalLM(CausalLMBase):
    """logits = h W^T with W the LM head's own matrix or, tied, the token embeddings."""

    def __init__(self, config: LlamaConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.model = LlamaModel(config, dtype)
        self.init_causal_lm(config, config.hidden_size, config.vocab_size, dtype)

    def token_embeddings(self) -> Parameter:
        return self.model.embed_tokens.weight

    def hidden_states(self, input_ids: Tensor, attention_mask: Tensor, bias: Tensor) -> Tensor:
        return self.model(input_ids, bias)

    def forward_cached(self, input_ids, position_ids, attention_bias, key_cache, value_cache, cache_positions):
        """docs/decoders.md. RoPE uses the cache slots, so position_ids is not read."""
        hidden, keys, values = self.model.forward_cached(input_ids, attention_bias, key_cache, value_cache,
                                                         cache_positions)
        return self.next_token_logits(hidden), keys, values


def build(config: LlamaConfig, dtype=ms.float32) -> nn.Cell:
    return LlamaForCausalLM(config, dtype)
