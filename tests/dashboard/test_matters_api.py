"""Residents' matters and grid evaluations through the API of a real `wartime serve`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import PASSWORD, Served

SMALL = "TC01-L1-M1-S1"  # the `leader` account's small grid
MICRO = "TC01-L1-M1-S1-W1"
VILLAGE = "TC01-L1-M1"  # the medium grid above it: the `village` account
TOWN = "TC01"
DAY = 86_400_000


class Api:
    """One user's session on the served app."""

    def __init__(self, served: Served, user: str) -> None:
        self.base = served.url + "/api/v1"
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {served.token(user)}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.s.get(self.base + path, timeout=15, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.s.post(self.base + path, json=body, timeout=30, **kw)

    def put(self, path: str, body: Any = None) -> requests.Response:
        return self.s.put(self.base + path, json=body, timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Iterator[Served]:
    """One server on the test county; accounts of seed_county plus a village (medium-grid) leader."""
    import redis as redis_lib

    from command.access import Actor, Role
    from dashboard.auth import Accounts
    from streams.county import County
    from streams.server import connect
    from tests.conftest import make_tree, seed_county, start_server

    redis_lib.Redis(unix_socket_path=str(redis_server.socket)).flushall()
    tree = make_tree()
    seed_county(redis_server.url, tree)
    county = County(connect(redis_server.url), tree.root)
    setup = Actor("test-setup", Role.COMMANDER, tree.root)
    acc = Accounts(county)
    acc.add("village", PASSWORD, "leader", VILLAGE, setup)
    acc.add("other", PASSWORD, "leader", "TC02-L1-M1-S1", setup)
    s = start_server(redis_server.url, tmp_path_factory.mktemp("matters"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def users(server: Served) -> dict[str, Api]:
    return {u: Api(server, u) for u in ("commander", "town1", "leader", "village", "viewer", "other")}


def new_matter(api: Api, **extra: Any) -> dict[str, Any]:
    body = {"matter_id": f"t-{uuid.uuid4().hex[:10]}", "grid": MICRO, "category": "dispute",
            "description": "两户因排水沟发生争执", "reporter": "王建国", **extra}
    r = api.post("/matters", body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_matter_goes_through_all_five_lists(users: dict[str, Api]) -> None:
    leader = users["leader"]
    m = new_matter(leader, photo="IMG_0412.jpg")
    mid = m["matter_id"]
    assert m["stage"] == "collected" and m["level"] == "grid" and not m["closed"]
    assert m["due"] == m["reported_at"] + 168 * 3_600_000  # disputes: seven days
    for stage, extra in (("deliberated", {"note": "网格议事"}), ("handled", {"note": "调解达成一致"}),
                         ("published", {"note": "公示栏公开"})):
        r = leader.post(f"/matters/{mid}/stages", {"stage": stage, **extra})
        assert r.status_code == 200, r.text
        assert r.json()["stage"] == stage
    r = leader.post(f"/matters/{mid}/evaluate", {"satisfaction": 5, "note": "满意"})
    assert r.status_code == 200, r.text
    got = leader.get(f"/matters/{mid}").json()
    assert got["stage"] == "evaluated" and got["closed"] and got["satisfaction"] == 5 and got["in_time"]
    assert all(got["stages"][s] for s in ("collected", "deliberated", "handled", "published", "evaluated"))
    assert [h["stage"] for h in got["history"]] == ["collected", "deliberated", "handled", "published", "evaluated"]
    assert [h["step"] for h in got["history"]][0::2] == ["entry", "dispose", "stage"]
    assert {h["actor"] for h in got["history"]} == {"leader"}
    assert got["photo"] == "IMG_0412.jpg" and got["grid_name"]


def test_a_list_reached_again_is_a_duplicate_and_a_skipped_list_is_refused(users: dict[str, Api]) -> None:
    leader = users["leader"]
    mid = new_matter(leader)["matter_id"]
    r = leader.post(f"/matters/{mid}/stages", {"stage": "handled"})
    assert r.status_code == 409 and r.json()["error"]["field"] == "stage"
    first = leader.post(f"/matters/{mid}/stages", {"stage": "deliberated"}).json()
    again = leader.post(f"/matters/{mid}/stages", {"stage": "deliberated"})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["event_id"] == first["event_id"]
    assert len(leader.get(f"/matters/{mid}").json()["history"]) == 2


def test_a_resent_matter_id_changes_nothing(users: dict[str, Api]) -> None:
    leader = users["leader"]
    body = {"matter_id": f"t-{uuid.uuid4().hex[:10]}", "grid": MICRO, "category": "environment",
            "description": "村道旁垃圾堆积"}
    one = leader.post("/matters", body)
    two = leader.post("/matters", body)
    assert (one.status_code, two.status_code) == (201, 200)
    assert two.json()["duplicate"] is True and two.json()["event_id"] == one.json()["event_id"]
    listed = leader.get("/matters", params={"category": "environment"}).json()["matters"]
    assert sum(1 for x in listed if x["matter_id"] == body["matter_id"]) == 1
    req = {"request_id": uuid.uuid4().hex, "grid": MICRO, "category": "policy", "description": "咨询医保"}
    a, b = leader.post("/matters", req), leader.post("/matters", req)
    assert (a.status_code, b.status_code) == (201, 200) and a.json()["matter_id"] == b.json()["matter_id"]


def test_escalation_from_grid_to_village_to_town_records_actors_and_reasons(users: dict[str, Api]) -> None:
    leader, village, town = users["leader"], users["village"], users["town1"]
    mid = new_matter(leader, category="infrastructure", description="村组道路破损")["matter_id"]
    leader.post(f"/matters/{mid}/stages", {"stage": "deliberated", "note": "超出网格能力"})
    r = leader.post(f"/matters/{mid}/handovers", {"step": "report", "to": "village", "reason": "需村级协调"})
    assert r.status_code == 200, r.text
    assert r.json()["holder"] == VILLAGE and r.json()["level"] == "village"
    # Now the village holds it: the grid worker can no longer hand it on or handle it.
    assert leader.post(f"/matters/{mid}/stages", {"stage": "handled"}).status_code == 403
    r = village.post(f"/matters/{mid}/handovers",
                     {"step": "report", "to": "town", "reason": "涉及多个村组", "request_id": "v-1"})
    assert r.status_code == 200, r.text
    again = village.post(f"/matters/{mid}/handovers",
                         {"step": "report", "to": "town", "reason": "涉及多个村组", "request_id": "v-1"})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert r.json()["holder"] == TOWN and r.json()["level"] == "town"
    r = town.post(f"/matters/{mid}/handovers",
                  {"step": "dispatch", "department": "镇规划建设办", "reason": "按职责分派"})
    assert r.status_code == 200, r.text
    assert town.post(f"/matters/{mid}/stages", {"stage": "handled", "note": "道路已修复"}).status_code == 200
    assert leader.post(f"/matters/{mid}/stages", {"stage": "published"}).status_code == 200
    assert leader.post(f"/matters/{mid}/evaluate", {"satisfaction": 4}).status_code == 200
    got = leader.get(f"/matters/{mid}").json()
    flow = [(h["step"], h["actor"], h["from"], h["to"], h["text"]) for h in got["history"] if h["step"] != "stage"]
    assert flow == [
        ("entry", "leader", None, MICRO, "村组道路破损"),
        ("report", "leader", MICRO, VILLAGE, "需村级协调"),
        ("report", "village", VILLAGE, TOWN, "涉及多个村组"),
        ("dispatch", "town1", TOWN, TOWN, "按职责分派"),
        ("dispose", "town1", TOWN, None, "道路已修复"),
    ]
    assert got["top_level"] == "town" and got["closed_level"] == "town" and got["department"] == "镇规划建设办"
    assert got["closed_by"] == "town1"
    towns = town.get("/matters", params={"level": "town"}).json()["matters"]
    assert mid in [x["matter_id"] for x in towns]


def test_refused_requests_name_the_field_and_change_nothing(users: dict[str, Api]) -> None:
    leader, viewer, other = users["leader"], users["viewer"], users["other"]
    body = {"matter_id": "t-refused", "grid": MICRO, "category": "dispute", "description": "x"}
    assert viewer.post("/matters", body).status_code == 403
    assert other.post("/matters", body).status_code == 403
    r = leader.post("/matters", {**body, "category": "meteor"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "category"
    r = users["town1"].post("/matters", {**body, "grid": VILLAGE})
    assert r.status_code == 422 and r.json()["error"]["field"] == "grid"
    r = leader.post("/matters", {**body, "description": ""})
    assert r.status_code == 422 and r.json()["error"]["field"] == "description"
    r = leader.post("/matters", {**body, "reported_at": int(time.time() * 1000) + 10 * DAY})
    assert r.status_code == 422 and r.json()["error"]["field"] == "reported_at"
    assert leader.s.post(leader.base + "/matters", data="{", timeout=10).status_code == 400
    assert leader.get("/matters/t-refused").status_code == 404
    mid = new_matter(leader)["matter_id"]
    assert other.get(f"/matters/{mid}").status_code == 403
    r = leader.post(f"/matters/{mid}/handovers", {"step": "report", "to": "village"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    leader.post(f"/matters/{mid}/stages", {"stage": "deliberated"})
    leader.post(f"/matters/{mid}/stages", {"stage": "handled"})
    leader.post(f"/matters/{mid}/stages", {"stage": "published"})
    r = leader.post(f"/matters/{mid}/evaluate", {"satisfaction": 6})
    assert r.status_code == 422 and r.json()["error"]["field"] == "satisfaction"
    assert leader.get(f"/matters/{mid}").json()["stage"] == "published"


def test_an_overdue_matter_raises_one_alert_and_clears_it_when_closed(users: dict[str, Api]) -> None:
    leader, boss = users["leader"], users["commander"]
    backlog = int(time.time() * 1000) - 30 * DAY  # entered from paper a month after the resident came
    m = new_matter(leader, category="safety", description="废弃鱼塘无护栏", reported_at=backlog)
    assert m["overdue"] is True and m["due"] == backlog + 72 * 3_600_000
    alert = f"matter_overdue:{m['matter_id']}"
    assert leader.post("/matters/overdue").status_code == 403
    first = boss.post("/matters/overdue").json()
    second = boss.post("/matters/overdue").json()
    assert alert in first["raised"] or alert in [a["id"] for a in boss.get("/alerts?open=1").json()["alerts"]]
    assert alert not in second["raised"]
    mine = [a for a in boss.get("/alerts").json()["alerts"] if a["detail"].get("matter") == m["matter_id"]]
    assert len(mine) == 1 and mine[0]["id"] == alert and mine[0]["kind"] == "matter_overdue"
    assert mine[0]["grid"] == MICRO and mine[0]["cleared_at"] is None
    overdue = boss.get("/matters", params={"overdue": 1}).json()["matters"]
    assert m["matter_id"] in [x["matter_id"] for x in overdue]
    leader.post(f"/matters/{m['matter_id']}/stages", {"stage": "deliberated"})
    leader.post(f"/matters/{m['matter_id']}/stages", {"stage": "handled", "note": "已加装护栏"})
    boss.post("/matters/overdue")
    boss.post("/matters/overdue")
    mine = [a for a in boss.get("/alerts").json()["alerts"] if a["detail"].get("matter") == m["matter_id"]]
    assert len(mine) == 1 and mine[0]["cleared_at"] is not None
    got = leader.get(f"/matters/{m['matter_id']}").json()
    assert got["closed"] and got["in_time"] is False and got["overdue"] is False


def test_a_wartime_switch_keeps_open_matters_and_they_count_after_stand_down(users: dict[str, Api]) -> None:
    leader, boss = users["leader"], users["commander"]
    mids = [new_matter(leader, category="livelihood", description=f"困难户{i}")["matter_id"] for i in range(3)]
    before = boss.get("/matters/summary").json()
    r = boss.post("/modes", {"scope": "TC", "mode": "wartime", "incident": "flood", "level": "III"})
    assert r.status_code == 200, r.text
    during = boss.get("/matters/summary").json()
    assert during["mode"] == "wartime"
    assert (during["total"], during["open"]) == (before["total"], before["open"])
    listed = {x["matter_id"] for x in leader.get("/matters", params={"open": 1}).json()["matters"]}
    assert set(mids) <= listed
    # Peacetime work does not stop in wartime: a list can still be reached.
    assert leader.post(f"/matters/{mids[0]}/stages", {"stage": "deliberated"}).status_code == 200
    r = boss.post("/modes", {"scope": "TC", "mode": "peacetime", "reason": "解除"})
    assert r.status_code == 200, r.text
    after = boss.get("/matters/summary").json()
    assert after["mode"] == "peacetime"
    assert (after["total"], after["open"]) == (before["total"], before["open"])
    assert after["by_category"]["livelihood"]["open"] >= 3
    got = {x["matter_id"]: x for x in leader.get("/matters", params={"open": 1}).json()["matters"]}
    assert set(mids) <= set(got) and got[mids[0]]["stage"] == "deliberated"


def test_evaluation_scores_recomputed_from_the_log_equal_the_stored_ones(
    users: dict[str, Api], server: Served
) -> None:
    boss, leader, town, viewer = users["commander"], users["leader"], users["town1"], users["viewer"]
    import redis as redis_lib

    from streams.alerting import issue_contact_reminders
    from streams.county import County
    from streams.matters import eval_key
    from streams.server import connect

    county = County(connect(server.redis_url), "TC")
    issue_contact_reminders(county, county.clock())
    late = new_matter(leader, category="urgent", reported_at=int(time.time() * 1000) - 3 * DAY)["matter_id"]
    for stage in ("deliberated", "handled"):
        assert leader.post(f"/matters/{late}/stages", {"stage": stage}).status_code == 200
    quarter = boss.get("/evaluations").json()["current_quarter"]
    r = leader.post(f"/contact-rounds/{quarter}/completions", {"grid": SMALL, "concerns": 4, "note": "入户走访"})
    assert r.status_code == 201, r.text
    # A wartime operation this quarter, reported on the leader's grid, then closed and stood down.
    assert boss.post("/modes", {"scope": TOWN, "mode": "wartime", "incident": "epidemic", "level": "II"}).ok
    op = boss.post("/operations", {"kind": "mass_testing", "scope": TOWN, "name": "全员核酸"}).json()["operation_id"]
    r = leader.post(f"/operations/{op}/reports", {"report_id": "e-1", "grid": MICRO, "counts": {"sampled": 12}})
    assert r.status_code == 201, r.text
    assert boss.post(f"/operations/{op}/close").status_code == 200
    assert boss.post("/modes", {"scope": TOWN, "mode": "peacetime"}).status_code == 200

    assert viewer.put("/evaluations/weights", {"weights": {"handling.in_time": 20}}).status_code == 403
    assert town.put("/evaluations/weights", {"weights": {"handling.in_time": 20}}).status_code == 403
    r = boss.put("/evaluations/weights", {"weights": {"handling.in_time": 20}})
    assert r.status_code == 200, r.text
    weights = {i["item"]: i["weight"] for i in boss.get("/evaluations/weights").json()["items"]}
    assert weights["handling.in_time"] == 20 and len(weights) >= 20
    assert boss.put("/evaluations/weights", {"weights": {"nope": 1}}).status_code == 422

    assert leader.post("/evaluations", {}).status_code == 403
    r = boss.post("/evaluations", {"scope": "TC", "request_id": "ev-1"})
    assert r.status_code == 201, r.text
    eid = r.json()["evaluation_id"]
    again = boss.post("/evaluations", {"scope": "TC", "request_id": "ev-1"})
    assert again.status_code == 200 and again.json()["evaluation_id"] == eid
    table = boss.get(f"/evaluations/{eid}").json()
    rows = {g["grid"]: g for g in table["grids"]}
    assert len(rows) == 16 and table["weights"]["handling.in_time"] == 20
    mine = rows[SMALL]
    assert mine["values"]["collection.contact_round"] == 1.0
    assert mine["values"]["emergency.completion"] == pytest.approx(12 / 60, abs=1e-4)
    assert mine["values"]["emergency.secretary"] == 1.0
    assert mine["values"]["handling.in_time"] < 1  # the urgent matter handled three days late
    assert mine["matters"] >= 1 and 1 <= mine["stars"] <= 5 and mine["score"] < 100
    assert sorted(g["rank"] for g in table["grids"])[0] == 1
    assert {r["leader"] for r in table["leaders"]} == {g["first_leader"] for g in table["grids"] if g["first_leader"]}
    # Recomputed from the log: the same table, byte for byte (digest), then again with the stored copy gone.
    v = boss.post(f"/evaluations/{eid}/verify").json()
    assert v["equal"] is True and v["recomputed"] == v["digest"] == table["digest"]
    redis_lib.Redis.from_url(server.redis_url).delete(eval_key("TC", table["digest"]))
    assert boss.get(f"/evaluations/{eid}").json() == table
    # A leader reads the evaluation of its own grid only.
    own = leader.get(f"/evaluations/{eid}").json()
    assert [g["grid"] for g in own["grids"]] == [SMALL]
    csv_ = boss.get(f"/evaluations/{eid}/export", params={"format": "csv"})
    assert csv_.status_code == 200 and SMALL in csv_.content.decode("utf-8-sig")
    xlsx = boss.get(f"/evaluations/{eid}/export", params={"format": "xlsx", "lang": "en"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    page = boss.get(f"/evaluations/{eid}/export", params={"format": "html"})
    assert page.status_code == 200 and "网格考评" in page.text
    listed = boss.get("/evaluations").json()["evaluations"]
    assert eid in [e["evaluation_id"] for e in listed]
