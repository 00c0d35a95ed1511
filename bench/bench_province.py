"""A simulated province in one Redis: 100 Pingnan-shaped counties loaded, one county's view timed.

Issue 8: "a simulated province (100 counties of Pingnan's shape, 700,000+ grids,
generated) loads, and a county view answers in < 200 ms". Against one Redis —
the suite's throwaway embedded one (AOF ``appendfsync always``) or ``--redis
URL``, a Redis Cluster included — in this order:

1. **load**: counties ``P001``…``P100`` (`command.generate.province_county`:
   Pingnan's exact published totals, a seed, codes and a place of their own),
   generated in a process pool while the main process loads each with
   `County.load_registry` — the whole registry as one ``RegistryLoaded`` event
   (about 2.2 MB) plus its polygons under their digest (about 1.2 MB). Figures:
   load seconds per county (p50, max) and in all, Redis memory in all and per
   county, the registry event's size.
2. **activity**: the county on view (the middle one) switched to wartime, a
   mass-testing operation launched, reports appended and projected; every
   tenth county gets the same on a smaller scale, so the province is not idle.
3. **in-process view, cold and warm**: fresh interpreters (one per cold
   sample) connect, build ``County(client, code)`` — folding the control
   stream, the registry included — and read the progress totals of the county
   and its towns (one pipelined HMGET per town): that first answer is the cold
   figure; then the same view (``County.refresh`` + those totals) is repeated:
   the warm figures. Each child also reports its peak RSS.
4. **HTTP view, cold and warm**: ``wartime serve --workers 2`` started afresh
   (readiness probed on a static asset, so no worker has loaded the county
   before the first timed request) — ``GET /api/v1/grids/{code}`` and ``GET
   /api/v1/operations/{id}/progress`` (the county, then a town): the first
   answer of each after a start is a cold sample, then many warm ones on one
   keep-alive connection. ``wartime serve`` serves the county named by the
   ``wt:county`` key (the last registry loaded) unless started with ``--county``:
   the bench starts it with ``--county`` for the county on view, which is not the
   last one loaded.
5. **the registry's weight**: the registry entry fetched alone (client time,
   and Redis's own time from INFO commandstats), the control fold in a warm
   interpreter (with the process's tree memo emptied first, as a fresh process
   folds it, and again with it), and the fold again after the county's
   registry was loaded twice more (re-imports append whole new registry
   events); then the cold in-process view again, in fresh processes, over that
   longer log: it must not grow with the number of registries.

Every answer is checked: the county totals served equal the reports appended.
The module's `run` follows the suite interface of `bench.run`; ``python -m
bench.bench_province [--quick] [--counties N] [--[no-]geometry] [--redis URL]``
runs it alone (``--quick``: 10 counties, no polygons).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as cf
import http.client
import json
import multiprocessing as mp
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_core import COUNTER, Reports, embedded_redis, leaf_grids, say_to
from command.access import Actor, Role
from command.generate import province_county, summary
from command.grids import GridTree, Level
from command.modes import SwitchRequest
from streams.county import County
from streams.keys import TownKeys
from streams.readmodel import current_county
from streams.server import Client, connect

ROOT = Path(__file__).resolve().parent.parent
OPERATION = "op-province"
PASSWORD = "bench-password-1"
VIEW_MS = 200.0

TARGETS: dict[str, tuple[str, float]] = {
    "view_cold_p99_ms": ("<=", VIEW_MS),
    "view_warm_p99_ms": ("<=", VIEW_MS),
    "view_cold_after_2_reimports_p99_ms": ("<=", VIEW_MS),
    "http_grid_cold_max_ms": ("<=", VIEW_MS),
    "http_progress_cold_max_ms": ("<=", VIEW_MS),
    "http_grid_warm_p99_ms": ("<=", VIEW_MS),
    "http_progress_warm_p99_ms": ("<=", VIEW_MS),
    "http_progress_town_warm_p99_ms": ("<=", VIEW_MS),
}
"""Issue 8: a county view of the province answers in < 200 ms, cold or warm."""

say = say_to("province")


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank); NaN when empty."""
    if not values:
        return float("nan")
    v = sorted(values)
    return float(v[min(len(v) - 1, max(0, round(p / 100 * len(v) + 0.5) - 1))])


