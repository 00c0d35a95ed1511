"""Pages of residents' matters in real headless Chromium: the Qingcao board and a phone closing a matter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import PASSWORD, Served

pytestmark = pytest.mark.browser

DAY = 86_400_000


@pytest.fixture(scope="module")
def qingcao(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Iterator[Served]:
    """`wartime serve` over a generated Qingcao with its published year of matters scripted in."""
    import redis as redis_lib

    from command.generate import generate
    from command.scenarios import qingcao_matters
    from streams.county import County
    from streams.matters import run_script
    from streams.server import connect
    from tests.conftest import seed_county, start_server

    redis_lib.Redis(unix_socket_path=str(redis_server.socket)).flushall()
    tree, geometry = generate("qingcao")
    seed_county(redis_server.url, tree, geometry)
    county = County(connect(redis_server.url), tree.root)
    assert run_script(county, qingcao_matters(tree)) > 144 * 5
    s = start_server(redis_server.url, tmp_path_factory.mktemp("qingcao"))
    yield s
    s.stop()


def kiosk_url(served: Served, scope: str) -> str:
    r = requests.post(f"{served.url}/api/v1/kiosk", json={"scope": scope}, headers=served.headers("commander"),
                      timeout=15)
    assert r.status_code == 201, r.text
    return f"{served.url}/peacetime?scope={scope}&token={r.json()['token']}"


def kpi(page: Any, key: str) -> str:
    return str(page.get_attribute(f"[data-kpi={key}]", "data-value"))


def test_the_board_shows_qingcaos_published_split(qingcao: Served, browser: Any, artifacts: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = ctx.new_page()
    page.goto(kiosk_url(qingcao, "QC"))
    page.wait_for_selector('[data-kpi=matters_total][data-value="144"]', timeout=30_000)
    assert kpi(page, "closed_in_grid") == "102"
    assert kpi(page, "to_village") == "39"
    assert kpi(page, "to_town") == "3"
    assert kpi(page, "completion_rate") == "100.0"
    assert kpi(page, "overdue") == "0"
    assert page.get_attribute("[data-level=grid]", "data-value") == "102"
    assert page.get_attribute("[data-stage=evaluated]", "data-value") == "144"
    assert page.get_attribute("[data-mode]", "data-mode") == "peacetime"
    assert "70.8%" in page.inner_text("#peace-tiers")
    # The map holds one polygon per small grid, shaded by the matters recorded under it.
    page.wait_for_function(
        "() => { const g = document.querySelector('#peace-map .js-plotly-plot');"
        " return g && g.data && g.data[0].locations.length === 165 && Math.max(...g.data[0].z) > 0; }",
        timeout=30_000,
    )
    page.wait_for_timeout(2500)  # let MapLibre finish painting before the picture
    page.screenshot(path=str(artifacts / "peacetime-qingcao.png"))
    ctx.close()


def test_a_grid_worker_records_and_closes_a_matter_from_a_phone(
    qingcao: Served, browser: Any, artifacts: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    page = ctx.new_page()
    page.goto(qingcao.url + "/field/matters")
    page.fill("input[name=username]", "leader")
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-action=login]")
    page.wait_for_selector("#matters-app", state="visible", timeout=30_000)
    page.wait_for_selector("#matters-grid", timeout=10_000)
    page.click("text=环境卫生")
    page.fill("#matters-description", "村道旁垃圾堆积无人清运 <b>不是标记</b>")
    page.fill("#matters-reporter", "李秀英")
    page.screenshot(path=str(artifacts / "matters-phone-form.png"))
    page.click("[data-action=record-matter]")
    page.wait_for_selector(".matters-form .matters-msg-ok", timeout=20_000)
    card = page.wait_for_selector("[data-matter][data-stage=collected]", timeout=20_000)
    mid = str(card.get_attribute("data-matter"))
    sel = f'[data-matter="{mid}"]'
    assert "<b>不是标记</b>" in page.inner_text(f"{sel} .matters-desc")  # shown as text, never as HTML
    for stage in ("deliberated", "handled", "published"):
        if stage == "handled":
            page.fill(f"{sel} .matters-note input", "已联系保洁队清运")
        page.click(f"{sel} [data-action={stage}]")
        page.wait_for_selector(f'{sel}[data-stage="{stage}"]', timeout=20_000)
    page.locator(sel).scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "matters-phone-evaluate.png"))
    page.click(f"{sel} [data-action=rate-5]")
    page.wait_for_selector("#matters-msg.matters-msg-ok", timeout=20_000)
    page.wait_for_selector(sel, state="detached", timeout=20_000)  # the loop is closed: off the in-progress list
    page.click("text=全部")
    page.wait_for_selector(f'{sel}[data-stage="evaluated"]', timeout=20_000)
    page.locator(sel).scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "matters-phone-closed.png"))
    got = requests.get(f"{qingcao.url}/api/v1/matters/{mid}", headers=qingcao.headers("commander"), timeout=15).json()
    assert got["stage"] == "evaluated" and got["satisfaction"] == 5 and got["closed"]
    assert got["category"] == "environment" and got["reporter"] == "李秀英"
    assert {h["actor"] for h in got["history"]} == {"leader"}
    assert [h["text"] for h in got["history"] if h["stage"] == "handled"] == ["已联系保洁队清运"]
    ctx.close()


def test_an_overdue_matter_appears_on_the_board_map(qingcao: Served, browser: Any, artifacts: Path) -> None:
    h = qingcao.headers("leader")
    leader_grid = requests.get(f"{qingcao.url}/api/v1/me", headers=h, timeout=10).json()["scope"]
    backlog = int(time.time() * 1000) - 9 * DAY
    r = requests.post(f"{qingcao.url}/api/v1/matters", headers=h, timeout=15, json={
        "request_id": "backlog-1", "grid": leader_grid, "category": "safety", "description": "废弃鱼塘无护栏",
        "reported_at": backlog,
    })
    assert r.status_code in (200, 201), r.text
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = ctx.new_page()
    page.goto(kiosk_url(qingcao, "QC"))
    page.wait_for_selector('[data-kpi=overdue][data-value="1"]', timeout=30_000)
    assert kpi(page, "matters_total") == "146"
    page.wait_for_selector(f'#peace-overdue [data-matter="{r.json()["matter_id"]}"]', timeout=10_000)
    page.wait_for_function(
        "() => { const g = document.querySelector('#peace-map .js-plotly-plot');"
        " return g && g.data && g.data[1].lat.length === 1; }",
        timeout=30_000,
    )
    page.wait_for_timeout(2500)
    page.screenshot(path=str(artifacts / "peacetime-overdue.png"))
    en = ctx.new_page()
    en.goto(kiosk_url(qingcao, "QC") + "&lang=en")
    en.wait_for_selector('[data-kpi=overdue][data-value="1"]', timeout=30_000)
    assert "Closed in the grid" in en.inner_text("#peace-kpis")
    en.wait_for_timeout(2500)
    en.screenshot(path=str(artifacts / "peacetime-en.png"))
    ctx.close()
