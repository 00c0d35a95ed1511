"""The commander's console (/console): real headless Chromium at 1440×900 against a real `wartime serve`.

One server serves the module (the little county TC, in peacetime at the start);
only the first browser test changes the county (town TC02), the others read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from streams.server import EmbeddedRedis
from tests.conftest import PASSWORD, Served, seed_county, start_server

DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture(scope="module")
def console_server(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`wartime serve` over the test county, all in peacetime."""
    client = redis.Redis(unix_socket_path=str(redis_server.socket))
    client.flushall()
    client.script_flush()
    seed_county(redis_server.url)
    served = start_server(redis_server.url, tmp_path_factory.mktemp("console-serve"))
    yield served
    served.stop()


TOKENS: dict[tuple[str, str], str] = {}


def api(served: Served, method: str, path: str, user: str = "commander", **kw: Any) -> requests.Response:
    """One API call as `user` (logged in once per server)."""
    key = (served.url, user)
    if key not in TOKENS:
        TOKENS[key] = served.token(user)
    return requests.request(method, f"{served.url}/api/v1{path}", timeout=10,
                            headers={"Authorization": f"Bearer {TOKENS[key]}"}, **kw)


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def login(browser: Any, served: Served, user: str, query: str = "") -> tuple[Any, Any]:
    """A desktop browser logged in through the console's form."""
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    page.goto(f"{served.url}/console{query}")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-action=login]")
    page.wait_for_selector("[data-scope]", timeout=20_000)
    return ctx, page


def result(page: Any, before: str | None = None) -> str:
    """The text of the newest action result (waiting for a new one when `before` is given)."""
    loc = page.locator("[data-result]")
    if before is not None:
        eventually(lambda: loc.count() > 0 and loc.inner_text() != before)
    return str(loc.inner_text())


def last(page: Any) -> str:
    loc = page.locator("[data-result]")
    return str(loc.inner_text()) if loc.count() else ""


