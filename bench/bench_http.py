"""HTTP reports/s, latency and projector lag of `wartime serve` under 64 concurrent field clients.

For each worker count (``--workers 1, 2, 3``; ``--quick``: 2 only) the bench
flushes its Redis, seeds the Pingnan county with a commander account, starts
the real production server (``python -m dashboard.cli serve``: gunicorn,
projector, live hub, scheduler) over that Redis — AOF with ``appendfsync
always`` when it is the embedded one — and then, over HTTP only: logs in,
switches the county to wartime, launches mass testing, and drives 64 clients
that each send one report, wait for the answer and send the next, over
keep-alive connections, for ``--seconds`` (20 s; the first 2 s are warm-up and
not counted).

The load generator is a separate process: one asyncio loop with 64 connections
speaking minimal HTTP/1.1 on raw streams (pre-built request bytes, a
Content-Length reader). On this 2-core machine it shares the CPU with the
server, so it must be cheap; its CPU per request is reported
(``loadgen_cpu_us``) — about a quarter of what http.client threads cost (see
bench/README.md). Meanwhile the bench polls ``GET /api/v1/health`` every 100 ms
for ``projector_lag_ms``.

Reported per worker count N (metric prefix ``wN_``): sustained reports/s
(201 answers in the window), p50/p99 latency, lag p50/p99, non-2xx answers,
CPU seconds per 1,000 reports of the gunicorn workers, the projector, the
rest of the server and redis-server, Redis commands per report, Redis's worst
AOF fsync stall per second, the server's RSS, and the time the projector
needed to drain after the load stopped (the workers' kernel CPU shown apart:
``cpu_workers_sys_ms_per_k``). ``--worker-class gthread`` serves with
gunicorn's thread-per-request worker instead of the default asyncio one
(dashboard.asgi), for comparison. ``--profile DIR`` adds py-spy
breakdowns of the workers and the projector. Every run ends by checking
that the county total served by the API equals the sum of the counts the
server acknowledged with 201.

Why one module: the server under test, the asyncio load generator and the
lag probe are started, timed and stopped together for each worker count; the
figures only mean something as one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import math
import multiprocessing as mp
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.bench_core import ACTOR, embedded_redis, fsync_stalls, leaf_grids, pingnan, say_to, watch_fsync
from streams.server import connect

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-1"
CLIENTS = 64
WARMUP_S = 2.0

TARGETS: dict[str, tuple[str, float]] = {}
for _w in (1, 2, 3):
    TARGETS[f"w{_w}_rps"] = (">=", 2000)
    TARGETS[f"w{_w}_p99_ms"] = ("<=", 100)
    TARGETS[f"w{_w}_lag_p99_ms"] = ("<=", 500)
"""Issue 3's targets on the 2-core reference machine, for each worker count."""

