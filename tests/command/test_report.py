"""The report fold and tables, pure: no Redis, a log made in memory."""

from __future__ import annotations

import random

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from command import alerts, modes, operations
from command.access import Actor, Role
from command.events import AlertRaised, Event, ProgressReported, Recorded, RegistryLoaded
from command.fold import ControlState, Counts
from command.report import BUCKET_WIDTHS, MAX_BUCKETS, ReportFold, build_report, fold_records
from command.timetravel import fold_until, normal_form, restore_counts, town_part
from tests.conftest import make_tree

BOSS = Actor("boss", Role.COMMANDER, "TC")
OP = "op-1"


class Log:
    """Builds a merged log in memory: each event gets the next id at a chosen time."""

    def __init__(self) -> None:
        self.records: list[Recorded] = []
        self.state = ControlState()
        self.ms = 1_700_000_000_000
        self.seq = 0

    def add(self, event: Event, actor: str = "boss", after: int = 1) -> Recorded:
        self.ms += after
        self.seq += 1
        stream = "town" if isinstance(event, ProgressReported) else "control"
        rec = Recorded(f"{self.ms}-0", event, actor, self.ms, stream=stream)
        self.records.append(rec)
        if not isinstance(event, ProgressReported):
            self.state.apply(rec)
        return rec


def operation_log(seed: int = 1, reports: int = 200, spread: int = 60_000, close: bool = True) -> Log:
    """Switch, launch with a deadline, reports, appointments, alerts, a correction, close."""
    rng = random.Random(seed)
    tree = make_tree()
    log = Log()
    log.add(RegistryLoaded(county="TC", grids=tuple(tree.rows())))
    log.add(modes.switch(log.state, BOSS, modes.SwitchRequest("TC", "wartime", "flood", "III")))
    log.add(operations.launch(log.state, BOSS, operations.LaunchRequest(
        OP, "mass_testing", "TC", "核酸", deadline=log.ms + 40 * spread)))
    leaves = sorted(g for g in tree.grids if not tree.children[g])
    vacancies = sorted(log.state.vacancies)
    totals: dict[str, int] = {}
    for i in range(reports):
        g = leaves[rng.randrange(len(leaves))] if i % 9 else leaves[0]
        if i % 50 == 49 and totals.get(g, 0) > 3:
            counts, reason = {"sampled": -2}, "录错"
        else:
            counts, reason = {"sampled": rng.randint(1, 6)}, ""
        totals[g] = totals.get(g, 0) + counts["sampled"]
        log.add(ProgressReported(OP, g, counts, f"r{i}", reason=reason), f"leader{i % 3}", rng.randint(0, spread))
        if i == 30:
            for v in vacancies[:5]:
                log.add(modes.appoint(log.state, BOSS, v, f"代理{v}"))
        if i == 40:
            log.add(AlertRaised(alert="a1", kind="stall", grid=leaves[3], operation=OP))
        if i == 70:
            log.add(alerts.acknowledge(log.state, BOSS, "a1"), after=90_000)
    if close:
        log.add(operations.close(log.state, BOSS, OP))
    return log