# -- browser --------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow  # one long scenario (the whole of a wartime episode): ~15 s on an idle machine
def test_commander_switches_a_town_fills_a_vacancy_launches_and_stands_down(
    console_server: Served, browser: Any, artifacts: Path
) -> None:
    s = console_server
    ctx, page = login(browser, s, "commander")
    page.click("[data-code=TC02]")
    page.wait_for_selector("[data-scope=TC02]")

    # switch to wartime: the confirmation shows the dry run's numbers, nothing changes before "confirm"
    page.click("#console-incident >> text=汛情")
    page.click("#console-level >> text=Ⅱ级 重大")
    page.fill("#console-reason", "县防汛指挥部通知 <b>启动Ⅱ级响应</b>")
    page.click("[data-action=switch-preview]")
    lines = page.locator(".console-confirm-lines")
    lines.wait_for()
    assert (lines.get_attribute("data-grids"), lines.get_attribute("data-installed"),
            lines.get_attribute("data-vacancies")) == ("31", "4", "4")
    assert api(s, "GET", "/grids/TC02").json()["mode"] == "peacetime"
    page.screenshot(path=str(artifacts / "console-confirm-1440x900.png"))
    page.click("[data-action=confirm]")
    page.wait_for_selector("[data-vacancy]")
    assert "4 名第一小网格长任临时党支部书记" in result(page)
    grid = api(s, "GET", "/grids/TC02").json()
    assert (grid["mode"], grid["incident"], grid["level"]) == ("wartime", "flood", "II")
    people = api(s, "GET", "/secretaries", params={"scope": "TC02"}).json()
    assert len(people["secretaries"]) == 4 and len(people["vacancies"]) == 4
    assert page.locator("[data-vacancy]").count() == 4
    assert page.locator("[data-secretary]").count() == 4

    # fill a vacancy with an acting secretary
    vacancy = page.locator("[data-vacancy]").first.get_attribute("data-vacancy")
    before = last(page)
    page.fill(f"[data-vacancy='{vacancy}'] input[name=person]", "王代理")
    page.click(f"[data-vacancy='{vacancy}'] [data-action=appoint]")
    assert "王代理" in result(page, before)
    page.wait_for_selector(f"[data-secretary='{vacancy}'][data-acting='1']")
    people = api(s, "GET", "/secretaries", params={"scope": "TC02"}).json()
    assert {"grid": vacancy, "name": "王代理", "acting": True} in [
        {k: p[k] for k in ("grid", "name", "acting")} for p in people["secretaries"]]
    assert vacancy not in people["vacancies"]

    # raise the response level
    before = last(page)
    page.click("#console-level-new >> text=Ⅰ级 特别重大")
    page.click("[data-action=change-level]")
    assert "Ⅰ级" in result(page, before)
    assert api(s, "GET", "/grids/TC02").json()["level"] == "I"

    # the vacancies left are raised as alerts (by the scheduler): wait for one before the next action
    def open_alerts() -> list[dict[str, Any]]:
        alerts = api(s, "GET", "/alerts", params={"open": "1"}).json()["alerts"]
        return [a for a in alerts if a["grid"].startswith("TC02") and not a["acked_by"]]

    eventually(lambda: bool(open_alerts()), timeout=30)

    # launch an operation with a target and a deadline
    page.click("#console-kind >> text=防汛转移")
    page.fill("#console-op-name", "6月防汛转移")
    page.fill("input[id*=people_evacuated]", "200")
    before = last(page)
    page.click("[data-action=launch]")
    assert "6月防汛转移" in result(page, before)
    ops = [o for o in api(s, "GET", "/operations").json()["operations"] if o["scope"] == "TC02"]
    assert [(o["kind"], o["name"], o["state"], o["targets"]) for o in ops] == [
        ("flood_evacuation", "6月防汛转移", "open", {"people_evacuated": 200})]
    assert ops[0]["deadline"] > time.time() * 1000
    page.wait_for_selector(f"[data-operation='{ops[0]['id']}'][data-state=open]")
    page.screenshot(path=str(artifacts / "console-desktop-1440x900.png"))

    # acknowledge an alert
    alert = open_alerts()[0]["id"]
    before = last(page)
    page.click(f"[data-action=ack-alert][data-alert='{alert}']")
    assert "已确认预警" in result(page, before)
    acked = [a for a in api(s, "GET", "/alerts").json()["alerts"] if a["id"] == alert]
    assert acked[0]["acked_by"] == "commander"

    # standing down is refused while the operation is open, in plain words
    before = last(page)
    page.click("[data-action=stand-down]")
    assert "请先结束任务" in result(page, before)
    assert api(s, "GET", "/grids/TC02").json()["mode"] == "wartime"

    # close the operation (confirmed), then stand down (confirmed)
    page.click(f"[data-operation='{ops[0]['id']}'] [data-action=close-operation]")
    page.wait_for_selector(".console-confirm-lines")
    page.click("[data-action=confirm]")
    page.wait_for_selector(f"[data-operation='{ops[0]['id']}'][data-state=closed]")
    page.click("[data-action=stand-down]")
    lines.wait_for()
    assert lines.get_attribute("data-grids") == "31"
    page.click("[data-action=confirm]")
    page.wait_for_selector("[data-scope=TC02] ~ [data-mode=peacetime]")
    assert api(s, "GET", "/grids/TC02").json()["mode"] == "peacetime"
    assert api(s, "GET", "/secretaries", params={"scope": "TC02"}).json() == {"secretaries": [], "vacancies": []}
    ctx.close()


@pytest.mark.browser
def test_a_town_commander_sees_and_touches_only_the_own_town(console_server: Served, browser: Any) -> None:
    ctx, page = login(browser, console_server, "town1")
    assert page.get_attribute("[data-scope]", "data-scope") == "TC01"
    assert page.locator("[data-code=TC]").count() == 0
    assert page.locator("[data-code=TC02]").count() == 0
    page.fill("#console-goto-code", "TC02")
    page.click("[data-action=goto]")
    assert "超出您的角色或管辖范围" in result(page, "")
    assert page.get_attribute("[data-scope]", "data-scope") == "TC01"
    r = api(console_server, "POST", "/modes", user="town1", json={"scope": "TC02", "mode": "wartime"})
    assert r.status_code == 403
    ctx.close()


