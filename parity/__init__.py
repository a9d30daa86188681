"""The parity harness: same weights, same inputs, every backend; metrics against the tolerance table.

    report = parity.compare("minilm-l6", backends=("ms-graph", "ref"))
    report.passed, report.checks, report.first_divergence
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from parity.backends import BACKENDS, DEFAULT_BACKENDS, mode_of, run_backend
from parity.inputs import make_inputs
from parity.localize import first_divergence
from parity.metrics import compare_arrays, floored_rel_fro, logits_metrics, logits_rows, valid_positions
from parity.report import Check, Report, environment
from parity.tolerances import GRAD_FLOOR, bound_for
from zoo.errors import InputError
from zoo.models import ModelSpec, resolve, zoo_state

__all__ = ["BACKENDS", "DEFAULT_BACKENDS", "Check", "Report", "compare", "compare_outputs"]


def pairs_for(backends: Sequence[str]) -> list[tuple[str, str]]:
    """Every backend against the reference (or the twin without one); MindSpore also against the twin."""
    baseline = "ref" if "ref" in backends else ("pt" if "pt" in backends else backends[-1])
    pairs = [(b, baseline) for b in backends if b != baseline]
    if baseline != "pt" and "pt" in backends:
        pairs += [(b, "pt") for b in backends if b.startswith("ms-")]
    return pairs


def compare_outputs(outputs: dict[str, dict[str, np.ndarray]], inputs: dict[str, np.ndarray],
                    dtype: str = "float32", device: str = "cpu") -> list[Check]:
    checks = []
    mask = inputs.get("attention_mask")
    for a, b in pairs_for(list(outputs)):
        grad_norm = float(np.sqrt(sum(float(np.sum(v.astype(np.float64) ** 2))
                                      for k, v in outputs[b].items() if k.startswith("grad."))))
        for name in outputs[b]:
            if name not in outputs[a]:
                continue
            bound = bound_for(name, dtype, device, mode_of(a))
            metrics = compare_arrays(valid_positions(outputs[a][name], mask), valid_positions(outputs[b][name], mask))
            if name == "logits" and metrics["finite"]:
                rows_a, labels = logits_rows(outputs[a][name], mask, inputs.get("labels"))
                rows_b, _ = logits_rows(outputs[b][name], mask, inputs.get("labels"))
                metrics.update(logits_metrics(rows_a, rows_b, labels))
            if name.startswith("grad.") and metrics["finite"]:
                metrics["rel_fro_floored"] = floored_rel_fro(outputs[a][name], outputs[b][name],
                                                             GRAD_FLOOR * grad_norm)
            checks.append(Check(a, b, name, metrics, bound.as_dict(), bound.check(metrics)))
    return checks


def compare(model: str | ModelSpec, backends: Sequence[str] = DEFAULT_BACKENDS, dtype: str = "float32",
            inputs: dict[str, np.ndarray] | None = None, with_grads: bool = True, seed: int = 0,
            task: str | None = None, progress=None, localize: bool = True, ms_transform=None) -> Report:
    """Run `model` through `backends` and compare; on a MindSpore failure, localise the first divergence.

    `ms_transform(net)` edits the MindSpore Cell after loading (used by the self-test to inject bugs).
    """
    spec = model if isinstance(model, ModelSpec) else resolve(model, task)
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or len(backends) < 2:
        raise InputError(f"backends {list(backends)}: need two or more of {', '.join(BACKENDS)}")
    inputs = make_inputs(spec, seed=seed) if inputs is None else inputs
    missing = [n for n in spec.family.INPUT_NAMES if n not in inputs]
    if missing:
        raise InputError(f"inputs lack {', '.join(missing)} (the {spec.family.NAME} family takes "
                         f"{', '.join(spec.family.INPUT_NAMES)})")
    spec.config.check_inputs(*(inputs[n] for n in spec.family.INPUT_NAMES))
    state = zoo_state(spec)
    outputs = {}
    for backend in backends:
        if progress:
            progress(backend)
        outputs[backend] = run_backend(backend, spec, state, inputs, dtype=dtype, with_grads=with_grads,
                                       ms_transform=ms_transform)
    checks = compare_outputs(outputs, inputs, dtype)
    shapes = {k: list(v.shape) for k, v in inputs.items()}
    report = Report(spec.name, list(backends), checks, dtype=dtype, seed=seed, inputs=shapes,
                    environment=environment())
    if localize and any(not c.passed and c.a.startswith("ms-") for c in checks):
        if progress:
            progress("first-divergence localisation (PyNative, per-module hooks)")
        report.first_divergence = first_divergence(spec, state, inputs, ms_transform)
    return report
