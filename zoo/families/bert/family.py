"""The BERT family: BERT and DistilBERT encoders, sentence-embedding and sequence-classification heads."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.core.family import BenchShape, Family, InputSpec
from zoo.families.bert import entries, mutations, tiny
from zoo.families.bert.config import BertConfig
from zoo.families.bert.convert import keymap
from zoo.families.causal_lm import torch_inputs


def read_config(raw: dict, folder: Path, task: str | None = None) -> BertConfig:
    return BertConfig.from_folder(folder, raw, task)


def ms_modeling():
    from zoo.families.bert import modeling_ms

    return modeling_ms


def pt_modeling():
    from zoo.families.bert import modeling_pt

    return modeling_pt


def reference(folder, config: BertConfig, random_weights: bool = False, attention: str = "eager"):
    """The upstream transformers class for this checkpoint, in fp32, eval mode."""
    import torch
    import transformers

    if config.task == "sequence-classification":
        cls = (transformers.BertForSequenceClassification if config.variant == "bert"
               else transformers.DistilBertForSequenceClassification)
    else:
        cls = transformers.BertModel if config.variant == "bert" else transformers.DistilBertModel
    if random_weights:
        return cls(transformers.AutoConfig.from_pretrained(str(folder))).eval()
    model = cls.from_pretrained(str(folder), attn_implementation=attention, dtype=torch.float32)
    return model.eval()


def reference_forward(model, config: BertConfig, inputs: dict, with_loss: bool = False):
    """Run the reference on numpy inputs: named torch outputs in zoo order, and its own `loss`."""
    import torch

    names = ("input_ids", "attention_mask") + (("token_type_ids",) if config.variant == "bert" else ()) + (
        ("labels",) if with_loss else ())
    kwargs = torch_inputs(model, inputs, names)
    mask = kwargs["attention_mask"]
    out = model(**kwargs)
    if config.task == "sequence-classification":
        return {"logits": out.logits, **({"loss": out.loss} if with_loss else {})}
    hidden = out.last_hidden_state
    weights = mask.to(hidden.dtype)[:, :, None]
    embedding = (hidden * weights).sum(1) / torch.clamp(weights.sum(1), min=1e-9)
    if config.normalize_embeddings:
        embedding = torch.nn.functional.normalize(embedding, p=2, dim=1)
    named = {"last_hidden_state": hidden}
    if config.has_pooler:
        named["pooler_output"] = out.pooler_output
    named["sentence_embedding"] = embedding
    return named


def example_inputs(config: BertConfig, batch: int = 4, seq: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Random token ids with right padding of different lengths inside the batch, and labels."""
    rng = np.random.default_rng(seed)
    seq = min(seq, config.max_position_embeddings)
    ids = rng.integers(1, config.vocab_size, size=(batch, seq), dtype=np.int64)
    lengths = np.linspace(seq, max(2, seq // 3), batch).astype(int)
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    ids = np.where(mask == 1, ids, config.pad_token_id)
    token_types = np.zeros_like(ids)
    if config.type_vocab_size > 1:
        token_types[:, seq // 2:] = 1
        token_types *= mask
    inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": token_types}
    if config.task == "sequence-classification":
        inputs["labels"] = rng.integers(0, config.num_labels, size=(batch,), dtype=np.int64)
    return inputs


def matmul_params(config: BertConfig) -> tuple[int, int]:
    """Per token: q, k, v, out and the two MLP matrices per layer; per sequence: the tanh pooler on [CLS]
    and the classifier (DistilBERT's pre_classifier in the pooler's place)."""
    d, ffn = config.hidden_size, config.intermediate_size
    per_token = config.num_layers * (4 * d * d + 2 * d * ffn)
    per_sequence = d * d if config.has_pooler else 0
    if config.task == "sequence-classification":
        per_sequence += (0 if config.has_pooler else d * d) + d * config.num_labels
    return per_token, per_sequence


def total_params(config: BertConfig) -> int:
    per_token, per_sequence = matmul_params(config)
    tables = config.vocab_size + config.max_position_embeddings + config.type_vocab_size
    return per_token + per_sequence + tables * config.hidden_size


def _distilbert_sst2() -> dict:
    """distilbert-base-uncased-finetuned-sst-2-english: 6 x 768, 12 heads, GELU, 2 labels."""
    import transformers

    config = transformers.DistilBertConfig(vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
                                           max_position_embeddings=512, activation="gelu", num_labels=2)
    config.architectures = ["DistilBertForSequenceClassification"]
    return config.to_dict()


FAMILY = Family(
    name="bert",
    model_types=("bert", "distilbert"),
    read_config=read_config,
    keymap=keymap,
    ms_modeling=ms_modeling,
    pt_modeling=pt_modeling,
    inputs=InputSpec(names=("input_ids", "attention_mask", "token_type_ids"), example=example_inputs,
                     labels="sequence", text=True),
    reference=reference,
    reference_forward=reference_forward,
    matmul_params=matmul_params,
    total_params=total_params,
    tiny={"tiny-distilbert-cls": tiny.distilbert_classifier, "tiny-bert-cls": tiny.bert_classifier,
          "tiny-bert-encoder": tiny.bert_encoder},
    mutations=mutations.mutations,
    self_test_model="tiny-bert-cls",
    entries=entries.ENTRIES,
    bench_shapes={"distilbert-shape": BenchShape("DistilBERT SST-2 classifier config, random weights",
                                                 _distilbert_sst2)},
    demo_models=("minilm-l6", "tiny-distilbert-cls", "tiny-bert-cls"),
)
