"""mindzoo: pull small open models, run them in MindSpore graph mode, prove parity with PyTorch, measure.

The command layer: one module per command group, each registering its subcommands with `add_parser`.
Exit codes: 0 success; 1 a parity check failed; 2 bad input (one line on stderr naming what is wrong).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from zoo.cli import bench, data, demo, export, finetune, generate, hub, models, parity, train
from zoo.cli import eval as eval_command
from zoo.core.errors import ZooError

COMMANDS = (models, hub, parity, data, finetune, train, export, bench, demo, generate, eval_command)


def _quiet_frameworks() -> None:
    os.environ.setdefault("GLOG_v", "3")          # MindSpore's C++ log: errors only
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*dtype_to_nptype.*")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mindzoo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    _quiet_frameworks()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ZooError as err:
        print(f"mindzoo: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
