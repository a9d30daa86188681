import numpy as np
import pytest

from zoo.data import parity
from zoo.data.causal_lm import CausalLMPipeline, PackedSequences, boolq_documents, olmo_tokenizer, pack
from zoo.data.errors import EmptyCorpusError


def test_pack_and_windows():
    stream = pack([np.array([5, 6], np.int32), np.array([7], np.int32)], eos_id=0)
    assert stream.tolist() == [5, 6, 0, 7, 0]
    windows = PackedSequences.from_stream(np.arange(11, dtype=np.int32), seq_len=3, source="t").windows
    assert windows.tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]   # (11 - 1) // 3 windows
    pipe = CausalLMPipeline(PackedSequences(windows, "t"), batch_size=3, shuffle=False)
    batch = next(pipe.batches(0))
    # the one label convention (zoo.core.loss): labels aligned with the inputs, the loss shifts them, so a
    # window of T + 1 tokens gives T targets
    assert batch["input_ids"].tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert batch["labels"].tolist() == batch["input_ids"].tolist()


def test_too_short_corpus():
    with pytest.raises(EmptyCorpusError, match="3 tokens cannot fill one sequence of 8"):
        PackedSequences.from_stream(np.arange(3, dtype=np.int32), 8, "tiny.txt")


@pytest.fixture(scope="module")
def boolq_packed():
    """Real Wikipedia passages (BoolQ validation) in the OLMo-1 tokenizer, 64-token windows."""
    return PackedSequences.from_documents(boolq_documents()[:40], olmo_tokenizer(), 64, source="boolq")


def test_real_text_is_joined_with_eos(boolq_packed):
    eos = olmo_tokenizer().special_id("eos", "test")
    assert eos == 50279                                              # OLMo-1's <|endoftext|>
    stream = np.concatenate([boolq_packed.windows[:, :-1].ravel(), boolq_packed.windows[-1:, -1]])
    assert (stream == eos).sum() >= len(boolq_packed.windows) * 64 // 200    # passages are ~100-200 tokens
    assert np.array_equal(boolq_packed.windows[1:, 0], boolq_packed.windows[:-1, -1])   # windows chain


def test_mindrecord_round_trip(tmp_path, boolq_packed):
    files = boolq_packed.write_mindrecord(tmp_path / "corpus.mindrecord", shards=2)
    assert [f.name for f in files] == ["corpus.mindrecord0", "corpus.mindrecord1"]
    back = PackedSequences.read_mindrecord(files[0])
    assert back.windows.dtype == np.int32
    assert sorted(map(bytes, back.windows)) == sorted(map(bytes, boolq_packed.windows))


@pytest.mark.parametrize("shuffle", [True, False])
def test_twins_are_byte_identical(boolq_packed, shuffle):
    pipe = CausalLMPipeline(boolq_packed, batch_size=8, shuffle=shuffle, seed=5, drop_last=False)
    report = parity.check(pipe, epochs=(0, 1), workers=(1, 2))
    assert report.passed, str(report.mismatch)
    assert {r["batches"] for r in report.runs} == {pipe.num_batches()}
