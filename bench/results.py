"""Figures as people and machines read them: the table, the JSON lines, and the machine they came from.

Shared by `bench.run` (the suite) and every bench module run alone, which must
not import the suite that loads them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["machine_info", "print_results"]


def machine_info() -> dict[str, Any]:
    """The machine a figure was taken on: cores, CPU model, RAM, versions."""
    cpu = platform.processor()
    ram_gb = 0.0
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="utf-8") as f:
        kb = next((int(ln.split()[1]) for ln in f if ln.startswith("MemTotal:")), 0)
        ram_gb = kb / 1024 / 1024
    redis_version = ""
    try:
        from streams.server import redis_binary

        out = subprocess.run([str(redis_binary()), "--version"], capture_output=True, text=True, timeout=10)
        redis_version = out.stdout.split("v=", 1)[1].split()[0] if "v=" in out.stdout else out.stdout.strip()
    except Exception:  # diagnostics only
        pass
    try:
        import redis.utils

        hiredis = bool(redis.utils.HIREDIS_AVAILABLE)
    except ImportError:
        hiredis = False
    commit = ""
    try:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        commit += "+dirty" if dirty else ""
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(ram_gb, 1),
        "python": platform.python_version(),
        "redis_server": redis_version,
        "hiredis": hiredis,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "commit": commit,
    }


def _fmt(name: str, v: float) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "n/a"
    if name.endswith("_ratio"):
        return f"{v:.2f}"
    if name.endswith(("_ms", "_s")):
        return f"{v:,.1f}" if v >= 10 else f"{v:,.2f}"
    if name.endswith("_mb"):
        return f"{v:,.0f}"
    return f"{v:,.0f}"


def _check(value: float, target: tuple[str, float] | None) -> bool | None:
    if target is None or math.isnan(value):
        return None
    op, bound = target
    return value >= bound if op == ">=" else value <= bound


def print_results(
    results: Mapping[str, Mapping[str, float]],
    targets: Mapping[str, Mapping[str, tuple[str, float]]] | None = None,
    errors: Mapping[str, str] | None = None,
    machine: Mapping[str, Any] | None = None,
) -> None:
    """The table, then JSON lines (machine first)."""
    targets = targets or {}
    rows: list[tuple[str, str, str, str, str]] = []
    lines: list[dict[str, Any]] = []
    for bench, metrics in results.items():
        for name, value in metrics.items():
            tgt = targets.get(bench, {}).get(name)
            ok = _check(float(value), tgt)
            rows.append((
                bench, name, _fmt(name, value),
                f"{tgt[0]} {_fmt(name, tgt[1])}" if tgt else "",
                "" if ok is None else ("ok" if ok else "MISS"),
            ))
            lines.append({"bench": bench, "metric": name, "value": value,
                          "target": list(tgt) if tgt else None, "ok": ok})
    for bench, err in (errors or {}).items():
        rows.append((bench, "(failed)", err[:60], "", "FAIL"))
        lines.append({"bench": bench, "metric": "error", "value": None, "target": None, "ok": False, "error": err})
    head = ("bench", "metric", "value", "target", "")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].rjust(widths[2]),
                 r[3].ljust(widths[3]), r[4]]
        print("  ".join(cells).rstrip())
    print()
    if machine is not None:
        print(json.dumps({"machine": dict(machine)}, ensure_ascii=False))
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    sys.stdout.flush()
