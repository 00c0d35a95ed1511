"""Alert rules with a controllable clock: raised once when a condition starts, cleared when it ends."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from command import alerts, modes, operations
from command.access import Actor, Role
from command.alerts import MINUTE, AlertConfig, AlertKind, AlertRules, Progress
from command.errors import NotAuthorised, StateConflict
from command.events import (
    AlertCleared,
    AlertRaised,
    AlertUpdated,
    Event,
    ProgressReported,
    Recorded,
    RegistryLoaded,
    SecretaryOnPost,
    UserAdded,
    UserLoggedIn,
)
from command.fold import ControlState, Counts
from command.grids import GridTree
from tests.conftest import make_tree

T0 = 1_760_000_000_000  # a fixed instant; every test moves its own clock from here
COMMANDER = Actor("commander", Role.COMMANDER, "TC")


class World:
    """A county folded in memory: events at chosen instants, progress from the same fold."""

    def __init__(self, tree: GridTree | None = None) -> None:
        self.tree = tree or make_tree()
        self.state = ControlState()
        self.counts = Counts(self.tree)
        self.seq = 0
        self.now = T0
        self.apply(RegistryLoaded(county=self.tree.root, grids=tuple(self.tree.rows())))

    def apply(self, event: Event, actor: str = "commander", at: int | None = None) -> None:
        self.seq += 1
        at = self.now if at is None else at
        rec = Recorded(f"{at}-{self.seq}", event, actor, at)
        self.state.apply(rec)
        self.counts.apply(rec)

    def at(self, minutes: float) -> int:
        self.now = T0 + int(minutes * MINUTE)
        return self.now

    def progress(self) -> Progress:
        totals = {op: {g: dict(c) for g, c in grids.items()} for op, grids in self.counts.totals.items()}
        return Progress(totals, {op: dict(v) for op, v in self.counts.last.items()})

    def evaluate(self, rules: AlertRules) -> list[Event]:
        """One round: decide, then fold what was decided (as the evaluator's append would)."""
        events = rules.evaluate(self.state, self.progress(), self.now)
        for e in events:
            self.apply(e, actor="scheduler")
        return events

    def war(self) -> None:
        self.apply(modes.switch(self.state, COMMANDER, modes.SwitchRequest("TC", "wartime", "epidemic", "II")))

    def launch(self, op: str = "op1", deadline_h: float | None = None, kind: str = "mass_testing",
               scope: str = "TC", targets: Mapping[str, object] | None = None) -> None:
        deadline = None if deadline_h is None else self.now + int(deadline_h * 60 * MINUTE)
        req = operations.LaunchRequest(op, kind, scope, "test", deadline, targets or {})
        self.apply(operations.launch(self.state, COMMANDER, req))

    def report(self, grid: str, n: int, op: str = "op1", counter: str = "sampled") -> None:
        self.seq += 1
        self.apply(ProgressReported(op, grid, {counter: n}, f"r{self.seq}", reason="fix" if n < 0 else ""))


def kinds(events: list[Event], cls: type[Event]) -> list[tuple[str, str]]:
    return [(e.alert, getattr(e, "kind", "")) for e in events if isinstance(e, cls)]  # type: ignore[attr-defined]


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def rules() -> AlertRules:
    """Default thresholds, except silent secretaries and not on post (tested on their own)."""
    return AlertRules(AlertConfig(silent_minutes=100_000, on_post_minutes=100_000))


# -- vacancy ------------------------------------------------------------------------


def test_vacancy_is_raised_once_per_town_with_its_grids(world: World, rules: AlertRules) -> None:
    world.war()
    first = world.evaluate(rules)
    assert sorted(kinds(first, AlertRaised)) == [
        ("vacancy:TC01", AlertKind.VACANCY), ("vacancy:TC02", AlertKind.VACANCY)
    ]
    a = world.state.alerts["vacancy:TC01"]
    assert a.grid == "TC01" and a.detail["count"] == 4
    assert a.detail["grids"] == sorted(g for g in world.state.vacancies if g.startswith("TC01"))
    world.at(1)
    assert world.evaluate(rules) == []
    world.at(60)
    assert world.evaluate(rules) == []


def test_vacancy_clears_when_every_grid_of_the_town_has_an_acting_secretary(world: World, rules: AlertRules) -> None:
    world.war()
    world.evaluate(rules)
    for g in sorted(world.state.vacancies):
        if g.startswith("TC01"):
            world.apply(modes.appoint(world.state, COMMANDER, g, "代理书记"))
    world.at(1)
    events = world.evaluate(rules)
    assert [e.alert for e in events if isinstance(e, AlertCleared)] == ["vacancy:TC01"]
    assert not [e for e in events if isinstance(e, AlertRaised)]
    assert world.state.alerts["vacancy:TC01"].cleared_at == world.now
    assert world.state.alerts["vacancy:TC02"].open


def test_a_changed_rollup_is_updated_at_the_next_round_whatever_the_interval(world: World) -> None:
    """Issue 14 item 10: the count shown is the log's; the interval holds back no fact."""
    rules = AlertRules(AlertConfig(update_every_minutes=10, silent_minutes=100_000, on_post_minutes=100_000))
    world.war()
    world.evaluate(rules)
    vacant = sorted(g for g in world.state.vacancies if g.startswith("TC02"))
    world.at(1)
    world.apply(modes.appoint(world.state, COMMANDER, vacant[0], "甲"))
    events = world.evaluate(rules)  # one minute after the last event on this alert: updated all the same
    assert [type(e) for e in events] == [AlertUpdated]
    assert world.state.alerts["vacancy:TC02"].detail["count"] == 3
    assert vacant[0] not in world.state.alerts["vacancy:TC02"].detail["grids"]
    world.at(2)
    world.apply(modes.appoint(world.state, COMMANDER, vacant[1], "乙"))
    assert [type(e) for e in world.evaluate(rules)] == [AlertUpdated]
    assert world.state.alerts["vacancy:TC02"].detail["count"] == 2
    world.at(30)
    assert world.evaluate(rules) == []  # nothing changed: nothing written


def test_a_second_grid_over_target_is_counted_within_a_round(world: World) -> None:
    rules = AlertRules(AlertConfig(update_every_minutes=10, silent_minutes=100_000))
    world.war()
    world.launch()
    leaves = sorted(world.tree.leaves("TC01"))
    world.report(leaves[0], 40)  # 40 of 30 people
    world.at(1)
    world.evaluate(rules)
    base = "over_target:op1:TC01"
    assert world.state.alerts[base].detail["count"] == 1
    world.report(leaves[1], 40)
    world.at(2)
    events = world.evaluate(rules)
    assert [type(e) for e in events if getattr(e, "alert", "") == base] == [AlertUpdated]
    assert world.state.alerts[base].detail["count"] == 2
    assert world.state.alerts[base].detail["grids"] == leaves[:2]


def test_a_pace_projection_alone_is_refreshed_at_most_once_per_interval() -> None:
    from command.alerts import drift, signature

    a = {"grids": ["X"], "count": 1, "behind": ["sampled"], "projected_at": 10 * 60 * MINUTE}
    b = {**a, "projected_at": 12 * 60 * MINUTE}
    assert signature("pace", a) == signature("pace", b) and drift("pace", a) != drift("pace", b)
    assert signature("pace", a) != signature("pace", {**a, "count": 2})
    assert drift("over_target", a) == ()


def test_stand_down_clears_vacancies(world: World, rules: AlertRules) -> None:
    world.war()
    world.evaluate(rules)
    world.at(5)
    world.apply(modes.switch(world.state, COMMANDER, modes.SwitchRequest("TC", "peacetime")))
    events = world.evaluate(rules)
    assert sorted(e.alert for e in events if isinstance(e, AlertCleared)) == ["vacancy:TC01", "vacancy:TC02"]


# -- stall --------------------------------------------------------------------------


def test_stall_waits_n_minutes_per_operation_kind(world: World) -> None:
    rules = AlertRules(AlertConfig(stall_minutes={"mass_testing": 30}))
    world.war()
    world.launch()
    world.at(29)
    assert not [e for e in world.evaluate(rules) if getattr(e, "kind", "") == AlertKind.STALL]
    world.at(30)
    events = world.evaluate(rules)
    stalls = [e for e in events if isinstance(e, AlertRaised) and e.kind == AlertKind.STALL]
    assert sorted(e.alert for e in stalls) == ["stall:op1:TC01", "stall:op1:TC02"]
    assert all(e.detail["count"] == 16 and e.detail["minutes"] == 30 for e in stalls)


def test_stall_is_raised_once_and_cleared_when_the_grids_report(world: World, rules: AlertRules) -> None:
    world.war()
    world.launch()
    tc2 = [g for g in world.tree.leaves("TC02")]
    world.at(10)
    for g in tc2:
        world.report(g, 5)
    world.at(31)
    raised = kinds(world.evaluate(rules), AlertRaised)
    assert ("stall:op1:TC01", AlertKind.STALL) in raised
    assert not [a for a, _ in raised if a.startswith("stall:op1:TC02")]  # TC02 reported 21 minutes ago
    world.at(32)
    assert world.evaluate(rules) == []
    world.at(41)
    assert kinds(world.evaluate(rules), AlertRaised) == [("stall:op1:TC02", AlertKind.STALL)]
    world.at(42)
    for g in world.tree.leaves("TC01"):
        world.report(g, 1)
    world.at(43)
    assert [e.alert for e in world.evaluate(rules) if isinstance(e, AlertCleared)] == ["stall:op1:TC01"]


def test_a_grid_at_target_never_stalls(world: World, rules: AlertRules) -> None:
    world.war()
    world.launch()
    for g in world.tree.leaves("TC"):
        world.report(g, 30)  # population of every micro grid
    world.at(120)
    assert not [e for e in world.evaluate(rules) if getattr(e, "kind", "") == AlertKind.STALL]


def test_forty_stalled_grids_of_a_town_are_one_alert_with_the_grids_under_it(rules: AlertRules) -> None:
    world = World(make_tree(towns=1, larges=5, mediums=2, smalls=2, micros=2))
    world.war()
    world.launch()
    world.at(31)
    stalls = [e for e in world.evaluate(rules) if isinstance(e, AlertRaised) and e.kind == AlertKind.STALL]
    assert len(stalls) == 1
    (a,) = stalls
    assert a.alert == "stall:op1:TC01" and a.grid == "TC01"
    assert a.detail["count"] == 40 and len(a.detail["grids"]) == 40
    assert set(a.detail["grids"]) == set(world.tree.leaves("TC01"))


def test_closing_the_operation_clears_its_alerts(world: World, rules: AlertRules) -> None:
    world.war()
    world.launch()
    world.at(31)
    world.evaluate(rules)
    world.apply(operations.close(world.state, COMMANDER, "op1"))
    world.at(32)
    cleared = sorted(e.alert for e in world.evaluate(rules) if isinstance(e, AlertCleared))
    assert cleared == ["stall:op1:TC01", "stall:op1:TC02"]


def test_a_condition_that_returns_after_a_clear_is_a_new_alert_with_a_sequence_suffix(
    world: World, rules: AlertRules
) -> None:
    world.war()
    world.launch()
    world.at(31)
    world.evaluate(rules)
    world.at(32)
    for g in world.tree.leaves("TC01"):
        world.report(g, 1)
    world.evaluate(rules)
    assert not world.state.alerts["stall:op1:TC01"].open
    world.at(63)
    raised = kinds(world.evaluate(rules), AlertRaised)
    assert ("stall:op1:TC01~2", AlertKind.STALL) in raised
    world.at(64)
    for g in world.tree.leaves("TC01"):
        world.report(g, 1)
    world.evaluate(rules)
    world.at(95)
    assert ("stall:op1:TC01~3", AlertKind.STALL) in kinds(world.evaluate(rules), AlertRaised)


# -- pace ---------------------------------------------------------------------------


def test_pace_projects_completion_and_clears_once_back_on_pace(world: World, rules: AlertRules) -> None:
    world.war()
    world.launch(deadline_h=10)
    leaves = list(world.tree.leaves("TC"))
    world.at(60)
    for g in leaves:
        world.report(g, 1)  # 32 of 960 in 1 h: done in 30 h, deadline in 10 h
    events = world.evaluate(rules)
    pace = {e.alert: e for e in events if isinstance(e, AlertRaised) and e.kind == AlertKind.PACE}
    assert sorted(pace) == ["pace:op1:TC", "pace:op1:TC01", "pace:op1:TC02"]
    county = pace["pace:op1:TC"]
    assert county.grid == "TC"
    assert county.detail["projected_at"] == world.now + 29 * 60 * MINUTE
    assert county.detail["deadline"] == T0 + 10 * 60 * MINUTE
    assert county.detail["grids"] == ["TC01", "TC02"] and county.detail["count"] == 2
    assert pace["pace:op1:TC01"].detail["grids"] == ["TC01-L1", "TC01-L2"]
    world.at(61)
    assert world.evaluate(rules) == []
    world.at(120)
    for g in leaves:
        world.report(g, 14)  # 480 of 960 in 2 h: done at 4 h
    cleared = sorted(e.alert for e in world.evaluate(rules) if isinstance(e, AlertCleared))
    assert cleared == sorted(pace)


def test_pace_with_no_progress_has_no_projection_and_waits_for_a_minimum_elapsed_time(world: World) -> None:
    rules = AlertRules(AlertConfig(pace_min_elapsed_minutes=30, stall_minutes={"mass_testing": 999}))
    world.war()
    world.launch(deadline_h=2)
    world.at(29)
    assert not [e for e in world.evaluate(rules) if getattr(e, "kind", "") == AlertKind.PACE]
    world.at(30)
    pace = [e for e in world.evaluate(rules) if isinstance(e, AlertRaised) and e.kind == AlertKind.PACE]
    assert {e.alert for e in pace} == {"pace:op1:TC", "pace:op1:TC01", "pace:op1:TC02"}
    assert all(e.detail["projected_at"] is None for e in pace)


def test_pace_of_a_town_operation_is_the_town_only(world: World, rules: AlertRules) -> None:
    world.war()
    world.launch(deadline_h=1, scope="TC02")
    world.at(40)
    pace = [e.alert for e in world.evaluate(rules) if isinstance(e, AlertRaised) and e.kind == AlertKind.PACE]
    assert pace == ["pace:op1:TC02"]


def test_pace_near_the_deadline_does_not_flap(world: World) -> None:
    rules = AlertRules(AlertConfig(pace_clear_margin=0.05))
    world.war()
    world.launch(deadline_h=10, scope="TC01")
    leaves = list(world.tree.leaves("TC01"))
    world.at(60)
    for g in leaves[:11]:
        world.report(g, 4)  # 44 of 480 in 1 h → done at ~10.9 h: behind
    assert ("pace:op1:TC01", AlertKind.PACE) in kinds(world.evaluate(rules), AlertRaised)
    world.at(61)
    world.report(leaves[0], 5)  # 49 of 480 after 61 min → done at ~9.96 h: inside, but not by the margin
    assert not [e for e in world.evaluate(rules) if isinstance(e, AlertCleared)]


# -- over target --------------------------------------------------------------------


def test_over_target_beyond_the_margin_is_raised_and_a_correction_clears_it(world: World, rules: AlertRules) -> None:
    world.war()
    world.launch()
    grid = "TC01-L1-M1-S1-W1"  # target 30 (its population); margin 10 % → 33 is still fine
    world.report(grid, 33)
    assert not [e for e in world.evaluate(rules) if getattr(e, "kind", "") == AlertKind.OVER_TARGET]
    world.at(1)
    world.report(grid, 5)
    over = [e for e in world.evaluate(rules) if isinstance(e, AlertRaised) and e.kind == AlertKind.OVER_TARGET]
    assert [(e.alert, e.detail["grids"], e.detail["margin_percent"]) for e in over] == [
        ("over_target:op1:TC01", [grid], 10.0)
    ]
    world.at(2)
    assert world.evaluate(rules) == []
    world.report(grid, -8)
    assert [e.alert for e in world.evaluate(rules) if isinstance(e, AlertCleared)] == ["over_target:op1:TC01"]


def test_the_over_target_margin_is_configurable(world: World) -> None:
    world.war()
    world.launch()
    world.report("TC01-L1-M1-S1-W1", 31)
    assert not [e for e in world.evaluate(AlertRules()) if getattr(e, "kind", "") == AlertKind.OVER_TARGET]
    strict = AlertRules(AlertConfig(over_target_margin=0.0))
    assert [e.alert for e in strict.evaluate(world.state, world.progress(), world.now)
            if isinstance(e, AlertRaised) and e.kind == AlertKind.OVER_TARGET] == ["over_target:op1:TC01"]


def test_a_scope_wide_target_is_watched_on_the_scope(world: World, rules: AlertRules) -> None:
    world.war()
    world.launch(kind="flood_evacuation", scope="TC02", targets={"people_evacuated": 10})
    world.report("TC02-L1-M1-S1-W1", 12, counter="people_evacuated")
    over = [e for e in world.evaluate(rules) if isinstance(e, AlertRaised) and e.kind == AlertKind.OVER_TARGET]
    assert [(e.alert, e.detail["grids"]) for e in over] == [("over_target:op1:TC02", ["TC02"])]


# -- silent secretary ---------------------------------------------------------------


def _leader_of(world: World, small: str, name: str) -> None:
    world.apply(UserAdded(username=name, role="leader", scope=small))


def test_silent_secretary_after_n_minutes_cleared_by_a_login_or_a_report(world: World) -> None:
    rules = AlertRules(AlertConfig(silent_minutes=30, update_every_minutes=0))
    world.war()
    installed = sorted(g for g in world.state.secretaries if g.startswith("TC01"))
    _leader_of(world, installed[0], "lead0")
    world.at(29)
    assert not [e for e in world.evaluate(rules) if getattr(e, "kind", "") == AlertKind.SILENT_SECRETARY]
    world.at(30)
    silent = {e.alert: e for e in world.evaluate(rules)
              if isinstance(e, AlertRaised) and e.kind == AlertKind.SILENT_SECRETARY}
    assert sorted(silent) == ["silent_secretary:TC01", "silent_secretary:TC02"]
    assert silent["silent_secretary:TC01"].detail["grids"] == installed
    assert silent["silent_secretary:TC01"].detail["secretaries"][installed[0]] == f"书记{installed[0]}"
    world.at(31)
    world.apply(UserLoggedIn(username="lead0"), actor="lead0")
    world.apply(operations.launch(world.state, COMMANDER, operations.LaunchRequest("op1", "mass_testing", "TC", "x")))
    for g in installed[1:]:
        world.report(f"{g}-W1", 1)
    world.at(32)
    cleared = [e.alert for e in world.evaluate(rules) if isinstance(e, AlertCleared)]
    assert cleared == ["silent_secretary:TC01"]
    world.at(33)
    assert world.evaluate(rules) == []


def test_a_login_before_the_switch_does_not_count(world: World) -> None:
    rules = AlertRules(AlertConfig(silent_minutes=30))
    small = "TC01-L1-M1-S1"
    _leader_of(world, small, "early")
    world.apply(UserLoggedIn(username="early"), actor="early")
    world.at(1)
    world.war()
    world.at(40)
    world.evaluate(rules)
    assert small in world.state.alerts["silent_secretary:TC01"].detail["grids"]


# -- acknowledgement and idempotency ------------------------------------------------


def test_acknowledgement_is_recorded_with_its_actor_and_survives_updates(world: World) -> None:
    rules = AlertRules(AlertConfig(update_every_minutes=0, silent_minutes=100_000))
    world.war()
    world.evaluate(rules)
    town1 = Actor("town1", Role.COMMANDER, "TC01")
    with pytest.raises(NotAuthorised):
        alerts.acknowledge(world.state, town1, "vacancy:TC02")
    world.at(2)
    world.apply(alerts.acknowledge(world.state, town1, "vacancy:TC01"), actor="town1")
    a = world.state.alerts["vacancy:TC01"]
    assert (a.acked_by, a.acked_at) == ("town1", world.now)
    with pytest.raises(StateConflict):
        alerts.acknowledge(world.state, COMMANDER, "vacancy:TC01")
    world.apply(modes.appoint(world.state, COMMANDER, sorted(a.detail["grids"])[0], "乙"))
    world.at(3)
    assert [type(e) for e in world.evaluate(rules)] == [AlertUpdated]
    assert world.state.alerts["vacancy:TC01"].acked_by == "town1"
    assert world.state.alerts["vacancy:TC01"].detail["count"] == 3


def test_two_evaluators_on_the_same_state_decide_the_same_events_and_keys(world: World) -> None:
    world.war()
    world.launch(deadline_h=5)
    world.at(45)
    a = AlertRules().evaluate(world.state, world.progress(), world.now)
    b = AlertRules().evaluate(world.state, world.progress(), world.now)
    assert a == b and a
    assert [alerts.event_key(e, world.state) for e in a] == [alerts.event_key(e, world.state) for e in b]
    assert len({alerts.event_key(e, world.state) for e in a}) == len(a)


def test_alert_ids_are_built_from_kind_operation_and_grid() -> None:
    assert alerts.base_id("stall", "PN07", "op-1") == "stall:op-1:PN07"
    assert alerts.base_id("vacancy", "PN07") == "vacancy:PN07"
    assert alerts.base_of("stall:op-1:PN07~3") == "stall:op-1:PN07"


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=45),  # minutes forward
            st.lists(st.tuples(st.integers(min_value=0, max_value=31), st.integers(min_value=-3, max_value=20)),
                     max_size=6),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_property_after_a_round_the_open_alerts_are_exactly_the_conditions(steps: list) -> None:
    world = World()
    rules = AlertRules(AlertConfig(update_every_minutes=0))
    world.war()
    world.launch(deadline_h=6)
    leaves = sorted(world.tree.leaves("TC"))
    minutes = 0
    for forward, reports in steps:
        minutes += forward
        world.at(minutes)
        for i, n in reports:
            have = world.counts.of("op1", leaves[i]).get("sampled", 0)
            if n and have + n >= 0:
                world.report(leaves[i], n)
        world.evaluate(rules)
        assert rules.evaluate(world.state, world.progress(), world.now) == []  # nothing twice
        conditions = rules.conditions(world.state, world.progress(), world.now)
        open_bases = {alerts.base_of(a.id) for a in world.state.alerts.values() if a.open}
        assert open_bases == set(conditions)
        per_base = [alerts.base_of(a.id) for a in world.state.alerts.values() if a.open]
        assert len(per_base) == len(set(per_base))  # one open alert per condition


def test_not_on_post_is_raised_by_town_after_n_minutes_and_clears_on_confirmation(world: World) -> None:
    rules = AlertRules(AlertConfig(silent_minutes=100_000, on_post_minutes=30))
    world.war()
    world.at(29)
    assert [e for e in world.evaluate(rules) if getattr(e, "kind", "") == "not_on_post"] == []
    world.at(31)
    raised = {e.grid: e for e in world.evaluate(rules) if getattr(e, "kind", "") == "not_on_post"}
    assert sorted(raised) == ["TC01", "TC02"] and raised["TC01"].detail["count"] == 4
    for g in [g for g, p in world.state.mobilisation.posts.items() if g.startswith("TC01")]:
        world.apply(SecretaryOnPost(grid=g, report_id=f"r-{g}"), actor=f"sec-{g}")
    world.at(32)
    cleared = [e for e in world.evaluate(rules) if isinstance(e, AlertCleared)]
    assert [e.alert for e in cleared] == ["not_on_post:TC01"]
