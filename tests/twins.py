"""The twins drift check: a family's modeling_ms.py and modeling_pt.py must say the same thing.

Both files are parsed, their docstrings and imports dropped, and printed back by `ast.unparse` (so that
formatting, comments and line wrapping do not count); the MindSpore text then has its framework
vocabulary translated to torch's (Cell -> Module, construct -> forward, ops. -> torch. ...). Any line
that still differs must be listed, as a (MindSpore line, torch line) pair, in the family's reviewed
allow-list `zoo/families/<name>/twins.allow`; anything else is drift. An allow-list entry that no
longer occurs is reported too, so the list cannot rot.

    python tests/twins.py            # prints each family's remaining differences
"""

from __future__ import annotations

import ast
import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

FAMILIES = Path(__file__).resolve().parents[1] / "zoo" / "families"

# MindSpore vocabulary -> torch vocabulary, applied in order to the MindSpore side's unparsed text.
VOCABULARY: tuple[tuple[str, str], ...] = (
    (r"\bnn\.CellList\b", "nn.ModuleList"),
    (r"\bnn\.Cell\b", "nn.Module"),
    (r"\bdef construct\(", "def forward("),
    (r"\bmint\.", "torch."),
    (r"\bops\.", "torch."),
    (r"\bms\.", "torch."),
    (r"\.astype\(", ".to("),
    (r"\bkeepdims=", "keepdim="),
    (r"-> Parameter\b", "-> Tensor"),
    (r"\btorch\.stop_gradient\((\w+)\)", r"\1.detach()"),
    (r"\bleading_rows\(([\w.]+), (\w+)\)", r"\1[:\2]"),     # table[:n] without StridedSlice (zoo/ms/layers.py)
)


@dataclass(frozen=True)
class Drift:
    family: str
    ms_line: str | None      # None: the line exists on the torch side only
    pt_line: str | None      # None: the line exists on the MindSpore side only


def _strip(tree: ast.Module) -> ast.Module:
    """Drop docstrings and imports (each framework imports its own names) from every scope."""

    def clean(body: list[ast.stmt]) -> list[ast.stmt]:
        kept = [s for s in body if not isinstance(s, (ast.Import, ast.ImportFrom))]
        if kept and isinstance(kept[0], ast.Expr) and isinstance(kept[0].value, ast.Constant) \
                and isinstance(kept[0].value.value, str):
            kept = kept[1:]
        return kept or [ast.Pass()]

    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
            node.body = clean(node.body)
    return tree


def normalised(path: Path, translate: bool) -> list[str]:
    text = ast.unparse(_strip(ast.parse(path.read_text(encoding="utf-8"))))
    if translate:
        for pattern, replacement in VOCABULARY:
            text = re.sub(pattern, replacement, text)
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def differences(ms_lines: list[str], pt_lines: list[str], family: str) -> list[Drift]:
    out = []
    matcher = difflib.SequenceMatcher(a=ms_lines, b=pt_lines, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        ms_part, pt_part = ms_lines[a0:a1], pt_lines[b0:b1]
        for i in range(max(len(ms_part), len(pt_part))):
            out.append(Drift(family, ms_part[i].strip() if i < len(ms_part) else None,
                             pt_part[i].strip() if i < len(pt_part) else None))
    return out


def read_allow(path: Path) -> list[tuple[str | None, str | None]]:
    """Pairs of lines `ms: ...` / `pt: ...` (one of them may be `-`: a line the other side lacks), blank-line
    separated; `#` lines are the reviewer's reasons."""
    pairs, current = [], {}
    for raw in path.read_text(encoding="utf-8").splitlines() + [""] if path.is_file() else []:
        line = raw.strip()
        if line.startswith("#"):
            continue
        if not line:
            if current:
                pairs.append((current.get("ms"), current.get("pt")))
                current = {}
            continue
        side, _, code = line.partition(":")
        if side not in ("ms", "pt"):
            raise ValueError(f"{path}: line {raw!r} must start with 'ms:' or 'pt:'")
        code = code.strip()
        current[side] = None if code == "-" else code
    return pairs


def check_family(folder: Path, ms_text: str | None = None, pt_text: str | None = None) -> tuple[list[Drift], list]:
    """(unlisted differences, allow-list entries that no longer occur) for one family folder. `ms_text` /
    `pt_text` replace the files' contents (the test that mutates one twin)."""
    ms_path, pt_path = folder / "modeling_ms.py", folder / "modeling_pt.py"
    if ms_text is not None:
        tmp = folder / ".twins_ms_check.py"
        ms_lines = _lines_of(ms_text, translate=True, scratch=tmp)
    else:
        ms_lines = normalised(ms_path, translate=True)
    pt_lines = _lines_of(pt_text, translate=False, scratch=folder / ".twins_pt_check.py") if pt_text is not None \
        else normalised(pt_path, translate=False)
    found = differences(ms_lines, pt_lines, folder.name)
    allowed = read_allow(folder / "twins.allow")
    unlisted = [d for d in found if (d.ms_line, d.pt_line) not in allowed]
    stale = [pair for pair in allowed if not any((d.ms_line, d.pt_line) == pair for d in found)]
    return unlisted, stale


def _lines_of(text: str, translate: bool, scratch: Path) -> list[str]:
    tree = _strip(ast.parse(text))
    out = ast.unparse(tree)
    if translate:
        for pattern, replacement in VOCABULARY:
            out = re.sub(pattern, replacement, out)
    return [line.rstrip() for line in out.splitlines() if line.strip()]


def family_folders() -> list[Path]:
    return sorted(p.parent for p in FAMILIES.glob("*/modeling_ms.py") if (p.parent / "modeling_pt.py").is_file())


def main() -> int:
    bad = 0
    for folder in family_folders():
        unlisted, stale = check_family(folder)
        for drift in unlisted:
            print(f"{folder.name}:\n  ms: {drift.ms_line or '-'}\n  pt: {drift.pt_line or '-'}\n")
        for pair in stale:
            print(f"{folder.name}: stale allow-list entry {pair}")
        bad += len(unlisted) + len(stale)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
