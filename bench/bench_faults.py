"""Fault soak: field clients report over HTTP while everything is SIGKILLed, round after round.

The long version of tests/faults/test_kills.py, for `wartime bench`: a
`wartime serve` that owns its embedded Redis (in a throwaway data directory —
the suite's ``redis_url`` is not used, because the supervisor must own the Redis
it restarts), 8 clients retrying every report with its ``report_id`` until it is
acknowledged, and rounds of faults spread over the run — the server's process
group SIGKILLed and restarted, redis-server SIGKILLed (restarted by the
supervisor), the projector SIGKILLed mid-batch twice, Redis refusing writes.
Then the log and every grid's total are compared with what was acknowledged.

Figures: ``reports``, ``faults_survived``, ``lost`` (acknowledged, not in the
log), ``counted_twice``, ``grids_off`` (grids whose total differs from the
acknowledged sum), ``http_503``, ``connection_errors``, ``soak_s`` and the
acknowledged ``throughput_rps`` including the outages.
"""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path

from bench.soak import Field, OwnServe, count_check, fault_round, make_reports, seed_embedded
from bench.testbed import make_tree
from streams.server import EmbeddedRedis

TARGETS: dict[str, tuple[str, float]] = {
    "lost": ("<=", 0),
    "counted_twice": ("<=", 0),
    "grids_off": ("<=", 0),
}


def run(redis_url: str, quick: bool) -> dict[str, float]:
    """Soak (its own embedded Redis; `redis_url` is left alone)."""
    del redis_url
    rounds, n = (1, 1500) if quick else (4, 12_000)
    with tempfile.TemporaryDirectory(prefix="wartime-soak-") as tmp:
        data, logs = Path(tmp) / "data", Path(tmp) / "logs"
        data.mkdir()
        logs.mkdir()
        url, op = seed_embedded(data)
        serve = OwnServe(data, logs)
        serve.start()
        faults: list[str] = []
        t0 = time.monotonic()
        try:
            leaves = [g for g in make_tree().grids if g.count("-") == 4]
            reports = make_reports(n, leaves, "soak")
            field = Field(serve.url, serve.token(), op, reports, clients=8)
            field.start()
            for r in range(rounds):
                lo = 0.05 + 0.9 * r / rounds
                fault_round(serve, field, lo, lo + 0.8 / rounds, faults)
                print(f"  faults: round {r + 1}/{rounds} survived ({field.done}/{n} acknowledged)", flush=True)
            field.join(timeout=1800)
            elapsed = time.monotonic() - t0
            tally = count_check(url, op, reports, field.acked)
        finally:
            serve.kill(signal.SIGTERM)
            EmbeddedRedis(data).stop()
    conn = sum(v for k, v in field.statuses.items() if not k.isdigit())
    return {
        "reports": float(n),
        "faults_survived": float(len(faults)),
        "lost": float(tally.lost + tally.unacknowledged),
        "counted_twice": float(tally.twice),
        "grids_off": float(len(tally.grids_off) + len(tally.parents_off)),
        "http_503": float(field.statuses.get("503", 0)),
        "http_other_errors": float(len(field.failures)),
        "connection_errors": float(conn),
        "soak_s": round(elapsed, 1),
        "throughput_rps": round(n / elapsed, 1),
    }
