"""FLOPs per token from the config: 2 N forward, 6 N train, plus attention (Kaplan et al. 2020, PaLM App. B).

N counts the weights that take part in a matrix product for every token: every projection and the
LM head (tied or not), not the embedding lookups (a gather, no multiply-adds). Attention adds
2 x 2 d S per token per layer forward (Q K^T and A V over S keys); the models compute the full S x S
score matrix under the causal mask, so S is not halved. Backward is counted as 2x forward.
Biases, norms, softmax and activations are left out (lower order), as is usual for MFU.
"""

from __future__ import annotations

from typing import Any


def matmul_params(family: str, config: Any) -> tuple[int, int]:
    """(weights multiplied per token, weights multiplied once per sequence) for a family's config."""
    if family == "opt":
        d, ffn, e, v = config.hidden_size, config.ffn_dim, config.word_embed_proj_dim, config.vocab_size
        per_layer = 4 * d * d + 2 * d * ffn
        projections = 2 * e * d if config.has_projections else 0
        return config.num_layers * per_layer + projections + v * e, 0
    if family == "olmo":
        d, mlp = config.hidden_size, config.mlp_hidden_size
        per_layer = 3 * d * d + d * d + d * mlp + (mlp // 2) * d   # att_proj, attn_out, ff_proj, ff_out
        return config.num_layers * per_layer + config.embedding_size * d, 0
    if family == "bert":
        d, ffn = config.hidden_size, config.intermediate_size
        per_token = config.num_layers * (4 * d * d + 2 * d * ffn)
        per_sequence = d * d if config.has_pooler else 0                     # tanh pooler on [CLS]
        if config.task == "sequence-classification":
            per_sequence += (0 if config.has_pooler else d * d) + d * config.num_labels
        return per_token, per_sequence
    raise ValueError(f"no FLOP count for family {family!r}")


def attention_flops_per_token(config: Any, context: float) -> float:
    """Forward Q K^T and A V for one query over `context` keys, every layer."""
    return 4.0 * config.num_layers * config.hidden_size * context


def forward_flops(family: str, config: Any, batch: int, seq: int) -> float:
    """One forward over a (batch, seq) block."""
    per_token, per_sequence = matmul_params(family, config)
    tokens = batch * seq
    return tokens * (2.0 * per_token + attention_flops_per_token(config, seq)) + batch * 2.0 * per_sequence


def train_flops(family: str, config: Any, batch: int, seq: int) -> float:
    """Forward + backward (2x forward); the optimiser's O(N) update is not counted."""
    return 3.0 * forward_flops(family, config, batch, seq)


def decode_flops(family: str, config: Any, batch: int, prompt: int, new_tokens: int, cache: int) -> float:
    """Prefill of the prompt bucket plus `new_tokens - 1` one-token steps, each attending over the cache.

    The cached generators attend over all `cache` slots (masked), so that is the context counted; the
    prompt is counted once (its forward) and the first new token comes from the prefill's logits.
    """
    per_token, _ = matmul_params(family, config)
    prefill = batch * prompt * (2.0 * per_token + attention_flops_per_token(config, cache))
    steps = batch * max(new_tokens - 1, 0) * (2.0 * per_token + attention_flops_per_token(config, cache))
    return prefill + steps


def total_params(family: str, config: Any) -> int:
    """Matmul weights plus embedding tables (for the record; norms and biases left out)."""
    per_token, per_sequence = matmul_params(family, config)
    if family == "opt":
        positions = (config.max_position_embeddings + 2) * config.hidden_size
        tokens = 0 if config.tie_word_embeddings else config.vocab_size * config.word_embed_proj_dim
        return per_token + positions + tokens            # tied: the head is the token table, counted once
    if family == "olmo":
        return per_token + config.embedding_size * config.hidden_size
    if family == "bert":
        tables = config.vocab_size + config.max_position_embeddings + config.type_vocab_size
        return per_token + per_sequence + tables * config.hidden_size
    raise ValueError(f"no parameter count for family {family!r}")
