"""Quarterly grid evaluation, pure: the checklist, weights, log-fed values, stars, ranks, determinism."""

from __future__ import annotations

from typing import Any

import pytest

from command.access import Actor, Role
from command.contact import quarter_of
from command.errors import InvalidRequest, NotAuthorised
from command.evaluation import (
    CHECKLIST,
    CHECKLIST_CATEGORIES,
    check_adjustments,
    compute,
    default_weights,
    digest,
    set_weights,
    stars,
)
from command.events import (
    ContactRoundCompleted,
    ContactRoundDue,
    Event,
    ModeSwitched,
    OperationClosed,
    OperationLaunched,
    Recorded,
    RegistryLoaded,
)
from command.fold import ControlState
from command.matters import HOUR, MatterRequest, MattersState, advance, handover, record
from tests.conftest import make_tree

TREE = make_tree()
GOOD = "TC01-L1-M1-S1"  # first leader 书记TC01-L1-M1-S1
LATE = "TC01-L1-M2-S1"
VACANT = "TC01-L1-M1-S2"  # no first leader
T0 = 1_751_328_000_000  # 2025-07-01 08:00 Shanghai: the first day of 2025Q3
Q = quarter_of(T0)
BOSS = Actor("boss", Role.COMMANDER, "TC")


class World:
    """Control events and matter events folded side by side, as the two folds of one log."""

    def __init__(self) -> None:
        self.control = ControlState()
        self.matters = MattersState()
        self.ms = T0
        self.n = 0
        self.add(RegistryLoaded(county="TC", grids=tuple(TREE.rows())), "setup")

    def add(self, event: Event, actor: str = "boss", at: int | None = None) -> None:
        self.ms = at if at is not None else self.ms + 1000
        self.n += 1
        rec = Recorded(id=f"{self.ms}-{self.n}", event=event, actor=actor, at=self.ms)
        self.control.apply(rec)
        self.matters.apply(rec)

    def matter(self, mid: str, grid: str, *, handled_after_h: float | None, satisfaction: int | None = None,
               up: str | None = None, category: str = "dispute") -> None:
        small = grid
        grid = f"{grid}-W1"
        w = Actor("w", Role.LEADER, small)
        self.add(record(self.matters, TREE, w, MatterRequest(mid, grid, category, "x"), self.ms + 1000), "w")
        self.add(advance(self.matters, TREE, w, mid, "deliberated"), "w")
        if up:
            self.add(handover(self.matters, TREE, BOSS, mid, "report", to=up, reason="r"))
        if handled_after_h is None:
            return
        start = self.matters.matters[mid].reported_at
        self.add(advance(self.matters, TREE, BOSS, mid, "handled"), at=start + int(handled_after_h * HOUR))
        self.add(advance(self.matters, TREE, BOSS, mid, "published"))
        if satisfaction:
            self.add(advance(self.matters, TREE, BOSS, mid, "evaluated", satisfaction=satisfaction))

    def table(self, now: int, progress: Any = None, weights: Any = None, adjustments: Any = None) -> dict[str, Any]:
        return compute(self.control, self.matters, progress or {}, Q, "TC01", now, weights or {}, adjustments)


def row(table: dict[str, Any], grid: str) -> dict[str, Any]:
    return next(r for r in table["grids"] if r["grid"] == grid)


def test_the_checklist_has_eleven_categories_and_over_twenty_items_weighing_100() -> None:
    assert len(CHECKLIST_CATEGORIES) == 11 and {i.category for i in CHECKLIST} == set(CHECKLIST_CATEGORIES)
    assert len(CHECKLIST) >= 20 and sum(default_weights().values()) == 100
    assert sum(1 for i in CHECKLIST if i.logged) >= 10


def test_weights_are_edited_by_county_commanders_only_and_checked() -> None:
    ev = set_weights(BOSS, TREE, {}, {"handling.in_time": 30})
    assert ev.weights["handling.in_time"] == 30 and ev.weights["party.activities"] == 4
    for actor in (Actor("t", Role.COMMANDER, "TC01"), Actor("v", Role.VIEWER, "TC"), Actor("l", Role.LEADER, GOOD)):
        with pytest.raises(NotAuthorised):
            set_weights(actor, TREE, {}, {"handling.in_time": 30})
    for bad in ({"nope": 1}, {"handling.in_time": -1}, {"handling.in_time": "9"}, {}, [1],
                dict.fromkeys(default_weights(), 0)):
        with pytest.raises(InvalidRequest):
            set_weights(BOSS, TREE, {}, bad)


def test_stars_follow_the_score_bands() -> None:
    assert [stars(s) for s in (100, 90, 89.99, 80, 70, 60, 59.9, 0)] == [5, 5, 4, 4, 3, 2, 1, 1]


