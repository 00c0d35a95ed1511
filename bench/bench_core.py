"""Core write/read path figures: raw XADD ceiling, log append, projector apply, replay.

One run against one Redis (a throwaway embedded ``redis-server`` with AOF
``appendfsync always``, or ``--redis URL``), on the generated Pingnan county in
wartime with one mass-testing operation, in this order, so every figure is
taken on the same server and the same growing log:

0. ``disk_fdatasync``: 200-byte append + fdatasync in the Redis data directory
   (what every acknowledged write waits for);
1. ``xadd_raw``: pipelined XADD of entries byte-for-byte the size of a real
   ``ProgressReported`` entry (pipelines of 1,000) — the ceiling for any append;
2. ``append_single``: `EventLog.append`, one call (one round trip, one fsync)
   per event, from one client — and from 16 threads, where Redis can fold the
   fsyncs of concurrent clients into one;
3. ``append_batch_100`` / ``append_batch_1000``: `EventLog.append_many` with
   reports spread over every leaf grid of all 21 towns (what a bulk import or
   the simulator does), plus the one-town case (one script call per batch);
4. ``projector``: a fresh `Projector.catch_up()` from zero over the stream
   those appends built (``--events``, default 500,000 reports);
5. ``replay``: the log topped up to 1,000,000 events (by a script inside Redis
   writing `encode`'s exact wire form: setup, not measured), then
   `streams.replay.rebuild` — read models dropped and rebuilt.

Each rate comes with the CPU per event of this process and of redis-server
(`Meter`): on a shared machine the wall-clock rate moves with the neighbours,
the CPU cost much less. Every phase checks what it measured: the projector's
and the replay's county totals must equal the sum of the increments appended.
The module's `run` follows the suite interface of `bench.run`;
``python -m bench.bench_core`` runs it alone.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import resource
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from command.access import Actor, Role
from command.events import ProgressReported, encode
from command.grids import GridTree
from command.modes import SwitchRequest
from streams.county import County
from streams.log import EventLog, Pending
from streams.server import Client, EmbeddedRedis, connect

OPERATION = "op-bench"
COUNTER = "sampled"
ACTOR = Actor("bench-commander", Role.COMMANDER, "")

TARGETS: dict[str, tuple[str, float]] = {
    "projector_eps": (">=", 100_000),
    "append_batch_ratio": (">=", 0.5),
    "replay_1m_s": ("<=", 15.0),
}
"""Issue 2's targets on the 2-core reference machine."""


# -- shared setup (also used by bench_http and the other suite modules) -----------------


@functools.cache
def pingnan() -> tuple[GridTree, dict[str, Any]]:
    """The generated Pingnan registry (a few seconds; made once per process)."""
    from command.generate import generate

    return generate("pingnan")


def leaf_grids(tree: GridTree) -> list[str]:
    """Grids that take reports: no children and inside a town (every shard has some)."""
    return [g for g in tree.grids if not tree.children[g] and tree.town_of(g) is not None]


@contextmanager
def embedded_redis() -> Iterator[str]:
    """A throwaway embedded redis-server (AOF, appendfsync always) in a temp directory."""
    with tempfile.TemporaryDirectory(prefix="wartime-bench-") as d:
        server = EmbeddedRedis(Path(d))
        url = server.start()
        try:
            yield url
        finally:
            server.stop()


