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
import importlib
import os
import time
import traceback
from typing import Any

from bench.results import machine_info, print_results

__all__ = ["MODULES", "cli", "machine_info", "main", "print_results"]

MODULES = ("core", "http", "board", "report", "alerts", "cluster", "province", "faults", "maps", "notify", "drills")
"""Suite order: bench/bench_<name>.py."""


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
