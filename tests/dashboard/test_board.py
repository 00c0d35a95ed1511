"""The command board (/) in real headless Chromium against a real `wartime serve`."""

from __future__ import annotations

from typing import Any

from command.grids import GridTree


def square_geometry(
    tree: GridTree, box: tuple[float, float, float, float] = (110.0, 23.0, 110.6, 23.4)
) -> dict[str, Any]:
    """Rectangles that tile the county: each grid's children split its box in strips, alternating direction."""
    out: dict[str, Any] = {}

    def place(code: str, w: float, s: float, e: float, n: float, depth: int) -> None:
        out[code] = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
        kids = tree.children[code]
        for i, k in enumerate(kids):
            if depth % 2 == 0:
                step = (e - w) / len(kids)
                place(k, round(w + i * step, 6), s, round(w + (i + 1) * step, 6), n, depth + 1)
            else:
                step = (n - s) / len(kids)
                place(k, w, round(s + i * step, 6), e, round(s + (i + 1) * step, 6), depth + 1)

    place(tree.root, *box, 0)
    return out


# -- a served county with a map ------------------------------------------------------------------

import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

import pytest  # noqa: E402
import requests  # noqa: E402

from command.access import Actor, Role  # noqa: E402
from command.modes import SwitchRequest  # noqa: E402
from command.operations import ReportRequest  # noqa: E402
from streams.county import County  # noqa: E402
from streams.server import EmbeddedRedis, connect  # noqa: E402
from tests.conftest import PASSWORD, Served, empty, eventually, make_tree, seed_county, start_server  # noqa: E402

pytestmark = pytest.mark.browser

BOOT_S = 90_000
"""Milliseconds a page may take to show its complete map (CI machines can be very slow)."""

CMD = Actor("test-commander", Role.COMMANDER, "TC")


@dataclass
class Wall:
    """A served county: town TC01 at war with a mass-testing operation, TC02 in peacetime."""

    served: Served
    redis_url: str
    data: Path
    county: County
    op: str
    kiosk: str
    tree: GridTree

    def url(self, query: str = "") -> str:
        return f"{self.served.url}/?token={self.kiosk}{query}"


@pytest.fixture(scope="module")
def wall(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wall]:
    empty(redis_server)
    tree = make_tree()
    seed_county(redis_server.url, tree, square_geometry(tree))
    county = County(connect(redis_server.url), "TC")
    county.switch(CMD, SwitchRequest("TC01", "wartime", "epidemic", "II", "test"))
    op = county.launch(CMD, "mass_testing", "TC01", "全员核酸检测", int(time.time() * 1000) + 86_400_000,
                       operation="op-mass").event.operation  # type: ignore[attr-defined]
    data = tmp_path_factory.mktemp("wall")
    served = start_server(redis_server.url, data)
    kiosk = requests.post(f"{served.url}/api/v1/kiosk", json={"scope": "TC"},
                          headers=served.headers("commander"), timeout=10).json()["token"]
    w = Wall(served, redis_server.url, data, county, op, kiosk, tree)
    yield w
    w.served.stop()


