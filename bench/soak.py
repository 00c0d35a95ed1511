"""Fault-injection harness (bench/bench_faults.py, tests/faults): a serve that owns its Redis, retrying clients, checks.

* `OwnServe` runs ``wartime serve --data DIR`` **without** ``--redis``: the
  server uses (and its supervisor restarts) the embedded redis-server of DIR,
  exactly as in production. It reads ``DIR/serve.json`` (written by the
  supervisor) to find the projector's pid, and ``DIR/redis.pid`` for Redis's.
* `Field` is a crowd of field clients: threads that each send their share of
  reports over HTTP, retrying every report with the same ``report_id`` until it
  is acknowledged (201, or 200 duplicate) — through 503s, resets, refused
  connections and timeouts. Every answer is tallied; anything but 200, 201 and
  503 is recorded as a failure.
* `verify_exact` checks the promise: every acknowledged report is in the log
  exactly once, and every grid's total — leaves and every roll-up — equals the
  sum of the acknowledged amounts beneath it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.testbed import PASSWORD, free_port, seed_county

ROOT = Path(__file__).resolve().parents[1]


def seed_embedded(data: Path, geometry: dict[str, Any] | None = None) -> tuple[str, str]:
    """Start the data directory's embedded Redis, load the test county in wartime and open one operation."""
    from command.access import Actor, Role
    from command.modes import SwitchRequest
    from streams.county import County
    from streams.server import EmbeddedRedis, connect

    url = EmbeddedRedis(data).start()
    seed_county(url, None, geometry)
    county = County(connect(url), "TC")
    boss = Actor("commander", Role.COMMANDER, "TC")
    county.switch(boss, SwitchRequest("TC", "wartime", "epidemic", "II", "fault drill"))
    op = county.launch(boss, "mass_testing", "TC", "故障演练").event.operation  # type: ignore[attr-defined]
    return url, str(op)


@dataclass
class OwnServe:
    """`wartime serve` over the embedded Redis of `data`, restartable on the same ports."""

    data: Path
    logs: Path
    workers: int = 2
    port: int = field(default_factory=free_port)
    live_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        env = {k: v for k, v in os.environ.items() if k != "WARTIME_REDIS_URL"}
        with open(self.logs / f"serve-{self.starts}.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dashboard.cli", "serve", "--data", str(self.data), "--port", str(self.port),
                 "--live-port", str(self.live_port), "--workers", str(self.workers)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT, env=env,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log_tail())
            try:
                if requests.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200 and self.state():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not start: " + self.log_tail())

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the server's whole process group (supervisor, gunicorn, projector, live, scheduler)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def log_tail(self) -> str:
        return "".join(p.read_text(errors="replace")[-2000:] for p in sorted(self.logs.glob("serve-*.log")))

    def state(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.data / "serve.json").read_text()))
        except (OSError, ValueError):
            return {}

    def child_pid(self, name: str) -> int:
        return int(self.state()["children"][name])

    def redis_pid(self) -> int:
        from streams.server import EmbeddedRedis

        pid = EmbeddedRedis(self.data).pid()
        assert pid is not None
        return pid

    def token(self, user: str = "commander") -> str:
        r = requests.post(f"{self.url}/api/v1/session", json={"username": user, "password": PASSWORD}, timeout=30)
        r.raise_for_status()
        return str(r.json()["token"])


@dataclass
class Report:
    report_id: str
    grid: str
    amount: int


