"""Households over a real Redis: roster load, exactly-once statuses, corrections, roll-ups, replay."""

from __future__ import annotations

import random
import threading

import pytest

from command.access import Actor, Role
from command.errors import NotAuthorised, OperationClosed, ReportIdReused, UnknownHousehold
from command.grids import CentralHousehold, GridTree
from command.household_roster import generate_households
from command.households import STATUSES, HouseholdStatusRequest, counts_of, roll_up
from command.modes import SwitchRequest
from streams.county import County
from streams.keys import TownKeys
from streams.projector import Projector
from streams.replay import rebuild
from streams.server import Client, connect
from tests.conftest import make_tree

BOSS = Actor("boss", Role.COMMANDER, "TC")


def _tree() -> GridTree:
    base = make_tree(towns=2, larges=2, mediums=2, smalls=2, micros=2)
    micros = [c for c in base.grids if not base.children[c]]
    central = [CentralHousehold(f"{m}-H1", m, f"党员{n}", 5) for n, m in enumerate(micros[::3])]
    return GridTree.build(base.grids.values(), central)


TREE = _tree()


def _county(client: Client) -> County:
    county = County(client, "TC")
    county.load_registry(TREE, None, BOSS)
    county.load_households(generate_households(TREE, seed=3), BOSS)
    county.switch(BOSS, SwitchRequest("TC", "wartime", "flood", "II", "rain"))
    county.launch(BOSS, "flood_evacuation", "TC", "转移", operation="op1")
    _catch_up(client)
    return county


def _catch_up(client: Client) -> None:
    Projector(client, "TC", consumer="t", publish=False).catch_up()


def _set(county: County, actor: Actor, rid: str, household: str, status: str) -> tuple[str, bool]:
    ev = county.plan_household_status(actor, HouseholdStatusRequest("op1", rid, household, status))
    out = county.append_household_status(ev, actor)
    return out.event_id, out.duplicate


def test_a_loaded_roster_is_read_back_by_grid_with_totals_of_the_grid_figures(redis_url: str) -> None:
    client = connect(redis_url)
    county = _county(client)
    counts = county.households.counts(TREE, "op1", ["TC", "TC01", "TC01-L1-M1-S1-W1"])
    assert counts["TC"].total == TREE["TC"].households == 320
    assert counts["TC01"].total == TREE["TC01"].households
    assert counts["TC01-L1-M1-S1-W1"].total == 10
    assert counts["TC"].unreached == 320
    assert sorted(h.code for h in county.households.roster(TREE, "TC01-L1-M1-S1-W1")) == [
        f"TC01-L1-M1-S1-W1-{i:03d}" for i in range(1, 11)]


def test_2000_statuses_with_resends_and_corrections_give_exact_counts_everywhere(redis_url: str) -> None:
    client = connect(redis_url)
    county = _county(client)
    codes = [h.code for h in generate_households(TREE, seed=3)]
    rng = random.Random(5)
    sent: list[tuple[str, str, str]] = []  # (report_id, household, status) in the order appended
    for n in range(2000):
        if sent and rng.random() < 0.2:  # a resend of an earlier report: a duplicate, nothing moves
            rid, hh, st = rng.choice(sent)
            _, dup = _set(county, BOSS, rid, hh, st)
            assert dup
            continue
        hh, st = rng.choice(codes[:250]), rng.choice(STATUSES)  # some never reached
        _set(county, BOSS, f"r{n}", hh, st)
        sent.append((f"r{n}", hh, st))
    _catch_up(client)
    want: dict[str, tuple[str, str]] = {}
    for _, hh, st in sent:
        want[hh] = (st, hh.rsplit("-", 1)[0])
    leaves = {c: 10 for c in TREE.grids if not TREE.children[c]}
    expected = roll_up(TREE, leaves, counts_of(want), TREE.grids)
    got = county.households.counts(TREE, "op1", TREE.grids)
    assert {g: c.to_json() for g, c in got.items()} == {g: c.to_json() for g, c in expected.items()}
    unreached = county.households.listing(TREE, BOSS, "op1", "TC", status="unreached", limit=10_000)
    assert sorted(i["code"] for i in unreached.items) == sorted(set(codes) - set(want))
    assert unreached.counts.unreached == len(set(codes) - set(want))


def test_a_report_id_used_with_another_body_is_refused_and_moves_nothing(redis_url: str) -> None:
    client = connect(redis_url)
    county = _county(client)
    _set(county, BOSS, "a1", "TC01-L1-M1-S1-W1-001", "reached")
    with pytest.raises(ReportIdReused):
        _set(county, BOSS, "a1", "TC01-L1-M1-S1-W1-001", "evacuated")
    _catch_up(client)
    c = county.households.counts(TREE, "op1", ["TC"])["TC"]
    assert c.by_status["reached"] == 1 and c.by_status["evacuated"] == 0


