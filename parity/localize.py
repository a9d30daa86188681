"""First-divergence localisation across frameworks, by the twins' shared module names.

Both twins run the same inputs with a hook on every module (torch forward hooks; MindSpore forward
hooks, which fire in PyNative, so localisation always runs there even when the failing backend was
graph mode: the graph compiles the same Cells). Modules are walked in the order they finish, so a
leaf is seen before the block that contains it; the first whose output error exceeds its
depth-aware bound is reported, and then confirmed by feeding the twin's recorded inputs of that
module to the MindSpore module alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from parity.metrics import compare_arrays

ROOT = "<root>"   # the whole model: code in its own construct (e.g. the causal mask it builds)
# rel_fro bound at depth 0; fp32 rounding noise between the twins is ~1e-6 and grows with depth.
BASE_BOUND = 2e-5


def depth_of(name: str) -> int:
    """Layer index + 1 for modules inside `layers.N`, 0 for embeddings, n+1 for what follows."""
    m = re.search(r"(?:^|\.)(?:layers|blocks)\.(\d+)(?:\.|$)", name)
    return int(m.group(1)) + 1 if m else 0


def bound_for_depth(depth: int) -> float:
    return BASE_BOUND * (1 + depth)


@dataclass
class Activation:
    name: str
    inputs: tuple
    output: np.ndarray


def _first_tensor(value, kind):
    if isinstance(value, kind):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_tensor(item, kind)
            if found is not None:
                return found
    return None


def _numpy(value):
    """Recorded module inputs as numpy (tensors) or as they are (None, Python numbers)."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, (tuple, list)):
        return type(value)(_numpy(v) for v in value)
    return value


def capture_pt(model, args: tuple) -> list[Activation]:
    import torch

    records: list[Activation] = []
    handles = []
    for name, module in model.named_modules():

        def hook(module, inputs, output, name=name or ROOT):
            out = _first_tensor(output, torch.Tensor)
            if out is not None:
                records.append(Activation(name, _numpy(tuple(inputs)), out.detach().float().numpy().copy()))

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(*args)
    finally:
        for h in handles:
            h.remove()
    return records


def capture_ms(net, args: tuple) -> list[Activation]:
    import mindspore as ms

    ms.set_context(mode=ms.PYNATIVE_MODE)
    records: list[Activation] = []
    handles = []
    for name, cell in net.cells_and_names():

        def hook(cell, inputs, output, name=name or ROOT):
            out = _first_tensor(output, ms.Tensor)
            if out is not None:
                records.append(Activation(name, tuple(inputs), out.float().asnumpy().copy()))

        handles.append(cell.register_forward_hook(hook))
    try:
        net(*args)
    finally:
        for h in handles:
            h.remove()
    return records


def _to_ms(value):
    import mindspore as ms

    if isinstance(value, np.ndarray):
        return ms.Tensor(value.astype(np.int32) if value.dtype.kind in "iub" else value)
    if isinstance(value, (tuple, list)):
        return type(value)(_to_ms(v) for v in value)
    return value


def confirm(net, name: str, pt_record: Activation) -> dict:
    """Run the MindSpore module alone on the twin's recorded inputs; compare with the twin's output."""
    import mindspore as ms

    cell = dict(net.cells_and_names())["" if name == ROOT else name]
    output = _first_tensor(cell(*(_to_ms(x) for x in pt_record.inputs)), ms.Tensor)
    metrics = compare_arrays(output.float().asnumpy(), pt_record.output)
    return {"isolated_rel_fro": metrics["rel_fro"], "isolated_max_abs": metrics["max_abs"],
            "confirmed": bool(not metrics["finite"] or metrics["rel_fro"] > bound_for_depth(depth_of(name)))}


def first_divergence(spec, state, inputs: dict[str, np.ndarray], transform=None) -> dict | None:
    """Name the first module whose MindSpore output leaves the twin's, or None when all agree."""
    import mindspore as ms

    from zoo.models import load_ms, load_pt

    try:
        import torch
    except ImportError:
        return {"module": None, "reason": "localisation compares against the torch twin, and torch is not "
                                          "importable here"}
    input_names = spec.family.inputs.names
    pt_model = load_pt(spec, state=state)
    pt_records = capture_pt(pt_model, tuple(torch.from_numpy(inputs[n]).long() for n in input_names))
    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = load_ms(spec, state=state)
    if transform is not None:
        transform(net)
    ms_records = capture_ms(net, tuple(ms.Tensor(inputs[n].astype(np.int32)) for n in input_names))
    ms_by_name: dict[str, list[Activation]] = {}
    for record in ms_records:
        ms_by_name.setdefault(record.name, []).append(record)
    seen: dict[str, int] = {}
    for record in pt_records:
        index = seen.get(record.name, 0)
        seen[record.name] = index + 1
        candidates = ms_by_name.get(record.name, [])
        if index >= len(candidates):      # the parent's code did not call it: blame moves to the parent
            parent = record.name.rpartition(".")[0] or ROOT
            result = {"module": parent, "reason": f"{record.name} did not run in MindSpore: the code of its "
                                                  "parent skipped it", "first_diverging_output": record.name}
            return _blame(net, parent, pt_records, result)
        ms_out = candidates[index].output
        if ms_out.shape != record.output.shape:
            return {"module": record.name, "reason": f"shape {ms_out.shape} vs {record.output.shape}"}
        metrics = compare_arrays(ms_out, record.output)
        bound = bound_for_depth(depth_of(record.name))
        if not metrics["finite"] or metrics["rel_fro"] > bound:
            result = {"module": record.name, "rel_fro": metrics["rel_fro"], "max_abs": metrics["max_abs"],
                      "bound": bound, "depth": depth_of(record.name), "first_diverging_output": record.name}
            return _blame(net, record.name, pt_records, result)
    return None


def _blame(net, name: str, pt_records: list[Activation], result: dict) -> dict:
    """Confirm in isolation; a module that is right on the twin's inputs was fed wrong inputs by the
    code of its parent (between its children), so the blame moves up until a module is confirmed."""
    by_name = {r.name: r for r in pt_records}
    candidate = name
    while candidate:
        isolated = confirm(net, candidate, by_name[candidate]) if candidate in by_name else None
        if isolated and isolated["confirmed"]:
            result.update(isolated)
            result["module"] = candidate
            return result
        candidate = candidate.rpartition(".")[0] or (ROOT if candidate != ROOT else "")
    result.update({"confirmed": False, "note": "no single module reproduces the divergence in isolation"})
    return result
