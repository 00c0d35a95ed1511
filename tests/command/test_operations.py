"""Operations: launch, targets, reports, corrections, close (command.operations), no Redis."""

from __future__ import annotations

from typing import Any

import pytest

from command.access import Actor, Role
from command.errors import (
    InvalidReport,
    InvalidRequest,
    ModeConflict,
    NotAuthorised,
    OperationClosed,
    TooLarge,
    UnknownGrid,
    UnknownOperation,
)
from command.events import RegistryLoaded
from command.grids import GridTree
from command.modes import SwitchRequest, switch
from command.operations import (
    COUNTERS,
    LaunchRequest,
    ReportRequest,
    close,
    launch,
    over_target,
    report,
)
from tests.command.helpers import Log

CMD = Actor("boss", Role.COMMANDER, "TC")
LEAF = "TC01-L1-M1-S1-W1"


@pytest.fixture
def log(tree: GridTree) -> Log:
    lg = Log()
    lg.add(RegistryLoaded(county="TC", grids=tuple(tree.rows())))
    lg.add(switch(lg.state, CMD, SwitchRequest("TC", "wartime", "epidemic", "II")))
    return lg


def _launch(log: Log, kind: str = "mass_testing", scope: str = "TC", targets: dict[str, Any] | None = None) -> str:
    log.add(launch(log.state, CMD, LaunchRequest("op1", kind, scope, "任务", None, targets or {})))
    return "op1"


def _report(log: Log, actor: Actor = CMD, **kw: Any) -> Any:
    fields: dict[str, Any] = {"operation": "op1", "report_id": "r1", "grid": LEAF, "counts": {"sampled": 5}}
    fields.update(kw)
    return report(log.state, actor, ReportRequest(**fields), kw.pop("current", None))


def test_mass_testing_targets_default_to_population_rolled_up(log: Log, tree: GridTree) -> None:
    _launch(log)
    op = log.state.operations["op1"]
    assert op.targets[LEAF] == {"sampled": tree[LEAF].population}
    assert op.targets["TC"] == {"sampled": tree["TC"].population}


def test_fire_check_targets_default_to_households(log: Log, tree: GridTree) -> None:
    _launch(log, "fire_hazard_check")
    assert log.state.operations["op1"].targets["TC01"] == {"households_checked": tree["TC01"].households}


def test_flood_targets_come_from_launch_for_the_scope_and_per_grid(log: Log) -> None:
    _launch(
        log,
        "flood_evacuation",
        "TC01",
        {"people_evacuated": 200, "hazard_points_checked": 169, LEAF: {"people_evacuated": 7}},
    )
    op = log.state.operations["op1"]
    assert op.targets["TC01"] == {"people_evacuated": 200, "hazard_points_checked": 169}
    assert op.targets[LEAF] == {"people_evacuated": 7}


def test_launch_outside_wartime_is_refused(tree: GridTree) -> None:
    lg = Log()
    lg.add(RegistryLoaded(county="TC", grids=tuple(tree.rows())))
    lg.add(switch(lg.state, CMD, SwitchRequest("TC01", "wartime", "flood", "III")))
    with pytest.raises(ModeConflict):
        launch(lg.state, CMD, LaunchRequest("op1", "mass_testing", "TC", "x"))
    with pytest.raises(ModeConflict):
        launch(lg.state, CMD, LaunchRequest("op1", "mass_testing", "TC02", "x"))
    launch(lg.state, CMD, LaunchRequest("op1", "mass_testing", "TC01", "x"))


