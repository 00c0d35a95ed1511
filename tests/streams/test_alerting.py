"""Alert rounds, briefings and contact reminders against a real Redis."""

from __future__ import annotations

import threading

from command.access import Actor, Role
from command.alerts import MINUTE, AlertConfig
from command.briefing import briefing_id, local_date
from command.events import AlertRaised, BriefingIssued, ContactRoundDue
from command.fold import Counts
from command.modes import SwitchRequest
from command.operations import ReportRequest
from streams.alerting import AlertEvaluator, issue_briefings, issue_contact_reminders, read_progress
from streams.county import County
from streams.projector import Projector
from streams.server import connect
from tests.conftest import make_tree

BOSS = Actor("boss", Role.COMMANDER, "TC")
QUIET = AlertConfig(silent_minutes=100_000)


def _county(redis_url: str) -> County:
    """The little test county loaded into the emptied Redis (no accounts: none are needed here)."""
    county = County(connect(redis_url), "TC")
    county.load_registry(make_tree(), None, BOSS)
    return county


def _apply(county: County) -> None:
    Projector(county.client, county.code, consumer="t", publish=False).catch_up()


def _log_len(county: County) -> int:
    return int(county.client.xlen(county.keys.log))


def test_progress_is_read_per_town_and_equals_the_fold_of_the_log(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC", "wartime"))
    county.launch(BOSS, "mass_testing", "TC", "t", operation="op1")
    county.launch(BOSS, "fire_hazard_check", "TC02", "f", operation="op2")
    leaves = sorted(county.tree.leaves("TC"))
    reqs = [ReportRequest("op1", f"r{i}", g, {"sampled": i + 1}) for i, g in enumerate(leaves[::3])]
    reqs += [ReportRequest("op2", "f1", leaves[-1], {"households_checked": 4, "hazards_found": 1})]
    county.report_many(BOSS, reqs)
    _apply(county)
    st = county.refresh()
    progress = read_progress(county, st.open_operations())
    fold = Counts(county.tree)
    for rec in county.log.replay():
        fold.apply(rec)
    for op in ("op1", "op2"):
        scope = st.operations[op].scope
        expected = {g: {c: n for c, n in cell.items() if n} for g, cell in fold.totals[op].items()
                    if county.tree.is_within(g, scope)}
        got = {g: {c: n for c, n in cell.items() if n} for g, cell in progress.totals[op].items()}
        assert got == {g: v for g, v in expected.items() if v}
        assert progress.last[op] == {g: ms for g, ms in fold.last[op].items() if county.tree.is_within(g, scope)}
    assert progress.totals["op1"]["TC"]["sampled"] == sum(r.counts["sampled"] for r in reqs[:-1])  # type: ignore[index]


def test_a_round_raises_once_and_a_repeated_round_appends_nothing(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC", "wartime"))
    ev = AlertEvaluator(county, QUIET)
    now = county.clock()
    first = ev.run(now)
    assert first.appended == 2
    assert sorted(e.alert for e in first.events if isinstance(e, AlertRaised)) == ["vacancy:TC01", "vacancy:TC02"]
    size = _log_len(county)
    for k in range(1, 4):
        assert ev.run(now + k * MINUTE).appended == 0
    assert _log_len(county) == size
    assert {a.id for a in county.refresh().alerts.values() if a.open} == {"vacancy:TC01", "vacancy:TC02"}


def test_two_evaluators_deciding_at_once_append_each_event_once(redis_url: str) -> None:
    a = _county(redis_url)
    a.switch(BOSS, SwitchRequest("TC", "wartime"))
    b = County(connect(redis_url), "TC")
    ea, eb = AlertEvaluator(a, QUIET), AlertEvaluator(b, QUIET)
    now = a.clock()
    barrier = threading.Barrier(2)
    results = []

    def go(e: AlertEvaluator) -> None:
        barrier.wait()
        results.append(e.run(now))

    threads = [threading.Thread(target=go, args=(e,)) for e in (ea, eb)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.appended for r in results) == 2
    raised = [r.event for r in a.log.read(a.keys.log) if isinstance(r.event, AlertRaised)]
    assert sorted(e.alert for e in raised) == ["vacancy:TC01", "vacancy:TC02"]


def test_a_stalled_town_is_found_through_redis_and_cleared_when_its_grids_reach_target(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC", "wartime"))
    county.launch(BOSS, "mass_testing", "TC", "t", operation="op1")
    launched = county.refresh().operations["op1"].launched_at
    county.report_many(BOSS, [ReportRequest("op1", f"a{i}", g, {"sampled": 30})
                              for i, g in enumerate(county.tree.leaves("TC02"))])  # every TC02 grid at target
    county.report_many(BOSS, [ReportRequest("op1", "a-half", "TC01-L1-M1-S1-W1", {"sampled": 10})])
    _apply(county)
    ev = AlertEvaluator(county, QUIET)
    ev.run(launched + 31 * MINUTE)
    st = county.refresh()
    assert st.alerts["stall:op1:TC01"].detail["count"] == 16
    assert "stall:op1:TC02" not in st.alerts
    county.report_many(BOSS, [ReportRequest("op1", f"b{i}", g, {"sampled": 30 if i else 20})
                              for i, g in enumerate(sorted(county.tree.leaves("TC01")))])
    _apply(county)
    ev.run(launched + 32 * MINUTE)
    assert county.refresh().alerts["stall:op1:TC01"].cleared_at is not None


def test_briefings_are_issued_once_per_open_operation_and_day(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC", "wartime"))
    county.launch(BOSS, "mass_testing", "TC", "检测", operation="op1")
    county.launch(BOSS, "flood_evacuation", "TC01", "转移", operation="op2",
                  targets={"people_evacuated": 50})
    county.report_many(BOSS, [ReportRequest("op1", "x", "TC01-L1-M1-S1-W1", {"sampled": 7})])
    _apply(county)
    now = county.clock()
    day, tomorrow = local_date(now), local_date(now + 1440 * MINUTE)
    ids = issue_briefings(county, now)
    assert sorted(ids) == [briefing_id("op1", day), briefing_id("op2", day)]
    assert issue_briefings(county, now + MINUTE) == []
    b = county.refresh().briefings[briefing_id("op1", day)]
    assert b.date == day and b.content["totals"] == {"sampled": 7}
    assert [r["grid"] for r in b.content["rows"]] == ["TC01", "TC02"]
    issued = [r for r in county.log.read(county.keys.log) if isinstance(r.event, BriefingIssued)]
    assert len(issued) == 2
    nxt = issue_briefings(county, now + 1440 * MINUTE)
    assert sorted(nxt) == [briefing_id("op1", tomorrow), briefing_id("op2", tomorrow)]
    assert county.refresh().briefings[briefing_id("op1", tomorrow)].content["since_last"] == {"sampled": 0}


def test_an_operation_launched_after_the_slot_waits_for_the_next_briefing(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC", "wartime"))
    county.launch(BOSS, "mass_testing", "TC", "检测", operation="op1")
    launched = county.refresh().operations["op1"].launched_at
    assert issue_briefings(county, launched + MINUTE, slot=launched - MINUTE) == []
    assert issue_briefings(county, launched + MINUTE, slot=launched + MINUTE) == [
        briefing_id("op1", local_date(launched + MINUTE))
    ]


def test_contact_reminders_go_to_peacetime_first_leaders_once_a_quarter(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC02", "wartime"))
    now = county.clock()
    assert issue_contact_reminders(county, now) == 4  # TC01's small grids with a first leader
    assert issue_contact_reminders(county, now + MINUTE) == 0
    due = [r.event for r in county.log.read(county.keys.log) if isinstance(r.event, ContactRoundDue)]
    assert {e.grid[:4] for e in due} == {"TC01"}
    assert all(e.leader == f"书记{e.grid}" for e in due)
    county.switch(BOSS, SwitchRequest("TC02", "peacetime"))
    assert issue_contact_reminders(county, now + 2 * MINUTE) == 4  # back in peacetime this quarter
