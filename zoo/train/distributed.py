"""Data parallel on the engines users already run: msrun for MindSpore, torchrun for the torch twin.

The zoo launches nothing and moves no gradient itself. The launcher starts one process per card and
describes the job in the environment; `init` joins the framework's own collective group
(mindspore.communication: HCCL on Ascend, MCCL on CPU; torch.distributed: NCCL on GPUs, gloo on CPU);
MindSpore's DistributedGradReducer and torch's DistributedDataParallel average the gradients
(the training loop, zoo/train/loop.py, hands `ms_grad_reducer` / `pt_data_parallel` to the framework's
train step). What the zoo adds is what data parallelism needs from a training driver:

- every rank reads its own rows of the shared sampler's global batch (`shard`), so N ranks with B / N
  rows each take exactly the steps one process takes with B rows;
- the seed is set before the model is built;
- only rank 0 writes checkpoints, atomically (temp file, fsync, rename), and every rank waits for the
  write, so a crash at any moment leaves the previous complete checkpoint in place.
"""

from __future__ import annotations

import copy
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zoo.core.errors import InputError, ZooError

if TYPE_CHECKING:
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


def pt_data_parallel(model):
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


def save_checkpoint(world: World, path: Path, get_state: Callable[[], Mapping[str, np.ndarray]],
                    metadata: Mapping[str, str]) -> None:
    """Rank 0 writes the zoo-named weights as safetensors (with `metadata`), atomically; all ranks wait."""
    if world.is_writer:
        from zoo.core.safetensors import save_file

        state = get_state()
        write_atomic(path, lambda tmp: save_file(state, tmp, metadata))
    world.barrier()


def read_checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(zoo-named arrays, metadata) of a checkpoint written by `save_checkpoint`."""
    from zoo.core.safetensors import iter_file, read_header

    return dict(iter_file(path)), read_header(path)[1]


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
