"""The wall from across a room, in real Chromium: text sizes, TV mode, a playlist, kiosk links beside logins."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from command.access import Actor, Role
from command.operations import ReportRequest
from tests.conftest import PASSWORD
from tests.dashboard.test_board import BOOT_S, CMD, Wall, wall  # noqa: F401  (the module's one served county)

pytestmark = pytest.mark.browser

SMALLEST = """(root) => {
  // Every visible element holding text of its own (HTML or SVG, Plotly's ticks included): its font size.
  const out = [];
  const seen = new Set();
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  let svgText = 0;
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.nodeValue.trim()) { continue; }
    const e = node.parentElement;
    if (!e || seen.has(e)) { continue; }
    seen.add(e);
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height || r.bottom < 0 || r.right < 0 ||
        r.top > innerHeight || r.left > innerWidth) { continue; }
    const st = getComputedStyle(e);
    if (st.visibility === 'hidden' || st.display === 'none' || e.closest('[style*="display: none"]')) { continue; }
    if (e instanceof SVGElement) { svgText++; }
    out.push([parseFloat(st.fontSize), e.tagName + '.' + (e.getAttribute('class') || '') + ' ' +
      node.nodeValue.trim().slice(0, 30)]);
  }
  out.sort((a, b) => a[0] - b[0]);
  return {n: out.length, svg: svgText, smallest: out.slice(0, 8)};
}"""

SIZES = [((1366, 768), 16.0), ((1920, 1080), 16.0), ((3840, 2160), 30.0)]
"""Viewport → the smallest font size allowed (px): 16 px from across a room, twice that on a 4K wall."""


@pytest.fixture(scope="module")
def busy(wall: Wall) -> Wall:  # noqa: F811
    """The wall with reports in its feed and bars."""
    wall.county.report_many(CMD, [
        ReportRequest(wall.op, f"legible-{i}", f"TC01-L{1 + i % 2}-M1-S1-W1", {"sampled": 40 + i}) for i in range(6)
    ])
    return wall


def _board(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#grid-map[data-map-state=complete]", timeout=BOOT_S)
    page.wait_for_selector(".board[data-conn=live] [data-kpi=sampled]", timeout=BOOT_S)
    page.wait_for_selector("#board-curve .xtick text", timeout=BOOT_S)  # Plotly has drawn the curve's axes
    page.wait_for_selector("#board-feed .b-feed-item", timeout=BOOT_S)


@pytest.mark.parametrize(("size", "least"), SIZES, ids=[f"{w}x{h}" for (w, h), _ in SIZES])
def test_no_text_on_the_wall_is_smaller_than_a_room_can_read(
    browser: Any, busy: Wall, artifacts: Path, size: tuple[int, int], least: float
) -> None:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    try:
        _board(page, busy.url())
        # The map's tooltip too: hover the middle of a cell.
        probe = page.evaluate("() => window.wartimeBoard.mapProbe()")
        point = next(p for p in probe["points"] if p)
        page.mouse.move(point[0], point[1])
        page.wait_for_selector("#board-tip .b-tip-line", state="visible", timeout=10_000)
        page.screenshot(path=str(artifacts / f"board-legible-{size[0]}x{size[1]}.png"))
        found = page.evaluate(SMALLEST, page.query_selector("#board-root"))
        assert found["n"] > 60, found
        assert found["svg"] >= 4, found  # the curve's tick labels were measured
        smallest = found["smallest"][0]
        assert smallest[0] >= least, found["smallest"]
    finally:
        context.close()


def test_tv_mode_hides_the_selectors(browser: Any, busy: Wall) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    try:
        _board(page, busy.url("&tv=1"))
        assert not page.is_visible(".b-controls")
        assert not page.is_visible("#board-lang")
        assert page.is_visible("[data-kpi=sampled]")
    finally:
        context.close()


def _kiosk(w: Wall, **settings: Any) -> dict[str, Any]:
    r = requests.post(f"{w.served.url}/api/v1/kiosk", json={"scope": "TC", **settings},
                      headers=w.served.headers("commander"), timeout=10)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_kiosk_link_with_a_bad_setting_is_refused_naming_it(busy: Wall) -> None:
    for field, value in (("lang", "fr"), ("tv", "yes"), ("play", ["TC"]), ("play", ["https://x.example/"])):
        r = requests.post(f"{busy.served.url}/api/v1/kiosk", json={"scope": "TC", field: value},
                          headers=busy.served.headers("commander"), timeout=10)
        assert r.status_code in (400, 422), (field, r.text)
        assert r.json()["error"]["field"] == field


def test_a_playlist_rotates_three_views(browser: Any, busy: Wall, artifacts: Path) -> None:
    made = _kiosk(busy, tv=True, lang="en", play=["TC", "TC01", "/peacetime"], every=5)
    url = made["url"]
    assert "tv=1" in url and "lang=en" in url
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        page.goto(busy.served.url + url)
        seen: list[tuple[str, str | None]] = []
        deadline = time.monotonic() + 60
        while len(seen) < 4 and time.monotonic() < deadline:
            step = page.get_attribute("body", "data-playlist-step")
            here = page.evaluate("() => [location.pathname, new URLSearchParams(location.search).get('scope')]")
            view = (here[0], here[1] if here[0] == "/" else None)
            if step is not None and (not seen or seen[-1] != view):
                seen.append(view)
                if view[0] == "/":
                    page.wait_for_selector("#board-root.b-tv[lang=en]", timeout=BOOT_S)
                else:
                    page.wait_for_selector("#peace-map", timeout=BOOT_S)
                page.screenshot(path=str(artifacts / f"board-playlist-{len(seen)}.png"))
            time.sleep(0.3)
        assert seen == [("/", "TC"), ("/", "TC01"), ("/peacetime", None), ("/", "TC")], seen
        q = page.evaluate("() => Object.fromEntries(new URLSearchParams(location.search))")
        assert q["token"] == made["token"] and q["tv"] == "1" and q["lang"] == "en"
    finally:
        context.close()


def test_a_kiosk_tab_leaves_the_other_tabs_of_the_browser_their_own_login(browser: Any, busy: Wall) -> None:
    kiosk = requests.post(f"{busy.served.url}/api/v1/kiosk", json={"scope": "TC01"},
                          headers=busy.served.headers("commander"), timeout=10).json()
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    try:
        mine = context.new_page()
        mine.goto(busy.served.url + "/?scope=TC")
        mine.fill("input[name=username]", "commander")
        mine.fill("input[name=password]", PASSWORD)
        mine.click("[data-action=login]")
        mine.wait_for_selector(".board[data-conn=live] [data-kpi=sampled]", timeout=BOOT_S)
        wall_tab = context.new_page()
        wall_tab.goto(busy.served.url + kiosk["url"])
        wall_tab.wait_for_selector(".board[data-conn=live] [data-kpi=sampled]", timeout=BOOT_S)
        session = json.loads(mine.evaluate("() => localStorage.getItem('session')"))
        assert session["username"] == "commander"
        # The commander's tab, reloaded on the whole county, is still the commander's.
        mine.goto(busy.served.url + "/?scope=TC")
        mine.wait_for_selector(".board[data-conn=live] [data-kpi=sampled]", timeout=BOOT_S)
        mine.wait_for_function("() => document.querySelector('.b-crumb-here') !== null", timeout=BOOT_S)
        assert mine.text_content(".b-crumb-here") == busy.tree["TC"].name
        assert not mine.is_visible("#board-map-msg")
        # A kiosk link asked for a scope it does not reach says so in the wall's language.
        wall_tab.goto(busy.served.url + f"/?scope=TC&lang=en&token={kiosk['token']}")
        wall_tab.wait_for_function(
            "() => (document.querySelector('#board-map-msg') || {}).textContent === "
            "'this scope is outside your access'", timeout=BOOT_S,
        )
    finally:
        context.close()



# -- what the panels say (the snapshot behind them) ---------------------------------------------------


def _snap(w: Wall, scope: str, lang: str) -> dict[str, Any]:
    from dashboard.components.board_model import snapshot
    from streams.county import County
    from streams.server import connect

    county = County(connect(w.redis_url), "TC")
    return snapshot(county, Actor("viewer", Role.VIEWER, "TC"), scope, None, lang, int(time.time() * 1000))


def test_an_operation_is_named_in_the_walls_language(busy: Wall) -> None:
    en, zh = _snap(busy, "TC01", "en"), _snap(busy, "TC01", "zh-CN")
    assert en["map"]["op_name"] == "Mass testing" and zh["map"]["op_name"] == "全员核酸检测"
    assert "Operation launched: Mass testing" in [c["text"] for c in en["commands"]]


def test_grids_that_never_reported_head_the_silent_list(busy: Wall) -> None:
    slow = _snap(busy, "TC01", "en")["slowest"]
    assert slow["silent"], slow
    never = [r for r in slow["silent"] if not r["last"]]
    assert never and slow["silent"][: len(never)] == never  # the never-reported first, then the quiet ones
    assert all(r["town"] == busy.tree["TC01"].name for r in slow["silent"])


def test_an_acknowledged_alert_is_listed_but_no_longer_waiting(busy: Wall) -> None:
    before = _snap(busy, "TC", "en")["alerts"]
    town_alerts = [a for a in before["latest"] if a["grid"] == "TC01"]
    assert town_alerts and all(a["town"] == "" for a in town_alerts)  # a town's alert names it once
    first = before["latest"][0]
    r = requests.post(f"{busy.served.url}/api/v1/alerts/{first['id']}/ack",
                      headers=busy.served.headers("commander"), timeout=10)
    assert r.status_code == 200, r.text
    after = _snap(busy, "TC", "en")["alerts"]
    assert after["waiting"] == before["waiting"] - 1
    assert after["by_kind"].get(first["kind"], 0) == before["by_kind"][first["kind"]] - 1
    assert any(a["id"] == first["id"] and a["acked_by"] for a in after["latest"])


WHOLE_ROWS = """() => {
  const body = document.querySelector('#board-panel-alerts .b-panel-body').getBoundingClientRect();
  const rows = [...document.querySelectorAll('#board-alerts .b-alert')].map((li) => li.getBoundingClientRect());
  const more = document.querySelector('#board-alerts .b-alert-more');
  const m = more ? more.getBoundingClientRect() : null;
  return {rows: rows.map((r) => [r.top, r.bottom]), body: [body.top, body.bottom],
          more: m ? [m.top, m.bottom, Number(more.getAttribute('data-hidden')), more.textContent] : null};
}"""


def test_at_1366x768_the_alerts_panel_shows_only_whole_rows_and_says_how_many_more(
    browser: Any, busy: Wall, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        _board(page, busy.url())
        page.wait_for_selector("#board-alerts .b-alert", timeout=BOOT_S)
        got = page.evaluate(WHOLE_ROWS)
        for r in got["rows"]:
            assert got["body"][0] - 0.5 <= r[0] and r[1] <= got["body"][1] + 0.5, got
        # The county has only a couple of alerts: the wall's own renderer is given its snapshot's list
        # six times over (more than the panel holds), laid out by the browser as any other.
        listed = page.evaluate("""() => {
            const W = window.wartimeBoardKit, a = W.B.snap.alerts;
            let rows = [];
            for (let i = 0; i < 6; i++) { rows = rows.concat(a.latest); }
            a.latest = rows; a.open = rows.length;
            W.renderAlerts();
            return rows.length;
        }""")
        page.screenshot(path=str(artifacts / "board-alerts-1366x768.png"))
        got = page.evaluate(WHOLE_ROWS)
        top, bottom = got["body"]
        assert got["rows"], got
        for r in got["rows"]:
            assert top - 0.5 <= r[0] and r[1] <= bottom + 0.5, got  # every row wholly inside its panel
        assert len(got["rows"]) < listed  # some did not fit: the panel says how many
        assert got["more"] and got["more"][2] == listed - len(got["rows"]) and got["more"][1] <= bottom + 0.5, got
        assert str(got["more"][2]) in got["more"][3]
    finally:
        context.close()
