"""Households over the in-process API (DESIGN §7.3) against a real Redis: statuses, listing, masking, audit."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from command.access import Actor, Role
from command.household_roster import generate_households
from command.modes import SwitchRequest
from dashboard import audit
from dashboard.api import Backend, create_api
from dashboard.app import ROUTES
from dashboard.auth import Accounts
from streams.county import County
from streams.projector import Projector
from streams.server import connect
from tests.conftest import PASSWORD, make_tree, seed_county

BOSS = Actor("commander", Role.COMMANDER, "TC")
TREE = make_tree()
MICRO = "TC01-L1-M1-S1-W1"  # under the seeded leader's small grid TC01-L1-M1-S1
HH = f"{MICRO}-001"


class Api:
    """One user's session on the in-process API."""

    def __init__(self, app: Flask, user: str) -> None:
        self.c = app.test_client()
        r = self.c.post("/api/v1/session", json={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.get_data(as_text=True)
        self.h = {"Authorization": f"Bearer {r.get_json()['token']}"}

    def get(self, path: str) -> Any:
        return self.c.get("/api/v1" + path, headers=self.h)

    def post(self, path: str, body: Any) -> Any:
        return self.c.post("/api/v1" + path, json=body, headers=self.h)


@pytest.fixture
def app(redis_url: str) -> Flask:
    seed_county(redis_url, TREE)
    client = connect(redis_url)
    county = County(client, "TC")
    county.load_households(generate_households(TREE, seed=1), BOSS)
    county.switch(BOSS, SwitchRequest("TC", "wartime", "flood", "II", "汛情"))
    county.launch(BOSS, "flood_evacuation", "TC", "转移", operation="op1")
    acc = Accounts(county)
    acc.add("worker", PASSWORD, "leader", MICRO, BOSS)
    acc.add("other", PASSWORD, "leader", "TC01-L1-M1-S1-W2", BOSS)
    Projector(client, "TC", consumer="t", publish=False).catch_up()
    flask_app = Flask("test")
    flask_app.register_blueprint(create_api(Backend(client), ROUTES))
    flask_app.config["client"] = client
    return flask_app


def _applied(app: Flask) -> None:
    Projector(app.config["client"], "TC", consumer="t", publish=False).catch_up()


def test_a_status_is_201_then_200_duplicate_then_409_with_another_body(app: Flask) -> None:
    w = Api(app, "worker")
    body = {"report_id": "s1", "household": HH, "status": "evacuated"}
    first = w.post("/operations/op1/households", body)
    assert first.status_code == 201, first.get_json()
    again = w.post("/operations/op1/households", body)
    assert again.status_code == 200 and again.get_json() == {"event_id": first.get_json()["event_id"],
                                                              "duplicate": True}
    other = w.post("/operations/op1/households", {**body, "status": "reached"})
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "report_id_reused"
    _applied(app)
    got = w.get(f"/operations/op1/households?grid={MICRO}").get_json()
    assert got["by_status"]["evacuated"] == 1 and got["by_status"]["reached"] == 0
    assert got["total"] == 10 and got["unreached"] == 9


def test_a_leader_of_another_micro_grid_gets_403_and_nothing_changes(app: Flask) -> None:
    r = Api(app, "other").post("/operations/op1/households", {"report_id": "o1", "household": HH,
                                                             "status": "reached"})
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "household"
    _applied(app)
    got = Api(app, "commander").get(f"/operations/op1/households?grid={MICRO}").get_json()
    assert got["unreached"] == 10


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"report_id": "b1", "household": HH, "status": "gone"}, 422, "status"),
    ({"report_id": "", "household": HH, "status": "reached"}, 422, "report_id"),
    ({"report_id": "b2", "household": "NOPE-1", "status": "reached"}, 404, "household"),
    ({"report_id": "b3", "household": HH, "status": "reached", "note": "x" * 600}, 413, "note"),
])
def test_a_bad_status_names_its_field_and_changes_nothing(app: Flask, body: dict, status: int, field: str) -> None:
    r = Api(app, "worker").post("/operations/op1/households", body)
    assert r.status_code == status and r.get_json()["error"]["field"] == field
    _applied(app)
    assert Api(app, "worker").get(f"/operations/op1/households?grid={MICRO}").get_json()["unreached"] == 10


def test_names_and_phones_are_masked_for_a_viewer_and_shown_to_the_grid_leader_with_an_audit_entry(
    app: Flask,
) -> None:
    roster = {h.code: h for h in generate_households(TREE, seed=1)}
    seen = Api(app, "viewer").get(f"/operations/op1/households?grid={MICRO}").get_json()["items"]
    for item in seen:
        h = roster[item["code"]]
        assert item["head"] != h.head and item["head"][0] == h.head[0] and "*" in item["head"]
        assert item["phone"] == h.phone[:3] + "****" + h.phone[-4:]
    mine = Api(app, "worker").get(f"/operations/op1/households?grid={MICRO}").get_json()["items"]
    assert {(i["head"], i["phone"]) for i in mine} == {(roster[i["code"]].head, roster[i["code"]].phone)
                                                       for i in mine}
    audit.flush()
    entries = [e.fields for e in audit.read(app.config["client"], "TC") if e.fields.get("kind") == "personal"]
    assert len(entries) == 1 and entries[0]["actor"] == "worker" and "unmasked=10" in entries[0]["detail"]


def test_a_town_commander_sees_other_towns_masked_never_unmasked(app: Flask) -> None:
    other_town = "TC02-L1-M1-S1-W1"
    roster = {h.code: h for h in generate_households(TREE, seed=1)}
    r = Api(app, "town1").get(f"/operations/op1/households?grid={other_town}")
    assert r.status_code == 403
    items = Api(app, "town1").get("/operations/op1/households?grid=TC01-L1-M1-S1-W2").get_json()["items"]
    assert all(i["head"] == roster[i["code"]].head for i in items)


def test_the_list_puts_unreached_vulnerable_households_first_and_filters_by_status(app: Flask) -> None:
    w = Api(app, "worker")
    w.post("/operations/op1/households", {"report_id": "l1", "household": f"{MICRO}-002", "status": "absent"})
    _applied(app)
    items = w.get(f"/operations/op1/households?grid={MICRO}").get_json()["items"]
    assert items[-1]["code"] == f"{MICRO}-002" and items[-1]["status"] == "absent"
    unreached = [i for i in items if i["status"] == "unreached"]
    flags = [bool(i["vulnerable"]) for i in unreached]
    assert flags == sorted(flags, reverse=True)
    only = w.get(f"/operations/op1/households?grid={MICRO}&status=absent").get_json()
    assert [i["code"] for i in only["items"]] == [f"{MICRO}-002"] and only["matched"] == 1
    page = w.get(f"/operations/op1/households?grid={MICRO}&limit=3&offset=3").get_json()
    assert len(page["items"]) == 3 and page["next_offset"] == 6


def test_progress_items_gain_household_counts_that_add_up(app: Flask) -> None:
    w = Api(app, "commander")
    for n, code in enumerate([f"{MICRO}-00{i}" for i in range(1, 5)]):
        assert w.post("/operations/op1/households", {"report_id": f"g{n}", "household": code,
                                                     "status": "reached"}).status_code == 201
    _applied(app)
    p = w.get("/operations/op1/progress").get_json()
    assert p["households"] == {"total": 320, "by_status": {**p["households"]["by_status"], "reached": 4},
                               "unreached": 316}
    assert sum(c["households"]["total"] for c in p["children"]) == 320
    assert sum(c["households"]["by_status"]["reached"] for c in p["children"]) == 4