say = say_to("http")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of unsorted values; NaN when empty."""
    if not values:
        return float("nan")
    v = sorted(values)
    return float(v[min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))])


# -- the server ---------------------------------------------------------------------


@dataclass
class Server:
    """A running `wartime serve` in its own process group."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_server(redis_url: str, data: Path, workers: int) -> Server:
    """`python -m dashboard.cli serve …` and wait for /health."""
    port, live = free_port(), free_port()
    log = data / f"serve-w{workers}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "serve", "--data", str(data), "--redis", redis_url,
             "--port", str(port), "--live-port", str(live), "--workers", str(workers)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT,
        )
    server = Server(proc, port, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"wartime serve exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            status, _ = request(port, "GET", "/api/v1/health")
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError("wartime serve did not answer /api/v1/health within 90 s")


def request(port: int, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, Any]:
    """One JSON request on a fresh connection (setup, not measured)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, json.loads(raw) if raw else None


def process_tree(pid: int) -> list[int]:
    """`pid` and every descendant (from /proc)."""
    parents: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def _stat(pid: int) -> tuple[float, float, int]:
    """(cpu seconds, start time in ticks, rss bytes) of one process."""
    tick = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/stat", "rb") as f:
        parts = f.read().rsplit(b")", 1)[1].split()
    cpu = (int(parts[11]) + int(parts[12])) / tick
    return cpu, int(parts[19]), int(parts[21]) * os.sysconf("SC_PAGE_SIZE")


def server_roles(pid: int) -> dict[int, str]:
    """Which process of `wartime serve` is which: supervisor, web workers, projector, others.

    The supervisor spawns web (the gunicorn master: the child with children,
    its workers), then the projector, the live hub and the scheduler, in that
    order (so in pid order).
    """
    roles = {pid: "supervisor"}
    tree = process_tree(pid)
    kids = sorted(p for p in tree if _ppid(p) == pid and "resource_tracker" not in _cmdline(p))
    web = next((k for k in kids if any(_ppid(p) == k for p in tree)), None)
    rest = [k for k in kids if k != web]
    if web is not None:
        roles[web] = "gunicorn-master"
        for w in tree:
            if _ppid(w) == web:
                roles[w] = "workers"
    for i, p in enumerate(rest):
        roles[p] = "projector" if i == 0 else "live+scheduler"
    return roles


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except OSError:
        return -1


def cpu_by_role(roles: dict[int, str]) -> dict[str, float]:
    """CPU seconds so far per role (processes that vanished count 0); ``<role>-sys``: the kernel's part."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid, role in roles.items():
        with contextlib.suppress(OSError):
            out[role] = out.get(role, 0.0) + _stat(pid)[0]
            with open(f"/proc/{pid}/stat", "rb") as f:
                out[f"{role}-sys"] = out.get(f"{role}-sys", 0.0) + int(f.read().rsplit(b")", 1)[1].split()[12]) / tick
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of the whole server (every process), in MB."""
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            total += _stat(p)[2]
    return total / 1e6


# -- the load generator (its own process) -----------------------------------------------


@dataclass
class LoadResult:
    """What the load generator saw."""

    started: float = 0.0
    samples: list[tuple[float, float, int, int]] = field(default_factory=list)  # (t_end, latency s, status, count)
    cpu_s: float = 0.0
    errors: list[str] = field(default_factory=list)


async def _client(
    port: int, token: str, op: str, grids: list[str], prefix: str, stop_at: float, res: LoadResult, seed: int
) -> None:
    rng = random.Random(seed)
    head = (
        f"POST /api/v1/operations/{op}/reports HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    ).encode()
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    n = 0
    loop = asyncio.get_running_loop()
    while loop.time() < stop_at:
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert reader is not None
        n += 1
        k = rng.randint(1, 9)
        body = (
            f'{{"report_id":"{prefix}-{n}","grid":"{rng.choice(grids)}","counts":{{"sampled":{k}}}}}'
        ).encode()
        t0 = time.perf_counter()
        writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        try:
            status_line_and_headers = await reader.readuntil(b"\r\n\r\n")
            lines = status_line_and_headers.split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            length, close = 0, False
            for h in lines[1:]:
                name, _, value = h.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value)
                elif lname == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            res.errors.append(repr(exc))
            writer.close()
            writer = None
            continue
        res.samples.append((time.perf_counter(), time.perf_counter() - t0, status, k))
        if close:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def _loadgen_main(port: int, token: str, op: str, grids: list[str], seconds: float, conn: Connection) -> None:
    """Entry of the load-generator process: run the clients, send back the samples."""

    async def main() -> LoadResult:
        res = LoadResult(started=time.perf_counter())
        stop_at = asyncio.get_running_loop().time() + seconds
        await asyncio.gather(*(
            _client(port, token, op, grids, f"c{i}-{os.getpid()}", stop_at, res, i) for i in range(CLIENTS)
        ))
        return res

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    res = asyncio.run(main())
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    res.cpu_s = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    conn.send((res.started, res.samples, res.cpu_s, res.errors[:20], len(res.errors)))
    conn.close()



# -- optional profiles (py-spy) -------------------------------------------------------

WORKER_PARTS: list[tuple[str, str]] = [
    ("gunicorn: read + parse the request", "Parser.__next__ (gunicorn"),
    ("gunicorn: write the response", "Response.write ("),
    ("Flask app (routing, hooks, handler, response)", "Flask.wsgi_app ("),
    ("  auth: Accounts.verify (HMAC, JSON, Redis)", "Accounts.verify ("),
    ("  body(): parse JSON", "body (dashboard/api.py"),
    ("intake: a report, token to answer (dashboard.intake)", "Intake.receive"),
    ("  County.plan_report (refresh, validate)", "County.plan_report ("),
    ("  County.append_report (encode, EVALSHA)", "County.append_report"),
    ("  audit entry (after_request XADD)", "_audit (dashboard/audit.py"),
    ("  security headers", "_security_headers ("),
    ("  JSON answer", "_json (dashboard/api.py"),
    ("asgi worker: report on the event loop", "ASGIApp._report ("),
    ("asgi worker: other requests (WSGI in threads)", "run (dashboard/asgi.py"),
    ("group commit: append_each of a batch", "send_batch ("),
    ("audit writer thread", "Writer._write ("),
    ("redis-py, all calls (pack, send, parse, pool)", "(redis/"),
]
"""Stack fragments → parts of a gunicorn worker's CPU (GIL-holding samples), inclusive."""

PROJECTOR_PARTS: list[tuple[str, str]] = [
    ("XREAD (waiting for news)", "Projector._wait ("),
    ("a page of one stream (_pump)", "Projector._pump ("),
    ("a page of every ready town (_pump_towns)", "Projector._pump_towns ("),
    ("  fold (plan the writes)", "Projector._plan_town ("),
    ("  aggregate_reports", "aggregate_reports ("),
    ("  APPLY script calls (wait + send)", "Projector._apply_all ("),
    ("  publish totals", "Projector._send ("),
    ("backlog (drain)", "Projector.drain ("),
    ("leases (claim_streams)", "claim_streams ("),
    ("ControlView.refresh", "ControlView.refresh ("),
    ("redis-py, all calls (incl. waiting for replies)", "(redis/"),
]
"""Stack fragments → parts of the projector loop's wall time (idle included), inclusive."""


def have_py_spy() -> bool:
    """py-spy is optional: profiles are taken only when it is installed and may ptrace."""
    from shutil import which

    return which("py-spy") is not None


def profile_pids(pids: dict[int, str], seconds: float, out: Path) -> dict[int, Path]:
    """`py-spy record` each pid for `seconds`, in parallel.

    Workers are sampled only while holding the GIL (where their CPU goes); the
    projector with idle samples too (where its time goes, waits included).
    """
    procs: dict[int, tuple[subprocess.Popen[bytes], Path]] = {}
    for pid, role in pids.items():
        path = out / f"pyspy-{role}-{pid}.txt"
        path.unlink(missing_ok=True)
        mode = "--gil" if role == "workers" else "--idle"
        procs[pid] = (subprocess.Popen(
            ["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100",
             "--format", "raw", mode, "--nonblocking", "-o", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ), path)
    done: dict[int, Path] = {}
    for pid, (proc, path) in procs.items():
        proc.wait(timeout=seconds + 60)
        if path.exists():
            done[pid] = path
    return done


def summarize(paths: Sequence[Path], parts: list[tuple[str, str]], within: str) -> tuple[int, list[tuple[str, float]]]:
    """Inclusive share of each part among the samples whose stack contains `within`."""
    total = 0
    hits = [0] * len(parts)
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, n = line.rpartition(" ")
            if within not in stack or not n.isdigit():
                continue
            k = int(n)
            total += k
            for i, (_, frag) in enumerate(parts):
                if frag in stack:
                    hits[i] += k
    return total, [(name, h / total if total else 0.0) for (name, _), h in zip(parts, hits, strict=True)]


def top_frames(paths: Sequence[Path], within: str, n: int = 10) -> list[tuple[str, float]]:
    """The `n` leaf frames (exclusive time) most often sampled among stacks containing `within`."""
    counts: dict[str, int] = {}
    total = 0
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, k = line.rpartition(" ")
            if within not in stack or not k.isdigit():
                continue
            leaf = stack.rsplit(";", 1)[-1]
            counts[leaf] = counts.get(leaf, 0) + int(k)
            total += int(k)
    best = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
    return [(frame, c / total) for frame, c in best]


def print_profile(title: str, total: int, shares: list[tuple[str, float]]) -> None:
    say(f"profile: {title} ({total} samples, inclusive)")
    for name, share in shares:
        say(f"    {share * 100:5.1f} %  {name}")


# -- one run -------------------------------------------------------------------------


def _poll_health(port: int, stop: threading.Event, out: list[tuple[float, float]]) -> None:
    """GET /health every 100 ms on one keep-alive connection: (time, projector_lag_ms)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        t = time.perf_counter()
        try:
            conn.request("GET", "/api/v1/health")
            resp = conn.getresponse()
            data = json.loads(resp.read())
            lag = data.get("projector_lag_ms")
            if lag is not None:
                out.append((t, float(lag)))
        except (OSError, http.client.HTTPException, ValueError):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        stop.wait(max(0.0, 0.1 - (time.perf_counter() - t)))
    conn.close()


def seed(redis_url: str) -> list[str]:
    """Flush, load Pingnan and add the bench commander; returns the leaf grids."""
    from command.access import Actor, Role
    from dashboard.auth import Accounts
    from streams.county import County
    from streams.projector import Projector

    client = connect(redis_url)
    client.flushall()
    tree, geo = pingnan()
    county = County(client, tree.root)
    actor = Actor(ACTOR.username, Role.COMMANDER, tree.root)
    county.load_registry(tree, geo, actor, source="bench")
    Accounts(county).add("bench-commander", PASSWORD, "commander", tree.root, actor)
    Projector(client, tree.root, consumer="bench-seed", publish=False).catch_up(timeout_s=120)
    return leaf_grids(tree)


def run_once(
    redis_url: str, workers: int, seconds: float, data: Path, profile: Path | None = None
) -> dict[str, float]:
    """Seed, serve with `workers` workers, drive 64 clients, measure, stop."""
    grids = seed(redis_url)
    client = connect(redis_url)
    root = pingnan()[0].root
    server = start_server(redis_url, data, workers)
    try:
        status, s = request(server.port, "POST", "/api/v1/session",
                            {"username": "bench-commander", "password": PASSWORD})
        if status != 200:
            raise RuntimeError(f"login refused: {status} {s}")
        token = s["token"]
        status, out = request(server.port, "POST", "/api/v1/modes", {
            "scope": root, "mode": "wartime", "incident": "epidemic", "level": "II", "reason": "bench"}, token)
        if status != 200:
            raise RuntimeError(f"switch refused: {status} {out}")
        status, out = request(server.port, "POST", "/api/v1/operations", {
            "kind": "mass_testing", "scope": root, "name": "全员核酸 bench"}, token)
        if status != 201:
            raise RuntimeError(f"launch refused: {status} {out}")
        op = out["operation_id"]
        time.sleep(1.0)  # let the projector fold the launch before the load starts
        roles = server_roles(server.proc.pid)
        redis_cpu0 = _redis_cpu(client)
        stats0 = _cmdstats(client)
        watch_fsync(client)
        cpu0 = cpu_by_role(roles)
        lags: list[tuple[float, float]] = []
        stop = threading.Event()
        poller = threading.Thread(target=_poll_health, args=(server.port, stop, lags), daemon=True)
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        gen = ctx.Process(target=_loadgen_main, args=(server.port, token, op, grids, seconds + WARMUP_S, child))
        gen.start()
        poller.start()
        profiles: dict[int, Path] = {}
        if profile is not None and have_py_spy():
            time.sleep(WARMUP_S)
            targets = {p: r for p, r in roles.items() if r in ("workers", "projector")}
            profile.mkdir(parents=True, exist_ok=True)
            profiles = profile_pids(targets, max(2.0, seconds - 2), profile)
        started, samples, gen_cpu, errors, n_errors = parent.recv()
        gen.join()
        load_end = time.perf_counter()
        cpu1 = cpu_by_role(roles)
        redis_cpu1 = _redis_cpu(client)
        stats1 = _cmdstats(client)
        stalls = fsync_stalls(client)
        rss = rss_mb(server.proc.pid)
        # Drain: how long until the projector has applied everything.
        drain_s = float("nan")
        while time.perf_counter() - load_end < 60:
            if lags and lags[-1][0] > load_end and lags[-1][1] == 0:
                drain_s = lags[-1][0] - load_end
                break
            time.sleep(0.05)
        stop.set()
        poller.join()
        t_from, t_to = started + WARMUP_S, started + WARMUP_S + seconds
        window = [s for s in samples if t_from <= s[0] - s[1] and s[0] <= t_to]
        ok = [s for s in window if s[2] == 201]
        lat = [s[1] * 1000 for s in window]
        lag_w = [v for t, v in lags if t_from <= t <= t_to]
        accepted = sum(s[3] for s in samples if s[2] == 201)
        status, prog = request(server.port, "GET", f"/api/v1/operations/{op}/progress", token=token)
        served_total = int(prog["counts"]["sampled"]) if status == 200 else -1
        if served_total != accepted:
            raise AssertionError(f"county total {served_total} != acknowledged {accepted}")
        n = len(ok)
        res = {
            "rps": n / seconds,
            "p50_ms": pct(lat, 50),
            "p99_ms": pct(lat, 99),
            "lag_p50_ms": pct(lag_w, 50),
            "lag_p99_ms": pct(lag_w, 99),
            "non2xx": float(sum(1 for s in window if s[2] >= 300) + n_errors),
            "drain_s": drain_s,
            "rss_mb": rss,
            "loadgen_cpu_us": gen_cpu / max(1, len(samples)) * 1e6,
        }
        per_k = 1000 / max(1, len(samples))
        for role in ("workers", "projector", "gunicorn-master", "live+scheduler", "supervisor"):
            res[f"cpu_{role.replace('+', '_').replace('-', '_')}_ms_per_k"] = (
                (cpu1.get(role, 0.0) - cpu0.get(role, 0.0)) * 1000 * per_k
            )
        res["cpu_workers_sys_ms_per_k"] = (cpu1.get("workers-sys", 0.0) - cpu0.get("workers-sys", 0.0)) * 1000 * per_k
        res["cpu_redis_ms_per_k"] = (redis_cpu1 - redis_cpu0) * 1000 * per_k
        calls = {k: stats1[k] - stats0.get(k, 0) for k in stats1}
        res["redis_cmds_per_report"] = sum(calls.values()) / max(1, len(samples))
        res.update(stalls)
        say(f"--workers {workers}: {res['rps']:,.0f} reports/s, p50 {res['p50_ms']:.1f} ms, "
            f"p99 {res['p99_ms']:.1f} ms, lag p50 {res['lag_p50_ms']:.0f} ms p99 {res['lag_p99_ms']:.0f} ms, "
            f"non-2xx {res['non2xx']:.0f}, drained in {drain_s:.2f} s, RSS {rss:,.0f} MB; "
            f"CPU ms per 1k reports: workers {res['cpu_workers_ms_per_k']:.0f} "
            f"(kernel {res['cpu_workers_sys_ms_per_k']:.0f}), "
            f"projector {res['cpu_projector_ms_per_k']:.0f}, redis {res['cpu_redis_ms_per_k']:.0f}, "
            f"loadgen {res['loadgen_cpu_us']:.0f} us/req")
        top = sorted(calls.items(), key=lambda kv: -kv[1])[:10]
        if stalls:
            say(f"Redis AOF fsync stalls (worst per second): median {stalls['redis_fsync_stall_p50_ms']:.0f} ms, "
                f"max {stalls['redis_fsync_stall_max_ms']:.0f} ms")
        say(f"Redis commands per report: {res['redis_cmds_per_report']:.1f} — "
            + ", ".join(f"{k} {v / max(1, len(samples)):.2f}" for k, v in top))
        if errors:
            say(f"client errors ({n_errors}): {errors[:3]}")
        if profiles:
            wp = [p for pid, p in profiles.items() if roles[pid] == "workers"]
            print_profile(f"gunicorn workers' CPU (GIL held) while serving reports (--workers {workers})",
                          *summarize(wp, WORKER_PARTS, ""))
            for frame, share in top_frames(wp, ""):
                say(f"    {share * 100:5.1f} %  leaf {frame}")
            pp = [p for pid, p in profiles.items() if roles[pid] == "projector"]
            print_profile("projector loop, wall-clock", *summarize(pp, PROJECTOR_PARTS, "Projector.run ("))
            for frame, share in top_frames(pp, "Projector.run ("):
                say(f"    {share * 100:5.1f} %  leaf {frame}")
        return res
    finally:
        server.stop()


def _cmdstats(client: Any) -> dict[str, int]:
    """Calls so far per Redis command (every client: API, projector, health polls)."""
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in client.info("commandstats").items()}


def _redis_cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def run(
    redis_url: str, quick: bool, workers: Sequence[int] | None = None, seconds: float | None = None,
    profile: Path | None = None,
) -> dict[str, float]:
    """The suite entry: every worker count, figures prefixed ``wN_``."""
    counts = list(workers or ((2,) if quick else (1, 2, 3)))
    secs = seconds or (5.0 if quick else 20.0)
    out: dict[str, float] = {"clients": CLIENTS, "seconds": secs}
    with tempfile.TemporaryDirectory(prefix="wartime-bench-http-") as d:
        for w in counts:
            for k, v in run_once(redis_url, w, secs, Path(d), profile).items():
                out[f"w{w}_{k}"] = v
    return out


def main(argv: list[str] | None = None) -> int:
    """Run alone: ``python -m bench.bench_http [--quick] [--workers 1,2,3] [--seconds 20] [--redis URL]``."""
    p = argparse.ArgumentParser(description="wartime serve under 64 concurrent reporting clients")
    p.add_argument("--redis", default=None, help="a Redis the bench may flush (default: a throwaway embedded one)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--workers", default=None, help="comma-separated worker counts (default 1,2,3; quick: 2)")
    p.add_argument("--seconds", type=float, default=None, help="measured seconds per worker count")
    p.add_argument("--worker-class", choices=["asgi", "gthread"], default=None,
                   help="gunicorn worker class of the server (default: wartime serve's, asgi)")
    p.add_argument("--profile", metavar="DIR", default=None,
                   help="py-spy the workers and the projector during the load; raw stacks kept in DIR")
    args = p.parse_args(argv)
    from bench.results import machine_info, print_results

    if args.worker_class:
        os.environ["WARTIME_WORKER_CLASS"] = args.worker_class  # inherited by `wartime serve`
    workers = [int(w) for w in args.workers.split(",")] if args.workers else None
    prof = Path(args.profile) if args.profile else None
    if args.redis:
        res = run(args.redis, args.quick, workers, args.seconds, prof)
    else:
        with embedded_redis() as url:
            res = run(url, args.quick, workers, args.seconds, prof)
    print_results({"http": res}, {"http": TARGETS}, machine=machine_info())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
