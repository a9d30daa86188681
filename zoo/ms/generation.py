"""Greedy generation with a fixed-size KV cache, for MindSpore graph mode (static shapes).

The protocol a CausalLM implements (`num_layers`, `cache_shape`, `forward_cached`) is described in
docs/decoders.md. The cache is a tuple of (B, Hkv, L, D) tensors per layer, passed in and returned
(functional, so the same code runs in PyNative, under ms.jit and in the torch twin); the attention
layers write it. Prefill (T = P) and decode (T = 1) each compile once per (B, P, L) bucket: every
step-dependent value is a tensor, never a Python scalar.
"""

from __future__ import annotations

from collections.abc import Callable

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

from zoo.core.generation import BUCKETS, GenerationOutput, GreedyLoop, Plan, bucket, plan

__all__ = ["BUCKETS", "GenerationOutput", "Generator", "Plan", "bucket", "plan"]


class CachedStep(nn.Cell):
    """The model's forward_cached as a Cell of its own, so that it compiles as one graph."""

    def __init__(self, model: nn.Cell) -> None:
        super().__init__()
        self.model = model

    def construct(self, input_ids, position_ids, attention_bias, key_cache, value_cache, cache_positions):
        return self.model.forward_cached(input_ids, position_ids, attention_bias, key_cache, value_cache,
                                         cache_positions)


class Generator(GreedyLoop):
    """Greedy generation for a MindSpore CausalLM; mode "graph" compiles the steps with ms.jit."""

    def __init__(self, model: nn.Cell, eos_token_id: int | None = None, pad_token_id: int | None = None,
                 max_positions: int | None = None, mode: str = "graph") -> None:
        super().__init__(eos_token_id, pad_token_id, max_positions)
        if mode not in ("graph", "pynative"):
            raise ValueError(f"mode must be 'graph' or 'pynative', got {mode!r}")
        model.set_train(False)
        self.model = model
        self.dtype = model.trainable_params()[0].dtype
        self.mode = mode
        self.step = CachedStep(model) if mode == "pynative" else None   # graph mode: compiled_step
        self.compiled_steps: dict[tuple, Callable] = {}
        self.full = ms.jit(model.construct) if mode == "graph" else model
        self.cache: tuple[tuple[Tensor, ...], tuple[Tensor, ...]] | None = None

    def compiled_step(self, kind: str, ids_shape: tuple, length: int) -> Callable:
        """One compiled graph per (prefill | decode, ids shape, cache length), each on a Cell of its own
        whose `phase` is "prefill" or "increment". MindSpore runs such a Cell's graph, once compiled,
        through its inference path: no argument key is rebuilt and looked up per call, which was a
        seventh of a DataDecide-4M decode step (docs/PERFORMANCE.md, ninth round). That path does not
        check shapes, hence a Cell per shape: each only ever sees the inputs it was compiled for."""
        key = (kind, tuple(ids_shape), length)
        if key not in self.compiled_steps:
            cell = CachedStep(self.model)
            cell.phase = "prefill" if kind == "prefill" else "increment"
            self.compiled_steps[key] = ms.jit(cell.construct)
        return self.compiled_steps[key]

    def _bias(self, plan: Plan, slots: np.ndarray) -> Tensor:
        return Tensor(plan.bias(slots), self.dtype)

    def cached_logits(self, plan: Plan, step: int) -> np.ndarray:
        if step == 0:   # prefill: the whole prompt bucket into an empty cache
            shape = self.model.cache_shape(plan.tokens.shape[0], plan.length)
            zeros = tuple(ops.zeros(shape, self.dtype) for _ in range(self.model.num_layers))
            self.cache = (zeros, zeros)
            slots = np.arange(plan.prompt_len)
        else:           # decode: the token chosen last step, at slot P + step - 1
            slots = np.array([plan.prompt_len + step - 1])
        ids = plan.tokens[:, slots]
        kind = "prefill" if step == 0 else "decode"
        self.shapes_run.add((kind, ids.shape, plan.length))
        run = self.compiled_step(kind, ids.shape, plan.length) if self.mode == "graph" else self.step
        # ms.mutable: without it ms.jit takes a tuple of tensors as a constant and recompiles on every
        # call (2.8 s per decode step of a 2-layer model, docs/MINDSPORE_NOTES.md); with it, 0.01 s.
        logits, keys, values = run(
            Tensor(ids.astype(np.int32)), Tensor(plan.positions[:, slots].astype(np.int32)),
            self._bias(plan, slots), ms.mutable(self.cache[0]), ms.mutable(self.cache[1]),
            Tensor(slots.astype(np.int32)))
        self.cache = (keys, values)
        if logits.dtype != ms.float32:
            logits = logits.float()
        return logits.asnumpy()[:, -1]          # sliced on the host: no op launched for it

    def recomputed_logits(self, plan: Plan, step: int) -> np.ndarray:
        last = plan.prompt_len + step - 1
        mask = plan.valid * (np.arange(plan.length)[None, :] <= last)   # right pads after the sequence
        self.shapes_run.add(("recompute", plan.tokens.shape, plan.length))
        (logits,) = self.full(Tensor(plan.tokens.astype(np.int32)), Tensor(mask.astype(np.int32)))
        return logits[:, last].float().asnumpy()