@pytest.fixture(scope="module")
def tab(browser: Any) -> Iterator[Any]:
    """One browser context for the module: its HTTP cache spares every page Plotly's 4.8 MB."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    yield context
    context.close()


def _open(tab: Any, url: str) -> Any:
    page = tab.new_page()
    page.goto(url)
    page.wait_for_selector("#grid-map[data-map-state=complete]", timeout=BOOT_S)
    return page


def _value(page: Any, counter: str) -> int:
    return int(page.get_attribute(f"[data-kpi={counter}]", "data-value"))


PROBE = "() => window.wartimeBoard.mapProbe()"
"""Per cell of the map: its code, a point inside it and the colour the canvas shows there."""

UNCOVERED = "([x, y]) => !!document.elementFromPoint(x, y).closest('#grid-map')"
"""Whether a point of the page reaches the map (no legend or message over it)."""


def test_the_map_draws_one_polygon_per_leaf_grid(tab: Any, wall: Wall) -> None:
    page = _open(tab, wall.url())
    try:
        leaves = list(wall.tree.leaves("TC"))
        assert page.get_attribute("#grid-map", "data-polygons") == str(len(leaves)) == "32"
        probe = page.evaluate(PROBE)
        assert probe["codes"] == leaves
        assert probe["drawn"] == probe["painted"] == len(leaves)  # every cell's inside is painted
        # `#grid-map` is the Plotly graph over the canvas (Plotly comes once the map is drawn), on the
        # same axes: lon and Mercator lat, one scale.
        page.wait_for_function("""() => {
            const gd = document.querySelector('#grid-map .js-plotly-plot');
            return !!(gd && gd._fullLayout && gd._fullLayout.yaxis.scaleanchor === 'x');
        }""", timeout=BOOT_S)
        # The page fetched no tiles, styles or glyphs (the polygons are ours, drawn on a canvas).
        assert page.locator(".maplibregl-map").count() == 0
    finally:
        page.close()


def test_hovering_a_cell_names_it_and_clicking_drills_into_its_town(tab: Any, wall: Wall) -> None:
    page = _open(tab, wall.url())
    try:
        probe = page.evaluate(PROBE)
        # A cell of town TC01 that no overlay (legend, message) covers.
        code, (x, y) = next(
            (c, p) for c, p in zip(probe["codes"], probe["points"], strict=True)
            if c.startswith("TC01-") and page.evaluate(UNCOVERED, p)
        )
        page.mouse.move(x, y)
        page.wait_for_selector("#board-tip .b-tip-code", state="visible", timeout=10_000)
        assert page.text_content("#board-tip .b-tip-code") == code
        page.mouse.click(x, y)
        page.wait_for_function("() => new URLSearchParams(location.search).get('scope') === 'TC01'", timeout=30_000)
        page.wait_for_selector("#grid-map[data-map-state=complete]", timeout=BOOT_S)  # the town's own map
        assert page.get_attribute("#grid-map", "data-polygons") == str(len(list(wall.tree.leaves("TC01")))) == "16"
    finally:
        page.close()


def test_a_cell_changes_colour_when_its_total_does(tab: Any, wall: Wall) -> None:
    page = _open(tab, wall.url())
    try:
        page.wait_for_selector(".board[data-conn=live]", timeout=BOOT_S)
        code = "TC01-L2-M1-S1-W1"
        before = page.evaluate(PROBE)
        k = before["codes"].index(code)
        r = requests.post(
            f"{wall.served.url}/api/v1/operations/{wall.op}/reports",
            json={"report_id": "colour-1", "grid": code, "counts": {"sampled": 10_000}},
            headers=wall.served.headers("commander"), timeout=10,
        )
        assert r.status_code == 201
        page.wait_for_function(
            """([k, old]) => { const c = window.wartimeBoard.mapProbe().colours[k];
                               return c && c.join() !== old.join(); }""",
            arg=[k, before["colours"][k]], timeout=30_000,
        )
        after = page.evaluate(PROBE)
        # Only that cell took a new colour; every other cell is painted as it was.
        changed = [c for i, c in enumerate(after["codes"]) if after["colours"][i] != before["colours"][i]]
        assert changed == [code]
    finally:
        page.close()


def test_a_report_through_the_api_moves_the_sampled_kpi_by_exactly_its_amount(tab: Any, wall: Wall) -> None:
    page = _open(tab, wall.url())
    try:
        page.wait_for_selector(".board[data-conn=live] [data-kpi=sampled]", timeout=BOOT_S)
        page.evaluate("window.__notReloaded = true")
        before = _value(page, "sampled")
        r = requests.post(
            f"{wall.served.url}/api/v1/operations/{wall.op}/reports",
            json={"report_id": "kpi-1", "grid": "TC01-L1-M1-S1-W1", "counts": {"sampled": 7}},
            headers=wall.served.headers("commander"), timeout=10,
        )
        assert r.status_code == 201
        page.wait_for_function(
            "want => document.querySelector('[data-kpi=sampled]').getAttribute('data-value') === want",
            arg=str(before + 7), timeout=30_000,
        )
        assert page.evaluate("window.__notReloaded") is True
        assert page.text_content("[data-kpi=sampled]") == f"{before + 7:,}"
    finally:
        page.close()


def test_the_board_asks_nothing_of_any_host_but_the_server(browser: Any, wall: Wall) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.on("websocket", lambda ws: seen.append(ws.url))
    try:
        page.goto(wall.url())
        page.wait_for_selector("#grid-map[data-map-state=complete]", timeout=BOOT_S)
        page.wait_for_selector(".board[data-conn=live]", timeout=BOOT_S)
        page.wait_for_timeout(1500)
        ours = {("http", f"127.0.0.1:{wall.served.port}"), ("ws", f"127.0.0.1:{wall.served.live_port}")}
        foreign = []
        for url in seen:
            u = urlparse(url[5:] if url.startswith("blob:") else url)
            if u.scheme == "data" or (u.scheme, u.netloc) in ours:
                continue
            foreign.append(url)
        assert foreign == []
        assert any("/live?" in u for u in seen)
        # The CJK face is the machine's own when installed, else our subset, from this server.
        assert page.evaluate("document.fonts.check('700 16px \"Noto Sans SC\"', '平南战时')")
        for weight in ("Regular", "Bold"):
            font = requests.get(f"{wall.served.url}/assets/fonts/NotoSansSC-{weight}.woff2", timeout=10)
            assert font.status_code == 200 and font.content[:4] == b"wOF2" and len(font.content) < 3_000_000
    finally:
        page.close()


def test_the_mode_hook_tells_a_wartime_scope_from_a_peacetime_one(tab: Any, wall: Wall) -> None:
    page = _open(tab, wall.url("&scope=TC01"))
    try:
        assert page.get_attribute("[data-mode]", "data-mode") == "wartime"
        page.goto(wall.url("&scope=TC02"))
        page.wait_for_selector("[data-mode=peacetime]", timeout=BOOT_S)
        assert page.locator("[data-mode]").count() == 1
    finally:
        page.close()


def test_the_board_speaks_english_when_asked(tab: Any, wall: Wall) -> None:
    page = _open(tab, wall.url("&lang=en&scope=TC01"))
    try:
        assert page.text_content(".b-title") == "Wartime command board"
        assert page.text_content("[data-mode]") == "Wartime"
        page.wait_for_selector("[data-kpi=sampled]")
        assert "People sampled" in page.text_content(".b-tile-label")
    finally:
        page.close()


def test_logging_in_through_the_form_opens_the_board(browser: Any, wall: Wall) -> None:
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = context.new_page()
    try:
        page.goto(wall.served.url + "/")
        page.fill("input[name=username]", "viewer")
        page.fill("input[name=password]", PASSWORD)
        page.click("[data-action=login]")
        page.wait_for_selector("#grid-map[data-map-state=complete]", timeout=BOOT_S)
        page.wait_for_selector("[data-kpi=sampled]", timeout=BOOT_S)
    finally:
        context.close()


def test_the_board_says_so_when_the_server_goes_and_catches_up_when_it_returns(tab: Any, wall: Wall) -> None:
    page = _open(tab, wall.url())
    try:
        page.wait_for_selector(".board[data-conn=live] [data-kpi=sampled]", timeout=BOOT_S)
        before = _value(page, "sampled")
        old = wall.served
        old.stop()
        page.wait_for_selector(".board[data-conn=lost]", timeout=30_000)
        assert page.is_visible("#board-lost")
        # While the server is down the field keeps reporting into the log; the next server projects it.
        wall.county.report_many(CMD, [ReportRequest(wall.op, "while-down-1", "TC01-L2-M2-S1-W2", {"sampled": 11})])
        wall.served = start_server(wall.redis_url, wall.data, port=old.port, live_port=old.live_port)
        page.wait_for_selector(".board[data-conn=live]", timeout=BOOT_S)
        page.wait_for_function(
            "want => document.querySelector('[data-kpi=sampled]').getAttribute('data-value') === want",
            arg=str(before + 11), timeout=60_000,
        )
        assert not page.is_visible("#board-lost")
    finally:
        page.close()


# -- the snapshot behind the board (no browser) ------------------------------------------------------


def test_the_curve_is_cumulative_from_launch_and_ends_at_the_total() -> None:
    from dashboard.components.board_model import MINUTE, curve

    launched = 1_000 * MINUTE
    minutes = {1_000: 5, 1_003: 7, 1_010: 1}
    points = curve(minutes, launched, launched + 20 * MINUTE)
    assert points[0] == [launched, 0]
    assert [p[1] for p in points] == sorted(p[1] for p in points)
    assert points[-1] == [launched + 20 * MINUTE, 13]
    long = curve({m: 1 for m in range(1_000, 6_000)}, launched, 6_000 * MINUTE, points=100)
    assert len(long) <= 102 and long[-1][1] == 5_000


def test_the_rate_is_what_the_last_hour_brought() -> None:
    from dashboard.components.board_model import HOUR, MINUTE, pace

    now = 10 * HOUR
    minutes = {(now - 2 * HOUR) // MINUTE: 500, (now - 30 * MINUTE) // MINUTE: 120, (now - MINUTE) // MINUTE: 30}
    assert pace(minutes, 0, now) == pytest.approx(150, rel=0.02)
    assert pace({(now - 10 * MINUTE) // MINUTE: 60}, now - 10 * MINUTE, now) == pytest.approx(360)


def test_the_snapshot_adds_up_and_names_what_lags(wall: Wall) -> None:
    from dashboard.components.board_model import snapshot

    county = County(connect(wall.redis_url), "TC")
    viewer = Actor("viewer", Role.VIEWER, "TC")
    snap = snapshot(county, viewer, "TC01", None, "en", int(time.time() * 1000))
    assert snap["mode"]["mode"] == "wartime" and snap["view"]["map_op"] == wall.op
    (tile,) = snap["tiles"]
    kids = sum(c["total"] for c in snap["children"])
    assert kids == snap["scope_total"] == tile["totals"]["sampled"]
    assert tile["targets"]["sampled"] == sum(c["target"] for c in snap["children"]) == 16 * 30
    assert tile["curve"][-1][1] == tile["totals"]["sampled"]
    sec = snap["secretaries"]
    assert {k: sec[k] for k in ("small", "installed", "acting", "vacant", "first_leaders")} == {
        "small": 8, "installed": 4, "acting": 0, "vacant": 4, "first_leaders": 4}
    assert sec["on_post"] == 0  # installed is not on post: nobody has confirmed
    assert len(snap["slowest"]["lowest"]) == 5 and all(r["pct"] < 100 for r in snap["slowest"]["lowest"])
    assert any("Operation launched" in c["text"] for c in snap["commands"])
    assert snap["map"]["cells"] == 16 and snap["map"]["has_geometry"]


def test_the_snapshot_refuses_a_scope_outside_the_reader(wall: Wall) -> None:
    from command.errors import NotAuthorised
    from dashboard.components.board_model import snapshot

    county = County(connect(wall.redis_url), "TC")
    with pytest.raises(NotAuthorised):
        snapshot(county, Actor("t2", Role.VIEWER, "TC02"), "TC01", None, "zh-CN", 0)


# -- the wall over Pingnan, during a demo-like run ----------------------------------------------------

SPEED = 1440.0
"""Simulated seconds per real second: the published three days of testing in three minutes."""


@pytest.mark.slow
def test_the_pingnan_wall_at_1920_and_3840(
    browser: Any, redis_server: EmbeddedRedis, tmp_path: Path, artifacts: Path, wall: Wall
) -> None:
    from command.generate import generate
    from dashboard.simulator import FieldSimulator

    wall.served.stop()  # the little county's server must not work on the Redis we are about to refill
    empty(redis_server)
    tree, geometry = generate("pingnan")
    seed_county(redis_server.url, tree, geometry)
    county = County(connect(redis_server.url), tree.root)
    boss = Actor("demo-commander", Role.COMMANDER, tree.root)
    county.switch(boss, SwitchRequest(tree.root, "wartime", "epidemic", "II", "演示：突发疫情"))
    now = int(time.time() * 1000)
    sim_day = int(86_400_000 / SPEED)
    towns = list(tree.towns)
    county.launch(boss, "mass_testing", tree.root, "全员核酸检测", now + 3 * sim_day)
    county.launch(boss, "flood_evacuation", towns[1], "防汛转移", now + 2 * sim_day,
                  {"hazard_points_checked": 169, "people_evacuated": 200})
    county.launch(boss, "fire_hazard_check", towns[2], "火灾隐患排查", now + 5 * sim_day)
    served = start_server(redis_server.url, tmp_path)
    stop = threading.Event()
    sim = FieldSimulator(County(connect(redis_server.url), tree.root), boss, speed=SPEED)
    runner = threading.Thread(target=sim.run, args=(stop,), kwargs={"interval": 0.5}, daemon=True)
    runner.start()
    try:
        kiosk = requests.post(f"{served.url}/api/v1/kiosk", json={"scope": tree.root},
                              headers=served.headers("commander"), timeout=10).json()["token"]
        # Reports from every kind of operation before the wall is switched on (was a fixed 45 s).
        eventually(lambda: sim.sent > 1000, timeout=90)
        for width, height in ((1920, 1080), (3840, 2160)):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.goto(f"{served.url}/?token={kiosk}")
            page.wait_for_selector("#grid-map[data-map-state=complete]", timeout=180_000)
            page.wait_for_selector(".board[data-conn=live] [data-sum-ok='1']", timeout=60_000)
            page.wait_for_timeout(6000)  # a few live updates, a map batch, the curve
            assert page.get_attribute("#grid-map", "data-polygons") == str(len(list(tree.leaves(tree.root))))
            assert page.evaluate("document.documentElement.scrollHeight <= innerHeight + 1")
            assert page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1")
            page.screenshot(path=str(artifacts / f"board-pingnan-{width}.png"))
            context.close()
        assert sim.sent > 1000
    finally:
        stop.set()
        runner.join(5)
        served.stop()