@pytest.mark.browser
def test_a_viewer_sees_the_console_read_only_and_logs_out(console_server: Served, browser: Any) -> None:
    ctx, page = login(browser, console_server, "viewer")
    page.wait_for_selector(".console-note")
    assert "只读" in page.inner_text(".console-note")
    assert not page.locator("[data-action=switch-preview]").is_visible()
    assert not page.locator("[data-action=kiosk]").is_visible()
    token = page.evaluate("JSON.parse(localStorage.getItem('session')).token")
    page.click("[data-action=logout]")
    page.wait_for_selector("input[name=username]", state="visible")
    me = requests.get(f"{console_server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 401  # the token was revoked, not just forgotten
    ctx.close()


@pytest.mark.browser
def test_an_expired_session_goes_back_to_the_login_form(console_server: Served, browser: Any) -> None:
    ctx, page = login(browser, console_server, "commander")
    token = page.evaluate("JSON.parse(localStorage.getItem('session')).token")
    requests.delete(f"{console_server.url}/api/v1/session", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    page.click("[data-code=TC01]")
    page.wait_for_selector("input[name=username]", state="visible", timeout=15_000)
    assert "登录已过期" in page.inner_text("#console-login-error")
    ctx.close()


@pytest.mark.browser
def test_a_kiosk_link_is_minted_in_english_and_revoked(
    console_server: Served, browser: Any, artifacts: Path
) -> None:
    ctx, page = login(browser, console_server, "commander", query="?lang=en")
    assert page.inner_text("[data-action=kiosk]") == "Make a wall link"
    page.click("[data-code=TC01]")
    page.wait_for_selector("[data-scope=TC01]")
    page.screenshot(path=str(artifacts / "console-desktop-en-1440x900.png"))
    page.click("[data-action=kiosk]")
    url = page.get_attribute("[data-kiosk-url]", "data-kiosk-url")
    assert "Wall link made" in result(page)
    assert "tv=1" in url and "lang=en" in url  # TV mode and the console's language, fixed by the link
    assert page.get_attribute("[data-kiosk-qr]", "src").startswith("data:image/svg+xml")
    assert page.inner_text("[data-kiosk-valid-until]").startswith("valid until 20")
    assert page.is_visible("[data-action=kiosk-copy]")
    token = url.split("token=")[1]
    me = requests.get(f"{console_server.url}/api/v1/me", params={"token": token}, timeout=10).json()
    assert me["role"] == "viewer" and me["scope"] == "TC01"
    before = last(page)
    page.click("[data-action=kiosk-revoke]")
    assert "revoked" in result(page, before)
    assert requests.get(f"{console_server.url}/api/v1/me", params={"token": token}, timeout=10).status_code == 401
    ctx.close()


@pytest.mark.browser
def test_live_wall_links_are_listed_with_scope_maker_and_expiry_and_revoked(
    console_server: Served, browser: Any, artifacts: Path
) -> None:
    from command.access import Actor, Role
    from dashboard.auth import Accounts
    from streams.county import County
    from streams.server import connect

    accounts = Accounts(County(connect(console_server.redis_url), "TC"))
    setup = Actor("test-setup", Role.COMMANDER, "TC")
    accounts.add("moved-boss", PASSWORD, "commander", "TC", setup)
    town = api(console_server, "POST", "/kiosk", "town1", json={"scope": "TC01-L1"}).json()
    wide = api(console_server, "POST", "/kiosk", "moved-boss", json={"scope": "TC"}).json()
    accounts.add("moved-boss", PASSWORD, "commander", "TC02", setup)  # its county-wide link now reads TC02 only
    ctx, page = login(browser, console_server, "commander", query="?lang=en")
    row = f"[data-kiosk-link='{town['link']['id']}']"
    page.wait_for_selector(row, timeout=20_000)
    text = page.inner_text(row)
    assert "TC01-L1" in text and "made by town1" in text and "until 20" in text
    assert page.get_attribute(row, "data-kiosk-expires") == str(town["link"]["expires"])
    narrowed = page.inner_text(f"[data-kiosk-link='{wide['link']['id']}']")
    assert "made by moved-boss" in narrowed and "now shows" in narrowed and "TC02" not in narrowed.split("now")[0]
    page.locator("#console-kiosk-card").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "console-kiosk-links-en.png"), full_page=True)
    assert requests.get(f"{console_server.url}/api/v1/me", params={"token": town["token"]}, timeout=10).ok
    before = last(page)
    page.click(f"{row} [data-action=kiosk-withdraw]")
    assert "revoked" in result(page, before)
    page.wait_for_selector(row, state="detached", timeout=8_000)  # listed again at once, not at the next refresh
    assert requests.get(f"{console_server.url}/api/v1/me", params={"token": town["token"]},
                        timeout=10).status_code == 401
    listed = {k["id"] for k in api(console_server, "GET", "/kiosk").json()["links"]}
    assert town["link"]["id"] not in listed and wide["link"]["id"] in listed
    ctx.close()
