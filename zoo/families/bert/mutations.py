"""The parity self-test's injected bugs for the BERT family's layers (zoo.core.family.Mutation).

Each edits a built MindSpore model; `mindzoo parity --self-test` requires the harness to fail on it and to
name `module` as the first divergence.
"""

from __future__ import annotations

import math
import types

from zoo.core.family import Mutation


def _transposed_weight(net) -> None:
    weight = net.encoder.layers[1].attention.q_proj.weight
    weight.set_data(weight.T)


def _norm_epsilon(net) -> None:
    net.encoder.layers[0].mlp_norm.eps = 1e-1   # reaches whichever implementation the kernel policy chose


def _swapped_qk(net) -> None:
    def construct(self, x, additive_mask):
        return self.out_proj(self.attend(self.k_proj(x), self.q_proj(x), self.v_proj(x), additive_mask))

    cell = net.encoder.layers[1].attention
    cell.construct = types.MethodType(construct, cell)


def _missing_residual(net) -> None:
    def construct(self, x, additive_mask):
        h = self.attention_norm(self.attention(x, additive_mask))
        return self.mlp_norm(h + self.mlp(h))

    cell = net.encoder.layers[0]
    cell.construct = types.MethodType(construct, cell)


def _tanh_gelu(net) -> None:
    from mindspore import ops

    def construct(self, x):
        h = self.up_proj(x)
        h = 0.5 * h * (1.0 + ops.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h ** 3)))
        return self.down_proj(h)

    cell = net.encoder.layers[1].mlp
    cell.construct = types.MethodType(construct, cell)


def mutations() -> tuple[Mutation, ...]:
    return (
        Mutation("transposed weight (q_proj)", "encoder.layers.1.attention.q_proj", _transposed_weight),
        Mutation("LayerNorm epsilon 1e-12 -> 1e-1", "encoder.layers.0.mlp_norm", _norm_epsilon),
        Mutation("swapped q / k", "encoder.layers.1.attention", _swapped_qk),
        Mutation("missing residual (attention)", "encoder.layers.0", _missing_residual),
        Mutation("GELU: tanh approximation instead of erf", "encoder.layers.1.mlp", _tanh_gelu),
    )
