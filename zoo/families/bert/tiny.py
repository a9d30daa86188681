"""Tiny BERT / DistilBERT checkpoints written by transformers (zoo/families/tiny.py)."""

from __future__ import annotations

from pathlib import Path

from zoo.families.tiny import save_perturbed, seeded


def distilbert_classifier(folder: Path, seed: int = 0) -> Path:
    import transformers

    seeded(seed)
    config = transformers.DistilBertConfig(
        vocab_size=120, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64,
        num_labels=3, activation="gelu",
    )
    return save_perturbed(transformers.DistilBertForSequenceClassification(config), folder, seed)


def bert_classifier(folder: Path, seed: int = 1) -> Path:
    import transformers

    seeded(seed)
    config = transformers.BertConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
        max_position_embeddings=64, type_vocab_size=2, num_labels=2,
    )
    return save_perturbed(transformers.BertForSequenceClassification(config), folder, seed)


def bert_encoder(folder: Path, seed: int = 2) -> Path:
    import transformers

    seeded(seed)
    config = transformers.BertConfig(
        vocab_size=96, hidden_size=48, num_hidden_layers=2, num_attention_heads=6, intermediate_size=64,
        max_position_embeddings=40, type_vocab_size=2, hidden_act="relu",
    )
    return save_perturbed(transformers.BertModel(config), folder, seed)
