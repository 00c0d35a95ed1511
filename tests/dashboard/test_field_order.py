"""The secretary's order on the field page and 我已到岗, in real headless Chromium against `wartime serve`.

Opening the order marks it acknowledged; the button confirms on post, online or
offline (queued on the phone, sent when the network returns), counted once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from command.access import Actor, Role
from dashboard.auth import Accounts
from streams.county import County
from streams.server import EmbeddedRedis, connect
from tests.conftest import PASSWORD, Served, eventually, log_in, phone, seed_county, start_server

MINE = "TC01-L1-M1-S1"  # the `leader` account's small grid (seed_county)
SECOND = "TC01-L1-M2-S1"


@pytest.fixture(scope="module")
def order_server(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    client = redis.Redis(unix_socket_path=str(redis_server.socket))
    client.flushall()
    client.script_flush()
    seed_county(redis_server.url)
    county = County(connect(redis_server.url), "TC")
    Accounts(county).add("leader2", PASSWORD, "leader", SECOND, Actor("setup", Role.COMMANDER, "TC"))
    served = start_server(redis_server.url, tmp_path_factory.mktemp("order-serve"))
    r = requests.post(f"{served.url}/api/v1/modes", headers=served.headers("commander"), timeout=30,
                      json={"scope": "TC01", "mode": "wartime", "incident": "flood", "level": "II"})
    assert r.status_code == 200, r.text
    yield served
    served.stop()


def mobilisation(served: Served) -> dict[str, Any]:
    r = requests.get(f"{served.url}/api/v1/mobilisation?scope=TC01", headers=served.headers("commander"), timeout=10)
    r.raise_for_status()
    return dict(r.json())


def open_order(browser: Any, served: Served, user: str) -> tuple[Any, Any]:
    ctx = phone(browser)
    page = ctx.new_page()
    log_in(page, f"{served.url}/field", user)
    page.wait_for_selector("#field-order[data-order-grid]", timeout=30_000)
    return ctx, page


def test_the_order_shows_is_acknowledged_on_opening_and_confirms_on_post_once(
    order_server: Served, browser: Any, artifacts: Path
) -> None:
    ctx, page = open_order(browser, order_server, "leader")
    box = page.locator("#field-order")
    assert box.get_attribute("data-order-grid") == MINE
    text = box.inner_text()
    assert "战时命令" in text and "汛情" in text and "Ⅱ级" in text and "我已到岗" in text
    eventually(lambda: mobilisation(order_server)["acknowledged"] >= 1, timeout=20.0)
    page.wait_for_selector("#field-order[data-post-state=acknowledged]", timeout=20_000)
    page.screenshot(path=str(artifacts / "field-order-390x844.png"))
    before = mobilisation(order_server)["on_post"]
    page.click("[data-action=on-post]")
    page.wait_for_selector("#field-order[data-post-state=on_post]", timeout=20_000)
    eventually(lambda: mobilisation(order_server)["on_post"] == before + 1, timeout=20.0)
    page.reload()
    page.wait_for_selector("#field-order[data-post-state=on_post]", timeout=30_000)
    assert page.locator("[data-action=on-post]").count() == 0
    page.screenshot(path=str(artifacts / "field-order-on-post-390x844.png"))
    time.sleep(1.0)
    m = mobilisation(order_server)
    assert m["on_post"] == before + 1 and MINE not in [x["grid"] for x in m["not_on_post"]]
    ctx.close()


def test_confirming_offline_is_queued_and_sent_once_when_the_network_returns(
    order_server: Served, browser: Any, artifacts: Path
) -> None:
    ctx, page = open_order(browser, order_server, "leader2")
    eventually(lambda: mobilisation(order_server)["acknowledged"] >= 1, timeout=20.0)
    page.wait_for_selector("#field-order[data-post-state=acknowledged]", timeout=20_000)
    page.wait_for_selector("[data-queue][data-value='0']", timeout=20_000)
    before = mobilisation(order_server)["on_post"]
    ctx.set_offline(True)
    page.click("[data-action=on-post]")
    page.wait_for_selector("#field-order[data-post-state=queued]", timeout=20_000)
    page.wait_for_selector("[data-queue][data-value='1']", timeout=10_000)
    page.screenshot(path=str(artifacts / "field-order-offline-390x844.png"))
    time.sleep(1.5)
    assert mobilisation(order_server)["on_post"] == before  # nothing left the phone
    ctx.set_offline(False)
    page.wait_for_selector("[data-queue][data-value='0']", timeout=30_000)
    page.wait_for_selector("#field-order[data-post-state=on_post]", timeout=20_000)
    eventually(lambda: mobilisation(order_server)["on_post"] == before + 1, timeout=20.0)
    time.sleep(1.5)
    m = mobilisation(order_server)
    assert m["on_post"] == before + 1 and SECOND not in [x["grid"] for x in m["not_on_post"]]
    county = County(connect(order_server.redis_url), "TC")
    confirmations = [r for r in county.log.read(county.keys.log) if r.event.wire == "secretary_on_post"
                     and r.event.grid == SECOND]  # type: ignore[attr-defined]
    assert len(confirmations) == 1
    ctx.close()


def test_the_console_lists_who_is_not_on_post_and_renotifies(
    order_server: Served, browser: Any, artifacts: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = ctx.new_page()
    page.goto(f"{order_server.url}/console?scope=TC01")
    page.fill("input[name=username]", "commander")
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-action=login]")
    page.wait_for_selector("#console-mob [data-on-post]", timeout=30_000)
    m = mobilisation(order_server)
    line = page.locator("#console-mob [data-on-post]")
    assert line.get_attribute("data-on-post") == str(m["on_post"])
    assert line.get_attribute("data-not-on-post") == str(m["not_on_post_total"])
    waiting = m["not_on_post"][0]["grid"]
    assert page.locator(f"#console-mob [data-grid='{waiting}'][data-action=renotify]").count() == 1
    h = order_server.headers("commander")
    pending = requests.get(f"{order_server.url}/api/v1/notifications?state=pending", headers=h, timeout=10).json()
    page.click(f"#console-mob [data-grid='{waiting}'][data-action=renotify]")
    page.wait_for_selector("#console-mob-result:has-text('" + waiting + "')", timeout=20_000)
    after = requests.get(f"{order_server.url}/api/v1/notifications?state=pending", headers=h, timeout=10).json()
    assert after["total"] == pending["total"] + 1
    assert [n["grid"] for n in after["notifications"]][-1] == waiting
    page.locator("#console-mob-card").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "console-not-on-post-1440.png"))
    ctx.close()


def test_the_wall_counts_on_post_from_confirmations_and_draws_the_curve(
    order_server: Served, browser: Any, artifacts: Path
) -> None:
    leader = order_server.headers("leader")
    r = requests.post(f"{order_server.url}/api/v1/secretaries/{MINE}/on-post", headers=leader, timeout=10,
                      json={"report_id": "wall-check"})
    assert r.status_code in (200, 201)
    m = mobilisation(order_server)
    assert 1 <= m["on_post"] < m["installed"]  # installed secretaries who did not confirm are not on post
    kiosk = requests.post(f"{order_server.url}/api/v1/kiosk", json={"scope": "TC01"},
                          headers=order_server.headers("commander"), timeout=10).json()["token"]
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = ctx.new_page()
    page.goto(f"{order_server.url}/?scope=TC01&token={kiosk}")
    page.wait_for_selector("[data-sec=on_post]", timeout=60_000)
    assert page.get_attribute("[data-sec=on_post]", "data-value") == str(m["on_post"])
    assert page.get_attribute("[data-sec=installed]", "data-value") == str(m["installed"])
    assert page.get_attribute("[data-mob-curve]", "data-on-post") == str(m["on_post"])
    page.locator("#board-sec").screenshot(path=str(artifacts / "board-secretaries-on-post.png"))
    ctx.close()
