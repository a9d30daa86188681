import json

from zoo.cli import main


def _jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_data_parity_command(tmp_path, word_tokenizer_factory, capsys):
    data = _jsonl(tmp_path / "s.jsonl", [{"sentence": f"a charming and often affecting journey {i}",
                                           "label": i % 2} for i in range(20)])
    report = tmp_path / "report.json"
    code = main(["data-parity", "classification", "--data", str(data), "--tokenizer",
                 str(word_tokenizer_factory()), "--batch-size", "4", "--length", "16", "--epochs", "2",
                 "--workers", "1", "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0 and "PASSED: byte-identical batches" in out
    saved = json.loads(report.read_text())
    assert saved["passed"] and len(saved["runs"]) == 4 and {r["batches"] for r in saved["runs"]} == {5}


def test_data_parity_bad_input_is_one_line_and_exit_2(tmp_path, word_tokenizer_factory, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"sentence": "fine", "label": 0}\n{"sentence": "caf\xe9", "label": 1}\n')
    code = main(["data-parity", "classification", "--data", str(bad), "--tokenizer",
                 str(word_tokenizer_factory())])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert err.startswith("mindzoo: error: ") and "bad.jsonl:2: invalid UTF-8" in err
    labels = _jsonl(tmp_path / "labels.jsonl", [{"sentence": "x", "label": "maybe"}])
    assert main(["data-parity", "classification", "--data", str(labels)]) == 2
    assert "string labels need a declared class set" in capsys.readouterr().err
