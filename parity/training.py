"""Training parity: the same converted checkpoint, the same batches, N AdamW steps (torch semantics)
in MindSpore PyNative, MindSpore graph and the PyTorch twin; losses per step, one-step gradients and
the weights after the steps are compared.

Weights are judged by their *updates* (w_N - w_0), per parameter, relative to the twin's update:
that is what training changed, and a parameter that training moves little is not hidden behind a
large initial value. Parameters whose gradient is degenerate (rounding noise around an exact zero,
e.g. attention key biases) are reported but not gated: Adam divides their noise by its own RMS, so
their updates are +-lr noise in every framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from parity.metrics import compare_arrays
from parity.tolerances import GRAD_FLOOR
from zoo.models import ModelSpec, load_ms, load_pt, resolve, zoo_state

LOSS_RTOL = 1e-4
UPDATE_REL_FRO = 1e-3
MODES = ("pynative", "graph")


@dataclass
class TrainingReport:
    model: str
    steps: int
    losses: dict[str, list[float]]                       # framework/mode -> per-step loss
    loss_checks: dict[str, dict] = field(default_factory=dict)
    update_checks: dict[str, dict] = field(default_factory=dict)
    gradient_guard: dict = field(default_factory=dict)
    negative_control: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (all(c["passed"] for c in self.loss_checks.values())
                and all(c["passed"] for c in self.update_checks.values())
                and self.gradient_guard.get("passed", False) and self.negative_control.get("caught", False))


def _batches(spec: ModelSpec, steps: int, batch: int, seq: int, seed: int) -> list[dict[str, np.ndarray]]:
    batches = [spec.family.inputs.example(spec.config, batch, seq, seed + i) for i in range(steps)]
    if "labels" not in batches[0]:
        raise ValueError(f"{spec.name}: its task has no labels to train on")
    return batches


def _train_pt(spec, state, batches, optim):
    from zoo.pt.train import TrainStep, to_tensors
    from zoo.pt.weights import state_dict

    model = load_pt(spec, state=state)
    names = spec.family.inputs.names
    step = TrainStep(model, model.loss, len(names), optim)
    losses = [step(*to_tensors(b, (*names, "labels"))) for b in batches]
    return losses, state_dict(model)


def _train_ms(spec, state, batches, optim, graph: bool):
    import mindspore as ms

    from zoo.ms.train import TrainStep, to_tensors
    from zoo.ms.weights import state_dict

    ms.set_context(mode=ms.GRAPH_MODE if graph else ms.PYNATIVE_MODE)
    net = load_ms(spec, state=state)
    names = spec.family.inputs.names
    step = TrainStep(net, net.loss, len(names), optim, graph=graph)
    int32 = [{k: v.astype(np.int32) for k, v in b.items()} for b in batches]
    losses = [step(*to_tensors(b, (*names, "labels"))) for b in int32]
    return losses, state_dict(net)


def _update_checks(initial, final_a, final_b, degenerate: set[str]) -> dict[str, dict]:
    checks = {}
    for name, w0 in initial.items():
        delta_a, delta_b = final_a[name] - w0, final_b[name] - w0
        metrics = compare_arrays(delta_a, delta_b)
        gated = name not in degenerate
        checks[name] = {"rel_fro": metrics["rel_fro"], "max_abs": metrics["max_abs"], "gated": gated,
                        "passed": (not gated) or (metrics["finite"] and metrics["rel_fro"] <= UPDATE_REL_FRO)}
    return checks


def training_parity(model: str | ModelSpec, steps: int = 20, batch: int = 4, seq: int = 16, lr: float = 1e-3,
                    modes=MODES, seed: int = 0) -> TrainingReport:
    from parity.backends import run_pt
    from zoo.core.optim import AdamWConfig

    spec = model if isinstance(model, ModelSpec) else resolve(model)
    state = zoo_state(spec)
    batches = _batches(spec, steps, batch, seq, seed)
    optim = AdamWConfig(lr=lr, weight_decay=0.01)

    first = run_pt(spec, state, batches[0])
    grads = {k[5:]: v for k, v in first.items() if k.startswith("grad.")}
    total = float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values())))
    degenerate = {n for n, g in grads.items() if float(np.linalg.norm(g)) <= GRAD_FLOOR * total}
    guard = {"parameters": len(grads), "zero_or_degenerate": sorted(degenerate), "global_norm": total,
             "passed": total > 0 and len(degenerate) <= max(1, len(grads) // 4)}

    pt_losses, pt_weights = _train_pt(spec, state, batches, optim)
    initial = {n: np.asarray(t, dtype=np.float32) for n, t in state.items()}
    report = TrainingReport(spec.name, steps, {"pt": pt_losses}, gradient_guard=guard)
    for mode in modes:
        key = f"ms-{mode}"
        ms_losses, ms_weights = _train_ms(spec, state, batches, optim, graph=(mode == "graph"))
        report.losses[key] = ms_losses
        rel = np.abs(np.array(ms_losses) - np.array(pt_losses)) / np.abs(np.array(pt_losses))
        report.loss_checks[key] = {"max_rel": float(rel.max()), "worst_step": int(rel.argmax()),
                                   "rtol": LOSS_RTOL, "passed": bool(rel.max() <= LOSS_RTOL)}
        updates = _update_checks(initial, ms_weights, pt_weights, degenerate)
        gated = [c for c in updates.values() if c["gated"]]
        worst = max(updates, key=lambda n: updates[n]["rel_fro"] if updates[n]["gated"] else -1)
        report.update_checks[key] = {"worst": worst, "rel_fro": updates[worst]["rel_fro"], "bound": UPDATE_REL_FRO,
                                     "gated": len(gated), "passed": all(c["passed"] for c in gated)}
        if mode == modes[-1]:
            # Negative control: the same comparison on a tensor rolled by one element must fail.
            rolled = {**ms_weights, worst: np.roll(ms_weights[worst], 1)}
            caught = not all(c["passed"] for c in _update_checks(initial, rolled, pt_weights, degenerate).values())
            rolled_losses = np.roll(np.array(ms_losses), 1)
            caught_loss = bool((np.abs(rolled_losses - pt_losses) / np.abs(pt_losses)).max() > LOSS_RTOL)
            report.negative_control = {"rolled": worst, "caught": caught and caught_loss}
    return report
