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
from pathlib import Path

from bench.soak import Field, OwnServe, fault_round, make_reports, seed_embedded, verify_exact
from streams.server import EmbeddedRedis
from tests.conftest import make_tree

REPORTS = int(os.environ.get("WARTIME_FAULT_REPORTS", "2000"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def test_kills_of_server_redis_and_projector_lose_nothing_and_count_nothing_twice(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    data.mkdir()
    logs.mkdir()
    url, op = seed_embedded(data)
    serve = OwnServe(data, logs)
    serve.start()
    faults: list[str] = []
    try:
        leaves = [g for g in make_tree().grids if g.count("-") == 4]
        reports = make_reports(REPORTS, leaves, "k")
        field = Field(serve.url, serve.token(), op, reports, clients=8)
        field.start()
        fault_round(serve, field, 0.15, 0.85, faults)
        field.join(timeout=300)
        assert not field.failures, field.failures[:5]
        grids = verify_exact(url, op, reports, field.acked)
    finally:
        serve.kill(signal.SIGTERM)
        EmbeddedRedis(data).stop()
    assert len(faults) == 5
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "faults.json").write_text(json.dumps({
        "reports": REPORTS, "acknowledged": len(field.acked),
        "duplicates_acknowledged": sum(1 for s, _ in field.acked.values() if s == 200),
        "answers": dict(field.statuses), "faults": faults, "grids_checked_exact": grids,
    }, indent=1))
