"""The upstream OLMo-1 implementations the zoo is checked against: hf_olmo (ai2-olmo, the DataDecide
checkpoints' own code) and transformers' OlmoForCausalLM."""

from __future__ import annotations

import numpy as np

from zoo.families.olmo.config import OLMoConfig


def import_hf_olmo():
    """The hf_olmo module, imported after MindSpore.

    hf_olmo imports google.cloud.storage, and a MindSpore imported after that fails in its protobuf
    descriptors ("Descriptors cannot be created directly", docs/MINDSPORE_NOTES.md); MindSpore first
    is fine.
    """
    import contextlib
    import importlib

    with contextlib.suppress(ImportError):  # a torch-only host (the GPU benchmark machine): no order to keep
        import mindspore  # noqa: F401 - import order, see above

    return importlib.import_module("hf_olmo")  # after mindspore: ruff's import sorting must not reorder it


def reference(folder, config: OLMoConfig, random_weights: bool = False, attention: str = "eager"):
    """hf_olmo's OLMoForCausalLM (ai2-olmo), or transformers' OlmoForCausalLM, in fp32, eval mode.

    `random_weights`: built from the folder's config alone (benchmarks of shape-only folders);
    `attention`: "eager" (parity) or the library's default ("sdpa", benchmarks)."""
    import torch

    if config.upstream_format == "olmo":
        import transformers

        if random_weights:
            hf_config = transformers.AutoConfig.from_pretrained(str(folder))
            return transformers.OlmoForCausalLM(hf_config).eval()
        return transformers.OlmoForCausalLM.from_pretrained(str(folder), attn_implementation=attention,
                                                            dtype=torch.float32).eval()
    hf_olmo = import_hf_olmo()
    if random_weights:
        hf_config = hf_olmo.OLMoConfig.from_pretrained(str(folder))
        return hf_olmo.OLMoForCausalLM(hf_config, init_params=True).eval()
    model = hf_olmo.OLMoForCausalLM.from_pretrained(str(folder), attn_implementation=attention,
                                                    dtype=torch.float32)
    return model.eval()


def reference_generate(model, config: OLMoConfig, input_ids: np.ndarray, attention_mask: np.ndarray,
                       max_new_tokens: int):
    """Upstream greedy decoding: (new tokens (B, N) int64, step logits (B, N, V) float32).

    hf_olmo's wrapper has no `generate` under transformers 4.57 (PreTrainedModel no longer brings
    GenerationMixin), so the tokens come from the OLMo model's own `generate` (beam search with
    beam_size=1, i.e. greedy, with its KV cache), on prompts re-packed as left padding. The logits
    each token was chosen from come from one reference forward over [prompt | new tokens].
    """
    import torch

    if config.upstream_format == "olmo":   # transformers' own model: its generate is the reference
        return None
    ids = np.asarray(input_ids)
    mask = np.asarray(attention_mask)
    batch, prompt = ids.shape
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    left_ids = np.full_like(ids, pad)
    left_mask = np.zeros_like(mask)
    for row in range(batch):
        real = ids[row][mask[row] == 1]
        left_ids[row, prompt - len(real):] = real
        left_mask[row, prompt - len(real):] = 1
    with torch.no_grad():
        out = model.model.generate(torch.from_numpy(left_ids).long(),
                                   attention_mask=torch.from_numpy(left_mask).long(),
                                   max_steps=max_new_tokens, beam_size=1)
        new = out.token_ids[:, 0, :].numpy().astype(np.int64)                          # (B, N)
        if config.eos_token_id is not None:  # after EOS, pad ids (what transformers' generate writes)
            done = np.cumsum(new == config.eos_token_id, 1) - (new == config.eos_token_id) > 0
            new = np.where(done, pad, new)
        full_ids = np.concatenate([left_ids, new], 1)
        full_mask = np.concatenate([left_mask, np.ones_like(new)], 1)
        logits = model(input_ids=torch.from_numpy(full_ids).long(),
                       attention_mask=torch.from_numpy(full_mask).long(), use_cache=False).logits
    step_logits = logits[:, prompt - 1:prompt - 1 + new.shape[1]].float().numpy()     # (B, N, V)
    return new, step_logits


def reference_greedy(model, config: OLMoConfig, input_ids, attention_mask, new_tokens: int) -> int:
    """Exactly `new_tokens` greedy tokens (benchmarks): hf_olmo's own generate (its wrapper has none under
    transformers 4.57), or transformers' generate for the transformers format."""
    import torch

    from zoo.families.causal_lm import transformers_greedy

    if config.upstream_format == "olmo":
        return transformers_greedy(model, input_ids, attention_mask, new_tokens, config.pad_token_id)
    with torch.no_grad():
        out = model.model.generate(input_ids, attention_mask=attention_mask, max_steps=new_tokens, beam_size=1)
    return int(out.token_ids.shape[-1])
