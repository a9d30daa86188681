"""The OLMo-1 models the registry names: the DataDecide ladder (25 data recipes x 14 sizes)."""

from __future__ import annotations

from zoo.core.errors import HubError
from zoo.core.family import Entry

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


def find(name: str) -> Entry | None:
    """`datadecide-<recipe>-<size>` for any of the 350 combinations (too many to list one by one)."""
    if not name.startswith("datadecide-"):
        return None
    recipe, _, size = name[len("datadecide-"):].rpartition("-")
    if recipe in DATADECIDE_RECIPES and size in DATADECIDE_SIZES:
        return datadecide(recipe, size)
    return None


ENTRIES = _datadecide_listing()
