"""`wartime bench` runs from an installed package: nothing under bench/ imports the test suite."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
    return out


def test_no_bench_module_imports_tests() -> None:
    offenders = {
        p.name: sorted(m for m in _imports(p) if m == "tests" or m.startswith("tests."))
        for p in sorted((ROOT / "bench").glob("*.py"))
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_every_bench_module_imports_without_the_tests_directory(tmp_path: Path) -> None:
    """Import each suite with only the installed packages' roots on the path (no `tests/` to fall back on)."""
    pkg = tmp_path / "site"
    pkg.mkdir()
    for name in ("command", "streams", "dashboard", "assets", "bench"):
        (pkg / name).symlink_to(ROOT / name)
    code = "import importlib, pathlib\n" + "".join(
        f"importlib.import_module('bench.{p.stem}')\n" for p in sorted((ROOT / "bench").glob("bench_*.py"))
    )
    env = {"PYTHONPATH": str(pkg), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
