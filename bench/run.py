"""`wartime bench`: run every benchmark module in bench/ and print one table plus JSON lines.

The suite interface (every ``bench/bench_*.py`` module the suite knows):

* ``run(redis_url: str, quick: bool) -> dict[str, float]`` — take the figures
  and return them by metric name. The Redis behind ``redis_url`` belongs to the
  module for the duration of the call: it may ``FLUSHALL`` first and must not
  expect anything left by another module (the suite gives each module a fresh
  embedded ``redis-server`` — AOF, ``appendfsync always``, as in production —
  unless ``--redis URL`` names one). ``quick=True`` must finish in about 30 s,
  the full run in about 3 minutes. Progress lines go to stdout, prefixed.
* Metric names end with their unit: ``_eps`` events/s, ``_rps`` requests/s,
  ``_ms`` milliseconds, ``_s`` seconds, ``_mb`` megabytes, ``_ratio`` a
  fraction; anything else is a plain count.
* Optional ``TARGETS: dict[str, tuple[str, float]]`` — metric → (``">="`` or
  ``"<="``, bound), the issue's targets, so the table can say pass or miss.

A module that is absent is skipped (engineers add theirs when ready); one that
raises is reported as failed, the others still run, and the exit code is 1.
Output: a table for people, then one JSON object per line for machines —
``{"bench", "metric", "value", "target", "ok"}`` — and a first ``machine`` line
(nproc, CPU model, RAM, Python, redis-server version) so figures are never
quoted without the machine they came from.

Run as ``wartime bench [--quick] [--redis URL]`` or ``python -m bench.run
[--quick] [--redis URL] [--only core,http]``. Without ``--redis`` the data
directory is not touched: benchmarks flush their Redis, so each gets a
throwaway one. With ``--redis`` the named Redis must be empty (or
``WARTIME_BENCH_FLUSH=1`` set) because the modules flush it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping
from typing import Any

MODULES = ("core", "http", "board", "report", "alerts", "cluster", "province", "faults", "maps")
"""Suite order: bench/bench_<name>.py."""


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


def _load(name: str) -> Any | None:
    """The module bench/bench_<name>.py, or None when nobody wrote it yet."""
    modname = f"bench.bench_{name}"
    try:
        return importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        if exc.name == modname:
            return None
        raise


def _check_external(url: str) -> None:
    from streams.server import connect

    client = connect(url)
    n = int(client.dbsize())
    if n and os.environ.get("WARTIME_BENCH_FLUSH") != "1":
        raise SystemExit(
            f"refusing to benchmark against {url}: it holds {n} keys and the benchmarks flush it "
            "(point --redis at an empty Redis, or set WARTIME_BENCH_FLUSH=1)"
        )


def main(args: argparse.Namespace) -> int:
    """Run the suite; `args` has .redis, .quick (and .data, unused: see the module docstring)."""
    from bench.bench_core import embedded_redis

    quick = bool(getattr(args, "quick", False))
    url = getattr(args, "redis", None)
    only = getattr(args, "only", None)
    wanted = [m for m in MODULES if not only or m in only.split(",")]
    if url:
        _check_external(url)
    machine = machine_info()
    print(f"wartime bench{' --quick' if quick else ''}: {machine['nproc']} cores, {machine['cpu']}, "
          f"{machine['ram_gb']} GB RAM, redis-server {machine['redis_server']}, "
          f"hiredis {'on' if machine['hiredis'] else 'off'}", flush=True)
    results: dict[str, dict[str, float]] = {}
    targets: dict[str, dict[str, tuple[str, float]]] = {}
    errors: dict[str, str] = {}
    for name in wanted:
        try:
            mod = _load(name)
        except Exception as exc:
            errors[name] = f"import failed: {exc!r}"
            traceback.print_exc()
            continue
        if mod is None:
            print(f"- {name}: bench/bench_{name}.py not present, skipped", flush=True)
            continue
        print(f"- {name} ...", flush=True)
        t0 = time.perf_counter()
        try:
            if url:
                res = mod.run(url, quick)
            else:
                with embedded_redis() as fresh:
                    res = mod.run(fresh, quick)
        except Exception as exc:
            errors[name] = repr(exc)
            traceback.print_exc()
            continue
        results[name] = {k: float(v) for k, v in res.items()}
        targets[name] = dict(getattr(mod, "TARGETS", {}) or {})
        print(f"- {name} done in {time.perf_counter() - t0:.0f} s", flush=True)
    print_results(results, targets, errors, machine)
    return 1 if errors else 0


def cli(argv: list[str] | None = None) -> int:
    """``python -m bench.run``: the same as `wartime bench`, plus --only."""
    p = argparse.ArgumentParser(description="wartime benchmark suite")
    p.add_argument("--redis", default=None, help="an empty Redis to use (default: throwaway embedded ones)")
    p.add_argument("--quick", action="store_true", help="about 30 s per module")
    p.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(MODULES)}")
    p.add_argument("--data", default=None, help="ignored (the CLI passes it)")
    return main(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(cli())
