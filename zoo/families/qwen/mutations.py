"""The parity self-test's injected bugs for Qwen's own layers (zoo.core.family.Mutation); the shared
Llama-architecture layers have theirs in zoo/families/llama/mutations.py."""

from __future__ import annotations

from zoo.core.family import Mutation
from zoo.families.llama.mutations import interleaved_kv_groups


def skipped_q_norm(net, layer: int = 1) -> None:
    """Qwen3's per-head RMSNorm on q left out (an identity in its place)."""
    from mindspore import nn

    class Identity(nn.Cell):
        def construct(self, x):
            return x

    net.model.layers[layer].self_attn.q_norm = Identity()


def mutations() -> tuple[Mutation, ...]:
    return (
        Mutation("q RMSNorm (Qwen3) skipped", "model.layers.1.self_attn.q_norm", skipped_q_norm),
        Mutation("key-value heads grouped h % Hkv instead of h // (H / Hkv)", "model.layers.1.self_attn.attend",
                 interleaved_kv_groups),
    )
