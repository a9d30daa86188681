"""The twin's two attention paths (written-out math, torch SDPA) compute the same function.

SDPA is what the GPU benchmarks run (`--pt-option attn=sdpa`); the parity harness uses the math path.
"""

from __future__ import annotations

import pytest
import torch

from zoo.models import load_pt, resolve
from zoo.pt import layers


@pytest.fixture
def restore_attention():
    yield
    layers.set_attention_impl("math")


@pytest.mark.parametrize("name", ["tiny-bert-cls", "tiny-opt-post-ln", "tiny-olmo-ladder"])
def test_sdpa_matches_math_in_logits_and_gradients(name, tiny_checkpoints, restore_attention):
    spec = resolve(tiny_checkpoints[name])
    model = load_pt(spec).train(False)
    inputs = spec.family.inputs.example(spec.config, 3, 12, 0)   # padded rows included
    args = [torch.from_numpy(inputs[n]).long() for n in spec.family.inputs.names]
    outputs = {}
    for impl in ("math", "sdpa"):
        layers.set_attention_impl(impl)
        model.zero_grad(set_to_none=True)
        logits = model(*args)[0]
        mask = torch.from_numpy(inputs["attention_mask"]).bool()
        valid = logits if logits.dim() == 2 else logits[mask]
        valid.square().mean().backward()
        outputs[impl] = (valid.detach(), {k: p.grad.clone() for k, p in model.named_parameters()})
    (math_out, math_grads), (sdpa_out, sdpa_grads) = outputs["math"], outputs["sdpa"]
    torch.testing.assert_close(sdpa_out, math_out, rtol=1e-5, atol=1e-5)
    for key, grad in math_grads.items():
        torch.testing.assert_close(sdpa_grads[key], grad, rtol=1e-4, atol=1e-6, msg=key)


def test_unknown_attention_impl_is_refused():
    with pytest.raises(ValueError, match="choose one of math, sdpa"):
        layers.set_attention_impl("flash")