def test_log_fed_items_reward_matters_closed_in_time_in_the_grid_with_satisfied_residents() -> None:
    w = World()
    w.matter("a", GOOD, handled_after_h=10, satisfaction=5)
    w.matter("b", GOOD, handled_after_h=20, satisfaction=5)
    w.matter("d", LATE, handled_after_h=None)  # open
    w.matter("e", LATE, handled_after_h=30, satisfaction=3, up="town")
    w.matter("c", LATE, handled_after_h=400, satisfaction=1)  # disputes are due in 168 h
    now = w.ms + HOUR  # d is overdue by now
    table = w.table(now)
    good, late = row(table, GOOD), row(table, LATE)
    assert good["values"]["handling.in_time"] == 1 and good["values"]["satisfaction.score"] == 1
    assert good["score"] == 100 and good["stars"] == 5 and good["rank"] == 1 and good["matters"] == 2
    assert late["values"]["handling.completion"] == pytest.approx(2 / 3, abs=1e-4)
    assert late["values"]["handling.in_time"] == pytest.approx(1 / 3, abs=1e-4)
    assert late["values"]["grid_first.in_grid"] == 0.5 and late["values"]["grid_first.in_village"] == 0.5
    assert late["values"]["satisfaction.score"] == pytest.approx(0.25)
    assert late["score"] < good["score"] and late["rank"] == len(table["grids"])
    assert "party.activities" in late["neutral"] and "handling.in_time" not in late["neutral"]
    # Grids with nothing to judge lose nothing: they tie with the best at rank 1.
    assert sorted({r["rank"] for r in table["grids"]}) == [1, len(table["grids"])]


def test_matters_of_another_quarter_do_not_count() -> None:
    w = World()
    w.ms = Q.start - 10 * 24 * HOUR
    w.matter("old", LATE, handled_after_h=None)
    w.ms = T0
    table = w.table(T0 + 1000 * HOUR)
    assert row(table, LATE)["matters"] == 0 and row(table, LATE)["score"] == 100


def test_contact_rounds_count_when_held_and_deduct_when_missed() -> None:
    w = World()
    w.add(ContactRoundDue(round=Q.id, grid=GOOD, leader="a", due=Q.end), "scheduler")
    w.add(ContactRoundDue(round=Q.id, grid=LATE, leader="b", due=Q.end), "scheduler")
    w.add(ContactRoundCompleted(round=Q.id, grid=GOOD, concerns=2), "a")
    before_due = w.table(Q.end - 1)
    assert row(before_due, GOOD)["values"]["collection.contact_round"] == 1
    assert row(before_due, GOOD)["values"]["collection.concerns"] == pytest.approx(2 / 3, abs=1e-4)
    assert "collection.contact_round" in row(before_due, LATE)["neutral"]
    after_due = w.table(Q.end + 1)
    assert row(after_due, LATE)["values"]["collection.contact_round"] == 0


def test_wartime_completion_and_secretaries_come_from_operations_and_switches() -> None:
    w = World()
    w.add(ModeSwitched(scope="TC01", mode="wartime", incident="epidemic", level="II",
                       grids=tuple(TREE.subtree("TC01")), installed=((GOOD, "书记"),), vacancies=(VACANT,)))
    w.add(OperationLaunched(operation="op1", kind="mass_testing", scope="TC01", name="核酸"))
    w.add(OperationLaunched(operation="op2", kind="fire_hazard_check", scope="TC01", name="火灾排查"))
    w.add(OperationClosed(operation="op1"))
    progress = {
        "op1": {GOOD: {"sampled": 60}, LATE: {"sampled": 15}},
        "op2": {GOOD: {"households_checked": 10, "hazards_found": 4, "hazards_eliminated": 1}},
    }
    table = w.table(T0 + 10 * HOUR, progress)
    good, late, vacant = row(table, GOOD), row(table, LATE), row(table, VACANT)
    assert good["values"]["emergency.completion"] == pytest.approx((1 + 0.5) / 2)
    assert late["values"]["emergency.completion"] == pytest.approx(0.25 / 2)
    assert good["values"]["safety.hazards"] == 0.25
    assert good["values"]["emergency.secretary"] == 1 and vacant["values"]["emergency.secretary"] == 0
    assert vacant["first_leader"] is None
    assert all(r["leader"] for r in table["leaders"]) and len(table["leaders"]) == 4


def test_weights_and_manual_adjustments_change_the_score() -> None:
    w = World()
    w.matter("c", LATE, handled_after_h=400, satisfaction=5)
    now = T0 + 500 * HOUR
    base = row(w.table(now), LATE)["score"]
    heavy = row(w.table(now, weights={"handling.in_time": 80}), LATE)["score"]
    assert heavy < base
    adj = check_adjustments(TREE, "TC01", {"party.activities": {LATE: 0.0}})
    assert row(w.table(now, adjustments=adj), LATE)["score"] < base
    for bad in ({"handling.in_time": {LATE: 0.5}}, {"party.activities": {"TC01-L1-M2": 0.5}},
                {"party.activities": {LATE: 2}}, {"party.activities": {"TC02-L1-M1-S1": 1}}, ["x"]):
        with pytest.raises(InvalidRequest):
            check_adjustments(TREE, "TC01", bad)


def test_the_same_log_gives_the_same_table_and_digest() -> None:
    def build() -> dict[str, Any]:
        w = World()
        w.matter("a", GOOD, handled_after_h=10, satisfaction=4)
        w.matter("b", LATE, handled_after_h=None)
        return w.table(T0 + 400 * HOUR, {"op": {}}, {"team.training": 7})

    one, two = build(), build()
    assert one == two and digest(one) == digest(two)
    other = dict(one, now=one["now"] + 1)
    assert digest(other) != digest(one)
