"""The import graph of the packages: no circles, and dependencies point one way.

`command` (pure domain) ← `streams` (Redis) ← `dashboard` (pages, API, CLI); `bench`
sits beside the dashboard. Every import counts, top-level and function-local alike,
so that a function-local import cannot hide a circle. Nothing imports the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("command", "streams", "dashboard", "bench")
# What each package may import from the others (itself always).
ALLOWED = {
    "command": set(),
    "streams": {"command"},
    "dashboard": {"command", "streams"},
    "bench": {"command", "streams", "dashboard"},
}
CLI = "dashboard.cli"
"""On top of everything: it may also run the benchmarks."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str], source: str | None = None) -> dict[str, int]:
    """Every project module `module` imports, anywhere in its body, with a line."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    found: dict[str, int] = {}

    def add(name: str, line: int) -> None:
        # `import a.b.c` or `from a.b import c`: the deepest known module named.
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.setdefault(name, line)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            for alias in node.names:
                full = f"{target}.{alias.name}"
                add(full if full in known else target, node.lineno)
        elif isinstance(node, ast.Call) and _dynamic_import(node):
            # importlib.import_module("a.b") / __import__("a.b"): an import all the same.
            add(node.args[0].value, node.lineno)  # type: ignore[attr-defined]
    return found


def _dynamic_import(node: ast.Call) -> bool:
    fn = node.func
    name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
    return (
        name in ("import_module", "__import__")
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def graph() -> tuple[dict[str, dict[str, int]], dict[str, Path]]:
    modules = _modules()
    known = set(modules)
    return {m: imports_of(m, p, known) for m, p in modules.items()}, modules


def _cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), plus self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle() -> None:
    edges, _ = graph()
    circles = _cycles(edges)
    assert not circles, "import circles:\n" + "\n".join(" ↔ ".join(c) for c in circles)


def test_dependencies_point_one_way() -> None:
    edges, modules = graph()
    wrong = []
    for module, targets in edges.items():
        own = module.split(".")[0]
        for target, line in targets.items():
            other = target.split(".")[0]
            if other != own and other not in ALLOWED[own] and not (module == CLI and other == "bench"):
                wrong.append(f"{modules[module].relative_to(ROOT)}:{line} imports {target}")
    assert not wrong, "imports against command ← streams ← dashboard:\n" + "\n".join(wrong)


def test_nothing_imports_the_cli() -> None:
    edges, modules = graph()
    users = [
        f"{modules[m].relative_to(ROOT)}:{targets[CLI]}"
        for m, targets in edges.items()
        if CLI in targets and m != CLI
    ]
    assert not users, "the CLI sits on top; imported by:\n" + "\n".join(users)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("import command.fold\n", {"command.fold"}),
        ("import command.fold as f\n", {"command.fold"}),
        ("from command import fold\n", {"command.fold"}),
        ("from .fold import apply\n", {"command.fold"}),
        ("from . import modes\n", {"command.modes"}),
        ("def f():\n    from .modes import switch\n", {"command.modes"}),
        ("class C:\n    def f(self):\n        import command.fold\n", {"command.fold"}),
        ("import importlib\nimportlib.import_module('command.fold')\n", {"command.fold"}),
        ("__import__('command.modes', fromlist=['x'])\n", {"command.modes"}),
        ("import json\nfrom typing import Any\n", set()),
    ],
)
def test_the_walk_sees_every_kind_of_import(source: str, expected: set[str]) -> None:
    """The checker itself: relative, aliased and function-local imports are all edges."""
    known = {"command", "command.fold", "command.modes", "command.probe"}
    found = imports_of("command.probe", ROOT / "command" / "probe.py", known, source=source)
    assert set(found) == expected


def test_the_circle_finder_finds_a_circle() -> None:
    edges = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert _cycles(edges) == [["a", "b", "c"]]
