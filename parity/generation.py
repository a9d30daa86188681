"""Greedy-generation parity for causal LMs: tokens equal to the reference's generate(do_sample=False).

Rows added to a parity report (fp32 only: token equality is an exact check):
  <backend> vs ref      "generate (N tokens)"           cached greedy tokens equal the reference's, and
                                                        the logits of every step within the logits bound
  <backend> vs <backend> (recompute)
                        "generate: cache vs recompute"  the cached decoder equals the plain forward run
                                                        on the whole sequence at every step
MindSpore runs its graph-mode generator when "ms-graph" is among the backends (else PyNative).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from parity.metrics import compare_arrays
from parity.report import Check
from parity.tolerances import Bound, bound_for
from zoo.core.checkpoint import StateDict
from zoo.core.generation import GenerationOutput
from zoo.models import ModelSpec, load_ms, load_pt

MAX_NEW_TOKENS = 32


def left_padded(input_ids: np.ndarray, attention_mask: np.ndarray, pad_token_id: int) -> tuple[np.ndarray, ...]:
    """The same rows with their tokens moved to the right end: what transformers' generate expects."""
    lengths = attention_mask.sum(1).astype(int)
    longest = int(lengths.max())
    ids = np.full((len(lengths), longest), pad_token_id, dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, longest - n:] = input_ids[row][attention_mask[row] == 1]
        mask[row, longest - n:] = 1
    return ids, mask


def reference_generation(spec: ModelSpec, input_ids: np.ndarray, attention_mask: np.ndarray,
                         max_new_tokens: int, dtype: str = "float32") -> GenerationOutput:
    """transformers' greedy generate with a fresh GenerationConfig: no logits processors, no sampling."""
    import torch
    import transformers

    from zoo.pt.weights import torch_dtype

    config = spec.config
    model = spec.family.reference(spec.folder, config).to(torch_dtype(dtype))
    if spec.family.reference_generate is not None:
        result = spec.family.reference_generate(model, config, input_ids, attention_mask, max_new_tokens)
        if result is not None:     # None: the reference is a transformers model, use its generate
            tokens, logits = result
            return GenerationOutput(np.asarray(tokens), np.asarray(logits))
    pad = config.pad_token_id if config.pad_token_id is not None else config.eos_token_id
    greedy = transformers.GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                                           eos_token_id=config.eos_token_id, pad_token_id=pad,
                                           bos_token_id=getattr(config, "bos_token_id", None))
    with torch.no_grad():
        out = model.generate(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask),
                             generation_config=greedy, output_logits=True, return_dict_in_generate=True)
    tokens = out.sequences[:, input_ids.shape[1]:].numpy()
    logits = torch.stack(out.logits, 1).float().numpy()
    return GenerationOutput(tokens, logits)


def _generate(gen, input_ids: np.ndarray, attention_mask: np.ndarray, n: int) -> dict[str, GenerationOutput]:
    return {"cached": gen.generate(input_ids, attention_mask, n),
            "recompute": gen.generate(input_ids, attention_mask, n, use_cache=False)}


def generation_check(a: str, b: str, output: str, ours: GenerationOutput, theirs: GenerationOutput,
                     logits_bound: Bound) -> Check:
    """Tokens must all agree; the logits each token was chosen from must meet the logits bound."""
    steps = min(ours.tokens.shape[1], theirs.tokens.shape[1])
    width = max(ours.tokens.shape[1], theirs.tokens.shape[1])
    mine = np.full((ours.tokens.shape[0], width), -1)
    other = np.full_like(mine, -2)
    mine[:, :ours.tokens.shape[1]] = ours.tokens
    other[:, :theirs.tokens.shape[1]] = theirs.tokens
    metrics = compare_arrays(ours.logits[:, :steps], theirs.logits[:, :steps])
    metrics["top1_agreement"] = float((mine == other).mean())
    metrics["token_mismatches"] = int((mine != other).sum())
    bound = Bound(max_abs=logits_bound.max_abs, cosine=logits_bound.cosine, top1_agreement=1.0)
    return Check(a, b, output, metrics, bound.as_dict(), bound.check(metrics))


def generation_checks(spec: ModelSpec, state: StateDict, backends: Sequence[str], inputs: dict[str, np.ndarray],
                      dtype: str = "float32", max_new_tokens: int = MAX_NEW_TOKENS, progress=None) -> list[Check]:
    """Greedy generation from the parity inputs' rows (as prompts) in every framework asked for."""
    config = spec.config
    pad = config.pad_token_id if config.pad_token_id is not None else (config.eos_token_id or 0)
    ids, mask = left_padded(inputs["input_ids"], inputs["attention_mask"], pad)
    n = min(max_new_tokens, config.max_position_embeddings - ids.shape[1])
    if n < 1:
        return []
    runs: dict[str, dict[str, GenerationOutput]] = {}
    if "ref" in backends:
        if progress:
            progress("generate: ref")
        runs["ref"] = {"cached": reference_generation(spec, ids, mask, n, dtype)}
    if "pt" in backends or "pt-compile" in backends:
        from zoo.pt.generation import Generator

        if progress:
            progress("generate: pt (cached and recompute)")
        model = load_pt(spec, dtype, state)
        runs["pt"] = _generate(Generator(model, config.eos_token_id, config.pad_token_id,
                                         config.max_position_embeddings), ids, mask, n)
    ms_backend = next((b for b in ("ms-graph", "ms-pynative") if b in backends), None)
    if ms_backend:
        from zoo.ms.generation import Generator

        if progress:
            progress(f"generate: {ms_backend} (cached and recompute)")
        net = load_ms(spec, dtype, state)
        mode = "graph" if ms_backend == "ms-graph" else "pynative"
        runs[ms_backend] = _generate(Generator(net, config.eos_token_id, config.pad_token_id,
                                               config.max_position_embeddings, mode=mode), ids, mask, n)
    baseline = "ref" if "ref" in runs else "pt"
    checks = []
    for name, out in runs.items():
        bound = bound_for("logits", dtype, "cpu", {"ms-graph": "graph", "ms-pynative": "pynative"}.get(name, "eager"))
        if name != baseline and baseline in runs:
            checks.append(generation_check(name, baseline, f"generate ({n} tokens)", out["cached"],
                                           runs[baseline]["cached"], bound))
        if "recompute" in out:
            checks.append(generation_check(name, f"{name} (recompute)", "generate: cache vs recompute",
                                           out["cached"], out["recompute"], bound))
    return checks
