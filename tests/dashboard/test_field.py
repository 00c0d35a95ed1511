"""The field page (/field) and its API: a grid leader reports from a phone, online or not.

Browser tests drive real headless Chromium with a phone viewport against a real
`wartime serve`. One server (and one seeded county, TC01 in wartime with a mass
testing operation) serves the whole module; every test uses its own browser
context (its own localStorage) and checks counts as differences, so the tests
do not depend on each other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from command.grids import Level
from dashboard.api_field import reportable
from streams.server import EmbeddedRedis
from tests.conftest import (
    PASSWORD,
    Served,
    eventually,
    log_in,
    make_tree,
    phone,
    seed_county,
    start_server,
)

LEADER_GRID = "TC01-L1-M1-S1"
MICRO = f"{LEADER_GRID}-W1"
OUTSIDE = "TC01-L2-M1-S1-W1"


@pytest.fixture(scope="module")
def field_server(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`wartime serve` over the test county: TC01 in wartime, a mass-testing operation over it."""
    client = redis.Redis(unix_socket_path=str(redis_server.socket))
    client.flushall()
    client.script_flush()
    seed_county(redis_server.url)
    served = start_server(redis_server.url, tmp_path_factory.mktemp("field-serve"))
    h = served.headers("commander")
    r = requests.post(f"{served.url}/api/v1/modes", headers=h, timeout=10,
                      json={"scope": "TC01", "mode": "wartime", "incident": "epidemic", "level": "II"})
    assert r.status_code == 200, r.text
    r = requests.post(f"{served.url}/api/v1/operations", headers=h, timeout=10,
                      json={"kind": "mass_testing", "scope": "TC01", "name": "全员核酸检测 第一轮",
                            "deadline": int(time.time() * 1000) + 72 * 3600 * 1000})
    assert r.status_code == 201, r.text
    OPERATION[served.url] = r.json()["operation_id"]
    yield served
    served.stop()


OPERATION: dict[str, str] = {}
"""The operation each module server launched, by server URL."""


def _op(served: Served) -> str:
    return OPERATION[served.url]


TOKENS: dict[tuple[str, str], str] = {}


def headers(served: Served, user: str) -> dict[str, str]:
    """A bearer header, logging in once per user and server (password hashing is slow on purpose)."""
    key = (served.url, user)
    if key not in TOKENS:
        TOKENS[key] = served.token(user)
    return {"Authorization": f"Bearer {TOKENS[key]}"}


def sampled(served: Served, grid: str = MICRO) -> int:
    """The server's count of `sampled` on a grid, as the API reports it."""
    r = requests.get(f"{served.url}/api/v1/operations/{_op(served)}/progress", params={"grid": grid},
                     headers=headers(served, "commander"), timeout=10)
    r.raise_for_status()
    return int(r.json()["counts"]["sampled"])


def login(page: Any, served: Served, user: str = "leader", query: str = "") -> None:
    """Log in through the form, as a leader does."""
    log_in(page, f"{served.url}/field{query}", user)
    page.wait_for_selector("input[name=sampled]", timeout=20_000)


@pytest.fixture(scope="module")
def leader_state(field_server: Served, browser: Any) -> dict[str, Any]:
    """The browser storage of a leader who logged in once (saves a login per test)."""
    ctx = phone(browser)
    page = ctx.new_page()
    login(page, field_server)
    state: dict[str, Any] = ctx.storage_state()
    ctx.close()
    return state


def open_field(browser: Any, served: Served, state: dict[str, Any]) -> tuple[Any, Any]:
    """A phone already logged in as the leader, on /field."""
    ctx = phone(browser, state)
    page = ctx.new_page()
    page.goto(f"{served.url}/field")
    page.wait_for_selector("input[name=sampled]", timeout=20_000)
    return ctx, page


def report(page: Any, n: int, note: str = "") -> None:
    page.fill("input[name=sampled]", str(n))
    if note:
        page.fill("textarea[name=note]", note)
    page.click("[data-action=submit-report]")


def queue(page: Any) -> int:
    return int(page.get_attribute("[data-queue]", "data-value"))