@pytest.mark.parametrize(
    ("req", "field"),
    [
        (LaunchRequest("op1", "parade", "TC", "x"), "kind"),
        (LaunchRequest("op1", "mass_testing", "TC", "  "), "name"),
        (LaunchRequest("op1", "mass_testing", "TC", "x", targets={"hazards": 3}), "targets.hazards"),
        (LaunchRequest("op1", "mass_testing", "TC", "x", targets={"sampled": -1}), "targets.sampled"),
        (LaunchRequest("op1", "mass_testing", "TC", "x", targets={"NOPE": {"sampled": 1}}), "targets.NOPE"),
    ],
)
def test_bad_launch_is_refused_naming_the_field(log: Log, req: LaunchRequest, field: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        launch(log.state, CMD, req)
    assert err.value.field == field


@pytest.mark.parametrize("kind", sorted(COUNTERS))
def test_each_kind_accepts_its_own_counters(log: Log, kind: str) -> None:
    _launch(log, kind)
    counts = {c: i + 1 for i, c in enumerate(COUNTERS[kind])}
    ev = _report(log, counts=counts)
    assert dict(ev.counts) == counts


def test_counter_of_another_kind_is_refused(log: Log) -> None:
    _launch(log, "flood_evacuation")
    with pytest.raises(InvalidReport) as err:
        _report(log, counts={"sampled": 1})
    assert err.value.field == "counts.sampled"


@pytest.mark.parametrize(
    ("kw", "error", "field"),
    [
        ({"report_id": None}, InvalidReport, "report_id"),
        ({"report_id": ""}, InvalidReport, "report_id"),
        ({"report_id": "x" * 101}, InvalidReport, "report_id"),
        ({"report_id": "a b"}, InvalidReport, "report_id"),
        ({"counts": {"sampled": 1.5}}, InvalidReport, "counts.sampled"),
        ({"counts": {"sampled": "5"}}, InvalidReport, "counts.sampled"),
        ({"counts": {"sampled": True}}, InvalidReport, "counts.sampled"),
        ({"counts": {"sampled": 10**9}}, InvalidReport, "counts.sampled"),
        ({"counts": {}}, InvalidReport, "counts"),
        ({"counts": [5]}, InvalidReport, "counts"),
        ({"counts": {"sampled": 0}}, InvalidReport, "counts"),
        ({"counts": {"sampled": -2}}, InvalidReport, "reason"),
        ({"grid": "NOPE"}, UnknownGrid, "grid"),
        ({"grid": None}, InvalidReport, "grid"),
        ({"grid": "TC01-L1-M1-S1"}, InvalidReport, "grid"),
        ({"note": "x" * 501}, TooLarge, "note"),
        ({"note": 5}, InvalidReport, "note"),
        ({"operation": "nope"}, UnknownOperation, "operation"),
    ],
)
def test_bad_report_is_refused_naming_the_field(log: Log, kw: dict[str, Any], error: type, field: str) -> None:
    _launch(log)
    with pytest.raises(error) as err:
        _report(log, **kw)
    assert err.value.field == field


def test_report_outside_the_operation_scope_is_refused(log: Log) -> None:
    _launch(log, scope="TC01")
    with pytest.raises(InvalidReport) as err:
        _report(log, grid="TC02-L1-M1-S1-W1")
    assert err.value.field == "grid"


def test_leader_cannot_report_outside_own_grid(log: Log) -> None:
    _launch(log)
    leader = Actor("lee", Role.LEADER, "TC01-L1-M1-S1")
    _report(log, leader, grid=LEAF)
    with pytest.raises(NotAuthorised):
        _report(log, leader, grid="TC01-L1-M1-S2-W1")


def test_viewer_cannot_report(log: Log) -> None:
    _launch(log)
    with pytest.raises(NotAuthorised):
        _report(log, Actor("v", Role.VIEWER, "TC"))


def test_correction_with_reason_is_accepted_down_to_zero(log: Log) -> None:
    _launch(log)
    ev = report(log.state, CMD, ReportRequest("op1", "c1", LEAF, {"sampled": -5}, reason="typo"), {"sampled": 5})
    assert ev.is_correction and ev.reason == "typo"


def test_correction_below_zero_is_refused(log: Log) -> None:
    _launch(log)
    with pytest.raises(InvalidReport) as err:
        report(log.state, CMD, ReportRequest("op1", "c1", LEAF, {"sampled": -6}, reason="typo"), {"sampled": 5})
    assert err.value.field == "counts.sampled"


def test_reports_to_a_closed_operation_are_refused(log: Log) -> None:
    _launch(log)
    log.add(close(log.state, CMD, "op1"))
    with pytest.raises(OperationClosed):
        _report(log)
    with pytest.raises(OperationClosed):
        close(log.state, CMD, "op1")


def test_over_target_is_flagged_not_refused(log: Log, tree: GridTree) -> None:
    _launch(log)
    op = log.state.operations["op1"]
    pop = tree[LEAF].population
    _report(log, counts={"sampled": pop + 10})
    assert over_target(op, {"sampled": pop + 10}, LEAF) == ["sampled"]
    assert over_target(op, {"sampled": pop}, LEAF) == []


def test_a_report_carries_an_optional_bounded_location(log: Log) -> None:
    from command.events import decode, encode

    _launch(log)
    assert _report(log).location is None
    ev = _report(log, location={"lat": 23.5412345678, "lon": 110.3912, "accuracy": 14.6})
    assert ev.location == (23.541235, 110.3912, 15.0)
    back = decode("1-0", encode(ev, actor="a", at=1)).event
    assert back == ev  # through the wire and back
    for bad, field in (({"lat": 91, "lon": 110, "accuracy": 5}, "location.lat"),
                       ({"lat": 23, "lon": 181, "accuracy": 5}, "location.lon"),
                       ({"lat": 23, "lon": 110, "accuracy": 50_000}, "location.accuracy"),
                       ({"lat": 23, "lon": 110}, "location.accuracy"),
                       ({"lat": True, "lon": 110, "accuracy": 5}, "location.lat"),
                       ("23,110", "location")):
        with pytest.raises(InvalidRequest) as exc:
            _report(log, location=bad)
        assert exc.value.field == field
