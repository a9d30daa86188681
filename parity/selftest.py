"""`mindzoo parity --self-test`: inject known bugs into a MindSpore model and require the harness to
fail on each and to name the module the bug is in. A harness that cannot catch these cannot be trusted.
"""

from __future__ import annotations

import math
import tempfile
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Bug:
    name: str
    module: str                      # where the harness must localise it
    inject: Callable[[object], None]


def _transposed_weight(net) -> None:
    weight = net.encoder.layers[1].attention.q_proj.weight
    weight.set_data(weight.T)


def _norm_epsilon(net) -> None:
    from mindspore import ops

    norm = net.encoder.layers[0].mlp_norm
    norm.norm = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=1e-1)
    norm.eps = 1e-1   # both the CPU kernel and the written-out path of zoo.ms.layers.LayerNorm read this


def _swapped_qk(net) -> None:
    def construct(self, x, additive_mask):
        return self.out_proj(self.attend(self.k_proj(x), self.q_proj(x), self.v_proj(x), additive_mask))

    cell = net.encoder.layers[1].attention
    cell.construct = types.MethodType(construct, cell)


def _missing_residual(net) -> None:
    def construct(self, x, additive_mask):
        h = self.attention_norm(self.attention(x, additive_mask))
        return self.mlp_norm(h + self.mlp(h))

    cell = net.encoder.layers[0]
    cell.construct = types.MethodType(construct, cell)


def _tanh_gelu(net) -> None:
    from mindspore import ops

    def construct(self, x):
        h = self.up_proj(x)
        h = 0.5 * h * (1.0 + ops.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h ** 3)))
        return self.down_proj(h)

    cell = net.encoder.layers[1].mlp
    cell.construct = types.MethodType(construct, cell)


def _rope_theta(net) -> None:
    from mindspore import Tensor

    from zoo.ms.layers import rotary_tables

    model = net.model
    cos, sin = rotary_tables(model.cos.shape[0], model.cos.shape[1], 500000.0)
    model.cos, model.sin = Tensor(cos, model.cos.dtype), Tensor(sin, model.sin.dtype)


def _causal_mask_off_by_one(net) -> None:
    from mindspore import ops

    def construct(self, input_ids, attention_mask):
        steps = ops.arange(attention_mask.shape[1])
        causal = (steps[None, :] <= steps[:, None] + 1).astype(self.dtype)        # sees one token ahead
        keep = causal[None, None, :, :] * attention_mask.astype(self.dtype)[:, None, None, :]
        return (self.head(self.model(input_ids, (1.0 - keep) * self.mask_value)),)

    net.construct = types.MethodType(construct, net)


def _missing_mlp_residual(net) -> None:
    def construct(self, x, bias, cos, sin, key_cache=None, value_cache=None, cache_positions=None):
        a, k, v = self.attention(self.attn_norm(x), bias, cos, sin, key_cache, value_cache, cache_positions)
        h = x + a
        return self.mlp(self.ff_norm(h)), k, v

    cell = net.model.layers[1]
    cell.construct = types.MethodType(construct, cell)


def _pre_ln_instead_of_post_ln(net) -> None:
    layer = net.decoder.layers[1]
    layer.pre_norm = not layer.pre_norm


def _no_position_offset(net) -> None:
    from mindspore import ops

    from zoo.families.opt.modeling_ms import embed_tokens_without_pad_grad

    def embed(self, input_ids, position_ids):
        if self.padding_idx is None:
            x = self.embed_tokens(input_ids)
        else:
            x = embed_tokens_without_pad_grad(self.embed_tokens, input_ids, self.padding_idx)
        if self.project_in is not None:
            x = self.project_in(x)
        return x + self.embed_positions(ops.relu(position_ids))             # offset 2 forgotten

    decoder = net.decoder
    decoder.embed = types.MethodType(embed, decoder)


BERT_BUGS = (
    Bug("transposed weight (q_proj)", "encoder.layers.1.attention.q_proj", _transposed_weight),
    Bug("LayerNorm epsilon 1e-12 -> 1e-1", "encoder.layers.0.mlp_norm", _norm_epsilon),
    Bug("swapped q / k", "encoder.layers.1.attention", _swapped_qk),
    Bug("missing residual (attention)", "encoder.layers.0", _missing_residual),
    Bug("GELU: tanh approximation instead of erf", "encoder.layers.1.mlp", _tanh_gelu),
)


DECODER_BUGS = (
    Bug("RoPE theta 10000 -> 500000", "model", _rope_theta),
    Bug("causal mask off by one", "<root>", _causal_mask_off_by_one),
    Bug("missing residual (MLP)", "model.layers.1", _missing_mlp_residual),
)


OPT_BUGS = (
    Bug("post-LN block run as pre-LN", "decoder.layers.1", _pre_ln_instead_of_post_ln),
    Bug("learned positions without the offset of 2", "decoder", _no_position_offset),
)


def _run(folder: Path, bugs: tuple[Bug, ...], model: str, backends, progress) -> list[dict]:
    import parity

    clean = parity.compare(str(folder), backends=backends, generate=False)
    rows = [{"model": model, "bug": "(none: clean model)", "caught": not clean.passed, "expected": None,
             "named": (clean.first_divergence or {}).get("module"), "ok": clean.passed}]
    for bug in bugs:
        if progress:
            progress(f"{model}: {bug.name}")
        report = parity.compare(str(folder), backends=backends, ms_transform=bug.inject, generate=False)
        named = (report.first_divergence or {}).get("module")
        rows.append({"model": model, "bug": bug.name, "caught": not report.passed, "expected": bug.module,
                     "named": named, "confirmed": (report.first_divergence or {}).get("confirmed"),
                     "ok": (not report.passed) and named == bug.module})
    return rows


def run_self_test(folder: str | Path | None = None, decoder_folder: str | Path | None = None,
                  opt_folder: str | Path | None = None, backends=("ms-pynative", "pt"),
                  progress=None) -> list[dict]:
    """One row per bug: caught?, module named, expected module. One tiny model of every family."""
    from zoo.tiny import bert_classifier, olmo_ladder, opt_post_ln

    root = Path(tempfile.mkdtemp(prefix="mindzoo-selftest-"))
    folder = Path(folder) if folder else bert_classifier(root / "tiny-bert-cls")
    decoder_folder = Path(decoder_folder) if decoder_folder else olmo_ladder(root / "tiny-olmo-ladder")
    opt_folder = Path(opt_folder) if opt_folder else opt_post_ln(root / "tiny-opt-post-ln")
    return (_run(folder, BERT_BUGS, "tiny-bert-cls", backends, progress)
            + _run(decoder_folder, DECODER_BUGS, "tiny-olmo-ladder", backends, progress)
            + _run(opt_folder, OPT_BUGS, "tiny-opt-post-ln", backends, progress))
