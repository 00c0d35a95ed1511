"""The control view over a real Redis: re-imported registries, partial refreshes, the county served."""

from __future__ import annotations

import pytest

from command.access import Actor, Role
from command.events import decode
from command.fold import ControlState, forget_trees
from command.modes import SwitchRequest
from streams.county import County
from streams.keys import CURRENT_COUNTY, CountyKeys
from streams.readmodel import COUNTY_ENV, ControlView, current_county
from streams.server import Client, connect
from tests.conftest import make_tree

BIG = make_tree(towns=2, larges=2, mediums=2, smalls=2, micros=2)
SMALL = make_tree(towns=1, larges=1, mediums=1, smalls=2, micros=2)
BOSS = Actor("boss", Role.COMMANDER, "TC")


def decoded_fold(client: Client, county: str) -> ControlState:
    """The control state folded the plain way: every entry fully decoded, every registry built."""
    st = ControlState()
    log = CountyKeys(county).log
    for eid, fields in client.xrange(log, "-", "+"):
        st.apply(decode(eid, fields, log))
    return st


def test_a_view_over_reimported_registries_equals_the_plain_fold(redis_url: str) -> None:
    client = connect(redis_url)
    county = County(client, "TC")
    county.load_registry(BIG, None, BOSS, source="first")
    switched = county.switch(BOSS, SwitchRequest("TC", "wartime", "flood", "III", "rain"))
    notices = len(switched.event.installed)  # type: ignore[attr-defined]  # one notification each
    county.launch(BOSS, "mass_testing", "TC01", "核酸", operation="op1")
    county.load_registry(SMALL, None, BOSS, source="second")
    county.load_registry(BIG, None, BOSS, source="third")
    forget_trees()
    view = ControlView(client, "TC")
    assert view.refresh() == 5 + notices
    assert view.state == decoded_fold(client, "TC")
    assert view.tree == BIG
    assert view.state.operations["op1"].targets["TC01"] == {"sampled": BIG["TC01"].population}


def test_a_refresh_up_to_an_entry_folds_the_registry_of_that_time(redis_url: str) -> None:
    client = connect(redis_url)
    county = County(client, "TC")
    first = county.load_registry(BIG, None, BOSS).event_id
    second = county.load_registry(SMALL, None, BOSS).event_id
    view = ControlView(client, "TC")
    assert view.refresh(until_id=first) == 1
    assert view.tree == BIG
    assert view.refresh() == 1 and view.state.last_id == second
    assert view.tree == SMALL
    assert view.refresh() == 0 and view.tree == SMALL


def test_the_served_county_is_the_last_loaded_unless_named(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = connect(redis_url)
    monkeypatch.delenv(COUNTY_ENV, raising=False)
    assert current_county(client) is None
    client.set(CURRENT_COUNTY, "P010")
    assert current_county(client) == "P010"
    monkeypatch.setenv(COUNTY_ENV, "P005")
    assert current_county(client) == "P005"
    monkeypatch.setenv(COUNTY_ENV, " ")
    assert current_county(client) == "P010"


def test_county_current_follows_the_named_county(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = connect(redis_url)
    other = make_tree(towns=1, larges=1, mediums=1, smalls=1, micros=1)
    County(client, "TC").load_registry(BIG, None, BOSS)
    renamed = type(other).build(
        [type(g)(**{**g.to_row(), "code": g.code.replace("TC", "UC"),
                    "parent": g.parent.replace("TC", "UC") if g.parent else None}) for g in other.grids.values()]
    )
    County(client, "UC").load_registry(renamed, None, Actor("boss", Role.COMMANDER, "UC"))
    monkeypatch.delenv(COUNTY_ENV, raising=False)
    assert County.current(client).code == "UC"  # the last one loaded
    monkeypatch.setenv(COUNTY_ENV, "TC")
    served = County.current(client)
    assert served.code == "TC" and served.tree == BIG