def run_alone(doc: str, run: Callable[[str, bool], dict[str, float]],
              targets: dict[str, tuple[str, float]]) -> int:
    """A bench module's `main`: --redis URL (flushed) or a throwaway embedded Redis, then its figures."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--redis", help="Redis URL to use (FLUSHALL is run on it)")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.redis:
        figures = run(args.redis, args.quick)
    else:
        with embedded_redis() as url:
            figures = run(url, args.quick)
    for k, v in figures.items():
        target = targets.get(k)
        mark = "" if target is None else f"  (target {target[0]} {target[1]:g})"
        print(f"{k} = {v:g}{mark}")
    return 0


@dataclass
class Seeded:
    """A Pingnan county in wartime with one open mass-testing operation."""

    client: Client
    county: County
    tree: GridTree
    leaves: list[str]
    operation: str


def seed_pingnan(client: Client, *, operation: str = OPERATION, geometry: bool = True) -> Seeded:
    """Load Pingnan, switch the whole county to wartime and launch mass testing."""
    tree, geo = pingnan()
    county = County(client, tree.root)
    actor = Actor(ACTOR.username, Role.COMMANDER, tree.root)
    county.load_registry(tree, geo if geometry else None, actor, source="bench")
    county.switch(actor, SwitchRequest(tree.root, "wartime", "epidemic", "II", "benchmark"))
    county.launch(actor, "mass_testing", tree.root, "全员核酸 benchmark", operation=operation)
    return Seeded(client, county, tree, leaf_grids(tree), operation)


class Reports:
    """A seeded, reproducible stream of report events over the leaf grids."""

    def __init__(self, leaves: list[str], operation: str = OPERATION, seed: int = 1, prefix: str = "r") -> None:
        self.leaves = leaves
        self.operation = operation
        self.rng = random.Random(seed)
        self.prefix = prefix
        self.n = 0
        self.total = 0

    def pending(self, count: int, at: int, grids: list[str] | None = None) -> list[Pending]:
        """`count` new reports (unique report ids), on `grids` or on any leaf."""
        pool = grids or self.leaves
        out = []
        for _ in range(count):
            self.n += 1
            k = self.rng.randint(1, 20)
            self.total += k
            rid = f"{self.prefix}{self.n}"
            ev = ProgressReported(
                operation=self.operation, grid=self.rng.choice(pool), counts={COUNTER: k}, report_id=rid
            )
            out.append(Pending(ev, "bench-leader", at, f"{self.operation}:{rid}"))
        return out


def county_total(county: County, operation: str = OPERATION) -> int:
    """The county roll-up of the headline counter, as readers see it."""
    county.refresh()
    root = county.tree.root
    return county.progress.totals(operation, [root])[root][COUNTER]


def log_events(client: Client, log: EventLog) -> int:
    """Entries in every stream of the county."""
    return sum(int(client.xlen(s)) for s in log.streams())


def now_ms() -> int:
    return int(time.time() * 1000)


def say_to(name: str) -> Callable[[str], None]:
    """A progress printer for one bench module (prefixed lines on stdout)."""

    def say(msg: str) -> None:
        print(f"  [{name}] {msg}", flush=True)

    return say


say = say_to("core")


# -- measuring ------------------------------------------------------------------------


class Meter:
    """Wall time, this process's CPU and redis-server's CPU over a block.

    CPU per event is the figure to compare between runs on a shared machine:
    wall-clock rates fall when other work competes for the two cores, CPU cost
    per event much less so.
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self.wall = self.cpu = self.redis_cpu = 0.0

    def _redis(self) -> float:
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    @staticmethod
    def _own() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def __enter__(self) -> Meter:
        self._w, self._c, self._r = time.perf_counter(), self._own(), self._redis()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._w
        self.cpu += self._own() - self._c
        self.redis_cpu += self._redis() - self._r

    def figures(self, name: str, events: int) -> dict[str, float]:
        """``NAME_eps`` plus client and server CPU microseconds per event."""
        return {
            f"{name}_eps": events / self.wall,
            f"{name}_client_cpu_us": self.cpu / events * 1e6,
            f"{name}_redis_cpu_us": self.redis_cpu / events * 1e6,
        }


