"""The parity self-test's injected bugs for the Llama-architecture layers (zoo.core.family.Mutation)."""

from __future__ import annotations

import types

from zoo.core.family import Mutation


def interleaved_kv_groups(net, layer: int = 1) -> None:
    """Query head h reads key-value head h % Hkv (the interleaved grouping) instead of h // (H / Hkv)."""
    from mindspore import ops

    from zoo.ms.kernels import composed

    attention = net.model.layers[layer].self_attn.attend
    heads, kv_heads, scale = attention.num_heads, attention.num_kv_heads, attention.scale
    groups = heads // kv_heads

    def construct(self, q, k, v, bias):
        keys = ops.tile(composed.split_heads(k, kv_heads), (1, groups, 1, 1))      # kv heads 0 1 0 1 ...
        values = ops.tile(composed.split_heads(v, kv_heads), (1, groups, 1, 1))
        return composed.merge_heads(composed.attention(composed.split_heads(q, heads), keys, values, bias, scale))

    attention.kernel = composed.Attention(heads, kv_heads, scale)
    attention.kernel.construct = types.MethodType(construct, attention.kernel)


def unscaled_rope(net) -> None:
    """The config's RoPE scaling ignored: plain rotary tables at the same theta."""
    from mindspore import Tensor

    from zoo.core.rope import rotary_tables

    model = net.model
    cos, sin = rotary_tables(model.cos.shape[0], model.cos.shape[1], model.rope_theta)
    model.cos, model.sin = Tensor(cos, model.cos.dtype), Tensor(sin, model.sin.dtype)


def swapped_gate_and_up(net, layer: int = 0) -> None:
    """SwiGLU gating the wrong half of gate_up_proj (silu(up) * gate)."""
    from zoo.ms.kernels import composed

    net.model.layers[layer].mlp.act.kernel = composed.SwiGLU(gate_first=False)


def mutations() -> tuple[Mutation, ...]:
    return (
        Mutation("key-value heads grouped h % Hkv instead of h // (H / Hkv)", "model.layers.1.self_attn.attend",
                 interleaved_kv_groups),
        Mutation("RoPE scaling (llama3) ignored", "model", unscaled_rope),
        Mutation("SwiGLU gates the up half", "model.layers.0.mlp.act", swapped_gate_and_up),
    )
