"""Fault-injection harness: a `wartime serve` that owns its embedded Redis, clients that retry, checks.

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

from tests.conftest import PASSWORD, free_port

ROOT = Path(__file__).resolve().parents[2]


def seed_embedded(data: Path, geometry: dict[str, Any] | None = None) -> tuple[str, str]:
    """Start the data directory's embedded Redis, load the test county in wartime and open one operation."""
    from command.access import Actor, Role
    from command.modes import SwitchRequest
    from streams.county import County
    from streams.server import EmbeddedRedis, connect
    from tests.conftest import seed_county

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


def verify_exact(redis_url: str, op: str, reports: list[Report], acked: dict[str, Any], timeout: float = 90) -> int:
    """Every acknowledged report in the log exactly once; every grid's total exact. Returns grids checked."""
    from command.events import ProgressReported
    from streams.county import County
    from streams.projector import Projector
    from streams.server import connect

    county = County(connect(redis_url), "TC")
    tree = county.tree
    want_ids = set(acked)
    assert want_ids == {r.report_id for r in reports}, "some reports were never acknowledged"
    # The log: each acknowledged report id exactly once, nothing else for this operation.
    seen: Counter[str] = Counter()
    for rec in county.log.replay():
        ev = rec.event
        if isinstance(ev, ProgressReported) and ev.operation == op:
            seen[ev.report_id] += 1
    dupes = {k: v for k, v in seen.items() if v != 1}
    assert not dupes, f"reports in the log more than once: {list(dupes.items())[:5]}"
    assert set(seen) == want_ids, (len(set(seen) - want_ids), len(want_ids - set(seen)))
    # The read models: wait for the projector, then every grid equals the acknowledged sum beneath it.
    expected: Counter[str] = Counter()
    for r in reports:
        for g in tree.path(r.grid):
            expected[g] += r.amount
    probe = Projector(county.client, "TC", consumer="verify", publish=False)
    probe.view.refresh()
    wait_until(lambda: probe.lag_entries() == 0, timeout, "the projector to apply every entry")
    county.refresh()
    grids = list(tree.subtree(tree.root))
    totals = county.progress.totals(op, grids)
    wrong = {g: (totals[g].get("sampled", 0), expected[g]) for g in grids if totals[g].get("sampled", 0) != expected[g]}
    assert not wrong, f"grids off: {list(wrong.items())[:8]}"
    for g in grids:
        kids = tree.children[g]
        if kids:
            assert totals[g].get("sampled", 0) == sum(totals[k].get("sampled", 0) for k in kids), g
    return len(grids)
