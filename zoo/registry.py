"""The one list of named models: every family's registry entries, in family order.

A family declares its entries (and, where there are too many to list, a `find_entry` for names such
as `datadecide-<recipe>-<size>`); `mindzoo list` renders ENTRIES, and a name given to any command is
looked up with `get`. Where a checkpoint is found on disk is the hub's business (zoo.hub.locate).
"""

from __future__ import annotations

from zoo.core.family import Entry
from zoo.families import FAMILIES

ENTRIES: tuple[Entry, ...] = tuple(entry for family in FAMILIES for entry in family.entries)


def get(name: str) -> Entry | None:
    """The entry named `name` (listing rows with `<placeholders>` are not names), or None."""
    entry = next((e for e in ENTRIES if e.name == name and "<" not in e.name), None)
    if entry is not None:
        return entry
    for family in FAMILIES:
        if family.find_entry is not None:
            found = family.find_entry(name)
            if found is not None:
                return found
    return None