def fsync_latency(directory: Path, n: int = 500) -> dict[str, float]:
    """p50/p99 of append-200-bytes-then-fdatasync in `directory`: what `appendfsync always` waits for."""
    path = directory / "bench-fsync.tmp"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    lat = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 200)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            lat.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    lat.sort()
    return {"disk_fdatasync_p50_ms": lat[n // 2], "disk_fdatasync_p99_ms": lat[min(n - 1, n * 99 // 100)]}


def redis_dir(client: Client) -> Path:
    """Where the Redis keeps its AOF (a temp dir when CONFIG is refused)."""
    try:
        return Path(client.config_get("dir")["dir"])
    except Exception:
        return Path(tempfile.gettempdir())


def watch_fsync(client: Client) -> None:
    """Have Redis record its slow AOF fsyncs (LATENCY monitor, 1 ms threshold) from now on."""
    try:
        client.config_set("latency-monitor-threshold", 1)
        client.execute_command("LATENCY", "RESET")
    except Exception:  # a managed Redis may refuse CONFIG: the figure is then missing, nothing else
        pass


def fsync_stalls(client: Client) -> dict[str, float]:
    """Per-second worst `appendfsync always` stall since `watch_fsync`: median and max, in ms.

    Redis fsyncs in its main thread before answering: for that long it serves nobody.
    """
    try:
        hist = client.execute_command("LATENCY", "HISTORY", "aof-fsync-always") or []
    except Exception:
        return {}
    worst = sorted(float(ms) for _, ms in hist)
    if not worst:
        return {"redis_fsync_stall_p50_ms": 0.0, "redis_fsync_stall_max_ms": 0.0}
    return {"redis_fsync_stall_p50_ms": worst[len(worst) // 2], "redis_fsync_stall_max_ms": worst[-1]}


# -- phases ---------------------------------------------------------------------------


def bench_xadd_raw(client: Client, sample: Pending, n: int, pipe_size: int = 1000) -> Meter:
    """Pipelined XADD of real-size report entries to a scratch stream: the ceiling."""
    fields = encode(sample.event, actor=sample.actor, at=sample.at, key=sample.key)
    stream = "bench:raw"
    client.delete(stream)
    done = 0
    with Meter(client) as m:
        while done < n:
            pipe = client.pipeline(transaction=False)
            for _ in range(min(pipe_size, n - done)):
                pipe.xadd(stream, fields)
            pipe.execute()
            done += pipe_size
    client.delete(stream)
    return m


def bench_single(log: EventLog, reports: Reports, n: int) -> Meter:
    """One `append` call per event from one client: a round trip and an fsync each."""
    items = reports.pending(n, now_ms())
    with Meter(log.client) as m:
        for p in items:
            log.append(p.event, actor=p.actor, at=p.at, key=p.key)
    return m


def bench_single_threads(url: str, seeded: Seeded, reports: Reports, n: int, threads: int = 16) -> Meter:
    """`append` from `threads` clients at once: concurrent writers share fsyncs."""
    items = reports.pending(n, now_ms())
    tree = seeded.tree
    chunks = [items[i::threads] for i in range(threads)]
    logs = [EventLog(connect(url), tree.root, tree.towns, tree.town_of) for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(log: EventLog, chunk: list[Pending]) -> None:
        barrier.wait()
        for p in chunk:
            log.append(p.event, actor=p.actor, at=p.at, key=p.key)

    ts = [threading.Thread(target=work, args=(lg, c)) for lg, c in zip(logs, chunks, strict=True)]
    for t in ts:
        t.start()
    with Meter(seeded.client) as m:
        barrier.wait()
        for t in ts:
            t.join()
    return m


def bench_batched(
    log: EventLog, reports: Reports, n: int, batch: int, grids: list[str] | None = None
) -> Meter:
    """`append_many` in batches of `batch` (building the events is not timed)."""
    m = Meter(log.client)
    done = 0
    while done < n:
        items = reports.pending(min(batch, n - done), now_ms(), grids)
        with m:
            log.append_many(items)
        done += len(items)
    return m


FILL_LUA = """
local out = 0
local n = tonumber(ARGV[1])
local ngrids = tonumber(ARGV[2])
local pre, mid, post, rid = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local t, v, a, at = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local first = tonumber(ARGV[11])
local keyp = ARGV[12]
for i = 0, n - 1 do
  local grid = ARGV[13 + (i % ngrids)]
  local k = (i % 20) + 1
  local id = rid .. (first + i)
  redis.call('XADD', KEYS[1], '*', 't', t, 'v', v, 'a', a, 'at', at, 'k', keyp .. id,
    'd', pre .. k .. mid .. grid .. post .. id .. '"}')
  out = out + k
end
return out
"""
"""Writes `n` report entries to one town stream inside Redis, in `encode`'s exact wire form."""


def fill(client: Client, seeded: Seeded, reports: Reports, n: int) -> None:
    """Top the log up with `n` reports, written by a script inside Redis (seconds, not minutes).

    Each entry is byte-for-byte what `encode` makes for a `ProgressReported`
    (checked below by decoding one back); replay reads only the streams, so how
    the entries got there does not change what it measures. `reports.total`
    grows by the increments written, for the final check.
    """
    from command.events import decode

    tree = seeded.tree
    probe = ProgressReported(operation=OPERATION, grid="@@G@@", counts={COUNTER: 7777777}, report_id="@@R@@")
    wire = encode(probe, actor="bench-leader", at=now_ms(), key="")
    d = wire["d"].decode() if isinstance(wire["d"], bytes) else str(wire["d"])
    pre, rest = d.split("7777777", 1)
    mid, rest = rest.split("@@G@@", 1)
    post, tail = rest.split("@@R@@", 1)
    if tail != '"}':
        raise RuntimeError(f"unexpected report wire form {d!r}: update bench.bench_core.FILL_LUA")
    script = client.register_script(FILL_LUA)
    by_town: dict[str, list[str]] = {}
    for g in seeded.leaves:
        by_town.setdefault(tree.town_of(g) or "", []).append(g)
    towns = sorted(by_town)
    per = -(-n // len(towns))
    done = 0
    for town in towns:
        m = min(per, n - done)
        if m <= 0:
            break
        stream = seeded.county.log.keys_for(ProgressReported(OPERATION, by_town[town][0], {COUNTER: 1}, "x")).log
        for off in range(0, m, 50_000):
            chunk = min(50_000, m - off)
            reports.total += int(script(keys=[stream], args=[
                chunk, len(by_town[town]), pre, mid, post, f"fill-{town}-", wire["t"], wire["v"], wire["a"],
                wire["at"], off, f"{OPERATION}:", *by_town[town],
            ]))
        done += m
    last = client.xrevrange(stream, "+", "-", count=1)[0]
    rec = decode(last[0], last[1], stream)
    if not isinstance(rec.event, ProgressReported) or rec.event.operation != OPERATION:
        raise RuntimeError(f"filled entry does not decode as a report: {rec}")
    reports.n += n


def bench_projector(seeded: Seeded) -> tuple[Meter, int]:
    """A fresh projector catching up from zero: (meter, events applied)."""
    from streams.projector import Projector

    proj = Projector(seeded.client, seeded.tree.root, consumer="bench", publish=False)
    with Meter(seeded.client) as m:
        applied = proj.catch_up(timeout_s=600)
    return m, applied


def bench_replay(seeded: Seeded) -> tuple[Meter, int]:
    """`streams.replay.rebuild` over the whole log: (meter, events)."""
    from streams.replay import rebuild

    with Meter(seeded.client) as m:
        n = rebuild(seeded.client, seeded.tree.root)
    return m, n


# -- the suite entry ------------------------------------------------------------------


def run(redis_url: str, quick: bool, events: int | None = None) -> dict[str, float]:
    """Every core figure against `redis_url` (flushed first: it must be a bench Redis)."""
    sizes = (
        dict(raw=50_000, single=300, threads=2_000, b100=10_000, projector=50_000, replay=100_000)
        if quick
        else dict(raw=200_000, single=2_000, threads=10_000, b100=30_000, projector=500_000, replay=1_000_000)
    )
    if events:
        sizes["projector"] = max(events, sizes["threads"] + sizes["single"] + 2 * sizes["b100"] + 1000)
    client = connect(redis_url)
    client.flushall()
    t0 = time.perf_counter()
    seeded = seed_pingnan(client)
    say(f"seeded Pingnan ({len(seeded.tree)} grids, {len(seeded.leaves)} leaf grids, "
        f"{len(seeded.tree.towns)} towns) in {time.perf_counter() - t0:.1f} s")
    log = seeded.county.log
    reports = Reports(seeded.leaves)
    out: dict[str, float] = {}
    out.update(fsync_latency(redis_dir(client)))
    say(f"fdatasync of the Redis data disk: p50 {out['disk_fdatasync_p50_ms']:.2f} ms, "
        f"p99 {out['disk_fdatasync_p99_ms']:.2f} ms")
    watch_fsync(client)

    def show(label: str, name: str, events: int, m: Meter) -> None:
        figs = m.figures(name, events)
        out.update(figs)
        say(f"{label}: {figs[name + '_eps']:,.0f} events/s "
            f"(CPU per event: client {figs[name + '_client_cpu_us']:.1f} us, "
            f"redis {figs[name + '_redis_cpu_us']:.1f} us)")

    sample = Reports(seeded.leaves, seed=99).pending(1, now_ms())[0]
    show("raw pipelined XADD (pipelines of 1,000)", "xadd_raw", sizes["raw"],
         bench_xadd_raw(client, sample, sizes["raw"]))
    show("append, one call per event, 1 client", "append_single", sizes["single"],
         bench_single(log, reports, sizes["single"]))
    show("append, one call per event, 16 threads", "append_single_16t", sizes["threads"],
         bench_single_threads(redis_url, seeded, reports, sizes["threads"]))
    show("append_many, batches of 100, all towns", "append_batch_100", sizes["b100"],
         bench_batched(log, reports, sizes["b100"], 100))
    town0 = seeded.tree.towns[0]
    one_town = [g for g in seeded.leaves if seeded.tree.town_of(g) == town0]
    show("append_many, batches of 1,000, one town", "append_batch_1000_1town", sizes["b100"],
         bench_batched(log, reports, sizes["b100"], 1000, one_town))
    rest = sizes["projector"] - reports.n
    show(f"append_many, batches of 1,000, all towns ({rest:,} events)", "append_batch_1000", rest,
         bench_batched(log, reports, rest, 1000))
    out["append_batch_ratio"] = out["append_batch_1000_eps"] / out["xadd_raw_eps"]
    say(f"batched append / raw XADD = {out['append_batch_ratio']:.2f}")

    m, applied = bench_projector(seeded)
    show(f"projector catch-up from zero ({applied:,} events, {m.wall:.1f} s)", "projector", applied, m)
    got, want = county_total(seeded.county), reports.total
    if got != want:
        raise AssertionError(f"projector total {got} != appended {want}")
    say(f"  county total {got:,} = sum of the increments appended")

    top_up = sizes["replay"] - log_events(client, log)
    if top_up > 0:
        t0 = time.perf_counter()
        fill(client, seeded, reports, top_up)
        say(f"topped the log up to {sizes['replay']:,} events (script inside Redis) "
            f"in {time.perf_counter() - t0:.1f} s")
    m, n = bench_replay(seeded)
    show(f"replay (rebuild) of {n:,} events in {m.wall:.1f} s", "replay", n, m)
    out["replay_events"] = n
    out["replay_s"] = m.wall
    out["replay_1m_s"] = m.wall * 1_000_000 / n
    got = county_total(seeded.county)
    if got != reports.total:
        raise AssertionError(f"replay total {got} != appended {reports.total}")
    say(f"  county total {got:,} = sum of the increments in the log")
    out.update(fsync_stalls(client))
    out["redis_used_memory_mb"] = int(client.info("memory")["used_memory"]) / 1e6
    client.flushall()
    return out


def main(argv: list[str] | None = None) -> int:
    """Run alone: ``python -m bench.bench_core [--quick] [--events N] [--redis URL]``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--redis", default=None, help="a Redis the bench may flush (default: a throwaway embedded one)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--events", type=int, default=None, help="reports in the projector's stream (default 500,000)")
    args = p.parse_args(argv)
    from bench.results import machine_info, print_results

    if args.redis:
        res = run(args.redis, args.quick, args.events)
    else:
        with embedded_redis() as url:
            res = run(url, args.quick, args.events)
    print_results({"core": res}, {"core": TARGETS}, machine=machine_info())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
