"""After-action report and time-travel figures for an operation of 1,000,000 reports over Pingnan.

Setup: the generated Pingnan registry (with polygons) and its household roster
(`command.household_roster.generate_households`: fictitious households, none of
them reached in this operation, so every one is listed as never reached), the
county switched to wartime (385 secretaries installed, the other small grids
vacant), one mass testing operation with a deadline; then `--reports` progress
reports (default 1,000,000) appended with `EventLog.append_many` in batches of 1,000 over every
leaf grid, by each small grid's leader, with acting secretaries appointed, stall
alerts raised and acknowledged and a few corrections along the way; the
operation is closed at the end.

Figures (`streams.history.History`):

* ``index_build_s`` — the report aggregates folded from the first event (what a
  server does once, incrementally after that);
* ``report_<fmt>_s`` — `dashboard.reports.render_report` in each format with the
  aggregates current, and ``report_s`` the slowest of them (target < 10 s);
* ``snapshots_build_s`` — time-travel snapshots written from scratch;
* ``instant_max_s`` / ``instant_median_s`` — `History.state_at` at 20 random
  instants plus both ends (target: any instant < 2 s).

Each phase checks itself: the report's county total and the state at the end
equal the sum of what was appended. ``python -m bench.bench_report [--quick]``
runs it alone; `run` follows the suite interface of `bench.run`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from command.access import Actor, Role
from command.alerts import acknowledge
from command.events import AlertRaised, ProgressReported
from command.household_roster import generate_households
from command.modes import SwitchRequest
from streams.county import County
from streams.log import Pending
from streams.projector import Projector
from streams.server import connect

OPERATION = "op-aar"
TARGETS: dict[str, tuple[str, float]] = {
    "report_s": ("<=", 10.0),
    "instant_max_s": ("<=", 2.0),
}
"""Issue 6's targets."""


def say(msg: str) -> None:
    print(f"  [report] {msg}", flush=True)


def seed(client: Any, reports: int, batch: int = 1000) -> tuple[County, int]:
    """Pingnan at war with one mass-testing operation of `reports` reports; returns (county, sampled total)."""
    from bench.bench_core import pingnan

    tree, geo = pingnan()
    county = County(client, tree.root)
    boss = Actor("bench-commander", Role.COMMANDER, tree.root)
    county.load_registry(tree, geo, boss, source="bench")
    roster = generate_households(tree)
    county.load_households(roster, boss)
    Projector(client, county.code, consumer="bench", publish=False).catch_up()
    say(f"{len(roster):,} households loaded")
    county.switch(boss, SwitchRequest(tree.root, "wartime", "epidemic", "II", "benchmark"))
    county.launch(boss, "mass_testing", tree.root, "全员核酸检测（基准）", deadline=county.clock() + 15 * 60_000,
                  operation=OPERATION)
    leaves = [g for g in tree.grids if not tree.children[g] and tree.town_of(g) is not None]
    small_of = {}
    for g in leaves:
        small_of[g] = next((a for a in tree.path(g) if tree.grids[a].level == "small"), g)
    vacancies = sorted(county.refresh().vacancies)
    rng = random.Random(6)
    totals: dict[str, int] = {}
    sampled = 0
    done = 0
    n_batch = 0
    alerts: list[str] = []
    t0 = time.perf_counter()
    while done < reports:
        items: list[Pending] = []
        at = county.clock()
        for _ in range(min(batch, reports - done)):
            done += 1
            g = leaves[rng.randrange(len(leaves))]
            if done % 5000 == 0 and totals.get(g, 0) > 2:
                k, reason = -1, "重复录入"
            else:
                k, reason = rng.randint(1, 25), ""
            totals[g] = totals.get(g, 0) + k
            sampled += k
            ev = ProgressReported(operation=OPERATION, grid=g, counts={"sampled": k}, report_id=f"b{done}",
                                  reason=reason)
            items.append(Pending(ev, f"leader-{small_of[g]}", at, f"{OPERATION}:b{done}"))
        county.log.append_many(items)
        n_batch += 1
        if n_batch % 40 == 0 and vacancies:
            for g in vacancies[:25]:
                county.appoint(boss, g, f"代理书记{g[-4:]}")
            vacancies = vacancies[25:]
        if n_batch % 50 == 0:
            aid = f"stall-{n_batch}"
            county.record(AlertRaised(alert=aid, kind="stall", grid=leaves[n_batch % len(leaves)],
                                      operation=OPERATION), boss)
            alerts.append(aid)
            if len(alerts) > 1:
                county.refresh()
                county.record(acknowledge(county.state, boss, alerts[-2]), boss)
        if done % 100_000 == 0 or done == reports:
            say(f"appended {done:,} reports ({done / (time.perf_counter() - t0):,.0f}/s)")
    county.close(boss, OPERATION, "benchmark done")
    return county, sampled


