"""`mindzoo train`: one framework's training loop, as one process or as one rank of an msrun / torchrun job."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.core.errors import InputError
from zoo.core.optim import AdamWConfig
from zoo.train.distributed import (
    CHECKPOINT,
    RECORD,
    _fault_injection,
    init,
    save_checkpoint,
    shard,
    write_atomic,
)
from zoo.train.loop import train

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

    def checkpoint(step: int, get_state: Callable[[], Mapping[str, np.ndarray]]) -> None:
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
