"""A backend runs one model on numpy inputs and returns named numpy outputs (and loss, gradients).

Backends: ms-pynative, ms-graph (MindSpore), pt (the twin), pt-compile (the twin under
torch.compile), ref (the upstream implementation). Gradients come back as `grad.<zoo name>`.
"""

from __future__ import annotations

import numpy as np

from zoo.core.checkpoint import StateDict
from zoo.core.errors import InputError
from zoo.models import ModelSpec, load_ms, load_pt, to_zoo_names

BACKENDS = ("ms-pynative", "ms-graph", "pt", "pt-compile", "ref")
DEFAULT_BACKENDS = ("ms-pynative", "ms-graph", "pt", "ref")


def mode_of(backend: str) -> str:
    return {"ms-pynative": "pynative", "ms-graph": "graph"}.get(backend, "eager")


def framework_of(backend: str) -> str:
    return "mindspore" if backend.startswith("ms-") else "torch"


def run_ms(spec: ModelSpec, state: StateDict, inputs: dict[str, np.ndarray], graph: bool,
           dtype: str = "float32", with_grads: bool = True, transform=None) -> dict[str, np.ndarray]:
    """`transform(net)` edits the loaded Cell before it runs (the self-test injects bugs with it)."""
    import mindspore as ms

    if dtype == "bfloat16" and ms.get_context("device_target") == "CPU":
        raise InputError("MindSpore has no bfloat16 compute kernels on CPU; use --dtype float32 here "
                         "(bf16 weights are widened on load)")
    ms.set_context(mode=ms.GRAPH_MODE if graph else ms.PYNATIVE_MODE)
    net = load_ms(spec, dtype, state)
    if transform is not None:
        transform(net)
    args = tuple(ms.Tensor(inputs[name].astype(np.int32)) for name in spec.family.inputs.names)
    if not (with_grads and "labels" in inputs):
        outputs = net(*args)
        return {name: out.float().asnumpy() for name, out in zip(spec.config.output_names, outputs, strict=True)}
    weights = net.trainable_params()
    labels = ms.Tensor(inputs["labels"].astype(np.int32))

    def loss_and_outputs(*tensors):
        """One forward serves the outputs and the loss: the outputs ride along as has_aux values."""
        outputs = net(*tensors[:-1])
        return (net.loss(outputs[0], tensors[-1]),) + tuple(outputs)

    grad_fn = ms.value_and_grad(loss_and_outputs, None, weights, has_aux=True)
    if graph:
        grad_fn = ms.jit(grad_fn)
    values, grads = grad_fn(*args, labels)
    named = {name: out.float().asnumpy() for name, out in zip(spec.config.output_names, values[1:], strict=True)}
    named["loss"] = values[0].float().asnumpy()
    named.update({f"grad.{p.name}": g.float().asnumpy() for p, g in zip(weights, grads, strict=True)})
    return named


def run_pt(spec: ModelSpec, state: StateDict, inputs: dict[str, np.ndarray], compile_model: bool = False,
           dtype: str = "float32", with_grads: bool = True) -> dict[str, np.ndarray]:
    import torch

    model = load_pt(spec, dtype, state)
    run = torch.compile(model) if compile_model else model
    args = tuple(torch.from_numpy(inputs[name]).long() for name in spec.family.inputs.names)
    want_grads = with_grads and "labels" in inputs
    with torch.set_grad_enabled(want_grads):     # one forward serves the outputs and the loss
        outputs = run(*args)
    named = {n: o.detach().float().numpy() for n, o in zip(spec.config.output_names, outputs, strict=True)}
    if want_grads:
        loss = model.loss(outputs[0], torch.from_numpy(inputs["labels"]))
        loss.backward()
        named["loss"] = loss.detach().float().numpy()
        named.update({f"grad.{n}": p.grad.float().numpy() for n, p in model.named_parameters()})
    return named


def run_ref(spec: ModelSpec, inputs: dict[str, np.ndarray], dtype: str = "float32",
            with_grads: bool = True) -> dict[str, np.ndarray]:
    import torch

    from zoo.pt.weights import torch_dtype

    model = spec.family.reference(spec.folder, spec.config).to(torch_dtype(dtype))
    want_loss = with_grads and "labels" in inputs
    with torch.set_grad_enabled(want_loss):
        outputs = spec.family.reference_forward(model, spec.config, inputs, with_loss=want_loss)
    named = {n: t.detach().float().numpy() for n, t in outputs.items()}
    if want_loss:
        outputs["loss"].backward()
        upstream_grads = {n: p.grad.float().numpy() for n, p in model.named_parameters() if p.grad is not None}
        zoo_grads = to_zoo_names(spec, upstream_grads, source="reference gradients")
        named.update({f"grad.{n}": g for n, g in zoo_grads.items()})
    return named


def run_backend(backend: str, spec: ModelSpec, state: StateDict, inputs: dict[str, np.ndarray],
                dtype: str = "float32", with_grads: bool = True, ms_transform=None) -> dict[str, np.ndarray]:
    if backend == "ms-pynative":
        return run_ms(spec, state, inputs, graph=False, dtype=dtype, with_grads=with_grads, transform=ms_transform)
    if backend == "ms-graph":
        return run_ms(spec, state, inputs, graph=True, dtype=dtype, with_grads=with_grads, transform=ms_transform)
    if backend == "pt":
        return run_pt(spec, state, inputs, dtype=dtype, with_grads=with_grads)
    if backend == "pt-compile":
        return run_pt(spec, state, inputs, compile_model=True, dtype=dtype, with_grads=with_grads)
    if backend == "ref":
        return run_ref(spec, inputs, dtype=dtype, with_grads=with_grads)
    raise InputError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