def run(redis_url: str, quick: bool, reports: int | None = None) -> dict[str, float]:
    """Every figure against `redis_url` (flushed first: it must be a bench Redis)."""
    from dashboard.reports import render_report
    from streams.history import History, history_for

    n = reports or (100_000 if quick else 1_000_000)
    client = connect(redis_url)
    client.flushall()
    t0 = time.perf_counter()
    county, sampled = seed(client, n)
    out: dict[str, float] = {"reports": n, "append_s": time.perf_counter() - t0}
    say(f"seeded Pingnan and appended {n:,} reports in {out['append_s']:.0f} s")

    hist = history_for(client, county.code)
    t0 = time.perf_counter()
    hist.report_fold()
    out["index_build_s"] = time.perf_counter() - t0
    say(f"report aggregates folded from the first event in {out['index_build_s']:.1f} s")

    times = {}
    for fmt in ("csv", "xlsx", "html", "pdf"):
        t0 = time.perf_counter()
        data = render_report(county, OPERATION, fmt, "zh-CN")
        times[fmt] = out[f"report_{fmt}_s"] = time.perf_counter() - t0
        say(f"report {fmt}: {times[fmt]:.2f} s, {len(data):,} bytes")
    out["report_s"] = max(times.values())
    report = hist.report(OPERATION)
    got = int(report.summary.loc[0, "total"])
    if got != sampled:
        raise AssertionError(f"report total {got} != appended {sampled}")

    fresh = History(client, county.code)
    t0 = time.perf_counter()
    written = fresh.ensure_snapshots(force=True)
    out["snapshots_build_s"] = time.perf_counter() - t0
    out["snapshots"] = written
    say(f"{written} time-travel snapshots written from scratch in {out['snapshots_build_s']:.1f} s")

    lo, hi = report.switch_at or report.launched_at, report.as_of
    rng = random.Random(42)
    instants = [lo, hi, *sorted(rng.randint(lo, hi) for _ in range(20))]
    took = []
    for at in instants:
        t0 = time.perf_counter()
        inst = fresh.state_at(at)
        took.append(time.perf_counter() - t0)
        if at == hi and inst.totals(OPERATION, county.code).get("sampled", 0) != sampled:
            raise AssertionError("state at the end differs from what was appended")
    out["instant_max_s"] = max(took)
    out["instant_median_s"] = statistics.median(took)
    say(f"state at {len(instants)} instants: median {out['instant_median_s']:.2f} s, "
        f"worst {out['instant_max_s']:.2f} s")
    info = client.info("memory")
    out["redis_used_memory_mb"] = int(info["used_memory"]) / 1e6
    client.flushall(asynchronous=True)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run alone: ``python -m bench.bench_report [--quick] [--redis URL] [--reports N]``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--redis", default=None, help="a Redis the bench may flush (default: a throwaway embedded one)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reports", type=int, default=None)
    args = p.parse_args(argv)
    from bench.bench_core import embedded_redis
    from bench.results import print_results

    if args.redis:
        res = run(args.redis, args.quick, args.reports)
    else:
        with embedded_redis() as url:
            res = run(url, args.quick, args.reports)
    print_results({"report": res}, {"report": TARGETS})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
