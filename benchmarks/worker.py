"""One measurement in one process: build the model, time its steps, print one record.

    python -m benchmarks.worker '<job as JSON>'      (the runner does this; see runner.Job)

Each framework runs in a process of its own: MindSpore and torch share the OpenMP runtime, and torch
timed beside an initialised MindSpore ran 20-50% slower (docs/MINDSPORE_NOTES.md). The record is
the last stdout line, prefixed with RECORD_PREFIX.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

RECORD_PREFIX = "BENCH_RECORD "
FRAMEWORK = {"ms-graph": "mindspore", "ms-pynative": "mindspore", "pt": "torch", "pt-compile": "torch",
             "ref": "upstream"}
MODE = {"ms-graph": "graph", "ms-pynative": "pynative", "pt": "eager", "pt-compile": "compile", "ref": "eager"}


class Skip(Exception):
    """The measurement cannot run here; the reason is recorded (status "skipped")."""


def rss_mb(field: str = "VmRSS") -> float | None:
    """Resident memory of this process from /proc (VmHWM: its peak so far), in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


# --------------------------------------------------------------------------------------- inputs
def make_inputs(spec, batch: int, seq: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random ids without padding (every position is work), all-ones mask, and labels for training."""
    config = spec.config
    rng = np.random.default_rng(seed)
    vocab = config.vocab_size
    ids = rng.integers(min(3, vocab - 1), vocab, size=(batch, seq), dtype=np.int64)
    inputs = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    if config.task == "sequence-classification":
        inputs["labels"] = rng.integers(0, config.num_labels, size=(batch,), dtype=np.int64)
    elif config.task == "causal-lm":
        inputs["labels"] = ids.copy()
    else:  # embedding models have no loss in the zoo
        inputs["labels"] = None
    return inputs


# ------------------------------------------------------------------------------------ MindSpore
def import_mindspore():
    """mindspore, or a Skip naming the Python that lacks it (a torch-only GPU host, say)."""
    try:
        import mindspore
    except ImportError as err:
        raise Skip(f"MindSpore is not installed in this Python ({sys.executable}): {err}") from err
    return mindspore


def ms_setup(job: dict) -> dict:
    ms = import_mindspore()

    from zoo.ms.runtime import HOST_BLOCKING_ENV  # importing zoo.ms set it for a CPU target, before any launch

    target = {"cpu": "CPU", "gpu": "GPU", "ascend": "Ascend"}[job["device"]]
    try:
        ms.set_device(target)
        ms.Tensor(np.ones(2, np.float32)).asnumpy()
    except Exception as err:  # noqa: BLE001 - the reason is the result (e.g. a CPU-only wheel on a GPU host)
        raise Skip(f"MindSpore cannot use {target} here: {type(err).__name__}: {str(err).strip()[:300]}") from err
    if job["device"] == "cpu" and job["dtype"] != "float32":
        raise Skip(f"MindSpore has no {job['dtype']} compute kernels on CPU (docs/MINDSPORE_NOTES.md)")
    options = job.get("options", {})
    graph = job["backend"] == "ms-graph"
    ms.set_context(mode=ms.GRAPH_MODE if graph else ms.PYNATIVE_MODE)
    applied = {HOST_BLOCKING_ENV: os.environ.get(HOST_BLOCKING_ENV, "unset")}
    if graph and options.get("graph_kernel"):
        ms.set_context(enable_graph_kernel=True)
        applied["enable_graph_kernel"] = True
    if options.get("ms_threads"):
        ms.device_context.cpu.op_tuning.threads_num(int(options["ms_threads"]))
        applied["threads_num"] = int(options["ms_threads"])
    if options.get("dispatch_threads"):
        ms.runtime.dispatch_threads_num(int(options["dispatch_threads"]))
        applied["dispatch_threads_num"] = int(options["dispatch_threads"])
    return applied


def ms_sync() -> None:
    import mindspore as ms

    ms.runtime.synchronize()


def ms_step(job: dict, spec, random_weights: bool, inputs: dict,
            prepare: Callable[[Any], None] | None = None) -> tuple[Callable[[], Any], dict]:
    """A callable that runs one step; `prepare(net)`, if given, edits the built net first (benchmarks.ab)."""
    import mindspore as ms

    from zoo.models import build_ms, load_ms

    applied = ms_setup(job)
    graph = job["backend"] == "ms-graph"
    jit_level = job.get("options", {}).get("jit_level", "O0")
    net = build_ms(spec, job["dtype"]) if random_weights else load_ms(spec, job["dtype"])
    if prepare is not None:
        prepare(net)
    names = spec.family.inputs.names
    args = tuple(ms.Tensor(inputs[n].astype(np.int32)) for n in names)
    task = job["task"]
    if task == "forward":
        net.set_train(False)
        run = ms.jit(net.construct, jit_level=jit_level) if graph else net

        def step():
            out = run(*args)
            ms_sync()
            return out
        return step, applied
    if task == "train":
        from zoo.core.optim import AdamWConfig
        from zoo.ms.optim import adamw

        if inputs["labels"] is None:
            raise Skip(f"{spec.name}: an embedding model has no training loss in the zoo")
        net.set_train(True)
        optimizer = adamw(net.trainable_params(), AdamWConfig())
        applied["adamw"] = "zoo aot kernel" if optimizer.cpu_kernel is not None else "AdamWeightDecay"
        labels = ms.Tensor(inputs["labels"].astype(np.int32))

        def forward_loss(*tensors):
            return net.loss(net(*tensors[:-1])[0], tensors[-1])

        grad_fn = ms.value_and_grad(forward_loss, None, optimizer.parameters)

        def train_step(*tensors):
            loss, grads = grad_fn(*tensors)
            optimizer(grads)
            return loss

        run = ms.jit(train_step, jit_level=jit_level) if graph else train_step

        def step():
            return float(run(*args, labels).asnumpy())
        return step, applied
    from zoo.ms.generation import Generator

    generator = Generator(net, eos_token_id=None, pad_token_id=spec.config.pad_token_id,
                          max_positions=spec.config.max_position_embeddings,
                          mode="graph" if graph else "pynative")
    return _generate_step(generator, inputs, job["new_tokens"]), applied


def _generate_step(generator, inputs: dict, new_tokens: int) -> Callable[[], Any]:
    ids, mask = inputs["input_ids"], inputs["attention_mask"]

    def step():
        return generator.generate(ids, mask, max_new_tokens=new_tokens).tokens.shape[1]
    return step


# ---------------------------------------------------------------------------------------- torch
def torch_device(job: dict) -> str:
    if job["device"] == "cpu":
        return "cpu"
    if job["device"] == "gpu":
        import torch

        if not torch.cuda.is_available():
            raise Skip("torch sees no CUDA device here")
        return "cuda"
    raise Skip("torch on Ascend needs torch_npu, which this project does not use; run the MindSpore backends")


def torch_sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def upstream_model(spec, random_weights: bool):
    """The upstream implementation (transformers, or hf_olmo for OLMo) with its default attention."""
    return spec.family.reference(spec.folder, spec.config, random_weights=random_weights, attention="sdpa")


# torch.optim.AdamW's implementations. "fused" is what transformers' Trainer picks with torch >= 2.8
# (training_args.py: default_optim = "adamw_torch_fused"), so it is the default baseline.
TORCH_ADAMW = {"fused": {"fused": True}, "foreach": {"foreach": True}, "for-loop": {"foreach": False}}


def torch_step(job: dict, spec, random_weights: bool, inputs: dict) -> tuple[Callable[[], Any], dict]:
    import torch

    from zoo.models import build_pt, load_pt
    from zoo.pt.weights import torch_dtype

    device = torch_device(job)
    dtype = torch_dtype(job["dtype"])
    backend, task = job["backend"], job["task"]
    applied = {"attn_implementation": "sdpa (transformers default)"} if backend == "ref" else {}
    if device == "cuda":
        applied["cuda_matmul_allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
    if backend == "ref":
        model = upstream_model(spec, random_weights).to(device=device, dtype=dtype)
    else:
        from zoo.pt.layers import set_attention_impl

        impl = job.get("options", {}).get("attn", "math")
        set_attention_impl(impl)
        applied["attn"] = impl
        model = build_pt(spec, job["dtype"]) if random_weights else load_pt(spec, job["dtype"])
        model = model.to(device)
    compiled = backend == "pt-compile"
    if compiled:
        applied["torch_compile"] = "default"
    tensors = {k: torch.from_numpy(v).to(device) for k, v in inputs.items() if v is not None}
    names = spec.family.inputs.names

    if task == "decode":
        if backend == "ref":
            return _ref_generate_step(spec, model, tensors, job["new_tokens"], device), applied
        from zoo.pt.generation import Generator

        model.eval()
        if compiled:
            model.forward_cached = torch.compile(model.forward_cached)
        generator = Generator(model, eos_token_id=None, pad_token_id=spec.config.pad_token_id,
                              max_positions=spec.config.max_position_embeddings)
        step = _generate_step(generator, inputs, job["new_tokens"])

        def synced():
            out = step()
            torch_sync(device)
            return out
        return synced, applied

    if backend == "ref":
        def forward(with_loss: bool):
            return _ref_forward(spec, model, tensors, with_loss)
    else:
        run = torch.compile(model) if compiled else model
        args = tuple(tensors[n].long() for n in names)

        def forward(with_loss: bool):
            logits = run(*args)
            return {"loss": model.loss(logits[0], tensors["labels"])} if with_loss else logits

    if task == "forward":
        model.eval()

        def step():
            with torch.no_grad():
                out = forward(False)
            torch_sync(device)
            return out
        return step, applied
    if inputs["labels"] is None:
        raise Skip(f"{spec.name}: an embedding model has no training loss in the zoo")
    from zoo.core.optim import AdamWConfig

    model.train()
    optim = AdamWConfig()
    impl = job.get("options", {}).get("adamw", "fused")
    applied["adamw"] = impl
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=optim.lr,
                                  betas=optim.betas, eps=optim.eps, weight_decay=optim.weight_decay,
                                  **TORCH_ADAMW[impl])

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        loss = forward(True)["loss"]
        loss.backward()
        optimizer.step()
        torch_sync(device)
        return float(loss.detach())
    return train_step, applied


def _ref_forward(spec, model, tensors: dict, with_loss: bool):
    """The family's reference_forward, with the tensors already on the device."""
    out = spec.family.reference_forward(model, spec.config, tensors, with_loss)
    return {"loss": out["loss"]} if with_loss else out


def _ref_generate_step(spec, model, tensors: dict, new_tokens: int, device: str):
    """Upstream greedy decoding of exactly `new_tokens` tokens (EOS ignored) with its own KV cache."""
    if spec.family.reference_greedy is None:
        raise Skip(f"{spec.name}: the {spec.family.name} family names no upstream greedy decoder")
    model.eval()
    ids, mask = tensors["input_ids"].long(), tensors["attention_mask"].long()

    def step():
        made = spec.family.reference_greedy(model, spec.config, ids, mask, new_tokens)
        torch_sync(device)
        return made
    return step


# ------------------------------------------------------------------------------------- the run
def run_job(job: dict) -> dict:
    """Build, time, and describe one measurement as a record (status ok / skipped / failed)."""
    from benchmarks import flops, records
    from benchmarks.shapes import resolve_model

    backend, task = job["backend"], job["task"]
    record: dict[str, Any] = {f: None for f in records.FIELDS}
    record.update(
        schema=records.SCHEMA_VERSION, created=datetime.now(UTC).isoformat(timespec="seconds"),
        run_id=job.get("run_id", ""), status="ok", model=job["model"], random_weights=False, family="",
        framework=FRAMEWORK.get(backend, backend), backend=backend, mode=MODE.get(backend, ""),
        options={}, dtype=job["dtype"], batch=job["batch"], seq=job["seq"], task=task,
        new_tokens=job.get("new_tokens") if task == "decode" else None,
        warmup_steps=job["warmup"], timed_steps=job["steps"], step_times_s=[], threads={},
        load_avg=[round(x, 2) for x in os.getloadavg()],
    )
    record["device"] = records.device_info(job["device"])
    try:
        spec, random_weights = resolve_model(job["model"])
        record.update(random_weights=random_weights, family=spec.family.name,
                      params=flops.total_params(spec.family, spec.config))
        if task == "decode" and spec.config.task != "causal-lm":
            raise Skip(f"{job['model']} is a {spec.config.task} model: decode needs a causal LM")
        inputs = make_inputs(spec, job["batch"], job["seq"])
        spec.config.check_inputs(*(inputs[n] for n in spec.family.inputs.names))
        _measure(job, spec, random_weights, inputs, record)
    except Skip as why:
        record.update(status="skipped", reason=str(why))
    except Exception as err:  # noqa: BLE001 - a failed measurement is a record too
        record.update(status="failed", reason=f"{type(err).__name__}: {str(err).strip()[:500]}")
        traceback.print_exc(file=sys.stderr)
    record["peak_rss_mb"] = rss_mb("VmHWM")
    record["load_avg"] = record["load_avg"] + [round(x, 2) for x in os.getloadavg()]
    record["threads"] = _threads(job)
    return record


def _threads(job: dict) -> dict:
    out = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")}
    if "torch" in sys.modules:
        import torch

        out["torch_intra_op"] = torch.get_num_threads()
        out["torch_inter_op"] = torch.get_num_interop_threads()
    if "mindspore" in sys.modules and job["backend"].startswith("ms-"):
        out["mindspore_threads_num"] = job.get("options", {}).get("ms_threads") or "default"
    return out


def _measure(job: dict, spec, random_weights: bool, inputs: dict, record: dict) -> None:
    from benchmarks import flops
    from zoo.core.generation import bucket

    backend, task = job["backend"], job["task"]
    if backend.startswith("ms-"):
        import_mindspore()  # the import's memory is the baseline
    else:
        import torch  # noqa: F401
    import zoo.models  # noqa: F401 - the loaders (framework-free: each worker imports only its framework)

    record["import_rss_mb"] = rss_mb()
    started = time.perf_counter()
    builder = ms_step if backend.startswith("ms-") else torch_step
    step, applied = builder(job, spec, random_weights, inputs)
    record["build_s"] = time.perf_counter() - started
    record["options"] = {**job.get("options", {}), **applied}

    started = time.perf_counter()
    step()
    record["first_step_s"] = time.perf_counter() - started
    for _ in range(job["warmup"]):
        step()
    times = []
    for _ in range(job["steps"]):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    median = percentile(times, 50)
    record.update(step_times_s=[round(t, 6) for t in times], median_s=median, p95_s=percentile(times, 95),
                  compile_s=max(record["first_step_s"] - median, 0.0))
    batch, seq, family = job["batch"], job["seq"], spec.family
    if task == "decode":
        new = job["new_tokens"]
        prompt = bucket(seq)
        tokens, work = batch * new, flops.decode_flops(family, spec.config, batch, prompt, new,
                                                       bucket(prompt + new))
    else:
        tokens = batch * seq
        work = (flops.forward_flops if task == "forward" else flops.train_flops)(family, spec.config, batch, seq)
    record.update(tokens_per_step=tokens, tokens_per_s=tokens / median, flops_per_step=work,
                  flops_per_s=work / median)
    if job["device"] == "gpu" and not backend.startswith("ms-"):
        import torch

        record["peak_device_mem_mb"] = torch.cuda.max_memory_allocated() / 2**20


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    warnings.filterwarnings("ignore")
    os.environ.setdefault("GLOG_v", "3")
    job = json.loads(argv[0])
    record = run_job(job)
    sys.stdout.flush()
    print(RECORD_PREFIX + json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
