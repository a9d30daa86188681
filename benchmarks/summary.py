"""Summary of the benchmark records: a markdown table and a PNG chart per device, for the README.

The latest `ok` record of each (model, task, shape, dtype, backend, variant) is shown; older records
stay in the JSONL files. `variant` is a label a run may carry in its options (e.g. `before` for the
measurements taken before the graph-mode performance work); the main table shows unlabelled runs.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import records

ORDER = ("ms-graph", "ms-pynative", "pt", "pt-compile", "ref")
# Vendor figures, listed beside the measured roof and never used for MFU.
DATASHEET = {"NVIDIA H100 80GB HBM3": {"bf16": "989 TFLOP/s", "tf32": "495 TFLOP/s", "fp32": "67 TFLOP/s"}}
DTYPE = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
SHORT = {"opt-350m-shape": "OPT-350m", "datadecide-150m-shape": "DataDecide-150M", "distilbert-shape": "DistilBERT"}


def shape_of(r: dict) -> str:
    if r["task"] == "decode":
        return f"{r['batch']}x{r['seq']}+{r['new_tokens']}"
    return f"{r['batch']}x{r['seq']}"


def variant_of(r: dict) -> str:
    return str((r.get("options") or {}).get("variant", ""))


def latest(rows: list[dict]) -> dict[tuple, dict]:
    """(model, task, shape, dtype, variant, backend) -> the newest ok record; when that record belongs
    to a session of several rounds (`python -m benchmarks.matrix --rounds N`), the session's median
    record by tokens/s instead (the lower middle one for an even count)."""
    out: dict[tuple, dict] = {}
    rounds: dict[tuple, list[dict]] = {}
    for r in rows:
        if r.get("status") != "ok":
            continue
        key = (r["model"], r["task"], shape_of(r), r["dtype"], variant_of(r), r["backend"])
        if key not in out or r["created"] >= out[key]["created"]:
            out[key] = r
        session = (r.get("options") or {}).get("session")
        if session:
            rounds.setdefault((*key, session), []).append(r)
    for key, newest in out.items():
        session = (newest.get("options") or {}).get("session")
        if session:
            same = sorted(rounds[(*key, session)], key=lambda r: r["tokens_per_s"])
            out[key] = {**same[(len(same) - 1) // 2], "rounds": len(same)}
    return out


def run_of(r: dict) -> str:
    """The run a record came from: its matrix session, else its `mindzoo bench` run."""
    return str((r.get("options") or {}).get("session") or r.get("run_id", ""))


CROSS_RUN_NOTE = ("\\* the two backends' records come from different runs (the newer code or a quieter "
                  "machine may sit on one side): not a same-run ratio.")


def _with_cross_run_note(lines: list[str]) -> list[str]:
    """The table's lines, and the note under it when a ratio row carries the cross-run mark."""
    return lines + ["", CROSS_RUN_NOTE] if any("\\*" in line for line in lines[2:]) else lines


def _cell_order(key: tuple) -> tuple:
    """Table order of a (model, task, shape[, dtype, ...]) key: by model, then forward / train / decode."""
    return (key[0], records.TASKS.index(key[1]), *key[2:4])


def _ratio(a: dict | None, b: dict | None) -> str:
    if not a or not b:
        return "-"
    mark = "" if run_of(a) == run_of(b) else "\\*"
    return f"{a['tokens_per_s'] / b['tokens_per_s']:.2f}{mark}"


def with_best_peak(rows: list[dict], device: str, root: Path) -> list[dict]:
    """MFU of every record against the best GEMM peak recorded so far (records keep their own too)."""
    from benchmarks.runner import latest_peak

    peaks_by_dtype = {dtype: latest_peak(device, dtype, root) for dtype in {r.get("dtype", "float32") for r in rows}}
    out = []
    for r in rows:
        peak, source = peaks_by_dtype[r.get("dtype", "float32")]
        if r.get("status") == "ok" and peak and r.get("flops_per_s"):
            r = {**r, "mfu": r["flops_per_s"] / peak, "peak_flops_per_s": peak, "peak_source": source}
        out.append(r)
    return out


