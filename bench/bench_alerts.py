"""Alert evaluation over Pingnan: the time of one scheduler round (issue 7's target: < 200 ms).

Setup (not timed): the generated Pingnan county (about 7,400 grids, 1,442 small
grids of which 385 have a first leader, so 1,057 vacancies), switched to
wartime as a whole, with three open operations — mass testing over the county,
a flood evacuation in one town, a fire-hazard check in another — and field
reports on a share of their leaf grids, applied by the projector.

Timed: `AlertEvaluator.run(now)`, exactly what the ``alerts`` job does each
slot — catch up with the control log, read every open operation's per-town
totals and last-report hashes in one pipeline, run the rules, append what
they decide. `now` is set 31 minutes after the launches so the first round
raises stall, pace, vacancy and silent-secretary roll-ups for every town; then
each round advances the clock by one 5-second slot, with a few hundred new
reports projected between rounds so the rounds read changing data.

Figures: ``alerts_first_round_ms`` (the round that raises everything),
``alerts_round_p50_ms`` and ``alerts_round_max_ms`` (wall clock) over the
following rounds, and ``alerts_round_cpu_p50_ms`` (CPU of this process only,
which a busy machine does not inflate).
`run` follows the suite interface of `bench.run`; ``python -m bench.bench_alerts``
runs it alone on a throwaway embedded Redis.
"""

from __future__ import annotations

import random
import statistics
import time

from bench.bench_core import run_alone
from command.access import Actor, Role
from command.alerts import MINUTE
from command.events import AlertRaised
from command.modes import SwitchRequest
from command.operations import ReportRequest
from streams.alerting import AlertEvaluator
from streams.county import County
from streams.projector import Projector
from streams.server import connect

TARGETS: dict[str, tuple[str, float]] = {
    "alerts_round_p50_ms": ("<=", 200.0),
    "alerts_round_max_ms": ("<=", 200.0),
}
"""Issue 7: one evaluation round over Pingnan with three open operations under 200 ms."""

ACTOR = Actor("bench-commander", Role.COMMANDER, "")


def _say(msg: str) -> None:
    print(f"[alerts] {msg}", flush=True)


def run(redis_url: str, quick: bool = False) -> dict[str, float]:
    """Build the scene, time the rounds, return the figures by metric name."""
    from command.generate import generate

    client = connect(redis_url)
    client.flushall()
    rng = random.Random(7)
    tree, _ = generate("pingnan")
    county = County(client, tree.root)
    county.load_registry(tree, None, ACTOR, source="bench")
    county.switch(ACTOR, SwitchRequest(tree.root, "wartime", "epidemic", "II", "bench"))
    towns = list(tree.towns)
    day = 86_400_000
    now = county.clock()
    county.launch(ACTOR, "mass_testing", tree.root, "全员核酸检测", now + 3 * day, operation="op-mass")
    county.launch(ACTOR, "flood_evacuation", towns[1], "防汛转移", now + 2 * day,
                  {"hazard_points_checked": 169, "people_evacuated": 200}, operation="op-flood")
    county.launch(ACTOR, "fire_hazard_check", towns[2], "火灾隐患排查", now + 5 * day, operation="op-fire")
    leaves = {
        "op-mass": (sorted(tree.leaves(tree.root)), "sampled"),
        "op-flood": (sorted(tree.leaves(towns[1])), "people_evacuated"),
        "op-fire": (sorted(tree.leaves(towns[2])), "households_checked"),
    }
    n_reports = 5_000 if quick else 20_000
    seq = 0

    def report(n: int) -> None:
        nonlocal seq
        reqs = []
        for _ in range(n):
            seq += 1
            op = rng.choice(("op-mass", "op-mass", "op-mass", "op-flood", "op-fire"))
            grids, counter = leaves[op]
            reqs.append(ReportRequest(op, f"b{seq}", rng.choice(grids[: len(grids) * 2 // 3]),
                                      {counter: rng.randint(1, 12)}))
        for i in range(0, len(reqs), 2000):
            county.report_many(ACTOR, reqs[i : i + 2000])

    t = time.perf_counter()
    report(n_reports)
    projector = Projector(client, tree.root, consumer="bench", publish=False)
    projector.catch_up(timeout_s=300)
    _say(f"scene: {len(tree)} grids, {len(county.state.vacancies)} vacancies, 3 open operations, "
         f"{n_reports} reports ({time.perf_counter() - t:.1f} s)")

    evaluator = AlertEvaluator(county)
    clock = county.clock() + 31 * MINUTE
    t = time.perf_counter()
    first = evaluator.run(clock)
    first_ms = (time.perf_counter() - t) * 1000
    raised = [e for e in first.events if isinstance(e, AlertRaised)]
    by_kind: dict[str, int] = {}
    for e in raised:
        by_kind[e.kind] = by_kind.get(e.kind, 0) + 1
    listed = sum(int(e.detail.get("count", 0)) for e in raised if e.kind != "pace")
    _say(f"first round: {first_ms:.1f} ms, raised {len(raised)} alerts {dict(sorted(by_kind.items()))} "
         f"rolling up {listed} grid conditions")

    rounds = 10 if quick else 20
    times: list[float] = []
    cpu: list[float] = []
    appended = 0
    for _ in range(rounds):
        report(200)
        projector.catch_up(timeout_s=60)
        clock += 5_000
        t, c = time.perf_counter(), time.process_time()
        r = evaluator.run(clock)
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        appended += r.appended
    p50, worst = statistics.median(times), max(times)
    _say(f"{rounds} rounds: p50 {p50:.1f} ms, max {worst:.1f} ms wall; p50 {statistics.median(cpu):.1f} ms "
         f"CPU in this process ({appended} events appended after the first)")
    return {
        "alerts_first_round_ms": round(first_ms, 1),
        "alerts_round_p50_ms": round(p50, 1),
        "alerts_round_max_ms": round(worst, 1),
        "alerts_round_cpu_p50_ms": round(statistics.median(cpu), 1),
        "alerts_raised": float(len(raised)),
    }


def main() -> int:
    """Run alone on a throwaway embedded Redis (or --redis URL, which is flushed)."""
    return run_alone(__doc__ or "", run, TARGETS)


if __name__ == "__main__":
    raise SystemExit(main())