def is_cluster(client: Client) -> bool:
    return client.__class__.__name__ == "RedisCluster"


def memory_bytes(client: Client) -> int:
    """used_memory of the Redis, summed over the masters of a cluster."""
    if is_cluster(client):
        per_node = client.info("memory", target_nodes=client.PRIMARIES)
        return sum(int(i["used_memory"]) for i in per_node.values())
    return int(client.info("memory")["used_memory"])


def server_stats(client: Client) -> dict[str, float]:
    """Redis's own time in EVALSHA (the append script) and AOF rewrites so far, over every master."""
    nodes = (
        list(client.info("all", target_nodes=client.PRIMARIES).values()) if is_cluster(client) else [client.info("all")]
    )
    evalsha = [n.get("cmdstat_evalsha", {"usec": 0, "calls": 0}) for n in nodes]
    return {
        "evalsha_usec": float(sum(int(e["usec"]) for e in evalsha)),
        "evalsha_calls": float(sum(int(e["calls"]) for e in evalsha)),
        "aof_rewrites": float(sum(int(n.get("aof_rewrites", 0)) for n in nodes)),
    }


def flush(client: Client) -> None:
    """Empty the Redis (every master of a cluster)."""
    if is_cluster(client):
        client.flushall(target_nodes=client.PRIMARIES)
    else:
        client.flushall()


def _make(k: int, geometry: bool) -> tuple[GridTree, dict[str, Any]]:
    """Pool task: county number `k` of the province."""
    return province_county(k, geometry=geometry)


# -- 1. load ------------------------------------------------------------------------


@dataclass
class Loaded:
    """What loading the province gave."""

    codes: list[str]
    grids: int
    load_s: list[float]
    load_cpu_s: list[float]
    wall_s: float
    on_view: GridTree
    on_view_geometry: dict[str, Any]


def load_province(client: Client, counties: int, on_view: int, geometry: bool) -> Loaded:
    """Generate counties 1…`counties` in a pool and load each one's registry as it arrives."""
    codes: list[str] = []
    load_s: list[float] = []
    load_cpu_s: list[float] = []
    grids = 0
    kept: tuple[GridTree, dict[str, Any]] | None = None
    t_start = time.perf_counter()
    workers = max(1, os.cpu_count() or 1)
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        pending = collections.deque(pool.submit(_make, k, geometry) for k in range(1, counties + 1))
        for k in range(1, counties + 1):
            tree, geo = pending.popleft().result()  # in order; dropped once loaded
            actor = Actor("bench-setup", Role.COMMANDER, tree.root)
            c0, t0 = time.process_time(), time.perf_counter()
            County(client, tree.root).load_registry(tree, geo or None, actor, source="province")
            load_s.append(time.perf_counter() - t0)
            load_cpu_s.append(time.process_time() - c0)
            codes.append(tree.root)
            grids += summary(tree)["grids"]
            if k == on_view:
                kept = (tree, geo)
            if k % 10 == 0 or k == counties:
                say(f"loaded {k}/{counties} counties ({grids:,} grids) in {time.perf_counter() - t_start:.0f} s")
    assert kept is not None
    return Loaded(codes, grids, load_s, load_cpu_s, time.perf_counter() - t_start, kept[0], kept[1])


# -- 2. activity ----------------------------------------------------------------------


def activate(client: Client, code: str, reports: int, seed: int) -> int:
    """Wartime, one mass-testing operation, `reports` reports appended and projected; their sum."""
    from streams.projector import Projector

    county = County(client, code)
    actor = Actor("bench-setup", Role.COMMANDER, code)
    county.switch(actor, SwitchRequest(code, "wartime", "epidemic", "II", "province bench"))
    county.launch(actor, "mass_testing", code, f"全员核酸 {code}", operation=OPERATION)
    gen = Reports(leaf_grids(county.tree), OPERATION, seed=seed, prefix=f"{code}-")
    at = int(time.time() * 1000)
    for done in range(0, reports, 1000):
        county.log.append_many(gen.pending(min(1000, reports - done), at))
    Projector(client, code, consumer=f"bench-{code}", publish=False).catch_up(timeout_s=300)
    return gen.total


