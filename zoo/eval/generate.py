"""Text generation on top of the cached generators: greedy or sampled, streamed, in either framework.

The generators (zoo/ms/generation.py graph or PyNative, zoo/pt/generation.py) own the model calls:
`cached_logits(plan, step)` returns the logits of the next token for every row, given the tokens the
plan holds. This module runs the step loop over a `zoo.core.generation.Plan` itself, so that the token
choice happens on the host: greedy is `argmax`, exactly what `GreedyLoop.generate` does; sampling
draws from ONE numpy generator seeded once, outside both frameworks. Given the same logits (equal up
to rounding), MindSpore and the torch twin therefore draw the same tokens: a uniform number per row
and step, mapped through the same cumulative distribution.

Sampling follows transformers' order of logits processors: temperature, then top-k, then top-p.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from zoo.core.errors import InputError
from zoo.core.generation import GenerationOutput, plan


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen. temperature None or 0: greedy (argmax)."""

    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.temperature is not None and self.temperature < 0:
            raise InputError(f"--temperature must be >= 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise InputError(f"--top-k must be >= 1, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise InputError(f"--top-p must be in (0, 1], got {self.top_p}")

    @property
    def greedy(self) -> bool:
        return not self.temperature


def filtered_logits(logits: np.ndarray, sampling: Sampling) -> np.ndarray:
    """(B, V) float64 logits after temperature, top-k and top-p; removed tokens are -inf."""
    out = logits.astype(np.float64) / float(sampling.temperature or 1.0)
    if sampling.top_k is not None and sampling.top_k < out.shape[-1]:
        kth = -np.partition(-out, sampling.top_k - 1, axis=-1)[:, sampling.top_k - 1:sampling.top_k]
        out = np.where(out >= kth, out, -np.inf)                 # ties with the k-th are kept, as transformers
    if sampling.top_p is not None and sampling.top_p < 1.0:
        order = np.argsort(-out, axis=-1, kind="stable")
        ranked = np.take_along_axis(out, order, -1)
        probs = np.exp(ranked - ranked[:, :1])
        probs /= probs.sum(-1, keepdims=True)
        before = np.cumsum(probs, -1) - probs                   # mass of the tokens ranked above each one
        keep_ranked = before < sampling.top_p                    # the smallest head reaching top_p (>= 1 token)
        keep = np.zeros_like(keep_ranked)
        np.put_along_axis(keep, order, keep_ranked, -1)
        out = np.where(keep, out, -np.inf)
    return out


def choose(logits: np.ndarray, sampling: Sampling, rng: np.random.Generator) -> np.ndarray:
    """The next token of every row: argmax, or one inverse-CDF draw per row from the filtered softmax."""
    if sampling.greedy:
        return logits.argmax(-1)
    filtered = filtered_logits(logits, sampling)
    probs = np.exp(filtered - filtered.max(-1, keepdims=True))
    cdf = np.cumsum(probs, -1)
    draws = rng.random(logits.shape[0]) * cdf[:, -1]
    return np.array([min(int(np.searchsorted(cdf[row], draws[row], side="right")), logits.shape[1] - 1)
                     for row in range(logits.shape[0])])


def decode(generator, input_ids: np.ndarray, attention_mask: np.ndarray, max_new_tokens: int,
           sampling: Sampling = Sampling(), stop_ids: Iterable[int] = (),
           on_step: Callable[[np.ndarray], None] | None = None) -> GenerationOutput:
    """The generator's cached step loop with the token chosen here. Greedy with stop_ids = {eos} gives
    exactly `generator.generate(...)`. A row stops at any of `stop_ids` (the pad id fills it afterwards);
    `on_step(chosen)` is called with each step's tokens (streaming)."""
    p = plan(input_ids, attention_mask, max_new_tokens, generator.pad_token_id, generator.max_positions)
    stops = np.array(sorted({int(s) for s in stop_ids if s is not None}), dtype=np.int64)
    rng = np.random.default_rng(sampling.seed)
    finished = np.zeros(p.tokens.shape[0], dtype=bool)
    tokens, step_logits = [], []
    for step in range(max_new_tokens):
        logits = generator.cached_logits(p, step)                         # (B, V): the prediction for slot P+step
        chosen = np.where(finished, generator.pad_token_id, choose(logits, sampling, rng))
        p.tokens[:, p.prompt_len + step] = chosen
        tokens.append(chosen)
        step_logits.append(logits.astype(np.float32))
        if on_step is not None:
            on_step(chosen)
        finished |= np.isin(chosen, stops)
        if finished.all():
            break
    return GenerationOutput(np.stack(tokens, 1).astype(np.int64), np.stack(step_logits, 1))


def make_generator(spec, framework: str, mode: str = "graph", dtype: str = "float32"):
    """The cached generator of the checkpoint in `framework` ("mindspore" in `mode`, or "torch")."""
    from zoo.models import load_ms, load_pt

    config = spec.config
    if framework == "mindspore":
        from zoo.ms.generation import Generator

        return Generator(load_ms(spec, dtype), config.eos_token_id, config.pad_token_id,
                         config.max_position_embeddings, mode=mode)
    if framework == "torch":
        from zoo.pt.generation import Generator

        return Generator(load_pt(spec, dtype), config.eos_token_id, config.pad_token_id,
                         config.max_position_embeddings)
    raise InputError(f"--framework {framework!r}: choose mindspore or torch")


def stop_ids(spec) -> set[int]:
    """The model's EOS ids: config.json's, plus generation_config.json's (an int or a list), which is what
    transformers' generate stops at for a checkpoint loaded with from_pretrained."""
    import json

    ids = {spec.config.eos_token_id} if spec.config.eos_token_id is not None else set()
    path = spec.folder / "generation_config.json"
    if path.is_file():
        value = json.loads(path.read_text(encoding="utf-8")).get("eos_token_id")
        ids.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int))
    return ids


class TextStream:
    """Prints the decoded continuation as it grows; holds back a trailing partial UTF-8 character."""

    def __init__(self, tokenizer, write: Callable[[str], None], stops: set[int]) -> None:
        self.tokenizer, self.write, self.stops = tokenizer, write, stops
        self.ids: list[int] = []
        self.shown = ""
        self.done = False

    def __call__(self, chosen: np.ndarray) -> None:
        if self.done:
            return
        token = int(chosen[0])
        if token in self.stops:
            self.done = True
            return
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids)
        if text.endswith("\ufffd"):
            return
        if text.startswith(self.shown):
            self.write(text[len(self.shown):])
            self.shown = text

    def finish(self) -> str:
        text = self.tokenizer.decode(self.ids)
        if text.startswith(self.shown):
            self.write(text[len(self.shown):])
        self.shown = text
        return text
