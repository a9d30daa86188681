"""Grouped- and multi-query attention: the Attention layer with n_kv_heads < n_heads equals a reference that
repeats each key-value head for its group of query heads, in both twins and in every kernel path that can
run here (the MindSpore composed ops and the C++ CPU kernels; the torch twin), forward, backward and the
cached decode step, with the cache holding the key-value heads only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

ms = pytest.importorskip("mindspore")

from zoo.ms import kernels  # noqa: E402
from zoo.ms import layers as ms_layers  # noqa: E402
from zoo.ms.kernels import composed  # noqa: E402
from zoo.pt import layers as pt_layers  # noqa: E402

CASES = [(4, 2, 8), (6, 1, 4), (4, 4, 8)]       # (heads, kv heads, head_dim): GQA, MQA, MHA


def _reference(q, k, v, bias, heads, kv_heads, scale):
    """float64 torch: split heads, repeat each kv head for its group (head h reads kv head h // group)."""
    batch, seq, _ = q.shape
    kv_len = k.shape[1]
    group = heads // kv_heads
    qh = q.reshape(batch, seq, heads, -1).transpose(1, 2)
    kh = k.reshape(batch, kv_len, kv_heads, -1).transpose(1, 2).repeat_interleave(group, dim=1)
    vh = v.reshape(batch, kv_len, kv_heads, -1).transpose(1, 2).repeat_interleave(group, dim=1)
    probs = torch.softmax(qh @ kh.transpose(-1, -2) * scale + bias, -1)
    return (probs @ vh).transpose(1, 2).reshape(batch, seq, -1)


def _inputs(heads, kv_heads, head_dim, seq=9, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((batch, seq, heads * head_dim)).astype(np.float32)
    k, v = (rng.standard_normal((batch, seq, kv_heads * head_dim)).astype(np.float32) for _ in range(2))
    keep = np.ones((batch, seq), np.float32)
    keep[1, :3] = 0                                               # left padding in row 1
    causal = np.tril(np.ones((seq, seq), np.float32))[None, None] * keep[:, None, None, :]
    bias = ((1.0 - causal) * np.finfo(np.float32).min).astype(np.float32)
    dy = rng.standard_normal(q.shape).astype(np.float32)
    return q, k, v, bias, dy


def _reference_grads(q, k, v, bias, dy, heads, kv_heads, scale):
    tensors = [torch.from_numpy(a.astype(np.float64)).requires_grad_() for a in (q, k, v)]
    out = _reference(*tensors, torch.from_numpy(bias.astype(np.float64)), heads, kv_heads, scale)
    out.backward(torch.from_numpy(dy.astype(np.float64)))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize(("heads", "kv_heads", "head_dim"), CASES)
def test_torch_twin_attention_matches_repeat_kv(heads, kv_heads, head_dim):
    q, k, v, bias, dy = _inputs(heads, kv_heads, head_dim)
    scale = head_dim ** -0.5
    expected, grads = _reference_grads(q, k, v, bias, dy, heads, kv_heads, scale)
    layer = pt_layers.Attention(heads, scale, kv_heads, head_dim)
    tensors = [torch.from_numpy(a).requires_grad_() for a in (q, k, v)]
    out = layer(*tensors, torch.from_numpy(bias))
    out.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=2e-6)
    for got, ref in zip(tensors, grads, strict=True):
        np.testing.assert_allclose(got.grad.numpy(), ref, atol=2e-5)


class _Weighted(ms.nn.Cell):
    def __init__(self, layer) -> None:
        super().__init__()
        self.layer = layer

    def construct(self, q, k, v, bias, dy):
        return (self.layer(q, k, v, bias) * dy).sum()


@pytest.mark.parametrize("path", ["composed", "cpu"])
@pytest.mark.parametrize(("heads", "kv_heads", "head_dim"), CASES)
@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_mindspore_attention_paths_match_repeat_kv(heads, kv_heads, head_dim, path, mode):
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    q, k, v, bias, dy = _inputs(heads, kv_heads, head_dim, seed=1)
    scale = head_dim ** -0.5
    expected, grads = _reference_grads(q, k, v, bias, dy, heads, kv_heads, scale)
    layer = ms_layers.Attention(heads, scale, kv_heads, head_dim, dtype=ms.float32)
    assert kernels.path_of(layer.kernel) == "cpu"          # float32 on CPU: the C++ kernels, GQA included
    if path == "composed":
        layer.kernel = composed.Attention(heads, kv_heads, scale)
    grad_fn = ms.grad(_Weighted(layer), grad_position=(0, 1, 2))
    if mode == "graph":
        grad_fn = ms.jit(grad_fn)
    args = [ms.Tensor(a) for a in (q, k, v, bias)]
    np.testing.assert_allclose(layer(*args).asnumpy(), expected, atol=2e-6)
    for got, ref in zip(grad_fn(*args, ms.Tensor(dy)), grads, strict=True):
        np.testing.assert_allclose(got.asnumpy(), ref, atol=2e-5)


@pytest.mark.parametrize(("heads", "kv_heads", "head_dim"), CASES)
def test_cached_decode_holds_kv_heads_and_matches_repeat_kv(heads, kv_heads, head_dim):
    """A prefill of 4 slots, then one decode step, in the torch twin and both MindSpore paths; the caches are
    (B, Hkv, L, D) and every path writes the same values."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    rng = np.random.default_rng(2)
    batch, length, scale = 2, 8, head_dim ** -0.5
    steps = [np.arange(4), np.array([4])]
    cache_shape = (batch, kv_heads, length, head_dim)
    layers = {"pt": pt_layers.Attention(heads, scale, kv_heads, head_dim),
              "ms-cpu": ms_layers.Attention(heads, scale, kv_heads, head_dim, dtype=ms.float32),
              "ms-composed": ms_layers.Attention(heads, scale, kv_heads, head_dim, dtype=ms.float32)}
    layers["ms-composed"].kernel = composed.Attention(heads, kv_heads, scale)
    caches = {name: (np.zeros(cache_shape, np.float32), np.zeros(cache_shape, np.float32)) for name in layers}
    all_k, all_v = np.zeros((batch, length, kv_heads * head_dim)), np.zeros((batch, length, kv_heads * head_dim))
    for slots in steps:
        t = len(slots)
        q = rng.standard_normal((batch, t, heads * head_dim)).astype(np.float32)
        k, v = (rng.standard_normal((batch, t, kv_heads * head_dim)).astype(np.float32) for _ in range(2))
        all_k[:, slots], all_v[:, slots] = k, v
        visible = (np.arange(length)[None, :] <= slots[:, None]).astype(np.float32)        # (T, L)
        bias = np.broadcast_to(((1.0 - visible) * np.finfo(np.float32).min)[None, None], (batch, 1, t, length))
        bias = np.ascontiguousarray(bias, dtype=np.float32)
        expected = _reference(torch.from_numpy(q.astype(np.float64)), torch.from_numpy(all_k),
                              torch.from_numpy(all_v), torch.from_numpy(bias.astype(np.float64)), heads, kv_heads,
                              scale).numpy()
        for name, layer in layers.items():
            keys, values = caches[name]
            if name == "pt":
                out, keys, values = (x.numpy() for x in layer.cached(
                    *(torch.from_numpy(a) for a in (q, k, v, keys, values)), torch.from_numpy(slots),
                    torch.from_numpy(bias)))
            else:
                out, keys, values = (x.asnumpy() for x in layer.cached(
                    *(ms.Tensor(a) for a in (q, k, v, keys, values)), ms.Tensor(slots.astype(np.int32)),
                    ms.Tensor(bias)))
            assert keys.shape == values.shape == cache_shape, name
            caches[name] = (keys, values)
            np.testing.assert_allclose(out, expected, atol=2e-6, err_msg=name)
        written = all_k[:, : slots[-1] + 1].reshape(batch, -1, kv_heads, head_dim).transpose(0, 2, 1, 3)
        for name, (keys, _) in caches.items():
            np.testing.assert_array_equal(keys[:, :, : slots[-1] + 1], written.astype(np.float32), err_msg=name)
