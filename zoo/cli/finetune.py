"""`mindzoo finetune RECIPE`: the same weights and batches through MindSpore and the torch twin."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from zoo.core.errors import InputError
from zoo.train.finetune import RECIPES, RESULTS, run_finetune, summary


def cmd_finetune(args: argparse.Namespace) -> int:
    from zoo.train.pretrain import PRETRAIN_RECIPES, main

    if args.recipe in PRETRAIN_RECIPES:
        return main(args.recipe, args.steps, Path(args.out), args.lr)
    recipe = RECIPES.get(args.recipe)
    if recipe is None:
        raise InputError(f"unknown recipe {args.recipe!r}; choose one of {', '.join(RECIPES)}")
    if args.lr is not None:
        recipe = dataclasses.replace(recipe, lr=args.lr)
    record = run_finetune(recipe, args.steps, out=Path(args.out),
                          progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(summary(record))
    print(f"results: {Path(args.out) / f'finetune-{recipe.name}.json'} and .png")
    return 0 if record.get("loss_rel_diff", {}).get("passed", True) else 1


def add_parser(sub) -> None:
    from zoo.train.pretrain import PRETRAIN_RECIPES

    p = sub.add_parser("finetune", help="train in MindSpore and the torch twin from the same weights and batches, "
                                        "compare loss curves",
                       description="minilm-sst2: fine-tune all-MiniLM-L6-v2 on SST-2; datadecide-4m-boolq: "
                                   "pretrain a DataDecide-4M-shaped OLMo on BoolQ passages")
    p.add_argument("recipe", choices=sorted(RECIPES) + sorted(PRETRAIN_RECIPES))
    p.add_argument("--steps", type=int, default=None, help=f"default {RECIPES['minilm-sst2'].steps}")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--out", default=str(RESULTS), help="folder for the JSON record and the PNG")
    p.set_defaults(func=cmd_finetune)
