"""The framework-neutral training driver: one loop, either twin, the same batches in the same order.

Each framework reads its batches through its own data twin (mindspore.dataset for MindSpore, a
torch DataLoader for the PyTorch twin); both follow the shared sampler, so step k sees the same
bytes in both. Losses per step, evaluation metrics and timings come back as plain numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from zoo.core.checkpoint import StateDict
from zoo.core.errors import InputError
from zoo.core.optim import AdamWConfig
from zoo.data.pipeline import Batch, Pipeline
from zoo.models import ModelSpec
from zoo.train.distributed import ms_grad_reducer, pt_data_parallel

FRAMEWORKS = ("mindspore", "torch")
LOSS_RTOL = 1e-3   # the data issue's bar for per-step loss agreement between the twins, fp32


@dataclass(frozen=True)
class Task:
    inputs: tuple[str, ...]    # batch fields the model takes, in order
    targets: tuple[str, ...]   # batch fields the loss takes after the logits


TASKS = {
    "sequence-classification": Task(("input_ids", "attention_mask", "token_type_ids"), ("labels", "valid")),
    "causal-lm": Task(("input_ids", "attention_mask"), ("labels",)),
}


@dataclass
class RunResult:
    framework: str
    mode: str
    losses: list[float] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    state: StateDict | None = None     # final weights (zoo names), when asked for

    @property
    def median_step_seconds(self) -> float:
        steady = self.step_seconds[len(self.step_seconds) // 5:] or self.step_seconds  # skip warm-up/compiles
        return float(np.median(steady)) if steady else float("nan")


def batches_for(framework: str, pipeline: Pipeline, workers: int = 1) -> Iterator[Batch]:
    """Endless batches, epoch after epoch, through the framework's own data twin."""
    if framework == "mindspore":
        from zoo.data.loader_ms import iterate
    else:
        from zoo.data.loader_pt import iterate
    epoch = 0
    while True:
        yield from iterate(pipeline, epoch, workers)
        epoch += 1


def _classification_metrics(logits_and_batches: list[tuple[np.ndarray, Batch]]) -> dict[str, float]:
    correct = total = 0
    for logits, batch in logits_and_batches:
        valid = batch["valid"].astype(bool)
        correct += int((logits.argmax(-1)[valid] == batch["labels"][valid]).sum())
        total += int(valid.sum())
    return {"accuracy": correct / total, "eval_examples": total}


def _check_frozen(frozen: tuple[str, ...], names: list[str]) -> None:
    unknown = sorted(set(frozen) - set(names))
    if unknown:
        raise InputError(f"cannot freeze {', '.join(unknown)}: the model has no such parameter")


def train(framework: str, spec: ModelSpec, state: StateDict, task: str, pipeline: Pipeline, steps: int,
          optim: AdamWConfig, eval_pipeline: Pipeline | None = None, workers: int = 1, graph: bool = True,
          keep_state: bool = False, frozen: tuple[str, ...] = (),
          progress: Callable[[int, float], None] | None = None,
          checkpoint: Callable[[int, Callable[[], StateDict]], None] | None = None,
          checkpoint_every: int = 0) -> RunResult:
    """Train `steps` steps from `state` in one framework; evaluate on eval_pipeline (in order) if given.

    `frozen`: zoo parameter names that keep their values (no gradient, no optimizer state).
    `checkpoint(step, get_state)` is called every `checkpoint_every` steps (0: never) and after the last
    step; `get_state()` gives the weights in zoo names (zoo/distributed.py: rank 0 saves, atomically)."""
    if framework not in FRAMEWORKS:
        raise InputError(f"unknown framework {framework!r}; choose one of {', '.join(FRAMEWORKS)}")
    if task not in TASKS:
        raise InputError(f"training supports the tasks {', '.join(TASKS)}, not {task!r}")
    names = TASKS[task]
    if framework == "mindspore":
        import mindspore as ms

        from zoo.models import load_ms
        from zoo.ms import train as backend
        from zoo.ms.weights import state_dict

        ms.set_context(mode=ms.GRAPH_MODE if graph else ms.PYNATIVE_MODE)
        model = load_ms(spec, "float32", state)
        _check_frozen(frozen, [p.name for p in model.get_parameters()])
        for param in model.get_parameters():
            param.requires_grad = param.name not in frozen
        step = backend.TrainStep(model, task, len(names.inputs), optim, graph=graph, grad_reducer=ms_grad_reducer)
        result = RunResult(framework, "graph" if graph else "pynative")
    else:
        from zoo.models import load_pt
        from zoo.pt import train as backend
        from zoo.pt.weights import state_dict

        model = load_pt(spec, state=state)
        _check_frozen(frozen, [n for n, _ in model.named_parameters()])
        for name, param in model.named_parameters():
            param.requires_grad_(name not in frozen)
        step = backend.TrainStep(model, task, len(names.inputs), optim, data_parallel=pt_data_parallel)
        result = RunResult(framework, "eager")

    stream = batches_for(framework, pipeline, workers)
    for index in range(steps):
        batch = next(stream)
        start = time.perf_counter()
        loss = step(*backend.to_tensors(batch, names.inputs + names.targets))
        result.step_seconds.append(time.perf_counter() - start)
        result.losses.append(loss)
        if progress:
            progress(index, loss)
        if checkpoint and ((checkpoint_every and (index + 1) % checkpoint_every == 0) or index + 1 == steps):
            checkpoint(index + 1, lambda: state_dict(model))
    if eval_pipeline is not None:
        from zoo.data import loader_ms, loader_pt

        iterate = loader_ms.iterate if framework == "mindspore" else loader_pt.iterate
        outputs = [(backend.predict(model, backend.to_tensors(b, names.inputs)), b)
                   for b in iterate(eval_pipeline, 0, workers)]
        if task == "sequence-classification":
            result.metrics.update(_classification_metrics(outputs))
    if keep_state:
        result.state = state_dict(model)
    return result