def markdown(rows: list[dict], device: str, variant: str = "") -> tuple[str, list[tuple]]:
    best = latest(rows)
    groups = sorted({k[:5] for k in best if k[4] == variant}, key=_cell_order)
    head = (["model", "task", "B x S", "dtype", *[f"{b} tok/s" for b in ORDER], "ms-graph / pt",
             "ms-graph / ms-pynative", "pt / ref", *[f"{b} MFU %" for b in ORDER], "load avg"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        cells = {b: best.get((*g, b)) for b in ORDER}
        loads = [max(r["load_avg"][:3]) for r in cells.values() if r and r.get("load_avg")]
        row = [SHORT.get(g[0], g[0].rsplit("/", 1)[-1]), g[1], g[2], DTYPE.get(g[3], g[3])]
        row += [f"{cells[b]['tokens_per_s']:.1f}" if cells[b] else "-" for b in ORDER]
        row += [_ratio(cells["ms-graph"], cells["pt"]), _ratio(cells["ms-graph"], cells["ms-pynative"]),
                _ratio(cells["pt"], cells["ref"])]
        row += [f"{100 * cells[b]['mfu']:.1f}" if cells[b] and cells[b].get("mfu") is not None else "-"
                for b in ORDER]
        row.append(f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(_with_cross_run_note(lines)), [(g, {b: best.get((*g, b)) for b in ORDER}) for g in groups]


def ratios(rows: list[dict], variants: tuple[str, ...] = ("before", "")) -> str:
    """ms-graph tokens/s, ms-graph / pt and ms-graph / ms-pynative per (model, task, shape), per variant.

    ms-graph's own tokens/s comes first: a ratio also moves with the torch side's run-to-run spread.
    Each variant's column of "measured" gives the newest ms-graph record's time (UTC) and load.
    """
    best = latest(rows)
    groups = sorted({k[:4] for k in best}, key=_cell_order)
    names = {v: (v or "after") for v in variants}
    head = (["model", "task", "B x S"] + [f"ms-graph tok/s ({names[v]})" for v in variants]
            + [f"ms-graph / pt ({names[v]})" for v in variants]
            + [f"ms-graph / ms-pynative ({names[v]})" for v in variants]
            + [f"measured ({names[v]})" for v in variants])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        graph = {v: best.get((*g, v, "ms-graph")) for v in variants}
        row = [SHORT.get(g[0], g[0]), g[1], g[2]]
        row += [f"{graph[v]['tokens_per_s']:.1f}" if graph[v] else "-" for v in variants]
        row += [_ratio(graph[v], best.get((*g, v, "pt"))) for v in variants]
        row += [_ratio(graph[v], best.get((*g, v, "ms-pynative"))) for v in variants]
        row += [f"{graph[v]['created'][11:16]}, load {max(graph[v]['load_avg'][:3]):.1f}" if graph[v] else "-"
                for v in variants]
        if any(c != "-" for c in row[3:3 + 2 * len(variants)]):
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(_with_cross_run_note(lines))


def memory(rows: list[dict], variant: str = "") -> str:
    """Peak resident memory per backend, from the records the main table shows.

    Each cell gives the peak and, in brackets, what the process held after its imports: a MindSpore
    backend's process imports torch too (the zoo's loaders), ~350 MB more than a torch backend's, so
    "above import" compares what the model and its steps themselves cost.
    """
    best = latest(rows)
    groups = sorted({k[:4] for k in best if k[4] == variant and best[k].get("peak_rss_mb")}, key=_cell_order)
    head = ["model", "task", "B x S", *[f"{b} MB" for b in ORDER], "ms-graph / pt, peak",
            "ms-graph / pt, above import"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        cells = {b: best.get((*g, variant, b)) for b in ORDER}
        row = [SHORT.get(g[0], g[0].rsplit("/", 1)[-1]), g[1], g[2]]
        row += [_memory_cell(r) for r in cells.values()]
        graph, pt = cells["ms-graph"], cells["pt"]
        if graph and pt and graph.get("peak_rss_mb") and pt.get("peak_rss_mb"):
            added = (memory_added(graph), memory_added(pt))
            row += [f"{graph['peak_rss_mb'] / pt['peak_rss_mb']:.2f}",
                    f"{added[0] / added[1]:.2f}" if all(added) else "-"]
        else:
            row += ["-", "-"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


LADDER = "ladder"   # the variant label of `python -m benchmarks.matrix --variant ladder` over datadecide-<size>-shape


def _ladder_cells(rows: list[dict]) -> list[tuple[tuple, dict]]:
    """(model, task, shape, dtype) -> {backend: record} of the ladder sweep, by task then parameter count."""
    best = latest(rows)
    groups = {k[:4] for k in best if k[4] == LADDER}
    cells = [(g, {b: best.get((*g, LADDER, b)) for b in ORDER}) for g in groups]
    params = {g: next((r["params"] for r in c.values() if r and r.get("params")), 0) for g, c in cells}
    return sorted(cells, key=lambda gc: (records.TASKS.index(gc[0][1]), params[gc[0]], gc[0][2]))


def ladder(rows: list[dict]) -> str:
    """Where op dispatch, not arithmetic, sets the pace: the same cells across model sizes."""
    table = _ladder_cells(rows)
    measured = [b for b in ORDER if any(cells[b] for _, cells in table)]
    head = ["model", "params (embeddings included)", "task", "B x S", *[f"{b} tok/s" for b in measured],
            "ms-graph / ms-pynative", "ms-graph / pt", "load avg"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g, cells in table:
        present = [r for r in cells.values() if r]
        loads = [max(r["load_avg"][:3]) for r in present if r.get("load_avg")]
        params = next((r["params"] for r in present if r.get("params")), None)
        row = [g[0].removesuffix("-shape"), f"{params / 1e6:.1f}M" if params else "-", g[1], g[2]]
        row += [f"{cells[b]['tokens_per_s']:.1f}" if cells[b] else "-" for b in measured]
        row += [_ratio(cells["ms-graph"], cells["ms-pynative"]), _ratio(cells["ms-graph"], cells["pt"])]
        row.append(f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(_with_cross_run_note(lines))


def ladder_chart(rows: list[dict], path: Path, title: str) -> Path | None:
    """ms-graph / ms-pynative and ms-graph / pt against parameter count, one line per task."""
    cells = [(g, c) for g, c in _ladder_cells(rows) if c["ms-graph"] and c["ms-graph"].get("params")]
    if not cells:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, other, target in ((axes[0], "ms-pynative", 5.0), (axes[1], "pt", 1.0)):
        for task in records.TASKS:
            points = [(c["ms-graph"]["params"], c["ms-graph"]["tokens_per_s"] / c[other]["tokens_per_s"],
                       g[2]) for g, c in cells if g[1] == task and c[other]]
            if points:
                x, y, shapes = zip(*points, strict=True)
                ax.plot(x, y, marker="o", label=f"{task} {shapes[0]}")
        ax.axhline(target, color="grey", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("parameters (embeddings included)")
        ax.set_ylabel(f"ms-graph / {other} (tokens/s)")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _memory_cell(r: dict | None) -> str:
    """A record's peak RSS, with what it held after its imports in brackets where known."""
    if not r or not r.get("peak_rss_mb"):
        return "-"
    imported = f" ({r['import_rss_mb']:.0f})" if r.get("import_rss_mb") else ""
    return f"{r['peak_rss_mb']:.0f}{imported}"


def memory_added(r: dict) -> float | None:
    """What a measurement itself cost in memory: the device's peak where torch reports one (GPU), else
    the process's peak RSS above what it held after its imports."""
    if r.get("peak_device_mem_mb"):
        return r["peak_device_mem_mb"]
    if r.get("peak_rss_mb") and r.get("import_rss_mb"):
        return r["peak_rss_mb"] - r["import_rss_mb"]
    return None


def chart(groups: list[tuple], path: Path, title: str) -> Path | None:
    if not groups:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [f"{SHORT.get(g[0], g[0].rsplit('/', 1)[-1])}\n{g[1]} {g[2]} {DTYPE.get(g[3], g[3])}" for g, _ in groups]
    x = np.arange(len(groups))
    width = 0.8 / len(ORDER)
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(max(8, 1.3 * len(groups)), 11), sharex=True)
    for i, backend in enumerate(ORDER):
        tps = [cells[backend]["tokens_per_s"] if cells[backend] else 0 for _, cells in groups]
        mfu = [100 * (cells[backend].get("mfu") or 0) if cells[backend] else 0 for _, cells in groups]
        added = [memory_added(cells[backend]) or 0 if cells[backend] else 0 for _, cells in groups]
        top.bar(x + (i - 2) * width, tps, width, label=backend)
        middle.bar(x + (i - 2) * width, mfu, width, label=backend)
        bottom.bar(x + (i - 2) * width, added, width, label=backend)
    top.set_yscale("log")
    top.set_ylabel("tokens / s (log)")
    top.set_title(title)
    top.legend(ncol=len(ORDER), fontsize=8)
    middle.set_ylabel("MFU % (of the best measured GEMM)")
    bottom.set_ylabel("memory MB: device peak (GPU),\nRSS peak above imports (CPU)", fontsize=8)
    bottom.set_xticks(x, labels, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def peaks(device: str, root: Path) -> str:
    """The best measured GEMM per framework and dtype (the roof MFU is taken against), with datasheet leads."""
    rows = [r for r in records.read(records.results_file(device, "gemm.jsonl", root)) if r.get("status") == "ok"]
    if not rows:
        return "no GEMM peak measured"
    best: dict[tuple, dict] = {}
    for r in rows:
        key = (r["framework"], r["dtype"])
        if key not in best or r["flops_per_s"] > best[key]["flops_per_s"]:
            best[key] = r
    text = "; ".join(f"{r['framework']} {r['dtype']} GEMM n={r['n']}: {_rate(r['flops_per_s'])} "
                     f"({r['created'][:10]})" for r in best.values())
    names = {str((r.get("device") or {}).get("name") or "") for r in rows}
    sheet = [f"{name}: {', '.join(f'{k} {v}' for k, v in DATASHEET[name].items())}" for name in names
             if name in DATASHEET]
    return text + (f" (datasheet, dense, not measured: {'; '.join(sheet)})" if sheet else "")


def _rate(flops_per_s: float) -> str:
    return f"{flops_per_s / 1e12:.1f} TFLOP/s" if flops_per_s >= 1e12 else f"{flops_per_s / 1e9:.1f} GFLOP/s"


def mindspore_probe(device: str, root: Path) -> str:
    """The newest MindSpore-on-this-device probe (benchmarks/ms_gpu_probe.py), if one was run."""
    rows = records.read(records.results_file(device, "mindspore_gpu.jsonl", root))
    if not rows:
        return ""
    last = rows[-1]
    return f"\nMindSpore on this device ({last['created'][:10]}, probe): {last['status']}: {last.get('reason')}\n"


def write(root: Path | None = None, devices: list[str] | None = None, out: Path | None = None) -> str:
    """SUMMARY.md and summary.png per device folder under `out` (default: the results root)."""
    root = Path(root or records.RESULTS)
    out = Path(out or root)
    texts = []
    for device in devices or sorted(p.name for p in root.iterdir() if (p / "bench.jsonl").is_file()):
        rows = with_best_peak(records.read(records.results_file(device, root=root)), device, root)
        table, groups = markdown(rows, device)
        png = chart(groups, out / device / "summary.png", f"{device}: tokens/s, MFU and memory per backend")
        text = f"## {device}\n\nPeak: {peaks(device, root)}.\n\n{table}\n"
        if any(r.get("backend") == "ms-graph" and r.get("status") == "ok" for r in rows):
            text += (f"\nms-graph / pt and ms-graph / ms-pynative (tokens/s), before and after the graph-mode "
                     f"work:\n\n{ratios(rows)}\n")
            text += ("\nPeak resident memory (MB; in brackets, after the imports) of the records above:"
                     f"\n\n{memory(rows)}\n")
        if any(variant_of(r) == LADDER for r in rows):
            curve = ladder_chart(rows, out / device / "ladder.png", f"{device}: graph mode across the OLMo-1 ladder")
            text += (f"\nAcross the OLMo-1 ladder (`--variant {LADDER}`: the same cells at each size, one "
                     f"session):\n\n{ladder(rows)}\n" + (f"\n![{device} ladder]({curve.name})\n" if curve else ""))
        skipped = sorted({r["reason"] for r in rows if r.get("backend", "").startswith("ms-")
                          and r.get("status") == "skipped" and r.get("reason")})
        if skipped and not any(r.get("backend", "").startswith("ms-") and r.get("status") == "ok" for r in rows):
            text += "\nMindSpore did not run on this device: " + "; ".join(skipped) + "\n"
        text += mindspore_probe(device, root)
        if png:
            text += f"\n![{device} summary]({png.name})\n"
        (out / device).mkdir(parents=True, exist_ok=True)
        (out / device / "SUMMARY.md").write_text(text, encoding="utf-8")
        texts.append(text)
    return "\n".join(texts) if texts else "no benchmark records"
