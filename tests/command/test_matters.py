"""Residents' matters, pure: five lists in order, hand-overs up/down/sideways, deadlines, overdue alerts, board."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from command.access import Actor, Role
from command.errors import CommandRejected, InvalidRequest, NotAuthorised, StateConflict, UnknownGrid
from command.events import AlertCleared, AlertRaised, Event, ModeSwitched, Recorded
from command.matters import (
    HOUR,
    RANK,
    MatterRequest,
    MattersState,
    UnknownMatter,
    advance,
    event_key,
    fold_matters,
    handover,
    local_day,
    matter_id_for,
    overdue_alerts,
    record,
    select,
    summary,
)
from command.scenarios import apply_step, qingcao_matters
from tests.conftest import make_tree

TREE = make_tree()
SMALL = "TC01-L1-M1-S1"
MICRO = "TC01-L1-M1-S1-W1"
VILLAGE = "TC01-L1-M1"
T0 = 1_750_000_000_000
WORKER = Actor("worker", Role.LEADER, SMALL)
VILLAGER = Actor("village", Role.LEADER, VILLAGE)
TOWN = Actor("town", Role.COMMANDER, "TC01")
BOSS = Actor("boss", Role.COMMANDER, "TC")


class Log:
    """Events folded into a MattersState with a fake clock."""

    def __init__(self) -> None:
        self.state = MattersState()
        self.ms = T0
        self.n = 0

    def add(self, event: Event, actor: Actor | str = WORKER, step_ms: int = 1000) -> Recorded:
        self.ms += step_ms
        self.n += 1
        name = actor if isinstance(actor, str) else actor.username
        rec = Recorded(id=f"{self.ms}-{self.n}", event=event, actor=name, at=self.ms)
        self.state.apply(rec)
        return rec

    def new(self, mid: str = "m1", category: str = "dispute", grid: str = MICRO, **kw: Any) -> str:
        req = MatterRequest(mid, grid, category, "邻里纠纷", "王建国", "", kw.get("reported_at"))
        self.add(record(self.state, TREE, kw.get("actor", WORKER), req, self.ms + 1000))
        return mid

    def go(self, mid: str, stage: str, actor: Actor = WORKER, **kw: Any) -> None:
        self.add(advance(self.state, TREE, actor, mid, stage, kw.get("note", ""), kw.get("satisfaction")), actor)

    def hand(self, mid: str, step: str, actor: Actor = WORKER, **kw: Any) -> None:
        kw.setdefault("reason", "理由")
        self.add(handover(self.state, TREE, actor, mid, step, **kw), actor)


def test_recording_fixes_the_deadline_from_the_category_and_the_residents_report() -> None:
    log = Log()
    log.new("m1", "safety")
    m = log.state.matters["m1"]
    assert m.stage == "collected" and m.holder == MICRO and m.tier == "grid"
    assert m.due == m.reported_at + 72 * HOUR
    log.new("m2", "infrastructure", reported_at=T0 - 20 * 24 * HOUR)
    m2 = log.state.matters["m2"]
    assert m2.reported_at == T0 - 20 * 24 * HOUR and m2.due == m2.reported_at + 360 * HOUR
    assert m2.overdue(log.ms) and not m.overdue(log.ms)


@pytest.mark.parametrize(
    ("actor", "grid", "category", "description", "error", "field"),
    [
        (Actor("v", Role.VIEWER, "TC"), MICRO, "dispute", "x", NotAuthorised, "grid"),
        (Actor("o", Role.LEADER, "TC02-L1-M1-S1"), MICRO, "dispute", "x", NotAuthorised, "grid"),
        (TOWN, VILLAGE, "dispute", "x", InvalidRequest, "grid"),
        (WORKER, "NOPE", "dispute", "x", UnknownGrid, "grid"),
        (WORKER, MICRO, "meteor", "x", InvalidRequest, "category"),
        (WORKER, MICRO, "dispute", "   ", InvalidRequest, "description"),
        (WORKER, MICRO, "dispute", "x" * 2001, InvalidRequest, "description"),
    ],
)
def test_a_matter_that_cannot_be_recorded_is_refused_naming_the_field(
    actor: Actor, grid: str, category: str, description: str, error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as err:
        record(MattersState(), TREE, actor, MatterRequest("m1", grid, category, description), T0)
    assert isinstance(err.value, CommandRejected) and err.value.field == field


def test_reported_at_may_be_in_the_past_but_not_the_future() -> None:
    for bad in (T0 + 3_600_000, T0 - 400 * 24 * HOUR, "yesterday", True):
        with pytest.raises(InvalidRequest) as err:
            record(MattersState(), TREE, WORKER, MatterRequest("m1", MICRO, "other", "x", reported_at=bad), T0)
        assert err.value.field == "reported_at"


def test_matter_ids_are_checked_and_derived_stably_from_request_ids() -> None:
    assert matter_id_for("abc") == matter_id_for("abc") != matter_id_for("abd")
    for bad in ("", "has space", "x" * 65, "中文"):
        with pytest.raises(InvalidRequest):
            record(MattersState(), TREE, WORKER, MatterRequest(bad, MICRO, "other", "x"), T0)
    log = Log()
    log.new("m1")
    with pytest.raises(StateConflict):
        log.new("m1")


def test_the_five_lists_are_reached_in_order_each_once() -> None:
    log = Log()
    log.new()
    with pytest.raises(StateConflict):
        advance(log.state, TREE, WORKER, "m1", "handled")
    log.go("m1", "deliberated")
    with pytest.raises(StateConflict):
        advance(log.state, TREE, WORKER, "m1", "deliberated")
    log.go("m1", "handled", note="办结")
    m = log.state.matters["m1"]
    assert m.closed and m.handled_by == "worker" and m.in_time and m.handled_tier == "grid"
    with pytest.raises(InvalidRequest) as err:
        advance(log.state, TREE, WORKER, "m1", "published", satisfaction=5)
    assert err.value.field == "satisfaction"
    log.go("m1", "published")
    for bad in (0, 6, "5", None, 4.5):
        with pytest.raises(InvalidRequest):
            advance(log.state, TREE, WORKER, "m1", "evaluated", satisfaction=bad)
    log.go("m1", "evaluated", satisfaction=3)
    assert m.stage == "evaluated" and m.satisfaction == 3
    assert [e.stage for e in m.history] == ["collected", "deliberated", "handled", "published", "evaluated"]
    with pytest.raises(StateConflict):
        advance(log.state, TREE, WORKER, "m1", "evaluated", satisfaction=5)
    with pytest.raises(UnknownMatter):
        advance(log.state, TREE, WORKER, "nope", "deliberated")
    with pytest.raises(InvalidRequest):
        advance(log.state, TREE, WORKER, "m1", "collected")


def test_reporting_up_moves_the_matter_to_the_village_then_the_town_and_only_the_holder_acts() -> None:
    log = Log()
    log.new()
    log.go("m1", "deliberated")
    log.hand("m1", "report", to="village", reason="需村级协调")
    m = log.state.matters["m1"]
    assert (m.holder, m.tier, m.top_tier) == (VILLAGE, "village", "village")
    with pytest.raises(NotAuthorised):
        advance(log.state, TREE, WORKER, "m1", "handled")
    with pytest.raises(StateConflict):
        handover(log.state, TREE, VILLAGER, "m1", "report", to="village", reason="x")
    log.hand("m1", "report", VILLAGER, to="town", reason="涉及多村")
    assert (m.holder, m.tier) == ("TC01", "town")
    with pytest.raises(NotAuthorised):
        handover(log.state, TREE, VILLAGER, "m1", "dispatch", department="x", reason="x")
    log.hand("m1", "dispatch", TOWN, grid="TC01-L1", reason="交村办理")
    assert (m.holder, m.tier, m.top_tier) == ("TC01-L1", "village", "town")
    log.go("m1", "handled", TOWN)
    assert m.handled_tier == "village" and m.top_tier == "town"
    log.go("m1", "published", WORKER)  # the grid the matter came from publishes and goes back to the resident
    log.go("m1", "evaluated", WORKER, satisfaction=5)
    steps = [(e.step, e.actor, e.from_grid, e.to_grid) for e in m.history if e.step != "stage"]
    assert steps == [
        ("entry", "worker", None, MICRO),
        ("report", "worker", MICRO, VILLAGE),
        ("report", "village", VILLAGE, "TC01"),
        ("dispatch", "town", "TC01", "TC01-L1"),
        ("dispose", "town", "TC01-L1", None),
    ]
    with pytest.raises(StateConflict):
        handover(log.state, TREE, TOWN, "m1", "report", to="county", reason="x")


def test_hand_over_targets_are_checked() -> None:
    log = Log()
    log.new()
    with pytest.raises(InvalidRequest) as err:
        handover(log.state, TREE, WORKER, "m1", "report", to="village", reason="")
    assert err.value.field == "reason"
    with pytest.raises(InvalidRequest):
        handover(log.state, TREE, WORKER, "m1", "report", to="grid", reason="x")
    with pytest.raises(InvalidRequest):
        handover(log.state, TREE, WORKER, "m1", "report", to="village", grid="TC02-L1-M1", reason="x")
    with pytest.raises(InvalidRequest):
        handover(log.state, TREE, WORKER, "m1", "escalate", reason="x")
    ev = handover(log.state, TREE, WORKER, "m1", "report", to="village", grid="TC01-L1", reason="x")
    assert (ev.to_grid, ev.to_level) == ("TC01-L1", "village")
    ev = handover(log.state, TREE, WORKER, "m1", "report", to="county", reason="x")
    assert (ev.to_grid, ev.to_level) == ("TC", "county")
    with pytest.raises(InvalidRequest):
        handover(log.state, TREE, WORKER, "m1", "dispatch", reason="x")  # neither a grid below nor a department
    with pytest.raises(InvalidRequest):
        handover(log.state, TREE, WORKER, "m1", "dispatch", grid="TC01-L1-M1-S2-W1", reason="x")
    ev = handover(log.state, TREE, WORKER, "m1", "transfer", department="派出所", reason="x")
    assert (ev.to_grid, ev.department) == (MICRO, "派出所")
    ev = handover(log.state, TREE, WORKER, "m1", "transfer", grid="TC01-L1-M1-S1-W2", reason="x")
    assert ev.to_level == "grid"
    with pytest.raises(NotAuthorised):
        handover(log.state, TREE, WORKER, "m1", "transfer", grid="TC02-L1-M1-S1-W1", reason="x")
    with pytest.raises(InvalidRequest):  # sideways only: a village grid is another tier
        handover(log.state, TREE, TOWN, "m1", "transfer", grid="TC01-L1", reason="x")


def test_an_overdue_matter_raises_exactly_one_alert_and_it_clears_when_handled() -> None:
    log = Log()
    log.new("m1", "urgent")
    m = log.state.matters["m1"]
    assert overdue_alerts(log.state, m.due) == []  # due, not over
    events = overdue_alerts(log.state, m.due + 1)
    assert len(events) == 1 and isinstance(events[0], AlertRaised)
    raised = events[0]
    assert (raised.alert, raised.kind, raised.grid) == ("matter_overdue:m1", "matter_overdue", MICRO)
    assert event_key(raised) == "alert:matter_overdue:m1:raised"
    log.add(raised, "scheduler")
    assert overdue_alerts(log.state, m.due + 10 * HOUR) == []  # once per matter, however late
    log.ms = m.due + 15 * HOUR
    log.go("m1", "deliberated")
    log.go("m1", "handled")
    cleared = overdue_alerts(log.state, m.due + 20 * HOUR)
    assert cleared == [AlertCleared(alert="matter_overdue:m1")]
    log.add(cleared[0], "scheduler")
    assert overdue_alerts(log.state, m.due + 30 * HOUR) == []
    assert not m.in_time


def test_a_matter_handled_in_time_never_raises_an_alert() -> None:
    log = Log()
    log.new("m1", "urgent")
    log.go("m1", "deliberated")
    log.go("m1", "handled")
    assert overdue_alerts(log.state, log.state.matters["m1"].due + 100 * HOUR) == []


def test_a_wartime_switch_leaves_matters_untouched() -> None:
    log = Log()
    log.new("m1")
    log.new("m2")
    log.go("m1", "deliberated")
    before = summary(log.state, TREE, "TC", log.ms)
    log.add(ModeSwitched(scope="TC", mode="wartime", incident="flood", level="II", grids=tuple(TREE.subtree("TC")),
                         installed=((SMALL, "书记"),)), "boss")
    log.add(ModeSwitched(scope="TC", mode="peacetime", grids=tuple(TREE.subtree("TC")), released=(SMALL,)), "boss")
    after = summary(log.state, TREE, "TC", log.ms)
    assert {k: after[k] for k in ("total", "open", "by_stage")} == {k: before[k] for k in ("total", "open", "by_stage")}
    assert log.state.matters["m2"].stage == "collected" and not log.state.matters["m2"].closed


def test_select_filters_by_scope_and_state() -> None:
    log = Log()
    log.new("a")
    log.new("b", "environment")
    log.go("a", "deliberated")
    log.hand("a", "report", to="village")
    now = log.ms
    ids = lambda **kw: [m.id for m in select(log.state, TREE, "TC", now, **kw)]  # noqa: E731
    assert ids() == ["b", "a"]
    assert ids(category="environment") == ["b"]
    assert ids(level="village") == ["a"]
    assert ids(stage="deliberated") == ["a"]
    assert [m.id for m in select(log.state, TREE, "TC02", now)] == []
    assert [m.id for m in select(log.state, TREE, "TC01-L1-M1", now)] == ["b", "a"]
    with pytest.raises(InvalidRequest):
        ids(stage="nope")


def _fold_script(steps: list[Any], tree: Any) -> MattersState:
    log = Log()
    for step in steps:
        log.add(apply_step(log.state, tree, step, log.ms + 1000), step.actor)
    return log.state


def test_the_qingcao_script_reproduces_the_published_split() -> None:
    from command.generate import generate

    tree, _ = generate("qingcao")
    state = _fold_script(qingcao_matters(tree), tree)
    s = summary(state, tree, tree.root, max(m.recorded_at for m in state.matters.values()))
    assert s["total"] == 144 and s["closed"] == 144 and s["completion_rate"] == 1.0
    assert s["in_grid"] == 102 and s["by_level"] == {"grid": 102, "village": 39, "town": 3, "county": 0}
    assert s["by_stage"]["evaluated"] == 144 and s["overdue"] == []
    assert 1 <= s["satisfaction"] <= 5


def test_today_is_the_shanghai_calendar_day() -> None:
    start, end = local_day(1_750_000_000_000)  # 2025-06-15 23:06 in Shanghai
    assert end - start == 86_400_000 and start <= 1_750_000_000_000 < end
    assert (start + 8 * 3_600_000) % 86_400_000 == 0


actions = st.lists(
    st.tuples(
        st.sampled_from(["new", "deliberated", "handled", "published", "evaluated", "report", "dispatch"]),
        st.integers(0, 4),
        st.sampled_from(["village", "town", "county"]),
    ),
    max_size=40,
)


@given(actions)
@settings(max_examples=120, deadline=None)
def test_whatever_happens_the_board_adds_up_and_history_is_ordered(items: list[tuple[str, int, str]]) -> None:
    log = Log()
    for action, i, to in items:
        mid = f"m{i}"
        try:
            if action == "new":
                log.new(mid)
            elif action in ("report", "dispatch"):
                holder = log.state.get(mid).holder
                actor = Actor("c", Role.COMMANDER, "TC")
                if action == "report":
                    log.hand(mid, "report", actor, to=to)
                else:
                    log.hand(mid, "dispatch", actor, department=f"科{i}", grid=holder)
            else:
                log.go(mid, action, Actor("c", Role.COMMANDER, "TC"), satisfaction=4 if action == "evaluated" else None)
        except CommandRejected:
            continue
    s = summary(log.state, TREE, "TC", log.ms)
    assert sum(s["by_level"].values()) == s["total"] == len(log.state.matters)
    assert s["closed"] + s["open"] == s["total"]
    assert s["by_stage"]["collected"] >= s["by_stage"]["deliberated"] >= s["by_stage"]["handled"]
    for m in log.state.matters.values():
        stages = [e.stage for e in m.history if e.stage]
        assert stages == ["collected", "deliberated", "handled", "published", "evaluated"][: len(stages)]
        assert RANK[m.top_tier] >= RANK[m.tier]
    again = fold_matters([])
    assert again.matters == {}


def test_a_matter_keeps_an_optional_bounded_location() -> None:
    log = Log()
    req = MatterRequest("m-where", MICRO, "infrastructure", "路灯不亮", location={"lat": 23.5, "lon": 110.4,
                                                                               "accuracy": 8})
    log.add(record(log.state, TREE, WORKER, req, log.ms + 1000))
    m = log.state.matters["m-where"]
    assert m.location == (23.5, 110.4, 8.0)
    assert m.to_json()["location"] == {"lat": 23.5, "lon": 110.4, "accuracy": 8.0}
    with pytest.raises(InvalidRequest) as err:
        record(log.state, TREE, WORKER, MatterRequest("m-far", MICRO, "other", "x",
                                                      location={"lat": 23.5, "lon": 200, "accuracy": 8}), log.ms)
    assert err.value.field == "location.lon"
    log.new("m-none")
    assert log.state.matters["m-none"].location is None