def rel_diff(a: list[float], b: list[float]) -> np.ndarray:
    """|a - b| / |b| per step."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(x - y) / np.maximum(np.abs(y), 1e-12)


def plot_loss_curves(record: dict, path, title: str, ylabel: str, title_size: float | None = None):
    """Both frameworks' per-step losses on one chart, their relative difference against LOSS_RTOL below.

    `record["runs"]` holds "mindspore" and "torch" runs (losses, metrics); a test accuracy in a run's
    metrics goes into its legend label.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def label(name: str, run: dict) -> str:
        accuracy = run.get("metrics", {}).get("accuracy")
        return name if accuracy is None else f"{name}: test accuracy {accuracy:.3f}"

    ms_run, pt_run = record["runs"]["mindspore"], record["runs"]["torch"]
    steps = np.arange(1, len(ms_run["losses"]) + 1)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot(steps, pt_run["losses"], label=label("PyTorch twin (eager)", pt_run),
             color="tab:orange", linewidth=2.5, alpha=0.7)
    top.plot(steps, ms_run["losses"], label=label("MindSpore (graph)", ms_run),
             color="tab:blue", linewidth=1, linestyle="--")
    top.set_ylabel(ylabel)
    top.set_title(title, fontsize=title_size)
    top.legend()
    bottom.semilogy(steps, np.maximum(rel_diff(ms_run["losses"], pt_run["losses"]), 1e-9), color="tab:green")
    bottom.axhline(LOSS_RTOL, color="tab:red", linestyle=":", label=f"tolerance {LOSS_RTOL:g}")
    bottom.set_ylabel("|rel diff|")
    bottom.set_xlabel("step")
    bottom.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def runs_summary(record: dict, accuracy_column: bool) -> str:
    """Both frameworks' runs as a table, then how far their per-step losses agree (when both ran)."""
    from zoo.core.tables import render_table

    head = ["framework", "mode", "steps", "first loss", "last loss"]
    head += ["test accuracy"] if accuracy_column else []
    rows = []
    for framework, run in record["runs"].items():
        row = [framework, run["mode"], len(run["losses"]), f"{run['losses'][0]:.4f}", f"{run['losses'][-1]:.4f}"]
        if accuracy_column:
            accuracy = run.get("metrics", {}).get("accuracy")
            row.append("-" if accuracy is None else f"{accuracy:.4f}")
        rows.append([*row, f"{run['median_step_seconds'] * 1000:.0f}"])
    text = render_table([*head, "median ms/step"], rows)
    if "loss_rel_diff" in record:
        d = record["loss_rel_diff"]
        text += (f"\nper-step loss rel diff: max {d['max']:.2e} (step {d['argmax_step']}), mean {d['mean']:.2e}; "
                 f"tolerance {d['tolerance']:g}: {'PASSED' if d['passed'] else 'FAILED'}")
    return text
