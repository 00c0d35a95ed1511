"""Mobilisation (DESIGN §7.2) over a real Redis: notifications queued, confirmations counted once, scopes.

The API runs in-process (the /api/v1 blueprint on a Flask app, the same handlers
`wartime serve` mounts) against a real redis-server.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from command.access import Actor, Role
from command.generate import generate
from command.mobilisation import minutes_to, summary
from command.modes import SwitchRequest
from dashboard.api import Backend, create_api
from dashboard.app import ROUTES
from dashboard.arrivals import ArrivalSimulator
from dashboard.auth import Accounts
from dashboard.components.board_model import snapshot
from dashboard.reports import render_html
from streams.county import County
from streams.history import History
from streams.server import connect
from tests.conftest import PASSWORD, seed_county

BOSS = Actor("commander", Role.COMMANDER, "TC")
MINE = "TC01-L1-M1-S1"  # the leader's small grid (seed_county)
OTHER = "TC01-L1-M2-S1"


class Api:
    """One user's session on the in-process API."""

    def __init__(self, app: Flask, user: str) -> None:
        self.c = app.test_client()
        r = self.c.post("/api/v1/session", json={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.get_data(as_text=True)
        self.h = {"Authorization": f"Bearer {r.get_json()['token']}"}

    def get(self, path: str) -> Any:
        return self.c.get("/api/v1" + path, headers=self.h)

    def post(self, path: str, body: Any = None) -> Any:
        return self.c.post("/api/v1" + path, json=body if body is not None else {}, headers=self.h)


@pytest.fixture
def county(redis_url: str) -> County:
    seed_county(redis_url)
    c = County(connect(redis_url), "TC")
    Accounts(c).add("leader2", PASSWORD, "leader", OTHER, BOSS)
    return c


@pytest.fixture
def app(county: County) -> Flask:
    flask_app = Flask("test")
    flask_app.register_blueprint(create_api(Backend(county.client), ROUTES))
    return flask_app


def switch(county: County, key: str = "") -> Any:
    return county.switch(BOSS, SwitchRequest("TC", "wartime", "flood", "II", "汛情"), key=key)


def test_a_switch_queues_one_notification_per_installed_secretary_with_distinct_stable_ids(county: County) -> None:
    out = switch(county)
    installed = dict(out.event.installed)
    county.refresh()
    notes = county.state.mobilisation.notifications
    assert len(installed) == 8
    assert sorted(n.grid for n in notes.values()) == sorted(installed)
    assert all(n.person == installed[n.grid] and n.kind == "installed" for n in notes.values())
    assert len(set(notes)) == 8
    # A fresh fold of the log gives the same ids: nothing is re-numbered on restart.
    again = County(county.client, "TC")
    assert set(again.state.mobilisation.notifications) == set(notes)


def test_a_retried_switch_request_queues_nothing_twice(county: County) -> None:
    first = switch(county, key="req-1")
    # the same request again, as a client retrying would send it (the switch itself now refuses)
    again = county._with_notices(first.event, BOSS, "req-1")
    assert again.duplicate
    county.refresh()
    assert len(county.state.mobilisation.notifications) == 8


def test_appointment_and_stand_down_queue_notifications_too(county: County) -> None:
    switch(county)
    vacancy = sorted(county.state.vacancies)[0]
    county.appoint(BOSS, vacancy, "代理人甲")
    kinds = sorted(n.kind for n in county.state.mobilisation.notifications.values())
    assert kinds.count("acting") == 1
    county.switch(BOSS, SwitchRequest("TC", "peacetime"))
    down = [n for n in county.state.mobilisation.notifications.values() if n.kind == "stand_down"]
    assert len(down) == 9  # 8 installed + 1 acting
    assert any(n.person == "代理人甲" for n in down)


def test_on_post_201_then_200_duplicate_and_counted_once(county: County, app: Flask) -> None:
    switch(county)
    leader = Api(app, "leader")
    r = leader.post(f"/secretaries/{MINE}/on-post", {"report_id": "arrive-1"})
    assert r.status_code == 201, r.get_data(as_text=True)
    first = r.get_json()["event_id"]
    r2 = leader.post(f"/secretaries/{MINE}/on-post", {"report_id": "arrive-1"})
    assert r2.status_code == 200 and r2.get_json() == {**r2.get_json(), "duplicate": True, "event_id": first}
    r3 = leader.post(f"/secretaries/{MINE}/on-post", {"report_id": "arrive-2"})  # a second tap, new id
    assert r3.status_code == 200 and r3.get_json()["duplicate"] is True
    m = Api(app, "commander").get("/mobilisation?scope=TC").get_json()
    assert m["on_post"] == 1 and m["installed"] == 8 and m["acknowledged"] == 1 and m["notified"] == 1
    assert m["vacancies"] == 8 and m["small_grids"] == 16
    assert MINE not in [x["grid"] for x in m["not_on_post"]] and len(m["not_on_post"]) == 7
    assert m["minutes_to"] == {"50": None, "90": None, "100": None}


def test_another_grids_leader_gets_403_and_nothing_changes(county: County, app: Flask) -> None:
    switch(county)
    other, boss = Api(app, "leader2"), Api(app, "commander")  # logging in is logged too: before counting
    before = county.client.xlen(county.keys.log)
    r = other.post(f"/secretaries/{MINE}/on-post", {"report_id": "x"})
    assert r.status_code == 403
    assert r.get_json()["error"]["field"] == "grid"
    assert boss.post(f"/secretaries/{MINE}/on-post", {"report_id": "x"}).status_code == 403
    assert county.client.xlen(county.keys.log) == before


def test_location_is_stored_coarse_and_bad_values_are_422_naming_the_field(county: County, app: Flask) -> None:
    switch(county)
    leader = Api(app, "leader")
    bad = leader.post(f"/secretaries/{MINE}/on-post", {"report_id": "a", "location": {"lat": 95, "lon": 110}})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "location.lat"
    bad = leader.post(f"/secretaries/{MINE}/on-post", {"report_id": "a", "location": {"lat": 23.1, "lon": "x"}})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "location.lon"
    bad = leader.post(f"/secretaries/{MINE}/on-post", {"report_id": "a" * 101})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "report_id"
    ok = leader.post(f"/secretaries/{MINE}/on-post",
                     {"report_id": "a", "location": {"lat": 23.5412678, "lon": 110.3912345, "accuracy_m": 13.2}})
    assert ok.status_code == 201
    county.refresh()
    assert county.state.mobilisation.posts[MINE].location == (23.541, 110.391, 20)


def test_on_post_before_any_switch_is_409(county: County, app: Flask) -> None:
    r = Api(app, "leader").post(f"/secretaries/{MINE}/on-post", {"report_id": "early"})
    assert r.status_code == 409


def test_opening_the_order_marks_acknowledged_and_delivers_on_the_field_channel(county: County, app: Flask) -> None:
    switch(county)
    leader = Api(app, "leader")
    order = leader.get("/field/order").get_json()["order"]
    assert order["grid"] == MINE and order["incident"] == "flood" and order["level"] == "II"
    assert order["state"] == "installed" and len(order["notifications"]) == 1
    assert [c["grid_level"] for c in order["commanders"]][-1] == "county"
    note = order["notifications"][0]["id"]
    r = leader.post(f"/secretaries/{MINE}/acknowledged", {"notification": note})
    assert r.status_code == 201
    assert leader.post(f"/secretaries/{MINE}/acknowledged", {"notification": note}).status_code == 200
    boss = Api(app, "commander")
    delivered = boss.get("/notifications?state=delivered").get_json()
    assert [n["id"] for n in delivered["notifications"]] == [note]
    assert delivered["notifications"][0]["channel"] == "field"
    assert boss.get("/notifications?state=pending").get_json()["total"] == 7
    assert boss.get("/notifications?state=bogus").status_code == 422
    m = boss.get("/mobilisation?scope=TC01").get_json()
    assert (m["installed"], m["notified"], m["acknowledged"], m["on_post"]) == (4, 1, 1, 0)


def test_renotify_is_for_commanders_and_queues_a_fresh_id(county: County, app: Flask) -> None:
    switch(county)
    boss = Api(app, "commander")
    r = boss.post(f"/secretaries/{MINE}/renotify", {"request_id": "again-1"})
    assert r.status_code == 201
    nid = r.get_json()["notification"]
    assert boss.post(f"/secretaries/{MINE}/renotify", {"request_id": "again-1"}).get_json()["duplicate"] is True
    assert Api(app, "leader").post(f"/secretaries/{MINE}/renotify", {}).status_code == 403
    pending = boss.get("/notifications?state=pending").get_json()["notifications"]
    assert nid in [n["id"] for n in pending] and len(pending) == 9


def test_minutes_to_50_90_100_come_from_confirmation_times() -> None:
    start = 1_000_000
    times = [start + m * 60_000 for m in (1, 2, 3, 4, 10, 11, 12, 13, 20, 40)]
    assert minutes_to(start, times, 10) == {"50": 10.0, "90": 20.0, "100": 40.0}
    assert minutes_to(start, times[:9], 10) == {"50": 10.0, "90": 20.0, "100": None}
    assert minutes_to(None, [], 0) == {"50": None, "90": None, "100": None}


def test_200_confirmations_give_on_post_200_on_the_wall_the_api_and_the_report(redis_url: str) -> None:
    tree = generate("pingnan")[0]
    seed_county(redis_url, tree)
    county = County(connect(redis_url), tree.root)
    boss = Actor("commander", Role.COMMANDER, tree.root)
    installed = dict(county.switch(boss, SwitchRequest(tree.root, "wartime", "epidemic", "II")).event.installed)
    op = county.launch(boss, "mass_testing", tree.root, "全员核酸").event.operation  # type: ignore[attr-defined]
    wall = snapshot(county, Actor("viewer", Role.VIEWER, tree.root), tree.root, None, "zh-CN", county.clock())
    assert wall["secretaries"]["installed"] == 385 and wall["secretaries"]["on_post"] == 0
    for n, grid in enumerate(sorted(installed)[:200]):
        out = county.confirm_on_post(Actor(f"sec-{n}", Role.LEADER, grid), grid, f"arrive-{n}")
        assert not out.duplicate
    again = county.confirm_on_post(Actor("sec-0", Role.LEADER, sorted(installed)[0]), sorted(installed)[0], "x")
    assert again.duplicate  # counted once
    flask_app = Flask("test")
    flask_app.register_blueprint(create_api(Backend(county.client), ROUTES))
    api = Api(flask_app, "commander").get(f"/mobilisation?scope={tree.root}").get_json()
    assert (api["installed"], api["on_post"], api["not_on_post_total"]) == (385, 200, 185)
    assert api["minutes_to"]["50"] is not None and api["minutes_to"]["90"] is None
    wall = snapshot(county, Actor("viewer", Role.VIEWER, tree.root), tree.root, None, "zh-CN", county.clock())
    assert wall["secretaries"]["on_post"] == 200 and wall["secretaries"]["installed"] == 385
    report = History(county.client, tree.root).report(op)
    assert report.secretaries["on_post"] == 200 and report.secretaries["installed_at_switch"] == 385
    assert sum(r["on_post"] for r in report.secretaries["by_town"]) == 200
    assert any(f.key == "not_on_post" and f.params == {"n": 185, "of": 385} for f in report.lagged)
    assert not any(f.key == "all_on_post" for f in report.went_well)
    html = render_html(report, "zh-CN").decode()
    assert "已到岗书记（本人确认）" in html and "全部到岗" not in html
    assert "50%到岗（分钟）" in html  # the by-town mobilisation table


def test_the_demo_simulator_confirms_secretaries_over_the_first_minutes(county: County) -> None:
    switch(county)
    start = county.state.last_at / 1000
    now = {"t": start}
    sim = ArrivalSimulator(county, speed=60.0, seed=5, clock=lambda: now["t"])
    assert sim.tick() == 0  # nobody arrives at the instant of the switch
    seen = []
    for minutes in (5, 20, 60, 600):  # simulated minutes: 60× real time
        now["t"] = start + minutes
        sim.tick()
        seen.append(mob_summary(county)["on_post"])
    assert seen == sorted(seen) and 0 < seen[-1] <= 8
    never = sum(1 for g, p in county.state.mobilisation.posts.items() if sim.delay_min(g, p.installed_at) is None)
    assert seen[-1] == 8 - never
    assert sim.tick() == 0 and mob_summary(county)["on_post"] == seen[-1]  # each confirmed once


def mob_summary(county: County) -> dict[str, Any]:
    return summary(county.refresh(), None, "TC")
