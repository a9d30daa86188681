"""The parity self-test's injected bugs for the OPT family's layers (zoo.core.family.Mutation).

Each edits a built MindSpore model; `mindzoo parity --self-test` requires the harness to fail on it and to
name `module` as the first divergence.
"""

from __future__ import annotations

import types

from zoo.core.family import Mutation


def _pre_ln_instead_of_post_ln(net) -> None:
    layer = net.decoder.layers[1]
    layer.pre_norm = not layer.pre_norm


def _no_position_offset(net) -> None:
    from mindspore import ops

    from zoo.families.opt.modeling_ms import embed_tokens_without_pad_grad

    def embed(self, input_ids, position_ids):
        if self.padding_idx is None:
            x = self.embed_tokens(input_ids)
        else:
            x = embed_tokens_without_pad_grad(self.embed_tokens, input_ids, self.padding_idx)
        if self.project_in is not None:
            x = self.project_in(x)
        return x + self.embed_positions(ops.relu(position_ids))             # offset 2 forgotten

    decoder = net.decoder
    decoder.embed = types.MethodType(embed, decoder)


def mutations() -> tuple[Mutation, ...]:
    return (
        Mutation("post-LN block run as pre-LN", "decoder.layers.1", _pre_ln_instead_of_post_ln),
        Mutation("learned positions without the offset of 2", "decoder", _no_position_offset),
    )
