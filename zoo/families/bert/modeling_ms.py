"""BERT / DistilBERT encoders in MindSpore (post-LN Transformer, Devlin et al. 2019), graph-mode clean."""

from __future__ import annotations

import mindspore as ms
from mindspore import Tensor, nn, ops

from zoo.families.bert.config import BertConfig
from zoo.ms.layers import (
    GELU,
    Attention,
    CrossEntropy,
    Embedding,
    LayerNorm,
    Linear,
    leading_rows,
    mask_min,
    padding_mask_to_additive,
    relu,
)


class BertEmbeddings(nn.Cell):
    """e = LN(word[ids] + position[0..S) + segment[type_ids])."""

    def __init__(self, config: BertConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size, dtype=dtype)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.hidden_size, dtype=dtype)
        self.token_type_embeddings = (
            Embedding(config.type_vocab_size, config.hidden_size, dtype=dtype) if config.type_vocab_size else None
        )
        self.norm = LayerNorm(config.hidden_size, config.layer_norm_eps, dtype=dtype)

    def construct(self, input_ids: Tensor, token_type_ids: Tensor) -> Tensor:
        seq_len = input_ids.shape[1]
        x = self.word_embeddings(input_ids) + leading_rows(self.position_embeddings.weight, seq_len)
        if self.token_type_embeddings is not None:
            x = x + self.token_type_embeddings(token_type_ids)
        return self.norm(x)


class BertAttention(nn.Cell):
    """softmax(Q K^T / sqrt(d) + mask) V W_o, multi-head."""

    def __init__(self, config: BertConfig, dtype=ms.float32) -> None:
        super().__init__()
        width = config.hidden_size
        self.num_heads = config.num_heads
        self.scale = config.head_dim ** -0.5
        self.q_proj = Linear(width, width, dtype=dtype)
        self.k_proj = Linear(width, width, dtype=dtype)
        self.v_proj = Linear(width, width, dtype=dtype)
        self.out_proj = Linear(width, width, dtype=dtype)
        self.attend = Attention(self.num_heads, self.scale, head_dim=config.head_dim, dtype=dtype)

    def construct(self, x: Tensor, additive_mask: Tensor) -> Tensor:
        return self.out_proj(self.attend(self.q_proj(x), self.k_proj(x), self.v_proj(x), additive_mask))


class BertMLP(nn.Cell):
    """W_2 act(W_1 x)."""

    def __init__(self, config: BertConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.up_proj = Linear(config.hidden_size, config.intermediate_size, dtype=dtype)
        self.down_proj = Linear(config.intermediate_size, config.hidden_size, dtype=dtype)
        self.use_gelu = config.hidden_act == "gelu"
        self.gelu = GELU(dtype)

    def construct(self, x: Tensor) -> Tensor:
        h = self.up_proj(x)
        h = self.gelu(h) if self.use_gelu else relu(h)
        return self.down_proj(h)


class BertLayer(nn.Cell):
    """Post-LN block: h = LN(x + Attn(x)); y = LN(h + MLP(h))."""

    def __init__(self, config: BertConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.attention = BertAttention(config, dtype)
        self.attention_norm = LayerNorm(config.hidden_size, config.layer_norm_eps, dtype=dtype)
        self.mlp = BertMLP(config, dtype)
        self.mlp_norm = LayerNorm(config.hidden_size, config.layer_norm_eps, dtype=dtype)

    def construct(self, x: Tensor, additive_mask: Tensor) -> Tensor:
        h = self.attention_norm(x + self.attention(x, additive_mask))
        return self.mlp_norm(h + self.mlp(h))


class BertPooler(nn.Cell):
    """tanh(W h_[CLS] + b)."""

    def __init__(self, config: BertConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size, dtype=dtype)

    def construct(self, hidden: Tensor) -> Tensor:
        return ops.tanh(self.dense(hidden[:, 0]))


class BertModel(nn.Cell):
    """Embeddings, N post-LN layers, and BERT's [CLS] pooler where the variant has one."""

    def __init__(self, config: BertConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.dtype = dtype
        self.mask_value = mask_min(dtype)
        self.embeddings = BertEmbeddings(config, dtype)
        self.layers = nn.CellList([BertLayer(config, dtype) for _ in range(config.num_layers)])
        self.pooler = BertPooler(config, dtype) if config.has_pooler else None

    def construct(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor) -> Tensor:
        additive_mask = padding_mask_to_additive(attention_mask, self.dtype, self.mask_value)  # (B, 1, 1, S)
        x = self.embeddings(input_ids, token_type_ids)
        for layer in self.layers:
            x = layer(x, additive_mask)
        return x


def mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Mean over attended tokens only (sentence-transformers' Pooling, mean mode)."""
    weights = attention_mask.astype(hidden.dtype)[:, :, None]
    return (hidden * weights).sum(1) / ops.clamp(weights.sum(1), min=1e-9)


class BertForEmbedding(nn.Cell):
    """Sentence embeddings: mean-pooled last hidden state, L2-normalised where the model says so."""

    def __init__(self, config: BertConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.encoder = BertModel(config, dtype)
        self.normalize = config.normalize_embeddings

    def construct(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor):
        hidden = self.encoder(input_ids, attention_mask, token_type_ids)  # (B, S, d)
        embedding = mean_pool(hidden, attention_mask)
        if self.normalize:
            embedding = embedding / ops.clamp(ops.sqrt((embedding * embedding).sum(-1, keepdims=True)), min=1e-12)
        if self.encoder.pooler is None:
            return hidden, embedding
        return hidden, self.encoder.pooler(hidden), embedding


class BertClassificationHead(nn.Cell):
    """BERT: classifier(pooler(h)). DistilBERT: classifier(relu(pre_classifier(h_[CLS])))."""

    def __init__(self, config: BertConfig, dtype=ms.float32) -> None:
        super().__init__()
        width = config.hidden_size
        self.pre_classifier = Linear(width, width, dtype=dtype) if not config.has_pooler else None
        self.classifier = Linear(width, config.num_labels, dtype=dtype)

    def construct(self, pooled_or_cls: Tensor) -> Tensor:
        x = pooled_or_cls
        if self.pre_classifier is not None:
            x = relu(self.pre_classifier(x))
        return self.classifier(x)


class BertForSequenceClassification(nn.Cell):
    def __init__(self, config: BertConfig, dtype=ms.float32) -> None:
        super().__init__()
        self.encoder = BertModel(config, dtype)
        self.head = BertClassificationHead(config, dtype)
        self.cross_entropy = CrossEntropy(dtype)

    def construct(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor):
        hidden = self.encoder(input_ids, attention_mask, token_type_ids)
        pooled = hidden[:, 0] if self.encoder.pooler is None else self.encoder.pooler(hidden)
        return (self.head(pooled),)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Mean cross-entropy over the batch (transformers' single-label classification loss)."""
        return self.cross_entropy(logits, labels)


def build(config: BertConfig, dtype=ms.float32) -> nn.Cell:
    if config.task == "sequence-classification":
        return BertForSequenceClassification(config, dtype)
    return BertForEmbedding(config, dtype)