@dataclass
class Field:
    """Concurrent field clients sending reports with retries until each is acknowledged."""

    url: str
    token: str
    op: str
    reports: list[Report]
    clients: int = 8
    acked: dict[str, tuple[int, str]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    log: list[tuple[float, str, int | str]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        shares = [self.reports[i :: self.clients] for i in range(self.clients)]
        self.threads = [threading.Thread(target=self._run, args=(s,), daemon=True) for s in shares]
        for t in self.threads:
            t.start()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self.stop.set()
        assert not any(t.is_alive() for t in self.threads), "field clients did not finish in time"

    def _note(self, report_id: str, outcome: int | str) -> None:
        with self.lock:
            self.statuses[str(outcome)] += 1
            self.log.append((time.monotonic(), report_id, outcome))

    def _run(self, share: list[Report]) -> None:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {self.token}"
        rng = random.Random(hash(share[0].report_id) if share else 0)
        for rep in share:
            body: dict[str, Any] = {"report_id": rep.report_id, "grid": rep.grid, "counts": {"sampled": rep.amount}}
            delay = 0.02
            while not self.stop.is_set():
                try:
                    r = s.post(f"{self.url}/api/v1/operations/{self.op}/reports", json=body, timeout=10)
                except requests.RequestException as exc:
                    self._note(rep.report_id, type(exc).__name__)
                    s = requests.Session()
                    s.headers["Authorization"] = f"Bearer {self.token}"
                    time.sleep(delay + rng.random() * delay)
                    delay = min(delay * 2, 0.5)
                    continue
                self._note(rep.report_id, r.status_code)
                if r.status_code in (200, 201):
                    with self.lock:
                        self.acked[rep.report_id] = (r.status_code, r.json()["event_id"])
                    break
                if r.status_code != 503:
                    with self.lock:
                        self.failures.append(f"{rep.report_id}: {r.status_code} {r.text[:200]}")
                time.sleep(delay + rng.random() * delay)
                delay = min(delay * 2, 0.5)

    @property
    def done(self) -> int:
        with self.lock:
            return len(self.acked)


def make_reports(n: int, leaves: list[str], prefix: str, seed: int = 1) -> list[Report]:
    rng = random.Random(seed)
    return [Report(f"{prefix}-{i}", rng.choice(leaves), rng.randint(1, 9)) for i in range(n)]


def wait_until(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Tally:
    """What the log and the read models say about a set of reports."""

    lost: int  # acknowledged, not in the log
    twice: int  # in the log more than once
    unacknowledged: int  # never acknowledged (the clients gave up)
    grids_off: dict[str, tuple[int, int]]  # grid → (projected, expected)
    parents_off: list[str]  # grids whose total is not the sum of their children's
    grids: int


def count_check(redis_url: str, op: str, reports: list[Report], acked: dict[str, Any], timeout: float = 90) -> Tally:
    """Compare the log and every grid's projected total with the acknowledged reports."""
    from command.events import ProgressReported
    from streams.county import County
    from streams.projector import Projector
    from streams.server import connect

    county = County(connect(redis_url), "TC")
    tree = county.tree
    want_ids = set(acked)
    seen: Counter[str] = Counter()
    for rec in county.log.replay():
        ev = rec.event
        if isinstance(ev, ProgressReported) and ev.operation == op:
            seen[ev.report_id] += 1
    expected: Counter[str] = Counter()
    for r in reports:
        if r.report_id in seen:  # what the log holds is what must be counted
            for g in tree.path(r.grid):
                expected[g] += r.amount
    probe = Projector(county.client, "TC", consumer="verify", publish=False)
    probe.view.refresh()
    wait_until(lambda: probe.lag_entries() == 0, timeout, "the projector to apply every entry")
    county.refresh()
    grids = list(tree.subtree(tree.root))
    totals = county.progress.totals(op, grids)
    got = {g: totals[g].get("sampled", 0) for g in grids}
    return Tally(
        lost=len(want_ids - set(seen)),
        twice=sum(1 for v in seen.values() if v > 1),
        unacknowledged=len({r.report_id for r in reports} - want_ids),
        grids_off={g: (got[g], expected[g]) for g in grids if got[g] != expected[g]},
        parents_off=[g for g in grids if tree.children[g] and got[g] != sum(got[k] for k in tree.children[g])],
        grids=len(grids),
    )


def verify_exact(redis_url: str, op: str, reports: list[Report], acked: dict[str, Any], timeout: float = 90) -> int:
    """Every acknowledged report in the log exactly once; every grid's total exact. Returns grids checked."""
    t = count_check(redis_url, op, reports, acked, timeout)
    assert t.unacknowledged == 0, f"{t.unacknowledged} reports were never acknowledged"
    assert t.lost == 0, f"{t.lost} acknowledged reports are not in the log"
    assert t.twice == 0, f"{t.twice} reports are in the log more than once"
    assert not t.grids_off, f"grids off (projected, expected): {list(t.grids_off.items())[:8]}"
    assert not t.parents_off, f"parents not the sum of their children: {t.parents_off[:8]}"
    return t.grids


def lag_entries(redis_url: str) -> int:
    """Entries appended but not yet applied by the projectors."""
    from streams.projector import Projector
    from streams.server import connect

    p = Projector(connect(redis_url), "TC", consumer="probe", publish=False)
    p.view.refresh()
    return p.lag_entries()


def town_entries(r: Any) -> int:
    """Entries in the test county's town streams."""
    return sum(int(r.xlen(f"wt:{{{t}}}:log")) for t in ("TC01", "TC02"))


def fault_round(serve: OwnServe, field: Field, lo: float, hi: float, faults: list[str]) -> None:
    """One round of every fault, spread between `lo` and `hi` (fractions of the reports acknowledged).

    SIGKILL the server's process group and restart it; SIGKILL the embedded Redis and wait
    for the supervisor to restart it; SIGKILL the projector while it is behind, twice; make
    Redis refuse writes for a while and check that nothing is appended and no new report is
    acknowledged meanwhile.
    """
    import redis as redis_lib

    from streams.server import EmbeddedRedis

    n = len(field.reports)
    step = (hi - lo) / 5
    embedded = EmbeddedRedis(serve.data)

    def reach(frac: float) -> None:
        wait_until(lambda: field.done >= n * frac, 300, f"{frac:.0%} acknowledged")

    reach(lo)
    serve.kill(signal.SIGKILL)
    time.sleep(0.5)
    serve.start()
    faults.append("wartime serve SIGKILLed (process group) and restarted")

    reach(lo + step)
    restarts = serve.state().get("redis_restarts", 0)
    old = serve.redis_pid()
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: serve.state().get("redis_restarts", 0) > restarts, 60, "the supervisor to restart redis")
    assert embedded.pid() != old and embedded.running()
    faults.append("embedded redis-server SIGKILLed; restarted by the supervisor from its AOF")

    for k in (2, 3):
        reach(lo + k * step)
        wait_until(lambda: lag_entries(embedded.url) > 0, 30, "the projector to be behind")
        pid = serve.child_pid("projector-1")
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda pid=pid: serve.child_pid("projector-1") != pid, 60, "the projector's restart")
        faults.append("projector SIGKILLed mid-batch; restarted by the supervisor")

    reach(lo + 4 * step)
    admin = redis_lib.Redis(unix_socket_path=str(embedded.socket))
    admin.config_set("min-replicas-to-write", 1)
    try:
        t_on, entries_on, answers_on = time.monotonic(), town_entries(admin), sum(field.statuses.values())
        wait_until(lambda: sum(field.statuses.values()) > answers_on + 20 or field.done == n, 30,
                   "answers while Redis refuses writes")
        time.sleep(0.5)
        entries_off = town_entries(admin)
        with field.lock:
            during = [o for t, _, o in field.log if t > t_on + 0.3]
    finally:
        admin.config_set("min-replicas-to-write", 0)
    assert entries_off == entries_on, "an entry was appended while Redis refused writes"
    assert 503 in during or field.done == n
    # (a 200 is fine: a duplicate of what was written before says so truthfully, writing nothing)
    assert 201 not in during, "a new report acknowledged while Redis refused writes"
    faults.append("Redis refused writes (min-replicas-to-write 1): 503s, nothing appended")
