"""Mode switching, secretaries and vacancies (command.modes), no Redis."""

from __future__ import annotations

import pytest

from command.access import Actor, Role
from command.errors import InvalidRequest, ModeConflict, NotAuthorised
from command.events import RegistryLoaded
from command.grids import GridTree
from command.modes import SwitchRequest, appoint, change_level, double_installations, switch
from command.operations import LaunchRequest, close, launch
from tests.command.helpers import Log

CMD = Actor("boss", Role.COMMANDER, "TC")


@pytest.fixture
def log(tree: GridTree) -> Log:
    lg = Log()
    lg.add(RegistryLoaded(county="TC", grids=tuple(tree.rows())))
    return lg


def test_switch_to_wartime_installs_every_first_leader_and_lists_vacancies(log: Log, tree: GridTree) -> None:
    ev = switch(log.state, CMD, SwitchRequest("TC", "wartime", "epidemic", "II", "outbreak"))
    smalls = tree.small_grids("TC")
    assert dict(ev.installed) == {g: tree[g].first_leader for g in smalls if tree[g].first_leader}
    assert set(ev.vacancies) == {g for g in smalls if not tree[g].first_leader}
    assert set(ev.grids) == set(tree.subtree("TC"))
    log.add(ev)
    assert all(log.state.mode_of(g) == "wartime" for g in tree.subtree("TC"))
    assert set(log.state.vacancies) == set(ev.vacancies)


def test_switch_carries_actor_scope_reason_incident_and_level(log: Log) -> None:
    ev = switch(log.state, CMD, SwitchRequest("TC01", "wartime", "flood", "I", "river rising"))
    assert (ev.scope, ev.incident, ev.level, ev.reason) == ("TC01", "flood", "I", "river rising")


def test_switching_a_scope_already_in_wartime_is_refused(log: Log) -> None:
    log.add(switch(log.state, CMD, SwitchRequest("TC", "wartime", "epidemic", "II")))
    with pytest.raises(ModeConflict):
        switch(log.state, CMD, SwitchRequest("TC01", "wartime", "epidemic", "II"))


def test_county_switch_after_a_town_switch_only_adds_the_rest(log: Log, tree: GridTree) -> None:
    log.add(switch(log.state, CMD, SwitchRequest("TC01", "wartime", "flood", "III")))
    ev = switch(log.state, CMD, SwitchRequest("TC", "wartime", "flood", "III"))
    assert "TC01" not in ev.grids and "TC02" in ev.grids and "TC" in ev.grids
    assert all(tree.town_of(g) != "TC01" for g, _ in ev.installed)


def test_stand_down_of_one_town_keeps_the_other_in_wartime(log: Log, tree: GridTree) -> None:
    log.add(switch(log.state, CMD, SwitchRequest("TC", "wartime", "flood", "III")))
    ev = switch(log.state, CMD, SwitchRequest("TC02", "peacetime", reason="water receded"))
    log.add(ev)
    assert all(log.state.mode_of(g) == "peacetime" for g in tree.subtree("TC02"))
    assert all(log.state.mode_of(g) == "wartime" for g in tree.subtree("TC01"))
    assert not any(tree.town_of(g) == "TC02" for g in log.state.secretaries)
    assert any(tree.town_of(g) == "TC01" for g in log.state.secretaries)


def test_stand_down_releases_secretaries_and_vacancies(log: Log) -> None:
    log.add(switch(log.state, CMD, SwitchRequest("TC", "wartime", "epidemic", "II")))
    ev = switch(log.state, CMD, SwitchRequest("TC", "peacetime"))
    log.add(ev)
    assert log.state.secretaries == {} and log.state.vacancies == {}
    assert log.state.wartime == {}


def test_stand_down_in_peacetime_is_refused(log: Log) -> None:
    with pytest.raises(ModeConflict):
        switch(log.state, CMD, SwitchRequest("TC", "peacetime"))


