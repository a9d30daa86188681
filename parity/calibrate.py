"""Calibrated tolerances for low precision: the reference's own error sets the bar.

Running the upstream reference at bf16 / fp16 and at fp32 on the same weights and inputs measures
the noise that precision alone causes. A port at that precision may err by at most ALPHA times as
much against the fp32 truth, and never needs to beat the fp32 floor of the tolerance table:

    error(port@dtype vs ref@fp32) <= max(fp32 floor, ALPHA * error(ref@dtype vs ref@fp32))
"""

from __future__ import annotations

from parity.tolerances import Bound, bound_for

ALPHA = 2.0
GATED = ("max_abs", "rel_fro", "rel_fro_floored", "kl_max")


def reference_error(low: dict, truth: dict, inputs: dict, measure, gradient_norm) -> dict[str, dict]:
    """Per output: the metrics of the reference at low precision against itself at fp32."""
    norm = gradient_norm(truth)
    errors = {name: measure(low, truth, name, inputs, norm) for name in truth if name in low}
    grads = [m for name, m in errors.items() if name.startswith("grad.") and m["finite"]]
    if grads:
        # One bar for all gradients: a single tensor's low-precision error is too noisy to calibrate on.
        errors["grad.*"] = {key: max(m[key] for m in grads) for key in ("max_abs", "rel_fro", "rel_fro_floored")}
        errors["grad.*"].update(finite=True, cosine=min(m["cosine"] for m in grads))
    return errors


def calibrated_bound(name: str, calibration: dict[str, dict], alpha: float = ALPHA) -> Bound:
    floor = bound_for(name, "float32")
    measured = calibration.get("grad.*" if name.startswith("grad.") else name)
    if measured is None or not measured.get("finite", True):
        return floor
    widened = {}
    for field in GATED:
        base = getattr(floor, field)
        if base is not None:
            widened[field] = max(base, alpha * measured.get(field, 0.0))
    if floor.cosine is not None:
        widened["cosine"] = min(floor.cosine, 1.0 - alpha * (1.0 - measured.get("cosine", 1.0)))
    if floor.top1_agreement is not None:
        widened["top1_agreement"] = min(floor.top1_agreement,
                                        1.0 - alpha * (1.0 - measured.get("top1_agreement", 1.0)))
    return Bound(**widened)
