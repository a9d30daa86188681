import json

import pytest

from zoo.data.errors import DataError, EmptyCorpusError, EncodingError, LabelError
from zoo.data.sources import read_documents, read_labelled


def test_text_paragraphs_and_jsonl(tmp_path):
    (tmp_path / "a.txt").write_text("first line\nsame doc\n\n\nsecond doc\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "third"}) + "\n\n" + json.dumps({"text": " "}) + "\n",
                                      encoding="utf-8")
    assert read_documents([tmp_path / "a.txt", tmp_path / "b.jsonl"]) == ["first line\nsame doc", "second doc",
                                                                           "third"]


def test_invalid_utf8_names_file_and_line(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("good line\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(EncodingError, match=r"latin1\.txt:2: invalid UTF-8 \(byte 0xe9 at column 4\)"):
        read_documents(bad)
    jsonl = tmp_path / "labelled.jsonl"
    jsonl.write_bytes(b'{"sentence": "ok", "label": 0}\n{"sentence": "\xff", "label": 1}\n')
    with pytest.raises(EncodingError, match=r"labelled\.jsonl:2"):
        read_labelled(jsonl)


def test_empty_corpus(tmp_path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "blank.txt").write_text("\n   \n\n", encoding="utf-8")
    with pytest.raises(EmptyCorpusError, match="no text in .*empty.txt, .*blank.txt"):
        read_documents([tmp_path / "empty.txt", tmp_path / "blank.txt"])
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(EmptyCorpusError, match="no labelled examples"):
        read_labelled(tmp_path / "empty.jsonl")
    with pytest.raises(EmptyCorpusError, match="no input files"):
        read_documents([])


def test_labels_outside_the_class_set(tmp_path):
    path = tmp_path / "sentiment.jsonl"
    rows = [{"sentence": "good", "label": 1}, {"sentence": "bad", "label": 0}, {"sentence": "odd", "label": 2}]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    with pytest.raises(LabelError, match=r"sentiment\.jsonl:3: label 2 is outside the class set"):
        read_labelled(path, classes=["negative", "positive"])
    named = tmp_path / "named.jsonl"
    named.write_text(json.dumps({"sentence": "meh", "label": "neutral"}), encoding="utf-8")
    with pytest.raises(LabelError, match=r"named\.jsonl:1: label 'neutral' is not one of"):
        read_labelled(named, classes=["negative", "positive"])
    data = read_labelled(path)                      # no declared classes: indices 0..max
    assert data.classes == ("0", "1", "2") and data.labels == (1, 0, 2)


def test_missing_field_names_the_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"txt": "a"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.jsonl:1: no field 'text' \(the record has: txt\)"):
        read_documents(path)


def test_sst2_is_real(sst2):
    assert len(sst2) == 872 and sst2.classes == ("negative", "positive")
    assert sst2.origins[3].endswith("row 3")
