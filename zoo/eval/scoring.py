"""From examples to token rows, from rows to log-likelihoods, from log-likelihoods to metrics.

Everything here is numpy and the tokenizer: every backend scores the very same rows.

A row is one forward pass: `ids` (the model input), `targets` (ids shifted by one: targets[t] is the
token that follows ids[..t]) and `scored`, how many trailing positions count. The backend returns
log p(targets[t] | ids[..t]) for every position; the row's score is the float64 sum of the last
`scored` of them, and `greedy` says whether each of those targets was also the argmax.

Multiple choice (lm-eval-harness semantics, written here from its documented behaviour):
  context and continuation are encoded together and the continuation's tokens are those of the whole
  past the context's own encoding (trailing spaces of the context move to the continuation); the
  tokenizer's default prefix (BOS, for tokenizers that add one) goes before the context; a row longer
  than max_length + 1 tokens loses tokens from the left of the context (counted as `truncated`).
    loglikelihood(choice) = sum of log p(continuation tokens | context)
    acc       = mean over examples of [argmax_i loglik_i == label]
    acc_norm  = mean of [argmax_i loglik_i / len(choice_i) == label], len in characters (lm-eval-harness)
    acc_bytes = the same with the UTF-8 byte length of the choice
Perplexity (a sliding window over each document):
  the document's tokens follow one start token (the tokenizer's prefix, else its EOS, as lm-eval-harness's
  rolling log-likelihood); windows of at most max_length inputs advance by `stride` and each scores only
  the tokens no earlier window scored, so every token is scored exactly once (stride = max_length:
  disjoint windows; a smaller stride gives each token more context).
    perplexity     = exp(-sum loglik / tokens scored)
    bits_per_byte  = -sum loglik / (ln 2 * UTF-8 bytes of the documents)
    word_perplexity = exp(-sum loglik / whitespace-separated words)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from zoo.core.errors import InputError
from zoo.core.generation import BUCKETS
from zoo.eval.tasks import Example


@dataclass
class Row:
    example: int          # index into the examples
    part: int             # choice index (multiple choice) or window index (perplexity)
    ids: list[int]
    targets: list[int]
    scored: int


@dataclass
class Encoding:
    """How text becomes rows for one tokenizer and one set of settings."""

    encode: Callable[[str], list[int]]
    prefix: list[int]             # BOS-like tokens before every context ([] for none)
    start: list[int]              # the token a document's first token is predicted from
    max_length: int               # model inputs per row
    stride: int
    delimiter: str = " "
    fewshot: str = ""


def _split_context(context: str, continuation: str) -> tuple[str, str]:
    """Trailing whitespace of the context belongs to the continuation (lm-eval-harness's _encode_pair)."""
    stripped = context.rstrip()
    return stripped, context[len(stripped):] + continuation


def choice_rows(index: int, example: Example, enc: Encoding) -> tuple[list[Row], int]:
    """One row per choice; and how many of them were truncated on the left to fit max_length."""
    rows, truncated = [], 0
    for part, choice in enumerate(example.choices):
        context, continuation = _split_context(enc.fewshot + example.context, enc.delimiter + choice)
        whole = enc.encode(context + continuation)
        context_ids = enc.encode(context)
        cont = whole[len(context_ids):]
        if not cont:
            raise InputError(f"example {example.id}: choice {part} ({choice!r}) encodes to no tokens")
        if len(cont) > enc.max_length:
            raise InputError(f"example {example.id}: choice {part} is {len(cont)} tokens, more than the "
                             f"{enc.max_length} the model reads at once; raise --max-length or shorten it")
        head = (enc.prefix + context_ids) or enc.start
        full = head + cont
        if len(full) > enc.max_length + 1:
            full = full[-(enc.max_length + 1):]
            truncated += 1
        rows.append(Row(index, part, full[:-1], full[1:], len(cont)))
    return rows, truncated


def document_rows(index: int, example: Example, enc: Encoding) -> tuple[list[Row], int]:
    """The sliding windows of one document; and how many of its tokens they score."""
    tokens = enc.encode(example.text)
    seq = (enc.prefix or enc.start) + tokens     # with no start token, the first token is never a target
    n = len(seq) - 1                             # predictions: seq[j + 1] from seq[:j + 1]
    if n < 1:
        raise InputError(f"document {example.id}: too short to score (it encodes to {len(tokens)} tokens)")
    if not 1 <= enc.stride <= enc.max_length:
        raise InputError(f"--stride {enc.stride}: must be between 1 and --max-length ({enc.max_length})")
    rows, begin, done = [], 0, 0
    while done < n:                              # stride <= max_length: each window reaches back to `done`
        end = min(begin + enc.max_length, n)
        rows.append(Row(index, len(rows), seq[begin:end], seq[begin + 1:end + 1], end - done))
        done, begin = end, begin + enc.stride
    return rows, n


def padded_length(longest: int, max_length: int) -> int:
    """Rows are right-padded to a bucket (graph mode compiles once per shape), never past max_length."""
    for b in BUCKETS:
        if b >= longest:
            return min(b, max_length)
    return max_length


@dataclass
class Scored:
    loglik: float
    greedy: bool


LOGITS_BUDGET = 2 << 30    # bytes of float64 log-softmax work per batch (about 3 B x L x V arrays)


def rows_per_batch(batch_size: int, length: int, vocab: int | None, budget: int = LOGITS_BUDGET) -> int:
    """--batch-size, lowered for long rows so that the float64 log-softmax of B x L x V fits the budget
    (perplexity windows of 2048 tokens on a 50k vocabulary: 2 rows, not 8). A pure function of the
    padded length, so each bucket still has one shape."""
    if not vocab:
        return batch_size
    return max(1, min(batch_size, budget // (length * vocab * 8 * 3)))


def score_rows(rows: Sequence[Row], run: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple],
               batch_size: int, max_length: int, pad_id: int, check=None, vocab: int | None = None) -> list[Scored]:
    """Score every row with `run(ids, mask, targets) -> (logprobs (B, L), greedy (B, L))`, longest rows first,
    in batches of exactly `rows_per_batch` rows (the last one filled with copies of its first row)."""
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i].ids))
    out: list[Scored | None] = [None] * len(rows)
    start = 0
    while start < len(order):
        length = padded_length(len(rows[order[start]].ids), max_length)
        size = rows_per_batch(batch_size, length, vocab)
        chunk = order[start:start + size]
        start += size
        ids = np.full((size, length), pad_id, dtype=np.int64)
        targets = np.zeros((size, length), dtype=np.int64)
        mask = np.zeros((size, length), dtype=np.int64)
        for slot in range(size):
            row = rows[chunk[slot] if slot < len(chunk) else chunk[0]]
            ids[slot, :len(row.ids)] = row.ids
            targets[slot, :len(row.targets)] = row.targets
            mask[slot, :len(row.ids)] = 1
        if check is not None:
            check(ids, mask)
        logprobs, greedy = run(ids, mask, targets)
        for slot, i in enumerate(chunk):
            row = rows[i]
            end = len(row.ids)
            picked = np.asarray(logprobs[slot, end - row.scored:end], dtype=np.float64)
            out[i] = Scored(float(picked.sum()), bool(np.all(greedy[slot, end - row.scored:end])))
    return out  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------- metrics


