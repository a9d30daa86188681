"""The tolerance table, in one place: (dtype, device, mode) -> per-output-kind bounds.

Bounds are upper bounds on max_abs / rel_fro and lower bounds on cosine. An output's kind comes
from its name: `loss`, `grad.*`, `logits`, anything else is a hidden state or embedding.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bound:
    max_abs: float | None = None
    rel_fro: float | None = None
    cosine: float | None = None
    # Gradients: ||a - b|| / max(||b||, GRAD_FLOOR * ||all gradients of b||). A parameter whose true
    # gradient is exactly zero (e.g. attention key biases: softmax ignores a per-row constant) has
    # only rounding noise, and a plain relative error of noise against noise means nothing.
    rel_fro_floored: float | None = None
    # Logits only: the worst token's KL(reference || tested) and the share of equal argmaxes.
    kl_max: float | None = None
    top1_agreement: float | None = None

    def check(self, metrics: dict) -> bool:
        if not metrics.get("finite", True):
            return False
        return all((
            self.max_abs is None or metrics["max_abs"] <= self.max_abs,
            self.rel_fro is None or metrics["rel_fro"] <= self.rel_fro,
            self.cosine is None or metrics["cosine"] >= self.cosine,
            self.rel_fro_floored is None or metrics["rel_fro_floored"] <= self.rel_fro_floored,
            self.kl_max is None or metrics["kl_max"] <= self.kl_max,
            self.top1_agreement is None or metrics["top1_agreement"] >= self.top1_agreement,
        ))

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


# fp32 on CPU, any mode: both frameworks run the same fp32 kernels up to summation order.
FP32 = {
    "hidden": Bound(max_abs=1e-4, cosine=0.99999),
    "logits": Bound(max_abs=1e-4, cosine=0.99999, kl_max=1e-6, top1_agreement=0.99),
    "loss": Bound(rel_fro=1e-5),
    "grad": Bound(rel_fro_floored=1e-4),
}
# Half precision: one rounding of ~2^-8 (bf16) / 2^-11 (fp16) per op; gate on direction and relative size.
BF16 = {
    "hidden": Bound(rel_fro=5e-2, cosine=0.998),
    "logits": Bound(rel_fro=5e-2, cosine=0.998, kl_max=5e-2, top1_agreement=0.9),
    "loss": Bound(rel_fro=2e-2),
    "grad": Bound(rel_fro_floored=1e-1),
}
FP16 = {
    "hidden": Bound(rel_fro=1e-2, cosine=0.9999),
    "logits": Bound(rel_fro=1e-2, cosine=0.9999, kl_max=1e-2, top1_agreement=0.95),
    "loss": Bound(rel_fro=5e-3),
    "grad": Bound(rel_fro_floored=5e-2),
}
GRAD_FLOOR = 1e-4
TABLE: dict[tuple[str, str, str], dict[str, Bound]] = {}
for _device in ("cpu", "gpu", "ascend"):
    for _mode in ("pynative", "graph", "eager"):
        TABLE[("float32", _device, _mode)] = FP32
        TABLE[("bfloat16", _device, _mode)] = BF16
        TABLE[("float16", _device, _mode)] = FP16


def output_kind(name: str) -> str:
    if name == "loss":
        return "loss"
    if name.startswith("grad."):
        return "grad"
    if name == "logits":
        return "logits"
    return "hidden"


def bound_for(name: str, dtype: str = "float32", device: str = "cpu", mode: str = "graph") -> Bound:
    return TABLE[(dtype, device, mode)][output_kind(name)]
