"""The parity harness: same weights, same inputs, every backend; metrics against the tolerance table.

    report = parity.compare("minilm-l6", backends=("ms-graph", "ref"))
    report.passed, report.checks, report.first_divergence
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from parity.backends import BACKENDS, DEFAULT_BACKENDS, mode_of, run_backend
from parity.calibrate import calibrated_bound, reference_error
from parity.inputs import make_inputs
from parity.localize import first_divergence
from parity.metrics import compare_arrays, floored_rel_fro, logits_metrics, logits_rows, valid_positions
from parity.report import Check, Report, environment, model_revision
from parity.tolerances import GRAD_FLOOR, bound_for
from zoo.core.errors import InputError
from zoo.models import ModelSpec, resolve, zoo_state

__all__ = ["BACKENDS", "DEFAULT_BACKENDS", "Check", "Report", "compare", "compare_outputs"]


def pairs_for(backends: Sequence[str]) -> list[tuple[str, str]]:
    """Every backend against the reference (or the twin without one); MindSpore also against the twin."""
    baseline = "ref" if "ref" in backends else ("pt" if "pt" in backends else backends[-1])
    pairs = [(b, baseline) for b in backends if b != baseline]
    if baseline != "pt" and "pt" in backends:
        pairs += [(b, "pt") for b in backends if b.startswith("ms-")]
    return pairs


def gradient_norm(outputs: dict[str, np.ndarray]) -> float:
    return float(np.sqrt(sum(float(np.sum(v.astype(np.float64) ** 2))
                             for k, v in outputs.items() if k.startswith("grad."))))


def measure(a: dict[str, np.ndarray], b: dict[str, np.ndarray], name: str,
            inputs: dict[str, np.ndarray], grad_norm: float) -> dict:
    """Every metric for output `name` of `a` against `b`, on valid positions."""
    mask = inputs.get("attention_mask")
    metrics = compare_arrays(valid_positions(a[name], mask), valid_positions(b[name], mask))
    if name == "logits" and metrics["finite"]:
        rows_a, labels = logits_rows(a[name], mask, inputs.get("labels"))
        rows_b, _ = logits_rows(b[name], mask, inputs.get("labels"))
        metrics.update(logits_metrics(rows_a, rows_b, labels))
    if name.startswith("grad.") and metrics["finite"]:
        metrics["rel_fro_floored"] = floored_rel_fro(a[name], b[name], GRAD_FLOOR * grad_norm)
    return metrics


def compare_outputs(outputs: dict[str, dict[str, np.ndarray]], inputs: dict[str, np.ndarray],
                    dtype: str = "float32", device: str = "cpu", bounds=None) -> list[Check]:
    """All pairs of `pairs_for`; `bounds(name, backend)` overrides the tolerance table (calibration)."""
    checks = []
    for a, b in pairs_for(list(outputs)):
        grad_norm = gradient_norm(outputs[b])
        for name in outputs[b]:
            if name not in outputs[a]:
                continue
            bound = bounds(name, a) if bounds else bound_for(name, dtype, device, mode_of(a))
            metrics = measure(outputs[a], outputs[b], name, inputs, grad_norm)
            checks.append(Check(a, b, name, metrics, bound.as_dict(), bound.check(metrics)))
    return checks


def compare(model: str | ModelSpec, backends: Sequence[str] = DEFAULT_BACKENDS, dtype: str = "float32",
            inputs: dict[str, np.ndarray] | None = None, with_grads: bool = True, seed: int = 0,
            task: str | None = None, progress=None, localize: bool = True, ms_transform=None,
            calibrate: bool = False, generate: bool = True) -> Report:
    """Run `model` through `backends` and compare; on a MindSpore failure, localise the first divergence.

    `ms_transform(net)` edits the MindSpore Cell after loading (used by the self-test to inject bugs).
    `generate`: causal LMs (fp32) also get greedy-generation rows (parity/generation.py).
    `calibrate` (dtype other than float32): every backend at `dtype` is compared with the reference
    at float32, within max(fp32 floor, ALPHA x the reference's own error at `dtype`).
    """
    spec = model if isinstance(model, ModelSpec) else resolve(model, task)
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or len(backends) < 2:
        raise InputError(f"backends {list(backends)}: need two or more of {', '.join(BACKENDS)}")
    inputs = make_inputs(spec, seed=seed) if inputs is None else inputs
    names = spec.family.inputs.names
    missing = [n for n in names if n not in inputs]
    if missing:
        raise InputError(f"inputs lack {', '.join(missing)} (the {spec.family.name} family takes "
                         f"{', '.join(names)})")
    spec.config.check_inputs(*(inputs[n] for n in names))
    state = zoo_state(spec)
    outputs = {}
    for backend in backends:
        if progress:
            progress(backend)
        outputs[backend] = run_backend(backend, spec, state, inputs, dtype=dtype, with_grads=with_grads,
                                       ms_transform=ms_transform)
    calibration = None
    if calibrate and dtype != "float32":
        if progress:
            progress("ref at float32 (calibration)")
        truth = run_backend("ref", spec, state, inputs, dtype="float32", with_grads=with_grads)
        low = outputs["ref"] if "ref" in outputs else run_backend(
            "ref", spec, state, inputs, dtype=dtype, with_grads=with_grads)
        calibration = reference_error(low, truth, inputs, measure, gradient_norm)
        outputs = {**outputs, "ref": truth}
        checks = compare_outputs(outputs, inputs, bounds=lambda name, _: calibrated_bound(name, calibration))
    else:
        checks = compare_outputs(outputs, inputs, dtype)
    if generate and dtype == "float32" and getattr(spec.config, "task", None) == "causal-lm":
        from parity.generation import generation_checks  # greedy tokens vs the reference: docs/decoders.md

        checks += generation_checks(spec, state, backends, inputs, dtype, progress=progress)
    shapes = {k: list(v.shape) for k, v in inputs.items()}
    report = Report(spec.name, list(backends), checks, dtype=dtype, seed=seed, inputs=shapes,
                    environment=environment(), calibration=calibration, revision=model_revision(spec.folder))
    if localize and any(not c.passed and c.a.startswith("ms-") for c in checks):
        if progress:
            progress("first-divergence localisation (PyNative, per-module hooks)")
        report.first_divergence = first_divergence(spec, state, inputs, ms_transform)
    return report