# -- API ------------------------------------------------------------------------------------


def test_mine_lists_a_secretarys_micro_grids_and_the_open_operation(field_server: Served) -> None:
    r = requests.get(f"{field_server.url}/api/v1/field/mine", headers=headers(field_server, "leader"), timeout=10)
    data = r.json()
    assert r.status_code == 200
    assert data["root"]["code"] == LEADER_GRID
    assert data["root"]["secretary"]["name"] == f"书记{LEADER_GRID}"
    assert [g["code"] for g in data["grids"]] == [f"{LEADER_GRID}-W1", f"{LEADER_GRID}-W2"]
    assert data["can_report"] is True
    (op,) = data["operations"]
    assert op["id"] == _op(field_server)
    assert set(op["grids"]) == {f"{LEADER_GRID}-W1", f"{LEADER_GRID}-W2"}
    assert op["grids"][MICRO]["targets"] == {"sampled": 30}


def test_mine_refuses_a_grid_outside_the_scope_and_a_missing_token(field_server: Served) -> None:
    h = headers(field_server, "leader")
    outside = requests.get(f"{field_server.url}/api/v1/field/mine", params={"grid": OUTSIDE}, headers=h, timeout=10)
    anonymous = requests.get(f"{field_server.url}/api/v1/field/mine", timeout=10)
    assert outside.status_code == 403
    assert outside.json()["error"]["field"] == "grid"
    assert anonymous.status_code == 401


def test_viewer_gets_the_field_data_read_only(field_server: Served) -> None:
    r = requests.get(f"{field_server.url}/api/v1/field/mine", params={"grid": LEADER_GRID},
                     headers=headers(field_server, "viewer"), timeout=10)
    assert r.status_code == 200
    assert r.json()["can_report"] is False


def test_small_grids_without_micro_grids_take_the_reports_themselves() -> None:
    tree = make_tree(towns=1, larges=1, mediums=1, smalls=2, micros=0)
    leaves, cut = reportable(tree, tree.root)
    assert [tree[c].level for c in leaves] == [Level.SMALL, Level.SMALL]
    assert not cut
    first, cut = reportable(make_tree(), "TC", limit=5)
    assert len(first) == 5 and cut


def test_service_worker_is_served_for_the_field_scope(field_server: Served) -> None:
    r = requests.get(f"{field_server.url}/api/v1/field/sw.js", timeout=10)
    assert r.status_code == 200
    assert r.headers["Service-Worker-Allowed"] == "/field"
    assert "javascript" in r.headers["Content-Type"]
    assert "ServiceWorkerGlobalScope" in r.text


def test_a_leader_cannot_report_outside_the_scope_through_the_api(field_server: Served) -> None:
    before = sampled(field_server, OUTSIDE)
    r = requests.post(f"{field_server.url}/api/v1/operations/{_op(field_server)}/reports",
                      headers=headers(field_server, "leader"), timeout=10,
                      json={"report_id": "api-outside-1", "grid": OUTSIDE, "counts": {"sampled": 5}})
    assert r.status_code == 403
    time.sleep(0.3)
    assert sampled(field_server, OUTSIDE) == before


# -- browser --------------------------------------------------------------------------------


@pytest.mark.browser
def test_leader_reports_and_sees_it_acknowledged_and_counted(
    field_server: Served, browser: Any, artifacts: Path
) -> None:
    before = sampled(field_server)
    ctx = phone(browser)
    page = ctx.new_page()
    login(page, field_server)
    assert page.inner_text("#field-who").startswith("leader")
    page.click("[data-action=step][data-step='10']")
    page.click("[data-action=step][data-step='1']")
    page.click("[data-action=step][data-step='1']")
    page.click("[data-action=step][data-step='-1']")
    assert page.input_value("input[name=sampled]") == "11"
    report(page, 11, note="<b>3号楼</b> <img src=x onerror=alert(1)>")
    page.wait_for_selector("li[data-state=acked]")
    page.wait_for_selector("[data-queue][data-value='0']")
    eventually(lambda: sampled(field_server) == before + 11)
    note = page.locator(".field-report-note").first
    assert note.inner_text() == "<b>3号楼</b> <img src=x onerror=alert(1)>"
    assert page.locator(".field-recent b, .field-recent img").count() == 0
    page.wait_for_selector(f"[data-counter=sampled][data-count='{before + 11}']", timeout=10_000)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "field-phone-390x844.png"))
    page.screenshot(path=str(artifacts / "field-phone-full-390.png"), full_page=True)
    ctx.close()


