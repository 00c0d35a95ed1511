"""Drills over the API (DESIGN §7.4), in-process against a real Redis: create, read, act inside, stop."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from command.access import Actor, Role
from command.modes import SwitchRequest
from command.operations import ReportRequest
from dashboard.api import Backend, create_api
from dashboard.app import ROUTES
from streams.county import County
from streams.drills import stop_runners
from streams.keys import DRILL_PREFIX
from streams.projector import Projector
from streams.server import connect
from tests.conftest import PASSWORD, seed_county

BOSS = Actor("commander", Role.COMMANDER, "TC")


class Api:
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
    c.switch(BOSS, SwitchRequest("TC", "wartime", "epidemic", "II"))
    op = c.launch(BOSS, "mass_testing", "TC", "recorded", operation="op-rec")
    leaves = sorted(c.tree.leaves("TC"))
    for m in range(3):
        c.report_many(BOSS, [ReportRequest("op-rec", f"r{m}-{i}", g, {"sampled": m + 1}) for i, g in enumerate(leaves)])
    c.close(BOSS, "op-rec")
    Projector(c.client, "TC", consumer="t", publish=False).catch_up()
    assert op.event_id
    return c


@pytest.fixture
def app(county: County) -> Iterator[Flask]:
    flask_app = Flask("test")
    flask_app.register_blueprint(create_api(Backend(county.client), ROUTES))
    yield flask_app
    stop_runners()  # a runner mid-step must not write into the next test's emptied Redis


def live_dump(county: County) -> dict[bytes, Any]:
    skip = (DRILL_PREFIX.encode(), county.keys.audit.encode())  # the audit trail records the calls themselves
    return {k: county.client.dump(k) for k in sorted(county.client.scan_iter())
            if not k.startswith(skip[0]) and k != skip[1]}


def finished(api: Api, drill: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = api.get(f"/drills/{drill}").get_json()
        if got["state"] == "finished":
            return got  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"drill never finished: {got}")


def test_a_drill_replays_on_the_usual_routes_marked_drill_and_live_never_moves(app: Flask, county: County) -> None:
    boss, inside = Api(app, "commander"), Api(app, "commander")  # logging in is a live event: done first
    live_progress = boss.get("/operations/op-rec/progress").get_json()
    before = live_dump(county)
    r = boss.post("/drills", {"from_operation": "op-rec", "speed": 600, "name": "复盘演练"})
    assert r.status_code == 201, r.get_data(as_text=True)
    drill = r.get_json()["drill_id"]
    got = finished(boss, drill)
    assert {"drill_id", "state", "speed", "clock", "operation"} <= set(got)
    assert got["operation"] == "op-rec" and got["speed"] == 600
    inside.h["X-Wartime-Drill"] = drill
    progress = inside.get("/operations/op-rec/progress").get_json()
    assert progress.pop("drill") is True
    assert progress == live_progress
    by_query = boss.get(f"/operations/op-rec/progress?drill={drill}").get_json()
    assert by_query["drill"] is True and by_query["counts"] == live_progress["counts"]
    assert "drill" not in boss.get("/operations/op-rec/progress").get_json()
    # a drill over takes no more commands; one under way keeps them inside it
    vacancy = next(g for g, v in county.refresh().vacancies.items() if v)
    over = inside.post("/secretaries", {"grid": vacancy, "person": "演练代理"})
    assert over.status_code == 409 and over.get_json()["error"]["field"] == "drill"
    later = {"injects": [{"minute": 30, "kind": "town_silent", "town": "TC01"}]}
    drill = boss.post("/drills", {"from_operation": "op-rec", "speed": 1, "scenario": later}).get_json()["drill_id"]
    assert boss.post(f"/drills/{drill}/pause").status_code == 200
    inside.h["X-Wartime-Drill"] = drill
    appointed = inside.post("/secretaries", {"grid": vacancy, "person": "演练代理"})
    assert appointed.status_code == 201, appointed.get_data(as_text=True)
    assert inside.get(f"/grids/{vacancy}").get_json()["secretary"]["name"] == "演练代理"
    assert boss.get(f"/grids/{vacancy}").get_json()["secretary"] is None
    assert live_dump(county) == before
    report = boss.get(f"/drills/{drill}/report").get_json()
    assert report["recorded"]["total"] == report["drill"]["total"]
    assert [d["decision"] for d in report["decisions"]["drill"]] == ["secretary_appointed"]


def test_drill_requests_refused_with_the_field_named(app: Flask, county: County) -> None:
    boss, viewer = Api(app, "commander"), Api(app, "viewer")
    assert viewer.post("/drills", {"from_operation": "op-rec", "speed": 60}).status_code == 403
    bad = boss.post("/drills", {"from_operation": "op-rec", "speed": 601})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "speed"
    nope = boss.post("/drills", {"from_operation": "op-none", "speed": 60})
    assert nope.status_code == 404 and nope.get_json()["error"]["field"] == "from_operation"
    inj = boss.post("/drills", {"from_operation": "op-rec", "speed": 60,
                                "scenario": {"injects": [{"minute": 5, "kind": "town_silent"}]}})
    assert inj.status_code == 422 and inj.get_json()["error"]["field"] == "injects[0].town"
    assert boss.get("/drills/drill-00000000").status_code == 404
    assert boss.get("/operations/op-rec/progress?drill=nonsense").status_code == 422
    assert not [k for k in county.client.scan_iter() if k.startswith(DRILL_PREFIX.encode())]


def test_pause_then_stop_a_drill(app: Flask, county: County) -> None:
    boss = Api(app, "commander")
    later = {"injects": [{"minute": 30, "kind": "town_silent", "town": "TC01"}]}  # keeps it under way a while
    drill = boss.post("/drills", {"from_operation": "op-rec", "speed": 1, "scenario": later}).get_json()["drill_id"]
    paused = boss.post(f"/drills/{drill}/pause").get_json()
    assert paused["state"] == "paused"
    time.sleep(0.3)
    assert boss.get(f"/drills/{drill}").get_json()["clock"] == paused["clock"]
    assert Api(app, "viewer").post(f"/drills/{drill}/stop").status_code == 403
    stopped = boss.post(f"/drills/{drill}/stop").get_json()
    assert stopped["state"] == "stopped"
    assert boss.post(f"/drills/{drill}/resume").status_code == 409


def test_a_notification_composed_in_a_drills_world_says_drill() -> None:
    from command.mobilisation import Notification
    from dashboard.notifier import compose
    from streams.keys import in_world
    from tests.conftest import make_tree

    tree = make_tree()
    grid = next(g for g in tree.small_grids(tree.towns[0]) if tree[g].first_leader)
    n = Notification("n-1", "installed", grid, "张三", 1)
    assert "演练" not in compose(n, tree, None).text
    with in_world("drill-0000beef"):
        msg = compose(n, tree, None)
    assert msg.text.startswith("【演练 · DRILL】") and msg.link.endswith("&drill=drill-0000beef")
