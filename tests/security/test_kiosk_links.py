"""Kiosk links are bounded by their maker's current rights, listed and withdrawn (dashboard.kiosk)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from command.access import Actor, Role
from streams.server import EmbeddedRedis
from tests.conftest import PASSWORD
from tests.security.env import Env, build_env

SETUP = Actor("test-setup", Role.COMMANDER, "TC")


@pytest.fixture(scope="module")
def env(redis_server: EmbeddedRedis) -> Iterator[Env]:
    yield build_env(redis_server.url)


def _link(env: Env, maker: str, scope: str) -> tuple[str, str]:
    r = env.call("POST", "/api/v1/kiosk", maker, json_body={"scope": scope})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["token"], r.get_json()["link"]["id"]


def _reads(env: Env, token: str, grid: str) -> int:
    return int(env.call("GET", f"/api/v1/grids/{grid}", query={"token": token}).status_code)


def test_a_demoted_makers_link_is_narrowed_to_the_new_scope_then_refused(env: Env) -> None:
    env.accounts.add("wall-maker", PASSWORD, "commander", "TC", SETUP)
    county_link, _ = _link(env, "wall-maker", "TC")
    town2_link, _ = _link(env, "wall-maker", "TC02")
    assert [_reads(env, county_link, g) for g in ("TC", "TC01", "TC02")] == [200, 200, 200]
    env.accounts.add("wall-maker", PASSWORD, "commander", "TC01", SETUP)  # moved to one town
    assert [_reads(env, county_link, g) for g in ("TC", "TC01", "TC01-L1", "TC02")] == [403, 200, 200, 403]
    r = env.call("GET", "/api/v1/board", query={"token": county_link, "scope": "TC"})
    assert r.status_code == 403  # the wall of the whole county is over
    assert _reads(env, town2_link, "TC02") == 401  # a town the maker no longer holds: dead
    env.accounts.add("wall-maker", PASSWORD, "viewer", "TC", SETUP)  # no longer a commander
    assert _reads(env, county_link, "TC01") == 401
    env.accounts.add("wall-maker", PASSWORD, "commander", "TC", SETUP)  # rights back: the link with them
    assert _reads(env, county_link, "TC") == 200
    env.accounts.remove("wall-maker")
    assert _reads(env, county_link, "TC01") == 401


def test_the_console_lists_live_links_in_its_scope_and_withdraws_them(env: Env) -> None:
    env.accounts.add("lister", PASSWORD, "commander", "TC", SETUP)
    env.accounts.add("gone-maker", PASSWORD, "commander", "TC", SETUP)
    tok1, id1 = _link(env, "lister", "TC01")
    tok2, id2 = _link(env, "town2", "TC02")
    _, id3 = _link(env, "gone-maker", "TC")
    env.accounts.remove("gone-maker")
    links = {k["id"]: k for k in env.call("GET", "/api/v1/kiosk", "lister").get_json()["links"]}
    assert id1 in links and id2 in links and id3 not in links  # a removed maker's link is not live
    assert links[id2]["maker"] == "town2" and links[id2]["scope"] == "TC02" and links[id2]["reads"] == "TC02"
    assert links[id1]["expires"] > links[id1]["made"] > 0
    town2 = {k["id"] for k in env.call("GET", "/api/v1/kiosk", "town2").get_json()["links"]}
    assert id2 in town2 and id1 not in town2  # a town commander sees its own town's links only
    assert env.call("DELETE", f"/api/v1/kiosk/{id1}", "town2").status_code == 403
    assert env.call("GET", "/api/v1/kiosk", "viewer").status_code == 403
    assert env.call("GET", "/api/v1/kiosk", token=tok1).status_code == 403  # a link lists nothing
    assert _reads(env, tok2, "TC02") == 200
    r = env.call("DELETE", f"/api/v1/kiosk/{id2}", "lister")
    assert r.status_code == 200 and r.get_json()["withdrawn"]["id"] == id2
    assert _reads(env, tok2, "TC02") == 401
    assert env.call("DELETE", f"/api/v1/kiosk/{id2}", "lister").status_code == 404
    left = {k["id"] for k in env.call("GET", "/api/v1/kiosk", "lister").get_json()["links"]}
    assert id2 not in left and id1 in left
    body = env.call("DELETE", "/api/v1/kiosk/nope", "lister").get_json()
    assert body["error"]["code"] == "unknown_link" and body["error"]["field"] == "link"
