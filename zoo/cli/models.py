"""`mindzoo list`: the registry."""

from __future__ import annotations

import argparse

from zoo.core.tables import render_table


def cmd_list(args: argparse.Namespace) -> int:
    from zoo import registry

    rows = [[e.name, e.family, e.task, e.params, f"{e.upstream}@{e.revision}", e.notes] for e in registry.ENTRIES]
    print(render_table(["name", "family", "task", "params", "upstream", "notes"], rows))
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="models in the registry")
    p.set_defaults(func=cmd_list)
