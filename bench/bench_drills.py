"""Drills (issue 19): how fast a drill of a 450,000-report operation replays while a live one takes 1,000/s.

Setup (not timed): Pingnan in wartime; a recorded mass-testing operation of
450,000 reports (``--quick``: 30,000) spread over eight hours of its own clock;
a second, live operation.

Timed: a live load — 1,000 reports a second on the live operation (batches of
100 every 0.1 s, appended as the intake does) with a live projector folding
them — while a drill of the recorded operation runs at 600×, its wall clock
advanced one second per step (so each step replays 600 s of the recording: the
drill's runner appends what is due, folds it with the drill's projector and runs
an alert round on the drill's clock). The drill's throughput with the live load
on is the figure; divided by the recording's own rate (events per recorded
second) it is what a drill needs at speed S: S × that rate. A step covers one
wall second of the drill; a drill keeps up while a step takes no more than
that, so the fastest speed that keeps up is about 600 ÷ (wall seconds a step
takes at 600×), capped at 600.

Figures: ``drill_events_per_s`` (recorded events replayed and folded per wall
second, live load on), ``drill_step_s`` (wall seconds per step at 600×),
``drill_keeps_up_speed`` (600 ÷ that, capped at 600), ``recorded_events_per_s``,
``live_reports_per_s`` (what the live load achieved meanwhile) and
``drill_live_unchanged`` (1 when the live operation's totals are exactly what
the live load sent, nothing of the drill in them).
"""

from __future__ import annotations

import threading
import time

from bench.bench_core import ACTOR, Reports, county_total, run_alone, seed_pingnan
from command.access import Actor, Role
from command.drills import MAX_SPEED
from streams.county import County
from streams.drills import DrillRunner, Drills
from streams.projector import Projector
from streams.server import connect

TARGETS: dict[str, tuple[str, float]] = {"live_reports_per_s": (">=", 1000.0)}
RECORDED = "op-recorded"
LIVE = "op-live"
HOURS = 8


class _Wall:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def _record(county: County, leaves: list[str], n: int, start: int) -> None:
    """`n` reports of the recorded operation, their envelopes spread over HOURS hours from `start`."""
    gen = Reports(leaves, RECORDED, seed=7, prefix="rec")
    batch = 2_000
    span = HOURS * 3_600_000
    for i in range(0, n, batch):
        count = min(batch, n - i)
        county.log.append_many(gen.pending(count, start + span * i // n))


def _live_load(redis_url: str, code: str, leaves: list[str], stop: threading.Event, sent: list[int]) -> None:
    county = County(connect(redis_url), code)
    gen = Reports(leaves, LIVE, seed=11, prefix="live")
    next_at = time.perf_counter()
    while not stop.is_set():
        county.log.append_many(gen.pending(100, int(time.time() * 1000)))
        sent[0] += 100
        sent[1] = gen.total
        next_at += 0.1
        pause = next_at - time.perf_counter()
        if pause > 0:
            stop.wait(pause)


def run(redis_url: str, quick: bool = False) -> dict[str, float]:
    client = connect(redis_url)
    client.flushall()
    seeded = seed_pingnan(client, operation=LIVE, geometry=False)
    county, tree, leaves = seeded.county, seeded.tree, seeded.leaves
    n = 30_000 if quick else 450_000
    start = int(time.time() * 1000) - (HOURS + 1) * 3_600_000
    actor = Actor(ACTOR.username, Role.COMMANDER, tree.root)
    County(client, tree.root, lambda: start).launch(actor, "mass_testing", tree.root, "recorded", operation=RECORDED)
    t0 = time.perf_counter()
    _record(county, leaves, n, start + 1)
    print(f"[drills] recorded {n:,} reports in {time.perf_counter() - t0:.1f} s", flush=True)
    live_projector = Projector(client, tree.root, consumer="live", publish=False)
    live_projector.catch_up(timeout_s=600)

    wall = _Wall(int(time.time() * 1000))
    drills = Drills(client, tree.root, wall)
    drill = drills.create(county, actor, RECORDED, MAX_SPEED, "bench")
    runner = DrillRunner(drills, drill.drill_id)

    stop = threading.Event()
    sent = [0, 0]
    proj_stop = threading.Event()
    projector_thread = threading.Thread(target=live_projector.run, args=(proj_stop,), daemon=True)
    load = threading.Thread(target=_live_load, args=(redis_url, tree.root, leaves, stop, sent), daemon=True)
    projector_thread.start()
    load.start()
    t_load = time.perf_counter()
    t1 = time.perf_counter()
    replayed = steps = 0
    while drills.get(drill.drill_id).live:
        wall.ms += 1000
        replayed += runner.step()
        steps += 1
    took = time.perf_counter() - t1
    stop.set()
    load.join()
    load_took = time.perf_counter() - t_load
    proj_stop.set()
    projector_thread.join()
    live_projector.catch_up(timeout_s=600)
    runner.close()
    live_total = county_total(County(client, tree.root), LIVE)
    rate = replayed / took
    recorded_rate = n / (HOURS * 3600)
    step_s = took / max(1, steps)  # wall seconds one step took; it covers one wall second of the drill
    print(f"[drills] drill replayed {replayed:,} events in {took:.1f} s ({rate:,.0f}/s) while live took "
          f"{sent[0] / load_took:,.0f} reports/s", flush=True)
    return {
        "drill_events_per_s": round(rate, 1),
        "drill_step_s": round(step_s, 3),
        "drill_keeps_up_speed": round(min(float(MAX_SPEED), MAX_SPEED / step_s), 1),
        "recorded_events_per_s": round(recorded_rate, 2),
        "live_reports_per_s": round(sent[0] / load_took, 1),
        "drill_live_unchanged": 1.0 if live_total == sent[1] else 0.0,
    }


def main() -> int:
    """Run alone on a throwaway embedded Redis (or --redis URL, which is flushed)."""
    return run_alone(__doc__ or "", run, TARGETS)


if __name__ == "__main__":
    raise SystemExit(main())
