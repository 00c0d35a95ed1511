"""CAP 1.2 export: every alert kind validates against the OASIS schema, with grids and operation in place."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from command import modes, operations
from command.access import Actor, Role
from command.alerts import MINUTE, AlertConfig, AlertRules, Progress
from command.cap import CAP_NS, GEOCODE, cap_time, to_cap
from command.events import AlertAcknowledged, Event, ProgressReported, Recorded, RegistryLoaded
from command.fold import Alert, ControlState, Counts
from command.grids import Grid, GridKind, GridTree
from tests.conftest import make_tree

SCHEMA = xmlschema.XMLSchema(Path(__file__).resolve().parent.parent / "data" / "cap12.xsd")
NS = {"cap": CAP_NS}
T0 = 1_741_910_400_000  # 2025-03-14T08:00:00+08:00
COMMANDER = Actor("commander", Role.COMMANDER, "TC")


class Folded:
    """A control state and its counts, events folded at chosen instants."""

    def __init__(self, tree: GridTree) -> None:
        self.tree = tree
        self.state = ControlState()
        self.counts = Counts(tree)
        self.n = 0
        self.add(RegistryLoaded(county=tree.root, grids=tuple(tree.rows())), T0)

    def add(self, event: Event, at: int, actor: str = "commander") -> None:
        self.n += 1
        rec = Recorded(f"{at}-{self.n}", event, actor, at)
        self.state.apply(rec)
        self.counts.apply(rec)

    def progress(self) -> Progress:
        return Progress({o: {g: dict(c) for g, c in v.items()} for o, v in self.counts.totals.items()},
                        {o: dict(v) for o, v in self.counts.last.items()})


@pytest.fixture(scope="module")
def world() -> Folded:
    """A county at war with one alert of every kind."""
    w = Folded(make_tree())
    w.add(modes.switch(w.state, COMMANDER, modes.SwitchRequest("TC", "wartime", "flood", "I")), T0)
    req = operations.LaunchRequest("op-7", "mass_testing", "TC", "全员检测", T0 + 120 * MINUTE, {})
    w.add(operations.launch(w.state, COMMANDER, req), T0)
    w.add(ProgressReported("op-7", "TC01-L1-M1-S1-W1", {"sampled": 50}, "r1"), T0 + MINUTE)
    now = T0 + 45 * MINUTE
    for e in AlertRules(AlertConfig(silent_minutes=30)).evaluate(w.state, w.progress(), now):
        w.add(e, now, "scheduler")
    w.add(AlertAcknowledged("vacancy:TC01"), now + MINUTE, "commander")
    return w


def _parse(xml: bytes) -> ET.Element:
    SCHEMA.validate(xml.decode("utf-8"))
    return ET.fromstring(xml)


def test_every_kind_of_alert_validates_against_the_cap_1_2_schema(world: Folded) -> None:
    kinds = {a.kind for a in world.state.alerts.values()}
    assert kinds == {"vacancy", "stall", "pace", "over_target", "silent_secretary", "not_on_post"}
    for a in world.state.alerts.values():
        root = _parse(to_cap(a, world.state))
        assert root.tag == f"{{{CAP_NS}}}alert"
        assert root.findtext("cap:msgType", namespaces=NS) == "Alert"


def test_the_grids_rolled_up_under_the_town_are_the_geocodes(world: Folded) -> None:
    a = world.state.alerts["stall:op-7:TC01"]
    root = _parse(to_cap(a, world.state))
    for info in root.findall("cap:info", NS):
        codes = [g.findtext("cap:value", namespaces=NS) for g in info.findall("cap:area/cap:geocode", NS)]
        names = {g.findtext("cap:valueName", namespaces=NS) for g in info.findall("cap:area/cap:geocode", NS)}
        assert names == {GEOCODE}
        assert codes == sorted(a.detail["grids"]) and "TC01" not in codes  # the affected grids, not the town
    assert [i.findtext("cap:language", namespaces=NS) for i in root.findall("cap:info", NS)] == ["zh-CN", "en-US"]


def test_the_operation_is_the_incident(world: Folded) -> None:
    root = _parse(to_cap(world.state.alerts["pace:op-7:TC"], world.state))
    assert root.findtext("cap:incidents", namespaces=NS) == "op-7"
    vacancy = _parse(to_cap(world.state.alerts["vacancy:TC02"], world.state))
    assert vacancy.find("cap:incidents", NS) is None


def test_times_carry_an_explicit_plus_eight_offset(world: Folded) -> None:
    a = world.state.alerts["vacancy:TC01"]
    xml = to_cap(a, world.state).decode()
    stamps = re.findall(r"<(?:sent|effective)>([^<]+)<", xml)
    assert stamps and all(s.endswith("+08:00") for s in stamps)
    assert cap_time(T0) == "2025-03-14T08:00:00+08:00"
    assert cap_time(T0 - 8 * 60 * MINUTE) == "2025-03-14T00:00:00+08:00"


def test_severity_and_category_follow_the_incident_and_response_level(world: Folded) -> None:
    root = _parse(to_cap(world.state.alerts["stall:op-7:TC01"], world.state))
    info = root.find("cap:info", NS)
    assert info is not None
    assert [c.text for c in info.findall("cap:category", NS)] == ["Met", "Geo"]
    assert info.findtext("cap:severity", namespaces=NS) == "Extreme"


def test_an_acknowledged_alert_says_by_whom(world: Folded) -> None:
    root = _parse(to_cap(world.state.alerts["vacancy:TC01"], world.state))
    assert "acknowledged by commander" in (root.findtext("cap:note", namespaces=NS) or "")
    params = {p.findtext("cap:valueName", namespaces=NS): p.findtext("cap:value", namespaces=NS)
              for p in root.findall("cap:info/cap:parameter", NS)}
    assert params["wartime:acked_by"] == "commander"


def test_a_cleared_alert_exports_as_a_cancel_that_references_the_original() -> None:
    st = ControlState()
    tree = make_tree()
    st.tree = tree
    a = Alert("stall:op-1:TC01~2", "stall", "TC01", "op-1", T0, {"count": 1, "grids": ["TC01-L1-M1-S1-W1"]},
              cleared_at=T0 + 5 * MINUTE)
    root = _parse(to_cap(a, st, county="TC"))
    assert root.findtext("cap:msgType", namespaces=NS) == "Cancel"
    assert root.findtext("cap:references", namespaces=NS) == (
        "wartime@TC,TC.stall:op-1:TC01~2,2025-03-14T08:00:00+08:00"
    )
    assert root.findtext("cap:sent", namespaces=NS) == "2025-03-14T08:05:00+08:00"
    original = _parse(to_cap(a, st, county="TC", original=True))
    assert original.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert original.findtext("cap:identifier", namespaces=NS) == "TC.stall:op-1:TC01~2"


def test_an_updated_alert_exports_as_an_update(world: Folded) -> None:
    a = world.state.alerts["vacancy:TC02"]
    updated = Alert(a.id, a.kind, a.grid, None, a.raised_at, {"count": 3, "grids": a.detail["grids"][:3]},
                    updated_at=a.raised_at + 20 * MINUTE, updates=1)
    root = _parse(to_cap(updated, world.state))
    assert root.findtext("cap:msgType", namespaces=NS) == "Update"
    assert root.findtext("cap:identifier", namespaces=NS) == "TC.vacancy:TC02.u1"


def test_names_with_markup_are_escaped_and_polygons_are_lat_lon(world: Folded) -> None:
    grids = [Grid("X", "<县&>", "county", GridKind.COMPREHENSIVE, None, 0, 0),  # type: ignore[arg-type]
             Grid("X1", "镇 <b>1</b> & 2", "town", GridKind.COMPREHENSIVE, "X", 0, 0)]  # type: ignore[arg-type]
    st = ControlState()
    st.tree = GridTree.build(grids)
    a = Alert("vacancy:X1", "vacancy", "X1", None, T0, {"count": 0, "grids": []})
    ring = [[110.0, 23.0], [110.1, 23.0], [110.1, 23.1], [110.0, 23.0]]
    geometry = {"X1": {"type": "Polygon", "coordinates": [ring]}}
    root = _parse(to_cap(a, st, geometry=geometry))
    assert root.findtext("cap:info/cap:area/cap:areaDesc", namespaces=NS) == "镇 <b>1</b> & 2"
    assert root.findtext("cap:info/cap:area/cap:polygon", namespaces=NS) == (
        "23.000000,110.000000 23.000000,110.100000 23.100000,110.100000 23.000000,110.000000"
    )
    assert root.findtext("cap:sender", namespaces=NS) == "wartime@X"


def test_a_town_alert_over_two_grids_carries_their_polygons_not_the_town_outline(world: Folded) -> None:
    """Issue 14 item 10: the town's outline (7,486 points in Pingnan) is not the area of two micro grids."""
    a = world.state.alerts["stall:op-7:TC01"]
    two = sorted(a.detail["grids"])[:2]
    alert = Alert(a.id, a.kind, a.grid, a.operation, a.raised_at, {"count": 2, "grids": two, "minutes": 30})

    def square(x: float, n: int) -> dict[str, object]:
        ring = [[x + i * 0.001, 23.0] for i in range(n)] + [[x, 23.1], [x, 23.0]]
        return {"type": "Polygon", "coordinates": [ring]}

    geometry = {"TC01": square(110.0, 7486), two[0]: square(110.2, 4), two[1]: square(110.3, 4)}
    xml = to_cap(alert, world.state, geometry=geometry)
    root = _parse(xml)
    for info in root.findall("cap:info", NS):
        polys = [p.text or "" for p in info.findall("cap:area/cap:polygon", NS)]
        assert len(polys) == 2 and all(len(p.split()) == 6 for p in polys)
        assert [g.findtext("cap:value", namespaces=NS) for g in info.findall("cap:area/cap:geocode", NS)] == two
    assert len(xml) < 10_000
    single = Alert("vacancy:TC01-L1-M1-S2", "vacancy", "TC01-L1-M1-S2", None, T0, {})
    one = _parse(to_cap(single, world.state, geometry={"TC01-L1-M1-S2": square(110.4, 4)}))
    assert len(one.findall("cap:info/cap:area/cap:polygon", NS)) == 2  # its own, in both languages
