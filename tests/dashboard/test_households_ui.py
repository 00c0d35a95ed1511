"""Households in the browser (issue 16): a central household's phone, the wall, the console.

One `wartime serve` over the test county for the module: the county in wartime
(flood), a roster of households (a micro grid of 8 for the central household's
phone, two of them vulnerable; a few in other grids), a flood-evacuation
operation over the county. Real headless Chromium on a 390×844 phone and a
1920×1080 wall. Counts are checked as differences against the server's answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from command.access import Actor, Role
from command.households import Household
from command.modes import SwitchRequest
from dashboard.auth import Accounts
from streams.county import County
from streams.server import EmbeddedRedis, connect
from tests.conftest import PASSWORD, Served, empty, make_tree, seed_county, start_server
from tests.dashboard.test_board import square_geometry

PHONE = {"width": 390, "height": 844}
WALL = {"width": 1920, "height": 1080}
CMD = Actor("test-commander", Role.COMMANDER, "TC")
SMALL = "TC01-L1-M1-S1"
MICRO = f"{SMALL}-W1"
HEADS = ["张建明", "李秀英", "王桂兰", "刘洋", "陈静", "杨伟", "赵敏", "黄磊"]


def roster() -> list[Household]:
    """8 households in the central household's micro grid (2 vulnerable), 2 in each of a few others."""
    out = [
        Household(f"{MICRO}-{i:03d}", MICRO, central_household=f"{MICRO}-C1", address=f"幸福路{i}号",
                  head=HEADS[i - 1], size=1 + i % 4, phone=f"1380000{i:04d}",
                  vulnerable=("elderly_alone",) if i in (3, 6) else ())
        for i in range(1, 9)
    ]
    for grid in (f"{SMALL}-W2", "TC01-L2-M1-S1-W1", "TC02-L1-M1-S1-W1"):
        out += [Household(f"{grid}-{i:03d}", grid, address=f"和平街{i}号", head="孙丽", size=2,
                          phone=f"1390000{i:04d}", vulnerable=("bedridden",) if i == 1 else ())
                for i in (1, 2)]
    return out


@pytest.fixture(scope="module")
def hh_server(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, str, str]]:
    empty(redis_server)
    tree = make_tree()
    seed_county(redis_server.url, tree, square_geometry(tree))
    county = County(connect(redis_server.url), "TC")
    Accounts(county).add("central", PASSWORD, "leader", MICRO, CMD)
    county.load_households(roster(), CMD)
    county.switch(CMD, SwitchRequest("TC", "wartime", "flood", "II", "test"))
    op = county.launch(CMD, "flood_evacuation", "TC", "防汛转移 第一轮", int(time.time() * 1000) + 86_400_000,
                       operation="op-flood").event.operation  # type: ignore[attr-defined]
    served = start_server(redis_server.url, tmp_path_factory.mktemp("hh-serve"))
    kiosk = requests.post(f"{served.url}/api/v1/kiosk", json={"scope": "TC"},
                          headers=served.headers("commander"), timeout=10).json()["token"]
    yield served, op, kiosk
    served.stop()


def households(served: Served, op: str, grid: str, user: str = "commander") -> dict[str, Any]:
    r = requests.get(f"{served.url}/api/v1/operations/{op}/households", params={"grid": grid},
                     headers=served.headers(user), timeout=10)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def eventually(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def sign_in(browser: Any, served: Served, user: str, path: str = "/field", ready: str = "#field-hh li[data-household]",
            viewport: dict[str, int] | None = None) -> tuple[Any, Any]:
    """A fresh context (a phone unless told), logged in through the page's own form."""
    if viewport is None:
        ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    else:
        ctx = browser.new_context(viewport=viewport)
    page = ctx.new_page()
    page.goto(f"{served.url}{path}")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-action=login]")
    page.wait_for_selector(ready, timeout=30_000)
    return ctx, page