@pytest.mark.browser
def test_offline_reports_survive_a_reload_and_are_counted_exactly_once(
    field_server: Served, browser: Any, leader_state: dict[str, Any], artifacts: Path
) -> None:
    ctx = phone(browser, leader_state)
    offline = {"on": False}

    def cut_worker_network(route: Any) -> None:
        # Offline emulation does not reach a service worker's own fetches: cut those too.
        if offline["on"] and route.request.service_worker is not None:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    ctx.route("**/*", cut_worker_network)
    page = ctx.new_page()
    page.goto(f"{field_server.url}/field")
    page.wait_for_selector("input[name=sampled]", timeout=20_000)
    page.wait_for_selector("html[data-field-offline=ready]", timeout=20_000)
    before = sampled(field_server)

    offline["on"] = True
    ctx.set_offline(True)
    for n in (1, 2, 4):
        report(page, n)
    page.wait_for_selector("[data-queue][data-value='3']")
    assert page.locator("li[data-state=queued]").count() == 3
    page.reload()
    page.wait_for_selector("input[name=sampled]", timeout=20_000)
    page.wait_for_selector("[data-queue][data-value='3']")
    assert page.locator("li[data-state=queued]").count() == 3
    assert page.locator(".field-net-offline").count() == 1
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "field-phone-offline-390x844.png"))
    time.sleep(0.5)
    assert sampled(field_server) == before  # nothing reached the server while offline

    offline["on"] = False
    ctx.set_offline(False)
    page.wait_for_selector("[data-queue][data-value='0']", timeout=30_000)
    assert page.locator("li[data-state=acked]").count() == 3
    eventually(lambda: sampled(field_server) == before + 7)  # 1 + 2 + 4: each exactly once
    time.sleep(1.0)
    assert sampled(field_server) == before + 7
    ctx.close()


@pytest.mark.browser
def test_the_queue_survives_a_closed_browser(field_server: Served, browser: Any, leader_state: dict[str, Any]) -> None:
    ctx, page = open_field(browser, field_server, leader_state)
    before = sampled(field_server)
    ctx.set_offline(True)
    report(page, 8)
    report(page, 16)
    page.wait_for_selector("[data-queue][data-value='2']")
    kept = ctx.storage_state()  # what the phone's disk holds
    ctx.close()  # the browser is closed before anything was sent
    assert sampled(field_server) == before

    ctx, page = open_field(browser, field_server, kept)
    page.wait_for_selector("[data-queue][data-value='0']", timeout=20_000)
    assert page.locator("li[data-state=acked]").count() == 2
    eventually(lambda: sampled(field_server) == before + 24)
    ctx.close()


