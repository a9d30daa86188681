"""Greedy generation with a fixed-size KV cache, PyTorch twin of zoo.ms.generation.

The protocol a CausalLM implements (`num_layers`, `cache_shape`, `forward_cached`) is described in
docs/decoders.md; the host-side plan and loop are zoo.core.generation, shared with the MindSpore side.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from zoo.core.generation import BUCKETS, GenerationOutput, GreedyLoop, Plan, bucket, plan

__all__ = ["BUCKETS", "GenerationOutput", "Generator", "Plan", "bucket", "plan"]


class Generator(GreedyLoop):
    """Greedy generation for a PyTorch CausalLM implementing the protocol in docs/decoders.md."""

    def __init__(self, model: torch.nn.Module, eos_token_id: int | None = None, pad_token_id: int | None = None,
                 max_positions: int | None = None) -> None:
        super().__init__(eos_token_id, pad_token_id, max_positions)
        self.model = model.eval()
        self.param = next(model.parameters())
        self.cache: tuple[tuple[Tensor, ...], tuple[Tensor, ...]] | None = None

    def _tensor(self, array: np.ndarray, dtype: torch.dtype | None = None) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(device=self.param.device, dtype=dtype)

    @torch.no_grad()
    def cached_logits(self, plan: Plan, step: int) -> np.ndarray:
        if step == 0:   # prefill: the whole prompt bucket into an empty cache
            shape = self.model.cache_shape(plan.tokens.shape[0], plan.length)
            zeros = tuple(torch.zeros(shape, dtype=self.param.dtype, device=self.param.device)
                          for _ in range(self.model.num_layers))
            self.cache = (zeros, zeros)
            slots = np.arange(plan.prompt_len)
        else:           # decode: the token chosen last step, at slot P + step - 1
            slots = np.array([plan.prompt_len + step - 1])
        ids = plan.tokens[:, slots]
        self.shapes_run.add(("prefill" if step == 0 else "decode", ids.shape, plan.length))
        logits, keys, values = self.model.forward_cached(
            self._tensor(ids), self._tensor(plan.positions[:, slots]),
            self._tensor(plan.bias(slots), self.param.dtype), *self.cache, self._tensor(slots))
        self.cache = (keys, values)
        return logits[:, -1].float().cpu().numpy()

    @torch.no_grad()
    def recomputed_logits(self, plan: Plan, step: int) -> np.ndarray:
        last = plan.prompt_len + step - 1
        mask = plan.valid * (np.arange(plan.length)[None, :] <= last)   # right pads after the sequence
        self.shapes_run.add(("recompute", plan.tokens.shape, plan.length))
        (logits,) = self.model(self._tensor(plan.tokens), self._tensor(mask))
        return logits[:, last].float().cpu().numpy()
