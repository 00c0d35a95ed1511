"""Units you can find by name: under ~600 lines (or say why), with their public names declared."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 600
MARK = "Why one module:"


def test_long_modules_say_why() -> None:
    unexplained = []
    for pkg in ("command", "streams", "dashboard", "bench"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            text = path.read_text(encoding="utf-8")
            n = text.count("\n")
            if n <= LIMIT:
                continue
            doc = ast.get_docstring(ast.parse(text)) or ""
            if MARK not in doc:
                unexplained.append(f"{rel}: {n} lines")
    assert not unexplained, f"over {LIMIT} lines with no '{MARK}' paragraph in the docstring:\n" + "\n".join(
        unexplained
    )


def test_domain_modules_declare_their_public_names() -> None:
    """Every module of command/ has `__all__`, and every module's `__all__` names what it defines or imports."""
    import importlib

    missing, stale = [], []
    for pkg in ("command", "streams", "dashboard", "bench"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            if rel.name == "__init__" and pkg != "dashboard":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            declared = next((n for n in tree.body if isinstance(n, ast.Assign | ast.AnnAssign)
                             and "__all__" in ast.unparse(n).split("=")[0]), None)
            if declared is None:
                if pkg == "command":
                    missing.append(rel.as_posix())
                continue
            name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            module = importlib.import_module(name)
            stale += [f"{name}.{x}" for x in module.__all__ if not hasattr(module, x)]
    assert not missing, "no __all__: " + ", ".join(missing)
    assert not stale, "__all__ names what is not there: " + ", ".join(stale)