def test_stand_down_with_an_open_operation_is_refused(log: Log) -> None:
    log.add(switch(log.state, CMD, SwitchRequest("TC", "wartime", "epidemic", "II")))
    log.add(launch(log.state, CMD, LaunchRequest("op1", "mass_testing", "TC01", "test")))
    with pytest.raises(ModeConflict, match="op1"):
        switch(log.state, CMD, SwitchRequest("TC01", "peacetime"))
    log.add(close(log.state, CMD, "op1"))
    switch(log.state, CMD, SwitchRequest("TC01", "peacetime"))


@pytest.mark.parametrize(
    ("incident", "level", "field"),
    [("volcano", "II", "incident"), ("flood", "V", "level"), ("flood", "2", "level")],
)
def test_bad_incident_or_level_is_refused_naming_the_field(log: Log, incident: str, level: str, field: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        switch(log.state, CMD, SwitchRequest("TC", "wartime", incident, level))
    assert err.value.field == field


def test_bad_mode_is_refused(log: Log) -> None:
    with pytest.raises(InvalidRequest) as err:
        switch(log.state, CMD, SwitchRequest("TC", "martial"))
    assert err.value.field == "mode"


def test_town_commander_cannot_switch_another_town(log: Log) -> None:
    town1 = Actor("t1", Role.COMMANDER, "TC01")
    with pytest.raises(NotAuthorised):
        switch(log.state, town1, SwitchRequest("TC02", "wartime", "flood", "III"))
    with pytest.raises(NotAuthorised):
        switch(log.state, town1, SwitchRequest("TC", "wartime", "flood", "III"))
    switch(log.state, town1, SwitchRequest("TC01", "wartime", "flood", "III"))


@pytest.mark.parametrize("role", [Role.LEADER, Role.VIEWER])
def test_only_commanders_switch(log: Log, role: Role) -> None:
    with pytest.raises(NotAuthorised):
        switch(log.state, Actor("x", role, "TC"), SwitchRequest("TC", "wartime", "flood", "III"))


def test_level_can_be_raised_in_wartime_only(log: Log) -> None:
    with pytest.raises(ModeConflict):
        change_level(log.state, CMD, "TC", "I")
    log.add(switch(log.state, CMD, SwitchRequest("TC", "wartime", "flood", "III")))
    log.add(change_level(log.state, CMD, "TC01", "I", "dam breach"))
    assert log.state.wartime["TC01"].level == "I"
    assert log.state.wartime["TC02"].level == "III"


def test_acting_secretary_fills_a_vacancy(log: Log) -> None:
    log.add(switch(log.state, CMD, SwitchRequest("TC", "wartime", "epidemic", "II")))
    grid = sorted(log.state.vacancies)[0]
    log.add(appoint(log.state, CMD, grid, "王代理"))
    assert grid not in log.state.vacancies
    sec = log.state.secretaries[grid]
    assert (sec.name, sec.acting) == ("王代理", True)


def test_appointing_to_a_grid_with_a_secretary_is_refused(log: Log) -> None:
    log.add(switch(log.state, CMD, SwitchRequest("TC", "wartime", "epidemic", "II")))
    grid = sorted(log.state.secretaries)[0]
    with pytest.raises(ModeConflict):
        appoint(log.state, CMD, grid, "王代理")


def test_appointing_in_peacetime_is_refused(log: Log, tree: GridTree) -> None:
    with pytest.raises(ModeConflict):
        appoint(log.state, CMD, tree.small_grids("TC")[0], "王代理")


def test_empty_person_is_refused(log: Log) -> None:
    log.add(switch(log.state, CMD, SwitchRequest("TC", "wartime", "epidemic", "II")))
    with pytest.raises(InvalidRequest) as err:
        appoint(log.state, CMD, sorted(log.state.vacancies)[0], "  ")
    assert err.value.field == "person"


def test_a_person_installed_in_two_grids_is_flagged(log: Log) -> None:
    log.add(switch(log.state, CMD, SwitchRequest("TC", "wartime", "epidemic", "II")))
    some = sorted(log.state.secretaries)[0]
    person = log.state.secretaries[some].name
    log.add(appoint(log.state, CMD, sorted(log.state.vacancies)[0], person))
    flagged = double_installations(log.state)
    assert list(flagged) == [person] and len(flagged[person]) == 2