def test_a_leader_of_another_micro_grid_cannot_set_a_status_there(redis_url: str) -> None:
    client = connect(redis_url)
    county = _county(client)
    other = Actor("w2", Role.LEADER, "TC01-L1-M1-S1-W2")
    with pytest.raises(NotAuthorised):
        _set(county, other, "x1", "TC01-L1-M1-S1-W1-001", "reached")
    mine = Actor("w1", Role.LEADER, "TC01-L1-M1-S1-W1")
    _set(county, mine, "x2", "TC01-L1-M1-S1-W1-002", "reached")
    _catch_up(client)
    assert county.households.counts(TREE, "op1", ["TC01-L1-M1-S1-W1"])["TC01-L1-M1-S1-W1"].by_status == {
        **dict.fromkeys(STATUSES, 0), "reached": 1}


def test_an_unknown_household_and_a_closed_operation_are_refused(redis_url: str) -> None:
    client = connect(redis_url)
    county = _county(client)
    with pytest.raises(UnknownHousehold):
        _set(county, BOSS, "u1", "TC01-L1-M1-S1-W1-999", "reached")
    ev = county.plan_household_status(BOSS, HouseholdStatusRequest("op1", "u2", "TC01-L1-M1-S1-W1-001", "reached"))
    county.close(BOSS, "op1")
    with pytest.raises(OperationClosed):
        county.append_household_status(ev, BOSS)


def test_statuses_from_many_threads_are_each_counted_once(redis_url: str) -> None:
    client = connect(redis_url)
    county = _county(client)
    codes = [h.code for h in generate_households(TREE, seed=3)][:100]

    def worker(k: int) -> None:
        for i, code in enumerate(codes):  # every thread sends the same 100 reports: 100 count, once each
            _set(county, BOSS, f"t{i}", code, "evacuated")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _catch_up(client)
    assert county.households.counts(TREE, "op1", ["TC"])["TC"].by_status["evacuated"] == 100


def test_replay_rebuilds_the_household_read_models_to_the_same_bytes(redis_url: str) -> None:
    client = connect(redis_url)
    county = _county(client)
    for n, code in enumerate(h.code for h in generate_households(TREE, seed=3)[:60]):
        _set(county, BOSS, f"p{n}", code, STATUSES[n % len(STATUSES)])
        _set(county, BOSS, f"q{n}", code, STATUSES[(n + 1) % len(STATUSES)])  # a correction
    _catch_up(client)
    keys = [k for t in TREE.towns for k in (TownKeys(t).household_roster, TownKeys(t).household_totals,
                                            TownKeys(t).household_status("op1"), TownKeys(t).household_counts("op1"))]
    before = {k: client.hgetall(k) for k in keys}
    rebuild(client, "TC")
    assert {k: client.hgetall(k) for k in keys} == before


def test_a_central_household_lists_exactly_the_households_it_links(redis_url: str) -> None:
    client = connect(redis_url)
    county = _county(client)
    ch = TREE.central_households[0]
    page = county.households.listing(TREE, BOSS, "op1", ch.micro_grid, central_household=ch.code)
    linked = sorted(h.code for h in generate_households(TREE, seed=3) if h.central_household == ch.code)
    assert sorted(i["code"] for i in page.items) == linked and len(linked) == ch.linked_households == 5


def test_codes_that_do_not_start_with_their_grid_are_found_and_listed_with_personal_data(redis_url: str) -> None:
    from command.households import Household

    client = connect(redis_url)
    county = County(client, "TC")
    county.load_registry(TREE, None, BOSS)
    micro = "TC02-L1-M1-S1-W1"
    roster = [Household(f"X{n}", micro, "", f"新村{n}号", "张建明", 3, "10012345678") for n in range(3)]
    county.load_households(roster, BOSS)
    county.switch(BOSS, SwitchRequest("TC", "wartime", "flood", "II", "rain"))
    county.launch(BOSS, "flood_evacuation", "TC", "转移", operation="op1")
    _catch_up(client)
    _set(county, BOSS, "z1", "X1", "refused")
    _catch_up(client)
    page = county.households.listing(TREE, BOSS, "op1", micro)
    assert [(i["code"], i["status"], i["head"]) for i in page.items] == [
        ("X0", "unreached", "张建明"), ("X2", "unreached", "张建明"), ("X1", "refused", "张建明")]
    assert county.households.counts(TREE, "op1", ["TC"])["TC"].total == 3  # the roster replaced the old one
