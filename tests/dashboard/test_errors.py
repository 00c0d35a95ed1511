"""One error tree (command/errors.py), drawn in its docstring, mapped to HTTP in one table."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from command import errors
from dashboard.api import STATUS, status_of

ROOT = Path(__file__).resolve().parents[2]
_LINE = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w+)\s.*?(?:→ (?P<status>\d{3}))?\s*$")


def _drawn() -> list[tuple[int, str, int | None]]:
    """(depth, class name, status) for each line of the drawn tree."""
    out = []
    for line in (errors.__doc__ or "").splitlines():
        if not line.startswith("    ") or not line.strip():
            continue
        m = _LINE.match(line[4:])
        if m:
            out.append((len(m["indent"]) // 4, m["name"], int(m["status"]) if m["status"] else None))
    return out


def test_the_drawing_is_the_tree() -> None:
    """Every class of the module is drawn, under its real base, and nothing drawn is missing."""
    drawn = _drawn()
    classes = {n for n, c in vars(errors).items() if inspect.isclass(c) and issubclass(c, Exception)}
    assert {name for _, name, _ in drawn} == classes
    parents: list[str] = []
    for depth, name, _ in drawn:
        parents[depth:] = [name]
        cls = getattr(errors, name)
        if depth:
            assert cls.__bases__ == (getattr(errors, parents[depth - 1]),), name
        else:
            assert cls.__bases__ == (Exception,)


def test_every_drawn_status_is_the_one_http_map() -> None:
    status: int | None = None
    stack: list[int | None] = []
    for depth, name, drawn_status in _drawn():
        stack[depth:] = [drawn_status if drawn_status is not None else (stack[depth - 1] if depth else None)]
        status = stack[depth]
        cls = getattr(errors, name)
        if status is None or cls is errors.WartimeError or name == "LeaseLost":
            continue
        exc = cls.__new__(cls)
        assert status_of(exc) == status, name
    assert all(issubclass(cls, errors.WartimeError) for cls, _ in STATUS)


_EXC_BASES = {"Exception", "RuntimeError", "ValueError", "LookupError", "KeyError", "OSError", "CommandRejected",
              "StateConflict", "InvalidRequest", "NotAuthenticated", "NotFound", "Unavailable", "WartimeError"}


@pytest.mark.parametrize("package", ["command", "streams", "dashboard"])
def test_no_error_class_outside_the_tree(package: str) -> None:
    """An error raised on purpose is declared in command/errors.py, not beside the code that raises it."""
    stray = []
    for path in (ROOT / package).rglob("*.py"):
        if path == ROOT / "command" / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                if bases & _EXC_BASES:
                    stray.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not stray, "errors outside command/errors.py:\n" + "\n".join(stray)


def test_old_homes_still_name_the_same_classes() -> None:
    """Code that imported an error from where it used to live gets the class of the tree."""
    from dashboard.auth import LoginThrottled
    from streams.log import LogUnavailable
    from streams.server import RedisUnavailable

    assert LoginThrottled is errors.LoginThrottled
    assert LogUnavailable is errors.LogUnavailable and RedisUnavailable is errors.RedisUnavailable
