"""The parity self-test's injected bugs for the OLMo family's layers (zoo.core.family.Mutation).

Each edits a built MindSpore model; `mindzoo parity --self-test` requires the harness to fail on it and to
name `module` as the first divergence.
"""

from __future__ import annotations

import types

from zoo.core.family import Mutation


def _rope_theta(net) -> None:
    from mindspore import Tensor

    from zoo.core.rope import rotary_tables

    model = net.model
    cos, sin = rotary_tables(model.cos.shape[0], model.cos.shape[1], 500000.0)
    model.cos, model.sin = Tensor(cos, model.cos.dtype), Tensor(sin, model.sin.dtype)


def _causal_mask_off_by_one(net) -> None:
    from mindspore import ops

    def construct(self, input_ids, attention_mask):
        steps = ops.arange(attention_mask.shape[1])
        causal = (steps[None, :] <= steps[:, None] + 1).astype(self.dtype)        # sees one token ahead
        keep = causal[None, None, :, :] * attention_mask.astype(self.dtype)[:, None, None, :]
        return (self.head(self.model(input_ids, (1.0 - keep) * self.mask_value)),)

    net.construct = types.MethodType(construct, net)


def _missing_mlp_residual(net) -> None:
    def construct(self, x, bias, cos, sin, key_cache=None, value_cache=None, cache_positions=None):
        a, k, v = self.attention(self.attn_norm(x), bias, cos, sin, key_cache, value_cache, cache_positions)
        h = x + a
        return self.mlp(self.ff_norm(h)), k, v

    cell = net.model.layers[1]
    cell.construct = types.MethodType(construct, cell)


def mutations() -> tuple[Mutation, ...]:
    return (
        Mutation("RoPE theta 10000 -> 500000", "model", _rope_theta),
        Mutation("causal mask off by one", "<root>", _causal_mask_off_by_one),
        Mutation("missing residual (MLP)", "model.layers.1", _missing_mlp_residual),
    )
