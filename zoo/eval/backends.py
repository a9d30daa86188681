"""Scoring backends: one batch of right-padded rows in, the log-probability of every target out.

    ms-graph     the MindSpore model, forward + log-softmax + gather compiled as one graph (ms.jit)
    ms-pynative  the same Cell run op by op
    pt           the torch twin
    ref          the upstream implementation (family.reference / family.reference_forward)

Each returns (logprobs (B, L) float64, greedy (B, L) bool): log p(targets[b, t] | ids[b, :t + 1]) and
whether that target is the argmax. The log-softmax runs on the framework's device in float64 (from the
model's float32 logits: the comparison then measures the models, not two log-softmax kernels;
zoo/eval/ms_scoring.py says why), so only (B, L) numbers cross to the host (a real model's logits are
B x L x 50k). Frameworks are imported when a backend is built, so a MindSpore-only or torch-only
machine scores with what it has.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from zoo.core.errors import InputError

BACKENDS = ("ms-graph", "ms-pynative", "pt", "ref")
Run = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def parse_backends(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(b.strip() for b in text.split(",") if b.strip()))
    unknown = [b for b in names if b not in BACKENDS]
    if unknown or not names:
        raise InputError(f"--backends {text!r}: unknown {', '.join(unknown) or 'empty list'}; choose from "
                         f"{', '.join(BACKENDS)}")
    return names


def make_scorer(backend: str, spec, dtype: str = "float32") -> Run:
    if backend in ("ms-graph", "ms-pynative"):
        return _mindspore(spec, dtype, graph=backend == "ms-graph")
    if backend == "pt":
        return _torch(spec, dtype)
    if backend == "ref":
        return _reference(spec, dtype)
    raise InputError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


def _mindspore(spec, dtype: str, graph: bool) -> Run:
    import mindspore as ms
    from mindspore import Tensor

    from zoo.eval.ms_scoring import TargetLogprobs
    from zoo.models import load_ms

    cell = TargetLogprobs(load_ms(spec, dtype))
    cell.set_train(False)
    call = ms.jit(cell.construct) if graph else cell     # graph: one compile per (batch, bucket) shape

    def run(ids: np.ndarray, mask: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        picked, greedy = call(Tensor(ids.astype(np.int32)), Tensor(mask.astype(np.int32)),
                              Tensor(targets.astype(np.int32)))
        return picked.asnumpy(), greedy.asnumpy()

    return run


def _torch_pick(logits, targets) -> tuple[np.ndarray, np.ndarray]:
    import torch

    logits = logits.double()
    picked = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return picked.cpu().numpy(), (logits.argmax(-1) == targets).cpu().numpy()


def _torch(spec, dtype: str) -> Run:
    import torch

    from zoo.models import load_pt

    model = load_pt(spec, dtype)
    device = next(model.parameters()).device

    def run(ids: np.ndarray, mask: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            (logits,) = model(torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device))
            return _torch_pick(logits, torch.from_numpy(targets).to(device))

    return run


def _reference(spec, dtype: str) -> Run:
    import torch

    from zoo.pt.weights import torch_dtype

    model = spec.family.reference(spec.folder, spec.config).to(torch_dtype(dtype))
    device = next(model.parameters()).device

    def run(ids: np.ndarray, mask: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            outputs = spec.family.reference_forward(model, spec.config, {"input_ids": ids, "attention_mask": mask})
            return _torch_pick(outputs["logits"], torch.from_numpy(targets).to(device))

    return run
