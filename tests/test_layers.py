"""The layers hold: the core imports no subpackage, each layer imports only those below it, and
no two modules import each other (directly or through others), lazy imports included.

Layers, bottom up (``../shared/STYLE.md``, rule 1): the core ``costmodel`` (``costmodel/``);
``costmodel.featurizers`` and ``costmodel.datasets`` (each may import only the core);
``costmodel.training`` (adds those two); ``costmodel.serving`` and, beside it,
``costmodel.tuning`` (each may import all of those, never the other); the ``costmodel``
command, ``costmodel.cli`` (``cli/``, may import all). Imports are read from the source with
:mod:`ast`, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: folder -> import name, as pyproject.toml maps them.
FOLDERS = {
    "costmodel": "costmodel",
    "featurizers": "costmodel.featurizers",
    "datasets": "costmodel.datasets",
    "training": "costmodel.training",
    "serving": "costmodel.serving",
    "tuning": "costmodel.tuning",
    "cli": "costmodel.cli",
}
#: subpackage -> layer; a module may import its own package and lower layers only.
LAYERS = {
    "costmodel.featurizers": 1,
    "costmodel.datasets": 1,
    "costmodel.training": 2,
    "costmodel.serving": 3,
    "costmodel.tuning": 3,
    "costmodel.cli": 4,
}
#: Upward imports that are still to be removed. The test fails on any other, and on an entry
#: here that no longer happens.
KNOWN_UPWARD: set[str] = set()
#: Import cycles still to be broken (issue 15); fails on any other, and on one that is gone.
KNOWN_CYCLES = {frozenset(cycle) for cycle in ()}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations, never run)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def _imports(module: str, path: Path) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            yield name
            yield from (f"{name}.{alias.name}" for alias in node.names)


def _layer(module: str) -> tuple[int, str]:
    for package, layer in LAYERS.items():
        if module == package or module.startswith(package + "."):
            return layer, package
    return 0, "costmodel"


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in _imports(module, path):
            while name and name not in modules:  # "pkg.mod.Class" -> "pkg.mod"
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def _violations(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    bad: dict[str, set[str]] = {}
    for module, targets in graph.items():
        layer, package = _layer(module)
        for target in targets:
            target_layer, target_package = _layer(target)
            if target_layer > layer or (target_layer == layer and target_package != package):
                bad.setdefault(module, set()).add(target)
    return bad


def test_no_module_imports_a_layer_above_its_own():
    bad = _violations(_graph())
    unexpected = {m: sorted(t) for m, t in bad.items() if m not in KNOWN_UPWARD}
    assert not unexpected, f"upward or sideways imports: {unexpected}"
    assert set(bad) >= KNOWN_UPWARD, f"fixed, remove from KNOWN_UPWARD: {KNOWN_UPWARD - set(bad)}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    found = {frozenset(c) for c in _cycles(_graph())}
    new = [sorted(c) for c in found - KNOWN_CYCLES]
    assert not new, f"import cycles: {new}"
    gone = [sorted(c) for c in KNOWN_CYCLES - found]
    assert not gone, f"fixed, remove from KNOWN_CYCLES: {gone}"


def test_the_checker_reads_lazy_and_relative_imports(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text(
        "import os\n"
        "from . import sibling\n"
        "def f():\n"
        "    from costmodel.serving.app import create_app\n"
        "    from ..other import thing\n"
        "if TYPE_CHECKING:\n"
        "    from costmodel.serving import typing_only\n"
    )
    names = set(_imports("costmodel.featurizers.mod", source))
    assert {"os", "costmodel.featurizers.sibling", "costmodel.serving.app.create_app"} <= names
    assert "costmodel.other.thing" in names
    assert "costmodel.serving.typing_only" not in names
    assert _violations({"costmodel.x": {"costmodel.serving.y", "costmodel.schema"}}) == {
        "costmodel.x": {"costmodel.serving.y"}
    }
    assert _violations({"costmodel.datasets.x": {"costmodel.featurizers.y"}}) == {
        "costmodel.datasets.x": {"costmodel.featurizers.y"}
    }
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
