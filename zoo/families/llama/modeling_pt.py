"""Llama-architecture decoder in PyTorch: the twin of modeling_ms.py, same modules, same names.

Positions: a token's RoPE position is its column in the batch (its cache slot when decoding); see
modeling_ms.py.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.core.rope import rotary_tables
from zoo.families.llama.config import LlamaConfig
from zoo.pt.layers import (
    Attention,
    CausalLMBase,
    Embedding,
    Linear,
    RMSNorm,
    Rotary,
    RotaryQKV,
    SwiGLU,
)


class LlamaAttention(nn.Module):
    """softmax(R(Q) R(K)^T / sqrt(D) + bias) V W_o over Hkv key-value heads, each serving H / Hkv query heads;
    [Q | K | V] = x W_qkv^T (+ b); Qwen3 normalises each head of Q and K before the rotation R."""

    def __init__(self, config: LlamaConfig, dtype=torch.float32) -> None:
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

    def forward(self, x: Tensor, bias: Tensor, cos: Tensor, sin: Tensor, key_cache=None, value_cache=None,
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


class LlamaMLP(nn.Module):
    """W_down (silu(x W_gate^T) * x W_up^T), gate and up rows fused in gate_up_proj (gate first)."""

    def __init__(self, config: LlamaConfig, dtype=torch.float32) -> None:
        super().__init__()
        width = 2 * config.intermediate_size
        self.gate_up_proj = Linear(config.hidden_size, width, bias=config.mlp_bias, dtype=dtype)
        self.down_proj = Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias, dtype=dtype)
        self.act = SwiGLU(gate_first=True, width=width, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(self.act(self.gate_up_proj(x)))


class LlamaBlock(nn.Module):
    """Pre-norm block: h = x + Attn(N(x)); y = h + MLP(N(h))."""

    def __init__(self, config: LlamaConfig, dtype=torch.float32) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps, dtype=dtype)
        self.self_attn = LlamaAttention(config, dtype)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps, dtype=dtype)
        self.mlp = LlamaMLP(config, dtype)

    def forward(self, x: Tensor, bias: Tensor, cos: Tensor, sin: Tensor, key_cache=None, value_cache=None,
                  cache_positions=None):
        a, k, v = self.self_attn(self.input_layernorm(x), bias, cos, sin, key_cache, value_cache, cache_positions)
        normed, h = self.post_attention_layernorm(a, x)     # N(h), h = x + a: one op where a kernel has it
        return h + self.mlp(normed), k, v


class LlamaModel(nn.Module):
    """Token embeddings, N blocks, final RMSNorm; the RoPE tables (scaled as the config says) are constants."""

    def __init__(self, config: LlamaConfig, dtype=torch.float32) -> None:
        super().__init__()
        self.embed_tokens = Embedding(config.vocab_size, config.hidden_size, dtype=dtype)
        self.layers = nn.ModuleList([LlamaBlock(config, dtype) for _ in range(config.num_layers)])
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps, dtype=dtype)
        self.rope_theta = config.rope_theta
        cos, sin = rotary_tables(config.table_positions, config.head_dim, config.rope_theta, config.rope_scaling)
        self.register_buffer("cos", torch.from_numpy(cos).to(dtype), persistent=False)  # (P, D)
        self.register_buffer("sin", torch.from_numpy(sin).to(dtype), persistent=False)

    def forward(self, input_ids: Tensor, bias: Tensor) -> Tensor:
        seq = input_ids.shape[1]
        cos = self.cos[:seq]                                                     # (S, D)
        sin = self.sin[:seq]
        x = self.embed_tokens(input_ids)                                         # (B, S, d)
        for layer in self.layers:
            x, _, _ = layer(x, bias, cos, sin)
        return self.norm(x)

    def forward_cached(self, input_ids, bias, key_cache, value_cache, cache_positions):
        cos = self.cos[cache_positions]                                          # (T, D)
        sin = self.sin[cache_positions]
        x = self.embed_tokens(input_ids)
        keys, values = (), ()
        for i, layer in enumerate(self.layers):
            x, k, v = layer(x, bias, cos, sin, key_cache[i], value_cache[i], cache_positions)
            keys = keys + (k,)
            values = values + (v,)
        return self.norm(x), keys, values


class LlamaForCausalLM(CausalLMBase):
    """logits = h W^T with W the LM head's own matrix or, tied, the token embeddings."""

    def __init__(self, config: LlamaConfig, dtype=torch.float32) -> None:
        super().__init__()
        self.model = LlamaModel(config, dtype)
        self.init_causal_lm(config, config.hidden_size, config.vocab_size, dtype)

    def token_embeddings(self) -> Tensor:
        return self.model.embed_tokens.weight

    def hidden_states(self, input_ids: Tensor, attention_mask: Tensor, bias: Tensor) -> Tensor:
        return self.model(input_ids, bias)

    def forward_cached(self, input_ids, position_ids, attention_bias, key_cache, value_cache, cache_positions):
        """docs/decoders.md. RoPE uses the cache slots, so position_ids is not read."""
        hidden, keys, values = self.model.forward_cached(input_ids, attention_bias, key_cache, value_cache,
                                                         cache_positions)
        return self.next_token_logits(hidden), keys, values


def build(config: LlamaConfig, dtype=torch.float32) -> nn.Module:
    return LlamaForCausalLM(config, dtype)
