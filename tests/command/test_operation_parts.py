"""A town stands down inside a county-wide operation: its part closes, the rest goes on (issue 18), no Redis."""

from __future__ import annotations

from typing import Any

import pytest

from command.access import Actor, Role
from command.alerts import AlertConfig, AlertKind, Progress, evaluate
from command.errors import (
    InvalidRequest,
    ModeConflict,
    NotAuthorised,
    OperationClosed,
    OperationClosedForTown,
    UnknownGrid,
)
from command.events import OperationClosed as OperationClosedEvent
from command.events import OperationPartClosed, Recorded, RegistryLoaded, decode, encode
from command.fold import Counts
from command.grids import GridTree
from command.modes import SwitchRequest, standdown_blockers, switch
from command.operations import LaunchRequest, ReportRequest, close_part, launch, open_towns, report
from command.report import timeline
from command.report_fold import fold_records
from tests.command.helpers import Log

CMD = Actor("boss", Role.COMMANDER, "TC")
TOWN1 = Actor("town1", Role.COMMANDER, "TC01")
TOWN2 = Actor("town2", Role.COMMANDER, "TC02")
LEAF1 = "TC01-L1-M1-S1-W1"
LEAF2 = "TC02-L1-M1-S1-W1"


@pytest.fixture
def log(tree: GridTree) -> Log:
    lg = Log()
    lg.add(RegistryLoaded(county="TC", grids=tuple(tree.rows())))
    lg.add(switch(lg.state, CMD, SwitchRequest("TC", "wartime", "epidemic", "II")))
    lg.add(launch(lg.state, CMD, LaunchRequest("op1", "mass_testing", "TC", "全员核酸", lg.ms + 3_600_000, {})))
    return lg


def _report(log: Log, grid: str, rid: str, n: int = 5) -> Any:
    return report(log.state, CMD, ReportRequest("op1", rid, grid, {"sampled": n}))


def test_a_town_commander_closes_the_own_towns_part_and_the_operation_stays_open(log: Log) -> None:
    ev = close_part(log.state, TOWN1, "op1", "TC01", "镇内检测完成")
    assert ev == OperationPartClosed(operation="op1", town="TC01", reason="镇内检测完成")
    rec = log.add(ev, actor="town1")
    op = log.state.operations["op1"]
    assert op.state == "open" and op.closed_parts == {"TC01": rec.ms}
    assert op.summary()["closed_parts"] == {"TC01": rec.ms}
    assert open_towns(log.state.tree, op) == ("TC02",)  # type: ignore[arg-type]


def test_reports_to_the_closed_town_are_refused_with_their_own_code_and_the_others_count(log: Log) -> None:
    log.add(_report(log, LEAF1, "a"))
    log.add(close_part(log.state, CMD, "op1", "TC01"))
    with pytest.raises(OperationClosedForTown) as err:
        _report(log, LEAF1, "b")
    assert err.value.code == "operation_closed_for_town" and err.value.field == "grid"
    assert isinstance(err.value, OperationClosed)  # a 409 like any closed operation
    assert _report(log, LEAF2, "c").grid == LEAF2


def test_the_county_total_is_the_frozen_town_plus_the_live_others(log: Log, tree: GridTree) -> None:
    for i, grid in enumerate((LEAF1, LEAF2, LEAF1)):
        log.add(_report(log, grid, f"r{i}", 10 + i))
    log.add(close_part(log.state, CMD, "op1", "TC01"))
    log.add(_report(log, LEAF2, "late", 7))
    counts = Counts(tree)
    for rec in log.records:
        counts.apply(rec)
    frozen, live = counts.of("op1", "TC01"), counts.of("op1", "TC02")
    assert frozen == {"sampled": 10 + 12} and live == {"sampled": 11 + 7}
    assert counts.of("op1", "TC") == {"sampled": frozen["sampled"] + live["sampled"]}


