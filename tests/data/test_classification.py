import numpy as np
import pytest

from zoo.core.errors import InputError
from zoo.data import parity
from zoo.data.classification import ClassificationPipeline, bucket_length
from zoo.data.sampler import split_indices


@pytest.fixture(scope="module")
def small(sst2, minilm_tokenizer):
    """100 real SST-2 sentences: 6 full batches of 16 and a short last one."""
    return sst2.subset(split_indices(len(sst2), 0.885, seed=3)[0])


def test_buckets_are_multiples_of_16(small, minilm_tokenizer):
    pipe = ClassificationPipeline(small, minilm_tokenizer, batch_size=16, max_length=64, drop_last=False)
    batches = list(pipe.batches(0))
    assert len(small) == 100 and len(batches) == 7
    for batch in batches:
        length = batch["input_ids"].shape[1]
        assert length % 16 == 0 and length <= 64
        assert batch["input_ids"].shape == batch["attention_mask"].shape == (16, length)
        real = batch["attention_mask"].sum(1)
        assert bucket_length(int(real.max()), 64) == length               # the smallest bucket that fits
        assert (batch["input_ids"][batch["attention_mask"] == 0] == 0).all()  # [PAD] = 0
        assert batch["input_ids"].dtype == np.int32 and batch["labels"].dtype == np.int32
    assert batches[-1]["valid"].tolist() == [1] * 4 + [0] * 12                 # 100 = 6 x 16 + 4
    assert sum(int(b["valid"].sum()) for b in batches) == 100


def test_truncation_keeps_sep(small, minilm_tokenizer):
    pipe = ClassificationPipeline(small, minilm_tokenizer, batch_size=4, max_length=16)
    ids, _ = pipe.example(int(np.argmax([len(t) for t in small.texts])))
    assert len(ids) == 16 and ids[0] == 101 and ids[-1] == 102


def test_max_length_must_be_a_bucket(small, minilm_tokenizer):
    with pytest.raises(InputError, match="multiple of 16"):
        ClassificationPipeline(small, minilm_tokenizer, batch_size=4, max_length=50)


@pytest.mark.parametrize("shuffle", [True, False])
def test_twins_are_byte_identical(small, minilm_tokenizer, shuffle):
    pipe = ClassificationPipeline(small, minilm_tokenizer, batch_size=16, max_length=64, shuffle=shuffle,
                                  seed=11, drop_last=False)
    report = parity.check(pipe, epochs=(0, 1), workers=(1, 2))
    assert report.passed, str(report.mismatch)
    assert len(report.runs) == 8 and all(r["batches"] == 7 for r in report.runs)
    digests = {(r["epoch"], r["digest"]) for r in report.runs}
    assert len({d for _, d in digests}) == (2 if shuffle else 1)             # epochs differ only when shuffled
    assert len(digests) == len({e for e, _ in digests})                      # one digest per epoch


def test_first_difference_is_reported(small, minilm_tokenizer):
    pipe = ClassificationPipeline(small, minilm_tokenizer, batch_size=16, max_length=64, drop_last=False)

    def corrupted(pipeline, epoch, workers):
        for index, batch in enumerate(pipeline.batches(epoch)):
            if index == 3:
                batch["attention_mask"] = batch["attention_mask"].copy()
                batch["attention_mask"][2, 5] ^= 1
            yield batch

    def widened(pipeline, epoch, workers):
        for batch in pipeline.batches(epoch):
            yield {**batch, "labels": batch["labels"].astype(np.int64)}

    report = parity.check(pipe, epochs=(0,), workers=(1,), frameworks={"bad": corrupted})
    assert not report.passed
    assert str(report.mismatch).startswith("bad (1 worker), epoch 0, batch 3, field 'attention_mask': "
                                           "values differ first at (2, 5)")
    report = parity.check(pipe, epochs=(0,), workers=(2,), frameworks={"wide": widened})
    assert (report.mismatch.batch, report.mismatch.field) == (0, "labels")
    assert report.mismatch.detail == "dtype int64 vs reference int32"