def wall_unreached(page: Any) -> int:
    return int(page.get_attribute("[data-kpi=unreached_households]", "data-value"))


@pytest.mark.browser
def test_a_central_household_marks_six_households_two_offline_and_the_wall_falls_by_six(
    hh_server: tuple[Served, str, str], browser: Any, artifacts: Path
) -> None:
    served, op, kiosk = hh_server
    before = households(served, op, "TC")
    before_micro = households(served, op, MICRO)
    assert before_micro["total"] == 8

    wall_ctx = browser.new_context(viewport=WALL)
    wall = wall_ctx.new_page()
    wall.goto(f"{served.url}/?token={kiosk}")
    wall.wait_for_selector("#board-panel-hh:not([hidden]) [data-kpi=unreached_households]", timeout=90_000)
    assert wall_unreached(wall) == before["unreached"]

    ctx, page = sign_in(browser, served, "central")
    items = page.locator("#field-hh li[data-household]")
    assert items.count() == 8
    order = [items.nth(i).get_attribute("data-household") for i in range(8)]
    assert order[:2] == [f"{MICRO}-003", f"{MICRO}-006"]  # vulnerable first among the unreached
    heads = page.locator("#field-hh .fh-head").all_inner_texts()
    assert "张建明" in heads  # the household's own grid leader sees names (the API unmasks for it)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "households-phone-before-390x844.png"))

    def tap(code: str, status: str) -> None:
        page.click(f"#field-hh [data-action=hh-status][data-household='{code}'][data-status={status}]")
        page.wait_for_selector(f"#field-hh li[data-household='{code}'][data-status={status}]")

    online = [(f"{MICRO}-003", "evacuated"), (f"{MICRO}-006", "reached"), (f"{MICRO}-001", "safe_in_place"),
              (f"{MICRO}-002", "absent")]
    for code, status in online:
        tap(code, status)
    page.wait_for_selector("[data-queue][data-value='0']", timeout=15_000)

    ctx.set_offline(True)
    tap(f"{MICRO}-004", "refused")
    tap(f"{MICRO}-005", "unreachable")
    page.wait_for_selector("[data-queue][data-value='2']")
    assert page.locator("#field-hh li[data-pending]").count() == 2
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "households-phone-offline-390x844.png"))
    time.sleep(0.5)
    assert households(served, op, MICRO)["unreached"] == 8 - 4  # nothing offline reached the server

    ctx.set_offline(False)
    page.wait_for_selector("[data-queue][data-value='0']", timeout=30_000)
    eventually(lambda: households(served, op, MICRO)["unreached"] == 2)

    # A resend of an acknowledged tap (its answer lost) is a duplicate, not a second count.
    queue = json.loads(page.evaluate("window.localStorage.getItem('wartime.field.reports.v1')"))
    first = next(r for r in queue if r.get("household") == f"{MICRO}-003")
    again = requests.post(f"{served.url}/api/v1/operations/{op}/households", json=first["body"],
                          headers=served.headers("central"), timeout=10)
    assert again.status_code == 200 and again.json()["duplicate"] is True

    after_micro = households(served, op, MICRO)
    assert after_micro["unreached"] == 2
    assert sum(after_micro["by_status"].values()) == 6
    assert after_micro["by_status"]["refused"] == 1 and after_micro["by_status"]["evacuated"] == 1
    after = households(served, op, "TC")
    assert after["unreached"] == before["unreached"] - 6

    t0 = time.monotonic()
    wall.wait_for_function(f"() => document.querySelector('[data-kpi=unreached_households]')"
                           f".getAttribute('data-value') === '{before['unreached'] - 6}'", timeout=30_000)
    print(f"wall caught up {time.monotonic() - t0:.2f} s after the server's count")
    assert wall_unreached(wall) == before["unreached"] - 6
    panel = wall.inner_text("#board-panel-hh")
    assert "孙*" in panel and "孙丽" not in panel  # the wall names vulnerable households masked
    same = wall.get_attribute("#board-panel-hh", "data-as-of") == wall.get_attribute("#board", "data-as-of")
    assert same or wall.get_attribute("#board-panel-hh", "data-stale") is not None  # one instant, or says so
    page.wait_for_selector("#field-hh [data-hh-unreached][data-value='2']", timeout=30_000)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "households-phone-after-390x844.png"))
    page.screenshot(path=str(artifacts / "households-phone-full-390.png"), full_page=True)
    wall.screenshot(path=str(artifacts / "households-wall-1920x1080.png"))
    ctx.close()
    wall_ctx.close()


