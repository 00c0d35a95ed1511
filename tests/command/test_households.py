"""Households, the domain without Redis: statuses, who may set them, roll-ups, masking, roster events."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from command.access import Actor, Role
from command.errors import InvalidRequest, ModeConflict, NotAuthorised, OperationClosed
from command.events import HouseholdStatusSet, OperationLaunched, RegistryLoaded
from command.events import OperationClosed as ClosedEvent
from command.fold import ControlState
from command.household_roster import generate_households
from command.households import (
    ROSTER_BATCH,
    STATUSES,
    Household,
    HouseholdStatusRequest,
    counts_of,
    fold_statuses,
    mask_name,
    mask_phone,
    may_see_personal,
    roll_up,
    roster_events,
    status_event,
)
from command.modes import SwitchRequest, switch
from tests.command.helpers import Log
from tests.conftest import make_tree

TREE = make_tree()
LEAVES = sorted(c for c in TREE.grids if not TREE.children[c])
BOSS = Actor("boss", Role.COMMANDER, "TC")
HH = Household("TC01-L1-M1-S1-W1-001", "TC01-L1-M1-S1-W1")


def _log(scope: str = "TC", wartime: bool = True) -> Log:
    lg = Log()
    lg.add(RegistryLoaded(county="TC", grids=tuple(TREE.rows())))
    if wartime:
        lg.add(switch(lg.state, BOSS, SwitchRequest("TC", "wartime", "flood", "II", "rain")))
    lg.add(OperationLaunched("op1", "flood_evacuation", scope, "转移"))
    return lg


def _state(scope: str = "TC") -> ControlState:
    return _log(scope).state


def _req(status: str = "reached", rid: str = "r1", note: str = "") -> HouseholdStatusRequest:
    return HouseholdStatusRequest("op1", rid, HH.code, status, note)


def test_a_status_of_the_household_grid_leader_becomes_an_event_on_its_grid() -> None:
    ev = status_event(_state(), Actor("w", Role.LEADER, HH.grid), HH, _req("evacuated"))
    assert ev == HouseholdStatusSet("op1", HH.code, HH.grid, "evacuated", "r1", "")


@pytest.mark.parametrize("actor", [
    Actor("w2", Role.LEADER, "TC01-L1-M1-S1-W2"),  # a leader of another micro grid
    Actor("v", Role.VIEWER, "TC"),
    Actor("t2", Role.COMMANDER, "TC02"),
])
def test_anyone_but_the_grid_leaders_and_commanders_of_its_scope_is_refused(actor: Actor) -> None:
    with pytest.raises(NotAuthorised):
        status_event(_state(), actor, HH, _req())


def test_unreached_is_no_status_one_can_set_and_a_bad_report_id_is_refused() -> None:
    with pytest.raises(InvalidRequest) as bad:
        status_event(_state(), BOSS, HH, _req("unreached"))
    assert bad.value.field == "status"
    with pytest.raises(InvalidRequest) as rid:
        status_event(_state(), BOSS, HH, _req(rid="has space"))
    assert rid.value.field == "report_id"


def test_a_household_outside_the_operation_or_a_closed_operation_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        status_event(_state(scope="TC02"), BOSS, HH, _req())
    closed = _log()
    closed.add(ClosedEvent("op1"))
    with pytest.raises(OperationClosed):
        status_event(closed.state, BOSS, HH, _req())
    with pytest.raises(ModeConflict):
        status_event(_log(wartime=False).state, BOSS, HH, _req())


_events = st.lists(
    st.tuples(st.sampled_from([f"{g}-00{i}" for g in LEAVES[:6] for i in range(1, 4)]), st.sampled_from(STATUSES)),
    max_size=200,
)


@settings(max_examples=80, deadline=None)
@given(_events)
def test_every_grid_counts_each_household_once_at_its_latest_status(sent: list[tuple[str, str]]) -> None:
    events = [HouseholdStatusSet("op1", hh, hh.rsplit("-", 1)[0], s, f"r{n}") for n, (hh, s) in enumerate(sent)]
    statuses = fold_statuses(events)
    totals = dict.fromkeys(LEAVES, 3)
    counts = roll_up(TREE, totals, counts_of(statuses), TREE.grids)
    assert sum(counts["TC"].by_status.values()) == len({hh for hh, _ in sent})
    assert counts["TC"].unreached == 3 * len(LEAVES) - len(statuses)
    for code, cell in counts.items():  # every parent is the sum of its children, exactly
        kids = TREE.children[code]
        if kids:
            assert cell.total == sum(counts[k].total for k in kids)
            assert cell.by_status == {s: sum(counts[k].by_status[s] for k in kids) for s in STATUSES}
    last = {hh: s for hh, s in sent}
    assert {hh: s for hh, (s, _) in statuses.items()} == last


@settings(max_examples=50, deadline=None)
@given(_events, st.randoms(use_true_random=False))
def test_a_resent_status_changes_no_count(sent: list[tuple[str, str]], rnd: object) -> None:
    events = [HouseholdStatusSet("op1", hh, hh.rsplit("-", 1)[0], s, f"r{n}") for n, (hh, s) in enumerate(sent)]
    seen: set[str] = set()
    deduped = []  # what the log keeps: a report_id seen before is a duplicate and is not appended
    resends = events + events[: len(events) // 2]
    for ev in resends:
        if ev.report_id not in seen:
            seen.add(ev.report_id)
            deduped.append(ev)
    assert counts_of(fold_statuses(deduped)) == counts_of(fold_statuses(events))


def test_masking_keeps_the_first_and_last_character_and_the_phone_ends() -> None:
    assert mask_name("张建明") == "张*明"
    assert mask_name("张明") == "张*"
    assert mask_name("欧阳建明") == "欧**明"
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("12345") == "*****"


def test_only_the_grid_leaders_and_commanders_of_its_scope_see_personal_data() -> None:
    grid = HH.grid
    assert may_see_personal(Actor("w", Role.LEADER, grid), TREE, grid)
    assert may_see_personal(Actor("s", Role.LEADER, "TC01-L1-M1-S1"), TREE, grid)
    assert may_see_personal(Actor("t", Role.COMMANDER, "TC01"), TREE, grid)
    assert not may_see_personal(Actor("w2", Role.LEADER, "TC01-L1-M1-S1-W2"), TREE, grid)
    assert not may_see_personal(Actor("t2", Role.COMMANDER, "TC02"), TREE, grid)
    assert not may_see_personal(Actor("v", Role.VIEWER, "TC"), TREE, grid)


def test_roster_events_list_every_leaf_grid_once_in_batches_of_whole_grids() -> None:
    roster = generate_households(TREE, seed=2)
    events = roster_events(TREE, roster, "L")
    listed = [g for e in events for g in e.grids]
    assert sorted(listed) == LEAVES
    assert sum(len(e.households) for e in events) == len(roster) == TREE["TC"].households
    assert all(len(e.households) <= ROSTER_BATCH for e in events)
    for e in events:
        assert {row[1] for row in e.households} <= set(e.grids)
        assert all(TREE.town_of(g) == e.town for g in e.grids)
        assert all(len(row) == 6 for row in e.households)  # no head, no phone in the log


def test_a_log_row_comes_back_as_the_household_without_personal_data() -> None:
    h = Household("C-1", "G", "G-H1", "大塘1号", "张建明", 4, "10012345678", ("elderly_alone", "child"))
    back = Household.from_log_row(h.log_row())
    assert back == Household("C-1", "G", "G-H1", "大塘1号", "", 4, "", ("elderly_alone", "child"))
