"""The host side of cached greedy generation, shared by both twins: buckets, the slot plan, the loop.

A model that generates implements `num_layers`, `cache_shape` and `forward_cached` (docs/decoders.md).
Everything that is not a model call lives here once, in numpy, so the MindSpore generator
(zoo/ms/generation.py) and the torch twin (zoo/pt/generation.py) feed their models the very same
arrays, step by step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zoo.core.errors import InputError

BUCKETS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
LOWEST = float(np.finfo(np.float32).min)


def bucket(n: int, buckets: tuple[int, ...] = BUCKETS) -> int:
    """The smallest bucket >= n: shapes come from this short list, so graphs compile once per bucket."""
    for b in buckets:
        if b >= n:
            return b
    raise InputError(f"length {n} is past the largest generation bucket {buckets[-1]}")


@dataclass
class Plan:
    """Where every token of a generation lives: [left pads | prompt | generated | unused] per row."""

    tokens: np.ndarray        # (B, L) int64 token ids by slot (pad id where nothing is)
    valid: np.ndarray         # (B, L) 1 where a slot holds a prompt or generated token
    positions: np.ndarray     # (B, L) 0-based index of each slot's token among its row's tokens
    prompt_len: int           # P: the prompt bucket; the first generated token goes to slot P
    length: int               # L: the cache bucket
    max_new_tokens: int
    shapes: set = field(default_factory=set)

    def prefill_bias(self, dtype=np.float32) -> np.ndarray:
        """(B, 1, P, L) additive bias of the prompt rows."""
        return self.bias(np.arange(self.prompt_len), dtype)

    def bias(self, slots: np.ndarray, dtype=np.float32) -> np.ndarray:
        """(B, 1, T, L): 0 where query slot t may see slot s (s <= t and s holds a token), lowest elsewhere."""
        causal = np.arange(self.length)[None, :] <= slots[:, None]              # (T, L)
        allowed = causal[None, :, :] & (self.valid[:, None, :] == 1)            # (B, T, L)
        return np.where(allowed, 0.0, LOWEST).astype(dtype)[:, None]


def plan(input_ids: np.ndarray, attention_mask: np.ndarray, max_new_tokens: int, pad_token_id: int,
         max_positions: int | None = None) -> Plan:
    """Re-pack any padding into left padding inside a prompt bucket, and size the cache."""
    input_ids = np.asarray(input_ids)
    attention_mask = np.asarray(attention_mask)
    if max_new_tokens < 1:
        raise InputError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    lengths = attention_mask.sum(1).astype(int)
    longest = int(lengths.max())
    if max_positions is not None and longest + max_new_tokens > max_positions:
        raise InputError(
            f"prompt of {longest} tokens + {max_new_tokens} new tokens exceeds the model's "
            f"{max_positions} positions; shorten the prompt or ask for fewer tokens"
        )
    prompt_len = bucket(longest)
    length = bucket(prompt_len + max_new_tokens)
    batch = input_ids.shape[0]
    tokens = np.full((batch, length), pad_token_id, dtype=np.int64)
    valid = np.zeros((batch, length), dtype=np.int64)
    for row in range(batch):
        real = input_ids[row][attention_mask[row] == 1]
        tokens[row, prompt_len - len(real):prompt_len] = real
        valid[row, prompt_len - len(real):prompt_len] = 1
    valid[:, prompt_len:] = 1                        # generated slots always hold a token
    positions = np.maximum(np.cumsum(valid, axis=1) - 1, 0) * valid
    return Plan(tokens, valid, positions, prompt_len, length, max_new_tokens)


@dataclass
class GenerationOutput:
    tokens: np.ndarray   # (B, N) int64 new tokens, N <= max_new_tokens
    logits: np.ndarray   # (B, N, V) float32: the logits each new token was chosen from


class GreedyLoop:
    """Framework-free greedy loop over a Plan; subclasses supply the two model calls."""

    def __init__(self, eos_token_id: int | None, pad_token_id: int | None, max_positions: int | None) -> None:
        self.eos_token_id = eos_token_id
        # transformers' generate pads finished rows with eos when the model has no pad token
        self.pad_token_id = pad_token_id if pad_token_id is not None else (eos_token_id or 0)
        self.max_positions = max_positions
        self.shapes_run: set[tuple] = set()   # (kind, input shape, cache length): one compile each

    def cached_logits(self, plan: Plan, step: int) -> np.ndarray:
        raise NotImplementedError

    def recomputed_logits(self, plan: Plan, step: int) -> np.ndarray:
        raise NotImplementedError

    def generate(self, input_ids: np.ndarray, attention_mask: np.ndarray, max_new_tokens: int = 32,
                 use_cache: bool = True) -> GenerationOutput:
        """Greedy decoding; stops a row at EOS (pads it afterwards) and stops when every row has."""
        p = plan(input_ids, attention_mask, max_new_tokens, self.pad_token_id, self.max_positions)
        batch = p.tokens.shape[0]
        finished = np.zeros(batch, dtype=bool)
        new_tokens, step_logits = [], []
        for step in range(max_new_tokens):
            # logits of the token at slot P + step - 1, i.e. the prediction for slot P + step
            logits = self.cached_logits(p, step) if use_cache else self.recomputed_logits(p, step)  # (B, V)
            chosen = logits.argmax(-1)
            chosen = np.where(finished, self.pad_token_id, chosen)
            p.tokens[:, p.prompt_len + step] = chosen
            new_tokens.append(chosen)
            step_logits.append(logits.astype(np.float32))
            if self.eos_token_id is not None:
                finished |= chosen == self.eos_token_id
                if finished.all():
                    break
        return GenerationOutput(np.stack(new_tokens, 1).astype(np.int64), np.stack(step_logits, 1))
