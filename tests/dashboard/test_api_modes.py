"""Mode switching over HTTP: switch, dry run, acting secretaries, stand-down."""

from __future__ import annotations

from tests.conftest import Served
from tests.dashboard.test_api import Api


def test_switch_appoint_and_stand_down_through_the_api(served: Served) -> None:
    from tests.conftest import make_tree

    tree = make_tree()
    town1 = Api(served, "town1")
    smalls = tree.small_grids("TC01")
    want_installed = {g: tree[g].first_leader for g in smalls if tree[g].first_leader}
    want_vacant = sorted(g for g in smalls if not tree[g].first_leader)
    dry = town1.post("/modes?dry_run=1", {"scope": "TC01", "mode": "wartime", "incident": "flood", "level": "III"})
    assert dry.status_code == 200 and dry.json()["event_id"] is None
    assert town1.get("/grids/TC01").json()["mode"] == "peacetime"  # a dry run changes nothing
    r = town1.post("/modes", {"scope": "TC01", "mode": "wartime", "incident": "flood", "level": "III",
                              "reason": "暴雨"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert dict(map(tuple, out["installed"])) == want_installed
    assert out["secretaries_installed"] == len(want_installed) and sorted(out["vacancies"]) == want_vacant
    assert out["grids_switched"] == len(list(tree.subtree("TC01")))
    assert {k: dry.json()[k] for k in ("grids_switched", "secretaries_installed", "vacancies")} == {
        k: out[k] for k in ("grids_switched", "secretaries_installed", "vacancies")}
    # Acting secretary fills a vacancy; appointing twice is a conflict.
    vacancy = want_vacant[0]
    assert town1.post("/secretaries", {"grid": vacancy, "person": "王代理"}).status_code == 201
    assert town1.post("/secretaries", {"grid": vacancy, "person": "李四"}).status_code == 409
    sec = town1.get(f"/grids/{vacancy}").json()["secretary"]
    assert (sec["name"], sec["acting"]) == ("王代理", True)
    assert vacancy not in town1.get("/secretaries", params={"scope": "TC01"}).json()["vacancies"]
    # Stand-down releases every secretary; a second stand-down is a conflict.
    assert town1.post("/modes", {"scope": "TC01", "mode": "peacetime", "reason": "雨停"}).status_code == 200
    g = town1.get(f"/grids/{vacancy}").json()
    assert g["mode"] == "peacetime" and g["secretary"] is None
    assert town1.get("/secretaries", params={"scope": "TC01"}).json() == {"secretaries": [], "vacancies": []}
    assert town1.post("/modes", {"scope": "TC01", "mode": "peacetime"}).status_code == 409
