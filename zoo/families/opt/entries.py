"""The OPT models the registry names."""

from __future__ import annotations

from zoo.core.family import Entry

ENTRIES: tuple[Entry, ...] = (
    Entry("opt-125m", "opt", "facebook/opt-125m", "causal-lm", "125M", notes="OPT, pre-LN, 12 x 768"),
    Entry("opt-350m", "opt", "facebook/opt-350m", "causal-lm", "331M",
          notes="OPT, post-LN, 24 x 1024, 512-wide embeddings (project_in / project_out)"),
    Entry("opt-1.3b", "opt", "facebook/opt-1.3b", "causal-lm", "1.3B", notes="OPT, pre-LN, 24 x 2048"),
    Entry("opt-c4-350m", "opt", "znhoughton/opt-c4-350m-seed964", "causal-lm", "~350M",
          notes="OPT-350M trained on C4 (seed 964); intermediate checkpoints are revision tags step-<N>",
          revisions="intermediate checkpoints are tags step-<N>"),
)
