"""One wall clock on every page, a phone's send button in reach, a matter form that forgets its category.

Real `wartime serve`, real headless Chromium. The browser runs in Los Angeles
(UTC−8), sixteen hours from the county: a time formatted in the browser's zone
instead of Asia/Shanghai (command/localtime.py) reads differently and fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import redis
import requests

from command.localtime import local_datetime, local_second
from tests.conftest import PASSWORD, Served, empty, make_tree, seed_county, start_server
from tests.dashboard.test_board import square_geometry

pytestmark = pytest.mark.browser

ZONE = "America/Los_Angeles"
PHONE = {"width": 390, "height": 844}
DAY = 86_400_000


@dataclass
class County:
    served: Served
    op: str
    launched_at: int
    deadline: int
    kiosk: str


@pytest.fixture(scope="module")
def county(redis_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[County]:
    """The test county at war with one operation (deadline two days after its launch), and a kiosk link."""
    empty(redis_server)
    tree = make_tree()
    seed_county(redis_server.url, tree, square_geometry(tree))
    s = start_server(redis_server.url, tmp_path_factory.mktemp("clock"))
    h = s.headers("commander")
    r = requests.post(f"{s.url}/api/v1/modes", json={"scope": "TC01", "mode": "wartime", "incident": "epidemic",
                                                      "level": "II"}, headers=h, timeout=30)
    assert r.status_code == 200, r.text
    deadline = int(time.time() * 1000) + 2 * DAY
    r = requests.post(f"{s.url}/api/v1/operations", json={"kind": "mass_testing", "scope": "TC01", "name": "一号任务",
                                                           "deadline": deadline}, headers=h, timeout=30)
    assert r.status_code == 201, r.text
    op = r.json()["operation_id"]
    tl = requests.get(f"{s.url}/api/v1/operations/{op}/timeline", headers=h, timeout=30).json()
    launched_at = next(int(i["ms"]) for i in tl["items"] if i["kind"] == "launched")
    kiosk = requests.post(f"{s.url}/api/v1/kiosk", json={"scope": "TC"}, headers=h, timeout=10).json()["token"]
    yield County(s, op, launched_at, deadline, kiosk)
    s.stop()


@pytest.fixture(scope="module")
def far(browser: Any) -> Iterator[Any]:
    """A desktop browser context sixteen hours away from the county."""
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000}, timezone_id=ZONE)
    yield ctx
    ctx.close()


def login(page: Any, url: str, user: str = "commander") -> None:
    page.goto(url)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-action=login]")


def md_hm(ms: int) -> str:
    return local_datetime(ms).strftime("%m-%d %H:%M")


def test_every_page_reads_the_countys_wall_clock_whatever_the_browsers_zone(
    county: County, far: Any, browser: Any, artifacts: Path
) -> None:
    s = county.served
    assert far.new_page().evaluate("() => new Date().getTimezoneOffset()") == 480  # the browser really is far off
    due = md_hm(county.deadline)
    launch = local_second(county.launched_at)
    wrong = time.strftime("%m-%d %H:%M", time.gmtime((county.deadline - 8 * 3_600_000) / 1000))  # LA wall clock
    page = far.new_page()

    # console: the operation's deadline, rendered by the server
    login(page, f"{s.url}/console")
    page.wait_for_selector(f"text=截止 {due}", timeout=30_000)
    page.screenshot(path=str(artifacts / "clock-console.png"))

    # wall: the deadline tile, the feed's launch line (HH:MM:SS), the clock naming its zone
    page.goto(f"{s.url}/?token={county.kiosk}&scope=TC01&op={county.op}")
    page.wait_for_selector("#grid-map[data-map-state=complete]", timeout=60_000)
    page.wait_for_function("() => document.body.innerText.includes('北京时间')", timeout=20_000)
    page.wait_for_function(f"() => document.body.innerText.includes({due!r})", timeout=20_000)
    body = page.inner_text("body")
    assert launch[11:] in body and wrong not in body
    page.screenshot(path=str(artifacts / "clock-wall.png"))

    # review: the launch in the timeline, the curve's axis in the county's zone with numeric ticks
    page.goto(f"{s.url}/review?op={county.op}")
    ev = page.wait_for_selector(".rv-ev-launched .rv-ev-time", timeout=30_000)
    assert ev.inner_text() == launch
    page.wait_for_selector("#review-curve .xtick", timeout=30_000)
    ticks = page.eval_on_selector_all("#review-curve .xtick text", "els => els.map(e => e.textContent || '')")
    assert ticks and not any(m in " ".join(ticks) for m in ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                                            "Aug", "Sep", "Oct", "Nov", "Dec")), ticks
    assert "北京时间" in page.eval_on_selector("#review-curve", "e => e.textContent")
    page.screenshot(path=str(artifacts / "clock-review.png"))

    # the PDF states the zone and reads the launch as the pages do
    h = s.headers("commander")
    pdf = requests.get(f"{s.url}/api/v1/operations/{county.op}/report", params={"format": "pdf"}, headers=h,
                       timeout=120)
    assert pdf.status_code == 200, pdf.text[:300]
    doc = pdfium.PdfDocument(pdf.content)
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    assert launch[:16] in text and "UTC+8" in text

    # peacetime wall of the other town: its "updated" mark is the county's now, zone stated
    page.goto(f"{s.url}/peacetime?token={county.kiosk}&scope=TC02")
    page.wait_for_selector("#peace-updated:has-text('北京时间')", timeout=30_000)
    updated = page.inner_text("#peace-updated")
    now = int(time.time() * 1000)
    assert any(local_second(now - d * 1000)[:15] in updated for d in range(0, 120, 5)), updated
    page.screenshot(path=str(artifacts / "clock-peacetime.png"))
    page.close()

    # field page on a phone in the same far zone: the operation's deadline
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, timezone_id=ZONE)
    fp = phone.new_page()
    login(fp, f"{s.url}/field", "leader")
    fp.wait_for_selector("input[name=sampled]", timeout=30_000)
    assert f"截止 {due}" in fp.inner_text("body")
    phone.close()


def test_matters_page_reads_the_due_time_in_the_countys_zone(county: County, browser: Any) -> None:
    s = county.served
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, timezone_id=ZONE)
    page = ctx.new_page()
    login(page, f"{s.url}/field/matters", "leader")
    page.wait_for_selector("#matters-grid", timeout=30_000)
    page.click("text=环境卫生")
    page.fill("#matters-description", "路灯不亮")
    page.click("[data-action=record-matter]")
    msg = page.wait_for_selector(".matters-form .matters-msg-ok", timeout=20_000)
    listed = requests.get(f"{s.url}/api/v1/matters", headers=s.headers("leader"), timeout=15).json()["matters"]
    due = max(int(m["due"]) for m in listed)
    assert md_hm(due) in msg.inner_text() and "北京时间" in msg.inner_text()
    ctx.close()


def test_the_field_send_button_is_on_a_phones_screen(county: County, browser: Any, artifacts: Path) -> None:
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    login(page, f"{county.served.url}/field", "leader")
    page.wait_for_selector("input[name=sampled]", timeout=30_000)
    for y in (0, 400, 10_000):  # as opened, in the middle, at the very bottom
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(200)
        box = page.locator("[data-action=submit-report]").bounding_box()
        assert box is not None
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], (y, box)
        hit = page.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('[data-action=submit-report]')",
                            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
        assert hit, "something covers the button"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "field-phone-submit.png"))
    ctx.close()


def test_the_matters_form_forgets_its_category_after_a_matter(county: County, browser: Any) -> None:
    s = county.served
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    login(page, f"{s.url}/field/matters", "leader")
    page.wait_for_selector("#matters-grid", timeout=30_000)
    assert page.locator("#matters-category input:checked").count() == 0  # nothing chosen for the worker
    page.click("text=环境卫生")
    page.fill("#matters-description", "村道垃圾无人清运")
    page.click("[data-action=record-matter]")
    page.wait_for_selector(".matters-form .matters-msg-ok", timeout=20_000)
    page.wait_for_function("() => !document.querySelector('#matters-category input:checked')", timeout=10_000)
    page.fill("#matters-description", "3组路灯不亮")
    page.click("[data-action=record-matter]")
    page.wait_for_selector(".matters-form .matters-msg-bad:has-text('请选择类别')", timeout=20_000)
    page.click("text=基础设施")
    page.click("[data-action=record-matter]")
    page.wait_for_selector(".matters-form .matters-msg-ok", timeout=20_000)
    listed = requests.get(f"{s.url}/api/v1/matters", headers=s.headers("leader"), timeout=15).json()["matters"]
    by_text = {m["description"]: m["category"] for m in listed}
    assert by_text["3组路灯不亮"] == "infrastructure" and by_text["村道垃圾无人清运"] == "environment"
    ctx.close()


def test_a_field_report_takes_the_phones_location_when_asked(county: County, browser: Any, redis_server: Any) -> None:
    from command.events import ProgressReported, decode
    from streams.keys import TownKeys

    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, permissions=["geolocation"],
                              geolocation={"latitude": 23.541234, "longitude": 110.391, "accuracy": 14})
    page = ctx.new_page()
    login(page, f"{county.served.url}/field", "leader")
    page.wait_for_selector("input[name=sampled]", timeout=30_000)
    page.check("input[name=locate]")
    page.wait_for_selector("#field-where:has-text('14')", timeout=10_000)
    page.fill("input[name=sampled]", "3")
    page.click("[data-action=submit-report]")
    page.wait_for_selector("li[data-state=acked]", timeout=20_000)
    assert page.is_checked("input[name=locate]")  # a preference, kept for the next report
    ctx.close()
    client = redis.Redis(unix_socket_path=str(redis_server.socket))

    def town_events() -> list[Any]:
        entries: Any = client.xrange(TownKeys("TC01").log)
        return [decode(i, f).event for i, f in entries]

    events = town_events()
    reports = [e for e in events if isinstance(e, ProgressReported)]
    assert reports and reports[-1].location == (23.541234, 110.391, 14.0)
    bad = requests.post(f"{county.served.url}/api/v1/operations/{county.op}/reports",
                        json={"report_id": "r-far", "grid": reports[-1].grid, "counts": {"sampled": 1},
                              "location": {"lat": 23.5, "lon": 999, "accuracy": 5}},
                        headers=county.served.headers("leader"), timeout=15)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "location.lon", bad.text
    after = town_events()
    assert len(after) == len(events)  # nothing changed