@pytest.mark.browser
def test_a_report_whose_answer_is_lost_is_resent_and_counted_once(
    field_server: Served, browser: Any, leader_state: dict[str, Any]
) -> None:
    ctx, page = open_field(browser, field_server, leader_state)
    before = sampled(field_server)
    seen: list[str] = []

    def lose_first_answer(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        seen.append(body.get("report_id", ""))
        if len(seen) == 1:
            route.fetch()  # the server takes the report …
            route.abort("connectionreset")  # … and the phone never hears back
        else:
            route.continue_()

    page.route("**/api/v1/operations/*/reports", lose_first_answer)
    report(page, 5)
    page.wait_for_selector("li[data-state=acked]", timeout=30_000)
    assert len(seen) >= 2 and len(set(seen)) == 1  # the same report_id, sent again
    assert "field-badge-acked" in page.get_attribute("li[data-state=acked] .field-badge", "class")
    eventually(lambda: sampled(field_server) == before + 5)
    time.sleep(0.5)
    assert sampled(field_server) == before + 5
    ctx.close()


@pytest.mark.browser
def test_a_report_edited_to_a_grid_outside_the_scope_is_refused_and_not_counted(
    field_server: Served, browser: Any, leader_state: dict[str, Any]
) -> None:
    ctx, page = open_field(browser, field_server, leader_state)
    before_outside, before_mine = sampled(field_server, OUTSIDE), sampled(field_server)

    def retarget(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        body["grid"] = OUTSIDE
        route.continue_(post_data=json.dumps(body))

    page.route("**/api/v1/operations/*/reports", retarget)
    report(page, 9)
    page.wait_for_selector("li[data-state=refused]")
    page.wait_for_selector("[data-queue][data-value='0']")
    assert "不在您的管辖范围" in page.inner_text("li[data-state=refused] .field-report-error")
    time.sleep(0.5)
    assert sampled(field_server, OUTSIDE) == before_outside
    assert sampled(field_server) == before_mine
    ctx.close()


@pytest.mark.browser
def test_a_correction_needs_a_reason_and_cannot_go_below_zero(
    field_server: Served, browser: Any, leader_state: dict[str, Any]
) -> None:
    ctx, page = open_field(browser, field_server, leader_state)
    page.click("[data-action=pick-grid][data-grid$='-W2']")
    grid = f"{LEADER_GRID}-W2"
    base = sampled(field_server, grid)
    report(page, 6)
    eventually(lambda: sampled(field_server, grid) == base + 6)

    page.check("input[name=correction]")
    page.fill("input[name=sampled]", "2")
    page.click("[data-action=submit-report]")
    assert "原因" in page.inner_text("#field-msg")  # refused on the phone: no reason
    page.fill("input[name=reason]", "重复登记")
    page.click("[data-action=submit-report]")
    eventually(lambda: sampled(field_server, grid) == base + 4)

    page.check("input[name=correction]")
    page.fill("input[name=sampled]", str(base + 100))
    page.fill("input[name=reason]", "全部作废")
    page.click("[data-action=submit-report]")
    page.wait_for_selector("li[data-state=refused]")
    assert "不能小于零" in page.inner_text("li[data-state=refused] .field-report-error")
    assert sampled(field_server, grid) == base + 4
    ctx.close()


@pytest.mark.browser
def test_an_expired_session_goes_back_to_login_and_keeps_the_queue(field_server: Served, browser: Any) -> None:
    ctx = phone(browser)
    page = ctx.new_page()
    login(page, field_server)
    before = sampled(field_server)
    ctx.set_offline(True)
    report(page, 3)
    page.wait_for_selector("[data-queue][data-value='1']")
    token = json.loads(page.evaluate("localStorage.getItem('session')"))["token"]
    requests.delete(f"{field_server.url}/api/v1/session", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    ctx.set_offline(False)
    page.wait_for_selector("input[name=username]", state="visible", timeout=20_000)
    assert "登录已过期" in page.inner_text("#field-login-error")
    assert queue(page) == 1
    assert sampled(field_server) == before

    page.fill("input[name=username]", "leader")
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-action=login]")
    page.wait_for_selector("[data-queue][data-value='0']", timeout=20_000)
    eventually(lambda: sampled(field_server) == before + 3)
    ctx.close()


@pytest.mark.browser
def test_the_field_page_speaks_english_and_logs_out(field_server: Served, browser: Any, artifacts: Path) -> None:
    ctx = phone(browser)
    page = ctx.new_page()
    login(page, field_server, query="?lang=en")
    assert page.inner_text("[data-action=submit-report]") == "Submit report"
    assert "People sampled" in page.inner_text("#field-form")
    page.screenshot(path=str(artifacts / "field-phone-en-390x844.png"))
    token = json.loads(page.evaluate("localStorage.getItem('session')"))["token"]
    page.click("[data-action=logout]")
    page.wait_for_selector("input[name=username]", state="visible")
    assert page.evaluate("JSON.parse(localStorage.getItem('session') || 'null')") is None

    def revoked() -> bool:
        me = requests.get(f"{field_server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        return me.status_code == 401

    eventually(revoked)
    ctx.close()
