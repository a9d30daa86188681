"""What a benchmark runs: a registry name or folder (real weights), or a shape-only name (random weights).

Shape-only models are the upstream configs of real checkpoints, written as config.json by the upstream
config classes and read by the families' own strict `from_hf`, so a shape benchmark builds exactly the
model a pulled checkpoint of that shape would give. Weights are random: fine for speed.
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from zoo.errors import InputError
from zoo.models import ModelSpec, resolve


def _opt_350m() -> dict:
    import transformers

    config = transformers.OPTConfig(
        vocab_size=50272, hidden_size=1024, num_hidden_layers=24, ffn_dim=4096, num_attention_heads=16,
        max_position_embeddings=2048, do_layer_norm_before=False, word_embed_proj_dim=512,
        activation_function="relu", enable_bias=True, layer_norm_elementwise_affine=True,
        tie_word_embeddings=True, pad_token_id=1, bos_token_id=2, eos_token_id=2,
    )
    config.architectures = ["OPTForCausalLM"]
    return config.to_dict()


def _datadecide(size: str) -> dict:
    """An OLMo-1 ladder size (registry.DATADECIDE_SIZES; 150M: d 768, 12 layers x 12 heads), 8x SwiGLU, RMSNorm."""
    from zoo.families.olmo import import_hf_olmo
    from zoo.registry import DATADECIDE_EMBEDDINGS, DATADECIDE_SIZES

    d_model, n_layers, n_heads, _ = DATADECIDE_SIZES[size]
    hf_olmo = import_hf_olmo()
    config = hf_olmo.OLMoConfig(
        d_model=d_model, n_layers=n_layers, n_heads=n_heads, mlp_ratio=8, rope=True, rope_theta=10000,
        alibi=False, include_bias=False, layer_norm_type="rms", layer_norm_with_affine=True,
        layer_norm_eps=1e-6, bias_for_layer_norm=False, attention_layer_norm=False, activation_type="swiglu",
        block_type="sequential", weight_tying=False, vocab_size=50280, embedding_size=DATADECIDE_EMBEDDINGS,
        max_sequence_length=2048, eos_token_id=50279, pad_token_id=1, attention_dropout=0.0,
        residual_dropout=0.0, embedding_dropout=0.0, init_device="cpu",
    )
    return config.to_dict()


def _distilbert() -> dict:
    """distilbert-base-uncased-finetuned-sst-2-english: 6 x 768, 12 heads, GELU, 2 labels."""
    import transformers

    config = transformers.DistilBertConfig(vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
                                           max_position_embeddings=512, activation="gelu", num_labels=2)
    config.architectures = ["DistilBertForSequenceClassification"]
    return config.to_dict()


def _ladder() -> dict[str, tuple[str, Callable[[], dict]]]:
    """Every DataDecide size as `datadecide-<size>-shape` (the small ones show where op dispatch dominates)."""
    from zoo.registry import DATADECIDE_SIZES

    return {f"datadecide-{size.lower()}-shape": (f"DataDecide-{size} (OLMo-1 ladder) config, random weights",
                                                 functools.partial(_datadecide, size))
            for size in DATADECIDE_SIZES}


SHAPES: dict[str, tuple[str, Callable[[], dict]]] = {
    "opt-350m-shape": ("OPT-350m (facebook/opt-350m config), random weights", _opt_350m),
    **_ladder(),
    "distilbert-shape": ("DistilBERT SST-2 classifier config, random weights", _distilbert),
}


def is_shape(model: str) -> bool:
    return model in SHAPES


def check_model(model: str) -> None:
    """Fail in the caller, before any measurement process starts, when `model` names nothing that can run:
    one clear error instead of a failed record per backend (a checkpoint that loads badly still fails in
    its worker, where the weights are read)."""
    if is_shape(model):
        return
    if model.endswith("-shape"):
        raise InputError(f"{model!r}: no such benchmark shape; choose one of {', '.join(SHAPES)}")
    resolve(model)       # an unknown name, an unpulled hub id, a folder without a usable config.json


def shape_folder(model: str, root: Path | None = None) -> Path:
    """A folder holding only the shape's config.json (no weights)."""
    root = Path(root or tempfile.mkdtemp(prefix="mindzoo-bench-"))
    folder = root / model
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(SHAPES[model][1](), indent=1, default=str), encoding="utf-8")
    return folder


def resolve_model(model: str) -> tuple[ModelSpec, bool]:
    """(spec, random_weights): a shape name gets a weightless folder; anything else resolves as usual."""
    if is_shape(model):
        spec = resolve(shape_folder(model))
        return ModelSpec(model, spec.folder, spec.family, spec.config, spec.raw_config), True
    return resolve(model), False
