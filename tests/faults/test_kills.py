"""Kill everything, mid-stream: every acknowledged report counts exactly once and every roll-up is exact.

While a crowd of field clients sends thousands of reports over HTTP — each one
retried with its `report_id` until acknowledged — the test:

1. SIGKILLs `wartime serve` (its whole process group: supervisor, gunicorn
   workers, projector, live server, scheduler) and starts it again;
2. SIGKILLs the embedded `redis-server`; the supervisor must start it again
   from its AOF (`appendfsync always`) with no one's help;
3. SIGKILLs the projector while it is behind (mid-batch), twice; the
   supervisor restarts it and it takes its stream back;
4. makes Redis refuse writes (`min-replicas-to-write 1`): meanwhile reports get
   503 and nothing is appended — no acknowledgement without a write.

Then every acknowledged report is in the log exactly once and every grid's
total, leaves and roll-ups alike, equals the acknowledged amounts beneath it.
The figures (faults, answers by status) go to tests/artifacts/faults.json.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import redis

from streams.server import EmbeddedRedis
from tests.conftest import make_tree
from tests.faults.harness import Field, OwnServe, make_reports, seed_embedded, verify_exact, wait_until

REPORTS = int(os.environ.get("WARTIME_FAULT_REPORTS", "3000"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _lag(url: str) -> int:
    from streams.projector import Projector
    from streams.server import connect

    p = Projector(connect(url), "TC", consumer="probe", publish=False)
    p.view.refresh()
    return p.lag_entries()


def _town_entries(r: redis.Redis) -> int:
    return sum(int(r.xlen(f"wt:{{{t}}}:log")) for t in ("TC01", "TC02"))


def test_kills_of_server_redis_and_projector_lose_nothing_and_count_nothing_twice(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    data.mkdir()
    logs.mkdir()
    url, op = seed_embedded(data)
    embedded = EmbeddedRedis(data)
    serve = OwnServe(data, logs)
    serve.start()
    faults: list[str] = []
    try:
        leaves = [g for g in make_tree().grids if g.count("-") == 4]
        reports = make_reports(REPORTS, leaves, "k")
        field = Field(serve.url, serve.token(), op, reports, clients=8)
        field.start()

        # 1. The whole server, without warning.
        wait_until(lambda: field.done >= REPORTS * 0.15, 120, "15% acknowledged")
        serve.kill(signal.SIGKILL)
        faults.append("wartime serve SIGKILLed (process group) and restarted")
        time.sleep(0.5)
        serve.start()

        # 2. The embedded redis-server; the supervisor brings it back.
        wait_until(lambda: field.done >= REPORTS * 0.35, 120, "35% acknowledged")
        old = serve.redis_pid()
        os.kill(old, signal.SIGKILL)
        wait_until(lambda: serve.state().get("redis_restarts", 0) >= 1, 60, "the supervisor to restart redis-server")
        assert embedded.pid() != old and embedded.running()
        faults.append("embedded redis-server SIGKILLed; restarted by the supervisor from its AOF")

        # 3. The projector, while it has entries to apply (mid-batch), twice.
        for k in range(2):
            wait_until(lambda k=k: field.done >= REPORTS * (0.5 + 0.12 * k), 120, "more acknowledged")
            wait_until(lambda: _lag(url) > 0, 30, "the projector to be behind")
            pid = serve.child_pid("projector-1")
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda pid=pid: serve.child_pid("projector-1") != pid, 60, "the projector's restart")
            faults.append("projector SIGKILLed mid-batch; restarted by the supervisor")

        # 4. Redis refuses writes for a while.
        wait_until(lambda: field.done >= REPORTS * 0.8, 120, "80% acknowledged")
        admin = redis.Redis(unix_socket_path=str(embedded.socket))
        admin.config_set("min-replicas-to-write", 1)
        t_on, entries_on, answers_on = time.monotonic(), _town_entries(admin), sum(field.statuses.values())
        wait_until(lambda: sum(field.statuses.values()) > answers_on + 20 or field.done == REPORTS, 30,
                   "answers while Redis refuses writes")
        time.sleep(0.5)
        entries_off = _town_entries(admin)
        refused = [o for t, _, o in list(field.log) if t > t_on + 0.3 and o != 503]
        admin.config_set("min-replicas-to-write", 0)
        assert entries_off == entries_on, "an entry was appended while Redis refused writes"
        assert field.statuses["503"] > 0
        # (a 200 is fine: a duplicate of what was written before says so truthfully, writing nothing)
        assert 201 not in refused, "a new report acknowledged while Redis refused writes"
        faults.append("Redis refused writes (min-replicas-to-write 1): 503s, nothing appended")

        field.join(timeout=300)
        assert not field.failures, field.failures[:5]
        grids = verify_exact(url, op, reports, field.acked)
    finally:
        serve.kill(signal.SIGTERM)
        embedded.stop()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "faults.json").write_text(json.dumps({
        "reports": REPORTS, "acknowledged": len(field.acked),
        "duplicates_acknowledged": sum(1 for s, _ in field.acked.values() if s == 200),
        "answers": dict(field.statuses), "faults": faults, "grids_checked_exact": grids,
    }, indent=1))