def choice_record(index: int, example: Example, scored: Sequence[Scored], truncated: int) -> dict:
    return {"index": index, "id": example.id, "loglikelihoods": [s.loglik for s in scored],
            "is_greedy": [s.greedy for s in scored], "truncated": truncated}


def document_record(index: int, example: Example, rows: Sequence[Row], scored: Sequence[Scored], tokens: int) -> dict:
    return {"index": index, "id": example.id, "loglikelihood": float(sum(s.loglik for s in scored)),
            "tokens": tokens, "bytes": len(example.text.encode("utf-8")), "words": len(example.text.split()),
            "windows": len(rows)}


def choice_metrics(examples: Sequence[Example], records: Sequence[dict]) -> dict:
    """acc, acc_norm (characters), acc_bytes; and the per-example view of the JSON report."""
    out, hits = [], np.zeros(3)
    for example, record in zip(examples, records, strict=True):
        ll = np.asarray(record["loglikelihoods"], dtype=np.float64)
        chars = np.array([max(len(c), 1) for c in example.choices], dtype=np.float64)
        nbytes = np.array([max(len(c.encode("utf-8")), 1) for c in example.choices], dtype=np.float64)
        preds = (int(ll.argmax()), int((ll / chars).argmax()), int((ll / nbytes).argmax()))
        hits += [p == example.label for p in preds]
        out.append({"id": example.id, "label": example.label, "loglikelihoods": record["loglikelihoods"],
                    "pred": preds[0], "pred_norm": preds[1], "pred_bytes": preds[2],
                    "is_greedy": record["is_greedy"], "truncated": record.get("truncated", 0)})
    n = len(out)
    return {"accuracy": hits[0] / n, "accuracy_norm": hits[1] / n, "accuracy_bytes": hits[2] / n, "n": n,
            "truncated": sum(e["truncated"] > 0 for e in out), "examples": out}


def perplexity_metrics(records: Sequence[dict]) -> dict:
    total = sum(r["loglikelihood"] for r in records)
    tokens = sum(r["tokens"] for r in records)
    nbytes = sum(r["bytes"] for r in records)
    words = sum(r["words"] for r in records)
    return {"perplexity": math.exp(-total / tokens), "bits_per_byte": -total / nbytes / math.log(2),
            "word_perplexity": math.exp(-total / max(words, 1)), "loglikelihood": total, "tokens": tokens,
            "bytes": nbytes, "words": words, "n": len(records),
            "documents": [{k: r[k] for k in ("id", "loglikelihood", "tokens", "bytes", "words", "windows")}
                          for r in records]}