# -- 3. in-process view (children) -----------------------------------------------------


def view_child(url: str, code: str, operation: str, warm: int) -> dict[str, Any]:
    """In a fresh interpreter: the cold view, then `warm` repeats; timings in ms."""
    client = connect(url)
    client.ping()
    c0, t0 = time.process_time(), time.perf_counter()
    county = County(client, code)
    t1 = time.perf_counter()
    tree = county.tree
    scope = [tree.root, *tree.towns]
    totals = county.progress.totals(operation, scope)
    t2, c2 = time.perf_counter(), time.process_time()
    laps = []
    again = totals
    for _ in range(warm):
        a = time.perf_counter()
        county.refresh()
        again = county.progress.totals(operation, scope)
        laps.append((time.perf_counter() - a) * 1000)
    if again != totals:
        raise AssertionError("totals moved while the province was idle")
    return {
        "cold_ms": (t2 - t0) * 1000,
        "cold_cpu_ms": (c2 - c0) * 1000,
        "cold_fold_ms": (t1 - t0) * 1000,
        "cold_totals_ms": (t2 - t1) * 1000,
        "warm_ms": laps,
        "total": totals[tree.root][COUNTER],
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(url: str, code: str, operation: str, warm: int) -> dict[str, Any]:
    """`view_child` in a new process (``python -m bench.bench_province --child …``)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_province", "--child", url, code, operation, str(warm)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300,
    )
    if out.returncode != 0:
        raise RuntimeError(f"view child failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# -- 4. HTTP view ------------------------------------------------------------------------


@dataclass
class Server:
    """A `wartime serve` in its own process group."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_cold(url: str, data: Path, county: str, workers: int = 2) -> Server:
    """``wartime serve`` ready to answer, its workers not yet having loaded any county.

    Readiness is probed on a static asset (no county involved), twice a worker's
    worth, then a pause so that both workers have booted.
    """
    from bench.bench_http import free_port

    port, live = free_port(), free_port()
    log = data / f"serve-{port}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "serve", "--data", str(data), "--redis", url,
             "--port", str(port), "--live-port", str(live), "--workers", str(workers), "--county", county],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT,
        )
    server = Server(proc, port, log)
    deadline = time.monotonic() + 120
    ok = 0
    while time.monotonic() < deadline and ok < 2 * workers:
        if proc.poll() is not None:
            raise RuntimeError(f"wartime serve exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            status, _ = get(port, "/assets/live.js")
            ok += status == 200
        except OSError:
            time.sleep(0.2)
    if ok < 2 * workers:
        server.stop()
        raise RuntimeError("wartime serve did not serve its assets within 120 s")
    time.sleep(2.0)
    return server


def get(port: int, path: str, token: str = "", conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    """One GET (on `conn` if given, else a fresh connection): (status, body)."""
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        resp = c.getresponse()
        return resp.status, resp.read()
    finally:
        if conn is None:
            c.close()


def timed_get(port: int, path: str, token: str, conn: http.client.HTTPConnection | None = None) -> tuple[float, Any]:
    """(ms, JSON answer) of one GET that must answer 200."""
    t0 = time.perf_counter()
    status, raw = get(port, path, token, conn)
    ms = (time.perf_counter() - t0) * 1000
    if status != 200:
        raise AssertionError(f"GET {path}: {status} {raw[:300]!r}")
    return ms, json.loads(raw)


def http_views(
    url: str, data: Path, tree: GridTree, token: str, expected: int, restarts: int, warm: int
) -> dict[str, list[float]]:
    """Cold samples (first answers after a fresh start) and warm ones, per endpoint."""
    rng = random.Random(5)
    codes = [tree.root, *tree.towns, *rng.sample(
        [g for g in tree.grids if tree[g].level in (Level.LARGE, Level.MEDIUM, Level.SMALL)], 40)]
    town = tree.towns[len(tree.towns) // 2]
    paths = {
        "grid": lambda: f"/api/v1/grids/{rng.choice(codes)}",
        "progress": lambda: f"/api/v1/operations/{OPERATION}/progress",
        "progress_town": lambda: f"/api/v1/operations/{OPERATION}/progress?grid={town}",
    }
    out: dict[str, list[float]] = {f"{k}_{w}": [] for k in paths for w in ("cold", "warm")}
    for r in range(restarts):
        server = start_cold(url, data, tree.root)
        try:
            for name in ("grid", "progress"):
                ms, answer = timed_get(server.port, paths[name](), token)
                out[f"{name}_cold"].append(ms)
            if answer["counts"][COUNTER] != expected:
                raise AssertionError(f"served total {answer['counts'][COUNTER]} != appended {expected}")
            if r == restarts - 1:
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                for name in paths:  # one untimed round: both workers warm
                    timed_get(server.port, paths[name](), token, conn)
                for i in range(warm * len(paths)):
                    name = list(paths)[i % len(paths)]
                    ms, answer = timed_get(server.port, paths[name](), token, conn)
                    out[f"{name}_warm"].append(ms)
                conn.close()
        finally:
            server.stop()
        say(f"HTTP start {r + 1}/{restarts}: first GET grid {out['grid_cold'][-1]:.0f} ms, "
            f"first GET progress {out['progress_cold'][-1]:.0f} ms")
    return out


def mint_token(client: Client, code: str) -> str:
    """A commander account over the county and a session token for it."""
    from dashboard.auth import Accounts

    county = County(client, code)
    accounts = Accounts(county)
    accounts.add("bench-commander", PASSWORD, "commander", code, Actor("bench-setup", Role.COMMANDER, code))
    return accounts.issue(Actor("bench-commander", Role.COMMANDER, code))


# -- 5. the registry's weight ---------------------------------------------------------------


def registry_weight(client: Client, code: str) -> dict[str, float]:
    """Fetch of the registry entry alone (client and server time) and the control fold."""
    from command.fold import forget_trees
    from streams.keys import CountyKeys
    from streams.readmodel import ControlView

    keys = CountyKeys(code)
    first = client.xrange(keys.log, "-", "+", count=1)
    size = sum(len(v) for v in first[0][1].values())
    usec0 = _xrange_usec(client, keys.log)
    laps = []
    for _ in range(5):
        t0 = time.perf_counter()
        client.xrange(keys.log, "-", "+", count=1)
        laps.append((time.perf_counter() - t0) * 1000)
    usec1 = _xrange_usec(client, keys.log)
    folds, cached = [], []
    for _ in range(3):
        forget_trees()  # as a fresh process folds it: no tree built before
        t0 = time.perf_counter()
        view = ControlView(client, code)
        view.refresh()
        assert view.tree is not None  # the tree is built when first read
        folds.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        view = ControlView(client, code)
        view.refresh()
        assert view.tree is not None
        cached.append((time.perf_counter() - t0) * 1000)
    return {
        "registry_event_mb": size / 1e6,
        "registry_fetch_ms": min(laps),
        "registry_xrange_redis_ms": (usec1[0] - usec0[0]) / max(1, usec1[1] - usec0[1]) / 1000,
        "control_fold_ms": min(folds),
        "control_fold_cached_ms": min(cached),
    }


def _xrange_usec(client: Client, key: str) -> tuple[int, int]:
    """(usec, calls) of XRANGE on the node that holds `key` (INFO commandstats)."""
    if is_cluster(client):
        info = client.info("commandstats", target_nodes=client.get_node_from_key(key))
    else:
        info = client.info("commandstats")
    stats = info.get("cmdstat_xrange", {"usec": 0, "calls": 0})
    return int(stats["usec"]), int(stats["calls"])


# -- the suite entry --------------------------------------------------------------------------


def run(
    redis_url: str, quick: bool, counties: int | None = None, geometry: bool | None = None
) -> dict[str, float]:
    """Load the province into `redis_url` (flushed first), then time one county's view.

    ``quick``: 10 counties without polygons (generation dominates otherwise); the full run
    loads 100 counties with their polygons.
    """
    n = counties or (10 if quick else 100)
    geometry = (not quick) if geometry is None else geometry
    on_view_k = (n + 1) // 2
    cold_samples, warm, restarts = (3, 100, 1) if quick else (10, 300, 3)
    client = connect(redis_url)
    flush(client)
    mem0 = memory_bytes(client)
    out: dict[str, float] = {"counties": n}

    say(f"generating and loading {n} Pingnan-shaped counties{'' if geometry else ' (no polygons)'} ...")
    stats0 = server_stats(client)
    loaded = load_province(client, n, on_view_k, geometry)
    stats1 = server_stats(client)
    mem1 = memory_bytes(client)
    out["grids"] = loaded.grids
    out["load_total_s"] = loaded.wall_s
    out["load_registry_p50_s"] = pct(loaded.load_s, 50)
    out["load_registry_max_s"] = max(loaded.load_s)
    out["load_registry_sum_s"] = sum(loaded.load_s)
    out["load_registry_cpu_p50_s"] = pct(loaded.load_cpu_s, 50)
    calls = max(1.0, stats1["evalsha_calls"] - stats0["evalsha_calls"])
    out["load_append_redis_ms"] = (stats1["evalsha_usec"] - stats0["evalsha_usec"]) / calls / 1000
    out["load_aof_rewrites"] = stats1["aof_rewrites"] - stats0["aof_rewrites"]
    out["redis_memory_mb"] = (mem1 - mem0) / 1e6
    out["redis_memory_per_county_mb"] = (mem1 - mem0) / 1e6 / n
    say(f"{n} counties, {loaded.grids:,} grids loaded in {loaded.wall_s:.0f} s (generation included); "
        f"load_registry p50 {out['load_registry_p50_s']:.2f} s (CPU {out['load_registry_cpu_p50_s']:.2f} s), "
        f"max {out['load_registry_max_s']:.2f} s, "
        f"sum {out['load_registry_sum_s']:.0f} s (Redis's own time per append {out['load_append_redis_ms']:.1f} ms; "
        f"{out['load_aof_rewrites']:.0f} AOF rewrites); Redis memory {out['redis_memory_mb']:,.0f} MB "
        f"({out['redis_memory_per_county_mb']:.1f} MB per county)")

    code = loaded.codes[on_view_k - 1]
    reports = 20_000 if quick else 100_000
    t0 = time.perf_counter()
    expected = activate(client, code, reports, seed=1)
    busy = [c for i, c in enumerate(loaded.codes, start=1) if i % 10 == 0 and c != code]
    for i, other in enumerate(busy):
        activate(client, other, 5_000, seed=100 + i)
    out["busy_counties"] = 1 + len(busy)
    say(f"county on view {code}: wartime, {reports:,} reports projected (total {expected:,}); "
        f"{len(busy)} other counties busy too ({time.perf_counter() - t0:.0f} s)")

    samples = [run_child(redis_url, code, OPERATION, warm if i == 0 else 20) for i in range(cold_samples)]
    for s in samples:
        if s["total"] != expected:
            raise AssertionError(f"county total {s['total']} != appended {expected}")
    cold = [s["cold_ms"] for s in samples]
    warm_laps = [x for s in samples for x in s["warm_ms"]]
    out["view_cold_p50_ms"] = pct(cold, 50)
    out["view_cold_p99_ms"] = pct(cold, 99)
    out["view_cold_cpu_p50_ms"] = pct([s["cold_cpu_ms"] for s in samples], 50)
    out["view_cold_fold_p50_ms"] = pct([s["cold_fold_ms"] for s in samples], 50)
    out["view_cold_totals_p50_ms"] = pct([s["cold_totals_ms"] for s in samples], 50)
    out["view_warm_p50_ms"] = pct(warm_laps, 50)
    out["view_warm_p99_ms"] = pct(warm_laps, 99)
    out["view_process_rss_mb"] = max(s["rss_mb"] for s in samples)
    say(f"in-process view of {code}: cold p50 {out['view_cold_p50_ms']:.0f} ms p99 {out['view_cold_p99_ms']:.0f} ms "
        f"(fold {out['view_cold_fold_p50_ms']:.0f} ms + totals {out['view_cold_totals_p50_ms']:.1f} ms; "
        f"CPU {out['view_cold_cpu_p50_ms']:.0f} ms) over "
        f"{len(cold)} fresh processes; warm p50 {out['view_warm_p50_ms']:.1f} ms p99 {out['view_warm_p99_ms']:.1f} ms "
        f"({len(warm_laps)} views); process RSS {out['view_process_rss_mb']:.0f} MB")

    if current_county(client) == code:
        raise AssertionError("the county on view is the last one loaded: --county would go untested")
    token = mint_token(client, code)
    with tempfile.TemporaryDirectory(prefix="wartime-bench-province-") as d:
        views = http_views(redis_url, Path(d), loaded.on_view, token, expected, restarts, warm)
    for name, values in views.items():
        if not values:
            continue
        if name.endswith("_cold"):
            out[f"http_{name}_max_ms"] = max(values) if values else float("nan")
        else:
            out[f"http_{name}_p50_ms"] = pct(values, 50)
            out[f"http_{name}_p99_ms"] = pct(values, 99)
    say("HTTP warm: " + ", ".join(
        f"{k} p50 {out[f'http_{k}_warm_p50_ms']:.1f} ms p99 {out[f'http_{k}_warm_p99_ms']:.1f} ms"
        for k in ("grid", "progress", "progress_town")))

    weight = registry_weight(client, code)
    out.update(weight)
    actor = Actor("bench-setup", Role.COMMANDER, code)
    for _ in range(2):
        County(client, code).load_registry(loaded.on_view, loaded.on_view_geometry or None, actor, source="re-import")
    again = registry_weight(client, code)
    out["control_fold_after_2_reimports_ms"] = again["control_fold_ms"]
    out["control_fold_cached_after_2_reimports_ms"] = again["control_fold_cached_ms"]
    say(f"registry event {weight['registry_event_mb']:.2f} MB: fetched alone in {weight['registry_fetch_ms']:.1f} ms "
        f"(Redis {weight['registry_xrange_redis_ms']:.1f} ms); control fold {weight['control_fold_ms']:.0f} ms "
        f"({weight['control_fold_cached_ms']:.0f} ms with the tree memo of the process), "
        f"{again['control_fold_ms']:.0f} ms ({again['control_fold_cached_ms']:.0f} ms) after two re-imports")
    redo = [run_child(redis_url, code, OPERATION, 0) for _ in range(cold_samples)]
    for s in redo:
        if s["total"] != expected:
            raise AssertionError(f"county total {s['total']} != appended {expected} after re-imports")
    out["view_cold_after_2_reimports_p50_ms"] = pct([s["cold_ms"] for s in redo], 50)
    out["view_cold_after_2_reimports_p99_ms"] = pct([s["cold_ms"] for s in redo], 99)
    out["view_cold_after_2_reimports_cpu_p50_ms"] = pct([s["cold_cpu_ms"] for s in redo], 50)
    say(f"cold view after two re-imports: p50 {out['view_cold_after_2_reimports_p50_ms']:.0f} ms "
        f"p99 {out['view_cold_after_2_reimports_p99_ms']:.0f} ms "
        f"(CPU {out['view_cold_after_2_reimports_cpu_p50_ms']:.0f} ms) over {len(redo)} fresh processes")
    town_keys = TownKeys(loaded.on_view.towns[0])
    if int(client.exists(town_keys.log)) != 1:
        raise AssertionError("the county on view lost its town stream")
    flush(client)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run alone: ``python -m bench.bench_province [--quick] [--counties N] [--[no-]geometry] [--redis URL]``."""
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        url, code, operation, warm = argv[1:5]
        print(json.dumps(view_child(url, code, operation, int(warm))))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--redis", default=None,
                   help="a Redis (or a cluster, ?cluster=1) the bench may flush; default: a throwaway embedded one")
    p.add_argument("--quick", action="store_true", help="10 counties (no polygons) instead of 100")
    p.add_argument("--counties", type=int, default=None)
    p.add_argument("--geometry", action=argparse.BooleanOptionalAction, default=None,
                   help="load the polygons too (default: yes, but not with --quick)")
    args = p.parse_args(argv)
    from bench.results import machine_info, print_results

    if args.redis:
        res = run(args.redis, args.quick, args.counties, args.geometry)
    else:
        with embedded_redis() as url:
            res = run(url, args.quick, args.counties, args.geometry)
    print_results({"province": res}, {"province": TARGETS}, machine=machine_info())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