def test_town_totals_equal_the_fold_of_counts() -> None:
    log = operation_log()
    r = build_report(fold_records(log.records), log.records, OP, log.ms)
    counts = fold_until(log.records, log.ms).counts
    assert counts is not None
    for row in r.towns.to_dict("records"):
        assert row["sampled"] == counts.of(OP, row["grid"]).get("sampled", 0)
    assert int(r.summary.loc[0, "total"]) == counts.of(OP, "TC")["sampled"]
    assert r.reports == 200 and r.reporters == 3


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=230))
def test_folding_in_two_pieces_through_storage_gives_the_same_report(cut: int) -> None:
    log = operation_log(seed=3)
    whole = fold_records(log.records)
    first = fold_records(log.records[:cut])
    stored = msgspec.json.decode(msgspec.json.encode(first.to_plain()))
    control = ControlState()
    for rec in log.records[:cut]:
        if not isinstance(rec.event, ProgressReported):
            control.apply(rec)
    resumed = ReportFold.from_plain(stored, control)
    for rec in log.records[cut:]:
        resumed.apply(rec)
    a = build_report(whole, log.records, OP, log.ms)
    b = build_report(resumed, log.records, OP, log.ms)
    for name in ("summary", "towns", "grids", "pace", "tenures", "activity", "slowest", "silences", "corrections"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert a.peak_hourly == b.peak_hourly and a.reached == b.reached


def test_milestones_are_the_first_instants_the_scope_reached_them() -> None:
    log = operation_log(reports=400, spread=1000)
    r = build_report(fold_records(log.records), log.records, OP, log.ms)
    target = int(r.summary.loc[0, "target"])
    running = 0
    first50 = None
    for rec in log.records:
        ev = rec.event
        if isinstance(ev, ProgressReported):
            running += ev.counts["sampled"]
            if first50 is None and running * 2 >= target:
                first50 = rec.ms
    assert r.reached[50] == first50


def test_series_coarsens_and_keeps_every_count() -> None:
    log = operation_log(reports=300, spread=3_600_000)
    fold = fold_records(log.records)
    of = fold.ops[OP]
    assert of.width > BUCKET_WIDTHS[0] and len(of.series) <= MAX_BUCKETS
    r = build_report(fold, log.records, OP, log.ms)
    assert int(r.pace["sampled"].iloc[-1]) == int(r.summary.loc[0, "total"])
    rate, _ = r.peak_hourly["sampled"]
    assert 0 < rate <= int(r.summary.loc[0, "total"])


def test_secretaries_vacancies_alerts_and_corrections_are_reported() -> None:
    log = operation_log()
    r = build_report(fold_records(log.records), log.records, OP, log.ms)
    s = r.secretaries
    assert (s["installed_at_switch"], s["vacancies_at_switch"], s["appointed"], s["still_vacant"]) == (8, 8, 5, 3)
    assert s["time_to_fill_all"] is None
    assert list(r.alerts_by_kind["kind"]) == ["stall"]
    assert r.ack_median_ms is not None and r.ack_median_ms >= 90_000
    assert len(r.corrections) >= 1 and set(r.corrections["reason"]) == {"录错"}
    assert list(r.correction_reasons["reason"]) == ["录错"]
    keys = {f.key for f in r.lagged}
    assert {"vacancies_open", "corrections"} <= keys
    assert list(r.improvement["issue"]) == [f.key for f in r.lagged]
    acting = r.tenures[r.tenures["acting"]]
    assert len(acting) == 5
    log214 = r.activity[r.activity["grid"] == acting.iloc[0]["grid"]]
    assert log214.iloc[0]["activity"] == "appointed"


def test_timeline_groups_alike_events_of_one_minute() -> None:
    log = operation_log()
    r = build_report(fold_records(log.records), log.records, OP, log.ms)
    kinds = [it.kind for it in r.timeline]
    assert kinds[0] == "switch_wartime" and kinds[1] == "launched" and kinds[-1] == "closed"
    appointed = [it for it in r.timeline if it.kind == "appointed"]
    assert len(appointed) == 1 and appointed[0].count == 5


def test_town_snapshots_restore_the_same_counts() -> None:
    log = operation_log(close=False)
    inst = fold_until(log.records, log.ms)
    assert inst.counts is not None
    tree = inst.control.tree
    assert tree is not None
    parts = {t: town_part(inst.counts, t, 0) for t in tree.towns}
    restored = restore_counts(tree, msgspec.json.decode(msgspec.json.encode(parts)))
    want = normal_form(inst.counts)
    got = normal_form(restored)
    assert got["totals"] == want["totals"] and got["last"] == want["last"]


def test_fold_until_ignores_what_came_after() -> None:
    log = operation_log()
    mid = log.records[len(log.records) // 2].ms
    a = fold_until(log.records, mid)
    b = fold_until([r for r in log.records if r.ms <= mid], mid)
    assert normal_form(a.counts) == normal_form(b.counts) and a.control == b.control
    empty = Counts(make_tree())
    assert normal_form(empty)["reports"] == 0


def test_a_quick_median_is_no_praise_when_most_alerts_were_never_acknowledged() -> None:
    log = operation_log(spread=6000, close=False)  # one alert, acknowledged within minutes: a quick median
    r = build_report(fold_records(log.records), log.records, OP, log.ms)
    assert "ack_median" in {f.key for f in r.went_well}
    tree = log.state.tree
    assert tree is not None
    leaves = sorted(g for g in tree.grids if not tree.children[g])
    for i in range(20):  # twenty more, never acknowledged
        log.add(AlertRaised(alert=f"late{i}", kind="stall", grid=leaves[i % len(leaves)], operation=OP))
    log.add(operations.close(log.state, BOSS, OP))
    r = build_report(fold_records(log.records), log.records, OP, log.ms)
    assert "ack_median" not in {f.key for f in r.went_well}
    lagged = {f.key: f.params for f in r.lagged}
    assert lagged["ack_median"]["acked"] == 1 and lagged["ack_median"]["of"] == 21
    assert lagged["alerts_unacked"]["n"] == 20
