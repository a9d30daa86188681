"""The layering rules, checked on the source: no import cycles, the frameworks apart, families behind their
contract, the twins without drift, and each framework runnable without the other."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import twins

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("zoo", "parity", "benchmarks")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module this one imports, at any level (inside functions too), relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _owner(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def _edges() -> dict[str, set[str]]:
    edges = {}
    for name, path in MODULES.items():
        owners = {_owner(t) for t in _imports(name, path)}
        edges[name] = {o for o in owners if o and o != name and not name.startswith(o + ".")}
    return edges


def test_no_import_cycles():
    """Tarjan's strongly connected components over the import graph: none larger than one module."""
    edges = _edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    assert cycles == [], cycles
    assert len(MODULES) > 100                     # the scan saw the whole tree


def _imported_packages(name: str, path: Path) -> set[str]:
    return {t.split(".")[0] for t in _imports(name, path)}


def test_frameworks_never_import_each_other():
    """zoo/ms and every modeling_ms.py import no torch; zoo/pt and every modeling_pt.py no MindSpore; the
    core imports neither (numpy and the standard library only)."""
    problems = []
    for name, path in MODULES.items():
        found = _imported_packages(name, path)
        if name.startswith("zoo.ms") or name.endswith(".modeling_ms"):
            problems += [f"{name} imports torch" for p in found if p == "torch"]
            problems += [f"{name} imports {t}" for t in _imports(name, path) if t.startswith("zoo.pt")]
        if name.startswith("zoo.pt") or name.endswith(".modeling_pt"):
            problems += [f"{name} imports mindspore" for p in found if p == "mindspore"]
            problems += [f"{name} imports {t}" for t in _imports(name, path) if t.startswith("zoo.ms")]
        if name.startswith("zoo.core"):
            outside = {p for p in found if p not in ("zoo", "numpy", "__future__") and p not in sys.stdlib_module_names}
            outside.discard("torch")     # allowed only lazily, for pickled .bin checkpoints (checked below)
            problems += [f"{name} imports {p}" for p in sorted(outside)]
            problems += [f"{name} imports {t}" for t in _imports(name, path)
                         if t.startswith("zoo.") and not t.startswith("zoo.core")]
    assert problems == []


def test_core_reaches_torch_only_for_pickled_checkpoints():
    users = [name for name, path in MODULES.items() if name.startswith("zoo.core")
             and "torch" in _imported_packages(name, path)]
    assert users == ["zoo.core.checkpoint"]
    source = MODULES["zoo.core.checkpoint"].read_text(encoding="utf-8")
    assert source.count("import torch") == 1 and "def _iter_bin" in source.split("import torch")[0]


def test_zoo_imports_neither_parity_nor_benchmarks_below_the_command_layer():
    problems = [f"{name} imports {t}" for name, path in MODULES.items()
                if name.startswith("zoo.") and not name.startswith("zoo.cli")
                for t in _imports(name, path) if t.split(".")[0] in ("parity", "benchmarks")]
    assert problems == []


def test_no_family_names_outside_the_family_folders():
    """Nothing outside zoo/families/ branches on which family it has: no comparison with a family's name."""
    from zoo.families import FAMILIES

    names = "|".join(re.escape(f.name) for f in FAMILIES)
    branch = re.compile(rf"""(==|!=|\bin)\s*\(?\s*["']({names})["']|["']({names})["']\s*(==|!=)|family\s*==""")
    hits = []
    for name, path in MODULES.items():
        if name.startswith("zoo.families"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if branch.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert hits == []


def test_no_module_is_imported_by_a_built_string():
    hits = [f"{name}" for name, path in MODULES.items()
            if re.search(r"import_module\([^)]*(\+|f[\"'])", path.read_text(encoding="utf-8"))]
    assert hits == []


# ----------------------------------------------------------------------------------------------- twins


@pytest.mark.parametrize("folder", twins.family_folders(), ids=lambda p: p.name)
def test_twins_do_not_drift(folder):
    unlisted, stale = twins.check_family(folder)
    assert unlisted == [] and stale == []


@pytest.mark.parametrize(("family", "old", "new"), [
    ("olmo", "return h + self.mlp(normed), k, v", "return h - self.mlp(normed), k, v"),
    ("opt", "q = self.q_proj(x) * self.scale", "q = self.q_proj(x)"),
    ("bert", "return self.norm(x)", "return x"),
])
@pytest.mark.parametrize("side", ["ms", "pt"])
def test_changing_one_line_of_one_twin_is_caught(family, old, new, side):
    folder = twins.FAMILIES / family
    text = (folder / f"modeling_{side}.py").read_text(encoding="utf-8")
    assert old in text
    mutated = text.replace(old, new, 1)
    unlisted, _ = twins.check_family(folder, **{f"{side}_text": mutated})
    assert unlisted, "a one-line change of one twin went unnoticed"


def test_allow_list_entries_that_no_longer_occur_are_reported(tmp_path):
    folder = twins.FAMILIES / "olmo"
    text = (folder / "modeling_pt.py").read_text(encoding="utf-8")
    fixed = text.replace("cos = self.cos[cache_positions]", "cos = torch.gather(self.cos, 0, cache_positions)")
    _, stale = twins.check_family(folder, pt_text=fixed)
    assert ("cos = torch.gather(self.cos, cache_positions, 0)", "cos = self.cos[cache_positions]") in stale


# ------------------------------------------------------------------- each framework without the other


def _blocked(tmp_path: Path, module: str) -> dict[str, str]:
    site = tmp_path / f"no-{module}"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"import sys\nsys.modules[{module!r}] = None\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "GLOG_v": "3"}
    return env


@pytest.mark.parametrize(("blocked", "backends", "model"), [
    ("torch", "ms-pynative,ms-graph", "tiny-olmo-ladder"),
    ("torch", "ms-pynative,ms-graph", "tiny-opt-post-ln"),
    ("mindspore", "pt,ref", "tiny-olmo-ladder"),
    ("mindspore", "pt,ref", "tiny-opt-post-ln"),
])
def test_parity_runs_with_the_other_framework_unimportable(tiny_checkpoints, tmp_path, blocked, backends, model):
    folder = tiny_checkpoints[model]
    code = (f"import sys, importlib.util; from zoo.cli import main; code = main(['parity', {str(folder)!r}, "
            f"'--backends', {backends!r}]); assert {blocked!r} not in [m for m in sys.modules "
            f"if sys.modules[m] is not None and m == {blocked!r}]; sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", code], env=_blocked(tmp_path, blocked), cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "PASSED" in result.stdout