@pytest.mark.browser
def test_a_correction_moves_a_household_to_its_new_status_once(
    hh_server: tuple[Served, str, str], browser: Any
) -> None:
    served, op, _ = hh_server
    grid = f"{SMALL}-W2"
    ctx, page = sign_in(browser, served, "leader", ready="[data-action=pick-grid]")
    page.click(f"[data-action=pick-grid][data-grid='{grid}']")
    code = f"{grid}-002"
    page.wait_for_selector(f"#field-hh li[data-household='{code}']", timeout=30_000)
    before = households(served, op, grid)
    page.click(f"#field-hh [data-action=hh-status][data-household='{code}'][data-status=absent]")
    page.wait_for_selector("[data-queue][data-value='0']", timeout=15_000)
    eventually(lambda: households(served, op, grid)["by_status"]["absent"] == before["by_status"]["absent"] + 1)
    page.click(f"#field-hh [data-action=hh-correct][data-household='{code}']")
    page.click(f"#field-hh [data-action=hh-status][data-household='{code}'][data-status=evacuated]")
    page.wait_for_selector("[data-queue][data-value='0']", timeout=15_000)
    eventually(lambda: households(served, op, grid)["by_status"]["evacuated"] == before["by_status"]["evacuated"] + 1)
    now = households(served, op, grid)
    assert now["by_status"]["absent"] == before["by_status"]["absent"]
    assert now["unreached"] == before["unreached"] - 1
    ctx.close()


@pytest.mark.browser
def test_the_field_list_speaks_english_and_a_viewer_sees_names_masked(
    hh_server: tuple[Served, str, str], browser: Any, artifacts: Path
) -> None:
    served, op, _ = hh_server
    masked = households(served, op, MICRO, user="viewer")
    assert all("*" in h["head"] and "****" in h["phone"] for h in masked["items"])
    ctx, page = sign_in(browser, served, "central", "/field?lang=en")
    text = page.inner_text("#field-hh")
    assert "Households · nobody missed" in text
    assert "已" not in text and "户" not in text.replace(MICRO, "")
    page.screenshot(path=str(artifacts / "households-phone-en-390x844.png"))
    ctx.close()


@pytest.mark.browser
def test_the_console_lists_a_scopes_unreached_households_vulnerable_first_for_phoning(
    hh_server: tuple[Served, str, str], browser: Any, artifacts: Path
) -> None:
    served, op, _ = hh_server
    scope = "TC01-L2-M1-S1-W1"  # nobody marks this grid in the other tests
    want = households(served, op, scope)
    ctx, page = sign_in(browser, served, "viewer", f"/console?scope={scope}", f"#console-hh-body[data-op='{op}']",
                        {"width": 1440, "height": 900})
    body = page.locator("#console-hh-body")
    assert body.get_attribute("data-unreached") == str(want["unreached"]) == "2"
    rows = page.locator("#console-hh-body tr[data-household]")
    assert rows.count() == 2
    assert rows.nth(0).get_attribute("data-vulnerable") == "1"  # vulnerable first
    text = page.inner_text("#console-hh-body")
    assert "孙*" in text and "139****0001" in text and "13900000001" not in text  # a viewer sees them masked
    page.locator("#console-hh-card").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "households-console.png"))
    ctx.close()
