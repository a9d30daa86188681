"""FLOPs per token from the config: 2 N forward, 6 N train, plus attention (Kaplan et al. 2020, PaLM App. B).

N counts the weights that take part in a matrix product for every token: every projection and the
LM head (tied or not), not the embedding lookups (a gather, no multiply-adds); each family says its N
(`Family.matmul_params`). Attention adds 2 x 2 (H D) S per token per layer forward (Q K^T and A V over
S keys); the models compute the full S x S score matrix under the causal mask, so S is not halved.
Backward is counted as 2x forward.
Biases, norms, softmax and activations are left out (lower order), as is usual for MFU.
"""

from __future__ import annotations

from typing import Any

from zoo.core.family import Family


def attention_flops_per_token(config: Any, context: float) -> float:
    """Forward Q K^T and A V for one query over `context` keys, every layer (query width = heads x head_dim,
    which is not always the model width: Qwen3 decouples head_dim)."""
    return 4.0 * config.num_layers * config.num_heads * config.head_dim * context


def forward_flops(family: Family, config: Any, batch: int, seq: int) -> float:
    """One forward over a (batch, seq) block."""
    per_token, per_sequence = family.matmul_params(config)
    tokens = batch * seq
    return tokens * (2.0 * per_token + attention_flops_per_token(config, seq)) + batch * 2.0 * per_sequence


def train_flops(family: Family, config: Any, batch: int, seq: int) -> float:
    """Forward + backward (2x forward); the optimiser's O(N) update is not counted."""
    return 3.0 * forward_flops(family, config, batch, seq)


def decode_flops(family: Family, config: Any, batch: int, prompt: int, new_tokens: int, cache: int) -> float:
    """Prefill of the prompt bucket plus `new_tokens - 1` one-token steps, each attending over the cache.

    The cached generators attend over all `cache` slots (masked), so that is the context counted; the
    prompt is counted once (its forward) and the first new token comes from the prefill's logits.
    """
    per_token, _ = family.matmul_params(config)
    prefill = batch * prompt * (2.0 * per_token + attention_flops_per_token(config, cache))
    steps = batch * max(new_tokens - 1, 0) * (2.0 * per_token + attention_flops_per_token(config, cache))
    return prefill + steps


def total_params(family: Family, config: Any) -> int:
    """Matmul weights plus embedding tables (for the record; norms and biases left out): the family's count."""
    return family.total_params(config)
