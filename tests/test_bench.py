"""Benchmarks smoke test: tiny shapes, 2 steps, one process per measurement; checks records, never timings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import records, runner, summary
from zoo.cli import main as cli_main
from zoo.core.errors import HubError, InputError, ZooError
from zoo.families import by_name
from zoo.models import resolve


@pytest.fixture(scope="session")
def smoke_records(tiny_checkpoints, tmp_path_factory):
    """forward for four backends, train and decode for two, on the tiny OPT; one results root."""
    root = tmp_path_factory.mktemp("bench-results")
    model = str(tiny_checkpoints["tiny-opt-pre-ln"])
    rows = runner.run(model, backends=("ms-graph", "ms-pynative", "pt", "ref"), tasks=("forward",), batch=2, seq=8,
                      warmup=0, steps=2, results_root=root)
    rows += runner.run(model, backends=("ms-graph", "pt"), tasks=("train", "decode"), batch=2, seq=8, new_tokens=3,
                       warmup=0, steps=2, results_root=root)
    return root, rows


def test_records_follow_the_schema(smoke_records):
    root, rows = smoke_records
    assert [(r["task"], r["backend"], r["status"]) for r in rows] == [
        ("forward", "ms-graph", "ok"), ("forward", "ms-pynative", "ok"), ("forward", "pt", "ok"),
        ("forward", "ref", "ok"), ("train", "ms-graph", "ok"), ("train", "pt", "ok"),
        ("decode", "ms-graph", "ok"), ("decode", "pt", "ok")]
    saved = records.read(records.results_file("cpu", root=root))
    assert saved == rows                                   # one JSON line per measurement, as returned
    for r in saved:
        records.validate(r)
        assert set(r) == set(records.FIELDS)
        assert len(r["step_times_s"]) == r["timed_steps"] == 2
        assert r["median_s"] > 0 and r["p95_s"] >= r["median_s"] and r["first_step_s"] > 0
        assert r["tokens_per_step"] == (2 * 3 if r["task"] == "decode" else 2 * 8)
        assert r["device"]["kind"] == "cpu" and r["device"]["versions"]["mindspore"] == "2.9.0"
        assert r["peak_rss_mb"] > 0 and len(r["load_avg"]) == 6
    assert {r["framework"] for r in saved} == {"mindspore", "torch", "upstream"}
    graph = next(r for r in saved if r["backend"] == "ms-graph")
    assert "graph_kernel" not in graph["options"]          # the parity-checked configuration by default


def test_flops_in_records_match_the_config(smoke_records, tiny_checkpoints):
    _, rows = smoke_records
    spec = resolve(tiny_checkpoints["tiny-opt-pre-ln"])
    c = spec.config                                         # d 32, ffn 64, 2 layers, vocab 96, tied head
    per_token = 2 * (4 * 32 * 32 + 2 * 32 * 64) + 96 * 32
    assert by_name("opt").matmul_params(c) == (per_token, 0)
    forward = 16 * (2 * per_token + 4 * 2 * 32 * 8)
    by_task = {r["task"]: r for r in rows if r["backend"] == "pt"}
    assert by_task["forward"]["flops_per_step"] == forward
    assert by_task["train"]["flops_per_step"] == 3 * forward
    # decode: prefill of the 16-slot prompt bucket + 2 one-token steps, each over the 32-slot cache
    assert by_task["decode"]["flops_per_step"] == (2 * 16 + 2 * 2) * (2 * per_token + 4 * 2 * 32 * 32)


def test_rerun_appends_and_skips_are_recorded(smoke_records, tiny_checkpoints):
    root, rows = smoke_records
    before = records.read(records.results_file("cpu", root=root))
    more = runner.run(str(tiny_checkpoints["tiny-distilbert-cls"]), backends=("ms-graph",), tasks=("decode",),
                      batch=1, seq=8, steps=2, warmup=0, results_root=root)
    more += runner.run(str(tiny_checkpoints["tiny-opt-pre-ln"]), backends=("ms-pynative",), tasks=("forward",),
                       dtype="bfloat16", batch=1, seq=8, steps=2, warmup=0, results_root=root)
    assert [r["status"] for r in more] == ["skipped", "skipped"]
    assert "causal LM" in more[0]["reason"] and "bfloat16" in more[1]["reason"]
    after = records.read(records.results_file("cpu", root=root))
    assert after[:len(before)] == before and after[len(before):] == more


def test_summary_table_and_chart(smoke_records, tmp_path):
    root, _ = smoke_records
    text = summary.write(root, out=tmp_path)
    assert (tmp_path / "cpu" / "summary.png").stat().st_size > 1000
    assert (tmp_path / "cpu" / "SUMMARY.md").read_text() == text
    forward = next(line for line in text.splitlines() if "| forward | 2x8 | fp32 |" in line)
    cells = [c.strip() for c in forward.split("|")[1:-1]]
    head = [c.strip() for c in text.splitlines()[4].split("|")[1:-1]]
    row = dict(zip(head, cells, strict=True))
    assert row["pt-compile tok/s"] == "-"                                       # pt-compile was not run
    pt, ref = float(row["pt tok/s"]), float(row["ref tok/s"])
    # the ratio comes from the unrounded medians: equal to the shown tok/s ratio up to their rounding
    assert abs(float(row["pt / ref"]) - pt / ref) <= 0.005 + 0.001 * pt / ref


def test_gpu_summary_names_the_peak_and_why_mindspore_did_not_run(smoke_records, tmp_path):
    """A device folder with bf16 records, a GEMM roof and a MindSpore probe (as the H100 run wrote them)."""
    root, rows = smoke_records
    gpu = tmp_path / "gpu"
    record = {**next(r for r in rows if r["backend"] == "pt" and r["task"] == "forward"), "dtype": "bfloat16",
              "flops_per_s": 2.0e12, "device": {"kind": "gpu", "name": "NVIDIA H100 80GB HBM3", "count": 1,
                                                "versions": {}}}
    skipped = {**record, "backend": "ms-graph", "status": "skipped", "reason": "MindSpore is not installed"}
    records.append([record, skipped], gpu / "bench.jsonl")
    gemm = {"kind": "gemm", "status": "ok", "framework": "torch", "dtype": "bfloat16", "n": 8192,
            "flops_per_s": 8.0e14, "created": "2026-11-23T00:00:00+00:00", "device": record["device"]}
    (gpu / "gemm.jsonl").write_text(json.dumps(gemm) + "\n")
    probe = {"created": "2026-11-23T00:00:00+00:00", "status": "cannot-run", "reason": "links libcudart.so.11.0"}
    (gpu / "mindspore_gpu.jsonl").write_text(json.dumps(probe) + "\n")
    text = summary.write(tmp_path, devices=["gpu"])
    assert "torch bfloat16 GEMM n=8192: 800.0 TFLOP/s" in text and "datasheet, dense, not measured" in text
    line = next(line for line in text.splitlines() if "| bf16 |" in line)
    assert "| 0.2 |" in line                          # MFU: 2e12 / 8e14 = 0.25 %, against the measured roof
    assert "MindSpore is not installed" in text and "links libcudart.so.11.0" in text


def test_bad_requests_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="choose from"):
        runner.run("opt-350m-shape", backends=("ms-graf",), results_root=tmp_path)
    with pytest.raises(InputError, match="tasks"):
        runner.run("opt-350m-shape", tasks=("backward",), results_root=tmp_path)
    bad = json.loads(json.dumps({f: None for f in records.FIELDS}))
    with pytest.raises(InputError, match="status None"):
        records.validate(bad)
    assert cli_main(["bench", "opt-350m-shape", "--backends", "tf", "--results", str(tmp_path)]) == 2
    with pytest.raises(InputError, match="no such benchmark shape; choose one of .*opt-350m-shape, datadecide-4m"):
        runner.run("datadecide-7b-shape", results_root=tmp_path)
    with pytest.raises(HubError, match="neither a local folder nor a registry name"):
        runner.run("no-such-model", results_root=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ZooError, match="config.json"):
        runner.run(str(tmp_path / "empty"), results_root=tmp_path)
    assert not (tmp_path / "cpu").exists()        # nothing measured, nothing recorded


def test_ms_gpu_probe_names_the_cuda_libraries_the_host_lacks(monkeypatch, tmp_path):
    """ldd's "not found" lines, minus MindSpore's own libraries (found through the wheel's RPATH)."""
    import lzma

    from benchmarks import ms_gpu_probe

    seen = []
    ldd = ("\tlibmindspore_core.so => not found\n\tlibcudart.so.11.0 => not found\n"
           "\tlibcudnn.so.8 => not found\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x7f)\n")

    def fake_run(cmd):
        seen.append(cmd)
        return ldd if cmd[0] == "ldd" else ""
    monkeypatch.setattr(ms_gpu_probe, "_run", fake_run)
    plugin = tmp_path / "libmindspore_gpu.so.11.6.xz"
    plugin.write_bytes(lzma.compress(b"ELF-ish"))
    missing, linked = ms_gpu_probe.missing_libraries(plugin)
    assert missing == ["libcudart.so.11.0", "libcudnn.so.8"]
    assert linked == ["libmindspore_core.so", "libcudart.so.11.0", "libcudnn.so.8", "libc.so.6"]
    unpacked = seen[0][1]                                  # ldd ran on the decompressed plugin
    assert unpacked.endswith("libmindspore_gpu.so.11.6") and Path(unpacked).read_bytes() == b"ELF-ish"


def test_summary_takes_the_median_round_of_a_session():
    from benchmarks.summary import latest

    def record(backend, tokens, created, session=None):
        options = {"session": session} if session else {}
        return dict(model="m", task="forward", batch=8, seq=128, dtype="float32", backend=backend, status="ok",
                    tokens_per_s=tokens, created=created, options=options)

    rows = [record("pt", 100.0, "2026-01-01T00:00:00"),                       # an older single run
            record("pt", 90.0, "2026-01-02T00:00:01", "s"), record("pt", 150.0, "2026-01-02T00:00:02", "s"),
            record("pt", 120.0, "2026-01-02T00:00:03", "s"),
            record("ms-graph", 80.0, "2026-01-02T00:00:01", "s"), record("ms-graph", 60.0, "2026-01-02T00:00:02", "s"),
            record("ms-graph", 70.0, "2026-01-03T00:00:00")]                   # newer, no session: itself
    best = latest(rows)
    pt = best[("m", "forward", "8x128", "float32", "", "pt")]
    assert (pt["tokens_per_s"], pt["rounds"]) == (120.0, 3)
    assert best[("m", "forward", "8x128", "float32", "", "ms-graph")]["tokens_per_s"] == 70.0


def test_summary_marks_a_ratio_across_runs():
    from benchmarks.summary import CROSS_RUN_NOTE, markdown

    def record(backend, tokens, run):
        return dict(model="m", task="forward", batch=8, seq=128, dtype="float32", backend=backend, status="ok",
                    tokens_per_s=tokens, created="2026-01-01T00:00:00", options={}, run_id=run, load_avg=[1, 1, 1])

    same, _ = markdown([record("ms-graph", 120.0, "a"), record("pt", 100.0, "a")], "cpu")
    assert "| 1.20 |" in same and CROSS_RUN_NOTE not in same
    mixed, _ = markdown([record("ms-graph", 120.0, "a"), record("pt", 100.0, "b")], "cpu")
    assert "| 1.20\\* |" in mixed and CROSS_RUN_NOTE in mixed


def test_every_datadecide_size_is_a_benchmark_shape():
    """A ladder shape is the registry's size read back by the OLMo family's strict from_hf."""
    from benchmarks.shapes import SHAPES, resolve_model
    from zoo.families.olmo.entries import DATADECIDE_SIZES

    for size, (d_model, n_layers, n_heads, _) in DATADECIDE_SIZES.items():
        name = f"datadecide-{size.lower()}-shape"
        assert name in SHAPES
        spec, random_weights = resolve_model(name)
        assert random_weights and spec.name == name and spec.family.name == "olmo"
        config = spec.config
        assert (config.hidden_size, config.num_layers, config.num_heads) == (d_model, n_layers, n_heads)
        assert config.mlp_hidden_size == 8 * d_model and config.embedding_size == 50304


def test_ladder_table_orders_sizes_and_stays_out_of_the_main_table(tmp_path):
    from benchmarks.summary import ladder, ladder_chart, markdown

    def record(model, params, backend, tokens, variant="ladder"):
        return dict(model=model, params=params, task="decode", batch=1, seq=128, new_tokens=32, dtype="float32",
                    backend=backend, status="ok", tokens_per_s=tokens, created="2026-01-01T00:00:00",
                    options={"variant": variant, "session": "s"}, run_id="r", load_avg=[1, 1, 1])

    rows = [record("datadecide-150m-shape", 150_000_000, "ms-graph", 13.0),
            record("datadecide-150m-shape", 150_000_000, "ms-pynative", 6.5),
            record("datadecide-4m-shape", 3_700_000, "ms-graph", 80.0),
            record("datadecide-4m-shape", 3_700_000, "ms-pynative", 16.0),
            record("datadecide-4m-shape", 3_700_000, "pt", 100.0)]
    table = ladder(rows).splitlines()
    assert table[2].startswith("| datadecide-4m | 3.7M | decode | 1x128+32 | 80.0 | 16.0 | 100.0 | 5.00 | 0.80 |")
    assert "| 2.00 | - |" in table[3] and "pt-compile" not in table[0]
    assert markdown(rows, "cpu")[1] == []                  # a labelled sweep is not the main table
    assert ladder_chart(rows, tmp_path / "ladder.png", "t").stat().st_size > 0


def test_memory_table_compares_peaks_and_what_the_model_added():
    from benchmarks.summary import memory

    def record(backend, peak, imported):
        return dict(model="m", task="train", batch=4, seq=128, dtype="float32", backend=backend, status="ok",
                    tokens_per_s=1.0, created="2026-01-01T00:00:00", options={}, run_id="a",
                    peak_rss_mb=peak, import_rss_mb=imported)

    text = memory([record("ms-graph", 1600.0, 600.0), record("pt", 1300.0, 300.0), record("ref", 1500.0, None)])
    row = next(line for line in text.splitlines() if line.startswith("| m |"))
    assert row == "| m | train | 4x128 | 1600 (600) | - | 1300 (300) | - | 1500 | 1.23 | 1.00 |"


@pytest.mark.parametrize("mode", ["graph", "torch"])
def test_memory_probe_reports_rss_per_step(tiny_checkpoints, capsys, mode):
    import mindspore as ms

    from benchmarks import memory_probe

    folder = tiny_checkpoints["tiny-opt-post-ln"]
    previous = ms.get_context("mode")
    try:
        assert memory_probe.main([str(folder), "--mode", mode, "--batch", "1", "--seq", "8", "--steps", "2",
                                  "--layers", "1", "--sum-output"]) == 0
    finally:
        ms.set_context(mode=previous)
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(report["steps"]) == 2 and report["peak_mb"] >= report["built_mb"] >= report["import_mb"] > 0
    assert report["added_by_steps_mb"] == report["peak_mb"] - report["built_mb"]