def test_closing_the_last_open_part_closes_the_operation(log: Log) -> None:
    log.add(close_part(log.state, CMD, "op1", "TC01"))
    last = close_part(log.state, TOWN2, "op1", "TC02")
    assert last == OperationClosedEvent(operation="op1", reason="")
    log.add(last)
    assert log.state.operations["op1"].state == "closed"


def test_a_part_close_is_refused_outside_scope_twice_or_for_a_non_town(log: Log) -> None:
    with pytest.raises(NotAuthorised):
        close_part(log.state, TOWN2, "op1", "TC01")
    with pytest.raises(UnknownGrid):
        close_part(log.state, CMD, "op1", "TC09")
    with pytest.raises(InvalidRequest) as err:
        close_part(log.state, CMD, "op1", "TC01-L1")
    assert err.value.field == "town"
    log.add(close_part(log.state, CMD, "op1", "TC01"))
    with pytest.raises(OperationClosedForTown):
        close_part(log.state, CMD, "op1", "TC01")


def test_a_town_cannot_stand_down_while_its_part_is_open_and_is_told_what_to_close(log: Log) -> None:
    with pytest.raises(ModeConflict) as err:
        switch(log.state, TOWN1, SwitchRequest("TC01", "peacetime"))
    assert "op1" in err.value.message and "close its part for TC01" in err.value.message
    (b,) = standdown_blockers(log.state, "TC01")
    assert (b.operation, b.towns, b.part_close) == ("op1", ("TC01",), True)
    log.add(close_part(log.state, TOWN1, "op1", "TC01"))
    assert standdown_blockers(log.state, "TC01") == []
    ev = switch(log.state, TOWN1, SwitchRequest("TC01", "peacetime"))
    assert ev.scope == "TC01" and ev.released
    log.add(ev)
    assert _report(log, LEAF2, "still").grid == LEAF2  # the other town goes on


def test_the_county_cannot_stand_down_while_any_part_is_open(log: Log) -> None:
    log.add(close_part(log.state, CMD, "op1", "TC01"))
    (b,) = standdown_blockers(log.state, "TC")
    assert (b.towns, b.part_close) == (("TC02",), False)


def test_no_stall_or_pace_alert_for_a_closed_part(log: Log, tree: GridTree) -> None:
    config = AlertConfig(stall_minutes={"mass_testing": 1}, pace_min_elapsed_minutes=1)
    log.add(close_part(log.state, CMD, "op1", "TC01"))
    now = log.ms + 30 * 60_000
    progress = Progress(totals={"op1": {"TC02": {"sampled": 1}, "TC": {"sampled": 1}}})
    raised = [e for e in evaluate(log.state, progress, now, config) if e.kind in (AlertKind.STALL, AlertKind.PACE)]  # type: ignore[attr-defined]
    grids = {e.grid for e in raised}  # type: ignore[attr-defined]
    assert "TC02" in grids and "TC01" not in grids
    pace = [e for e in raised if e.kind == AlertKind.PACE and e.grid == "TC"]  # type: ignore[attr-defined]
    assert pace and pace[0].detail["counters"]["sampled"]["target"] == tree["TC02"].population  # type: ignore[attr-defined]
    assert pace[0].detail["grids"] == ["TC02"]  # type: ignore[attr-defined]


def test_the_part_close_event_keeps_its_wire_form() -> None:
    ev = OperationPartClosed(operation="op1", town="TC01", reason="完成")
    fields = encode(ev, actor="boss", at=5, key="close:op1:TC01")
    assert fields["t"] == "operation_part_closed" and fields["v"] == "1"
    rec = decode("9-0", fields)
    assert isinstance(rec, Recorded) and rec.event == ev


def test_the_after_action_timeline_shows_the_part_closed_with_its_frozen_total(log: Log, tree: GridTree) -> None:
    log.add(_report(log, LEAF1, "a", 12))
    log.add(close_part(log.state, CMD, "op1", "TC01"))
    log.add(_report(log, LEAF2, "b", 3))
    items = timeline(fold_records(log.records), log.records, "op1", log.ms)
    (item,) = [i for i in items if i.kind == "part_closed"]
    assert item.params["grid"] == "TC01" and item.params["total"] == "12"
