"""The wall coloured by household reach (issue 16 item 4), in real Chromium: the map and the bars by town.

One `wartime serve` over the test county for the module: wartime (flood), a roster
of households in a few micro grids of both towns, a flood-evacuation operation over
the county, statuses set through the API. The wall opens with ``?map=reach``; its
map probe (`window.wartimeBoard.mapProbe`) gives per cell the households with a
status and the households, which must equal the roster and the statuses set,
exactly, and the colour painted, which must be the server's band for that share.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from command.access import Actor, Role
from command.households import Household
from command.modes import SwitchRequest
from dashboard.components.bands import PALETTE, reach_band
from streams.county import County
from streams.server import EmbeddedRedis, connect
from tests.conftest import Served, empty, make_tree, seed_county, start_server
from tests.dashboard.test_board import square_geometry

pytestmark = pytest.mark.browser

WALL = {"width": 1920, "height": 1080}
BOOT_MS = 90_000
CMD = Actor("test-commander", Role.COMMANDER, "TC")
ROSTER = {  # micro grid → households in the roster
    "TC01-L1-M1-S1-W1": 8,
    "TC01-L1-M1-S1-W2": 4,
    "TC01-L2-M2-S2-W1": 5,
    "TC02-L1-M1-S1-W1": 3,
    "TC02-L2-M1-S2-W2": 6,
}
STATUSES = {  # micro grid → statuses set before the wall opens (one household each, in order)
    "TC01-L1-M1-S1-W1": ["evacuated", "reached", "absent"],
    "TC01-L1-M1-S1-W2": ["safe_in_place", "refused", "unreachable", "evacuated"],
    "TC02-L1-M1-S1-W1": ["reached"],
}


def roster() -> list[Household]:
    return [
        Household(f"{grid}-{i:03d}", grid, address=f"河堤路{i}号", head="周敏", size=3, phone=f"1370000{i:04d}")
        for grid, n in ROSTER.items() for i in range(1, n + 1)
    ]


@pytest.fixture(scope="module")
def reach_server(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, str, str]]:
    empty(redis_server)
    tree = make_tree()
    seed_county(redis_server.url, tree, square_geometry(tree))
    county = County(connect(redis_server.url), "TC")
    county.load_households(roster(), CMD)
    county.switch(CMD, SwitchRequest("TC", "wartime", "flood", "II", "test"))
    op = county.launch(CMD, "flood_evacuation", "TC", "防汛转移 触达", int(time.time() * 1000) + 86_400_000,
                       operation="op-reach").event.operation  # type: ignore[attr-defined]
    served = start_server(redis_server.url, tmp_path_factory.mktemp("reach-serve"))
    for grid, statuses in STATUSES.items():
        for i, status in enumerate(statuses, 1):
            set_status(served, op, f"{grid}-{i:03d}", status)
    kiosk = requests.post(f"{served.url}/api/v1/kiosk", json={"scope": "TC", "map": "reach"},
                          headers=served.headers("commander"), timeout=10).json()
    assert "map=reach" in kiosk["url"]
    yield served, op, kiosk["url"]
    served.stop()


def set_status(served: Served, op: str, household: str, status: str) -> None:
    r = requests.post(f"{served.url}/api/v1/operations/{op}/households",
                      json={"report_id": f"reach-{household}-{status}", "household": household, "status": status},
                      headers=served.headers("commander"), timeout=10)
    assert r.status_code == 201, r.text


def server_done(served: Served, op: str, grid: str) -> tuple[int, int]:
    r = requests.get(f"{served.url}/api/v1/operations/{op}/households", params={"grid": grid, "limit": 1},
                     headers=served.headers("commander"), timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    return body["total"] - body["unreached"], body["total"]


def reach_by_grid(page: Any) -> tuple[dict[str, tuple[int, int]], dict[str, Any], dict[str, Any]]:
    """grid → (households with a status, households) as the map holds them; colours painted; the probe."""
    probe = page.evaluate("() => window.wartimeBoard.mapProbe()")
    r = probe["reach"]
    assert r["measure"] == "reach" and probe["measure"] == "reach"
    cells = {code: (r["done"][i], r["total"][i]) for code, i in zip(probe["codes"], probe["ids"], strict=True)}
    colours = dict(zip(probe["codes"], probe["colours"], strict=True))
    return cells, colours, probe


def expected(extra: Counter[str] | None = None) -> dict[str, tuple[int, int]]:
    done = Counter({g: len(s) for g, s in STATUSES.items()}) + (extra or Counter())
    return {g: (done[g], n) for g, n in ROSTER.items()}


def open_wall(browser: Any, url: str) -> tuple[Any, Any]:
    ctx = browser.new_context(viewport=WALL)
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_selector("#grid-map[data-map-state=complete][data-map-measure=reach]", timeout=BOOT_MS)
    page.wait_for_selector("#board-panel-hh:not([hidden]) [data-kpi=unreached_households]", timeout=BOOT_MS)
    return ctx, page


def test_the_map_shows_each_grids_reach_exactly_and_a_status_moves_it(
    reach_server: tuple[Served, str, str], browser: Any, artifacts: Path
) -> None:
    served, op, url = reach_server
    ctx, page = open_wall(browser, f"{served.url}{url}")
    try:
        cells, colours, probe = reach_by_grid(page)
        want = expected()
        assert len(cells) == 32  # every leaf of the test county
        for grid, pair in want.items():
            assert cells[grid] == pair == server_done(served, op, grid), grid
        assert all(cells[g] == (0, 0) for g in cells if g not in ROSTER)  # no roster, nothing expected
        # The colour painted is the server's band for that share (bands.reach_band), not one the page decided.
        for grid, (done, total) in cells.items():
            colour = colours[grid]
            if colour is None:
                continue
            rgb = [int(PALETTE[reach_band(done, total)][k:k + 2], 16) for k in (1, 3, 5)]
            assert all(abs(a - b) <= 4 for a, b in zip(colour[:3], rgb, strict=True)), (grid, colour, rgb)
        assert "入户覆盖率" in page.inner_text("#board-map-sub")

        # The bars by town: reach per town, the same figures as the households panel (one read).
        for town in ("TC01", "TC02"):
            bar = page.locator(f"#board-bars [data-child={town}]")
            done = sum(cells[g][0] for g in cells if g.startswith(town))
            total = sum(cells[g][1] for g in cells if g.startswith(town))
            assert bar.get_attribute("data-value") == str(done)
            assert bar.get_attribute("data-reach") == page.get_attribute(f"[data-hh-child={town}]", "data-value")
            assert float(bar.get_attribute("data-reach") or "nan") == (done * 1000 // total) / 10
            assert f"{done} / {total}" in bar.inner_text()
        assert page.get_attribute("#board-sum", "data-sum-ok") == "1"

        # Hover a cell: the tooltip says reached / total households.
        k = probe["codes"].index("TC01-L1-M1-S1-W1")
        point = probe["points"][k]
        page.mouse.move(point[0], point[1])
        page.wait_for_selector("#board-tip .b-tip-reach", state="visible", timeout=10_000)
        assert "3 / 8" in page.inner_text("#board-tip .b-tip-reach")
        page.screenshot(path=str(artifacts / "board-reach-1920x1080.png"))
        page.mouse.move(5, 5)

        # A status set through the API moves that grid's reach (and only its), and the map repaints.
        grid = "TC02-L2-M1-S2-W2"
        set_status(served, op, f"{grid}-001", "evacuated")
        set_status(served, op, f"{grid}-002", "reached")
        page.wait_for_function(
            """(code) => { const p = window.wartimeBoard.mapProbe();
                 const i = p.ids[p.codes.indexOf(code)]; return p.reach.done && p.reach.done[i] === 2; }""",
            arg=grid, timeout=45_000)
        cells, colours, _ = reach_by_grid(page)
        want = expected(Counter({grid: 2}))
        for g, pair in want.items():
            assert cells[g] == pair == server_done(served, op, g), g
        rgb = [int(PALETTE[reach_band(2, 6)][k:k + 2], 16) for k in (1, 3, 5)]
        assert colours[grid] is not None
        assert all(abs(a - b) <= 4 for a, b in zip(colours[grid][:3], rgb, strict=True))
        page.wait_for_function("() => document.querySelector('#board-bars [data-child=TC02]')"
                               ".getAttribute('data-value') === '3'", timeout=15_000)
        # One instant (DESIGN §7.6): the map and the bars say the snapshot's position, the board's once quiet.
        page.wait_for_function("""() => ['map', 'bars', 'hh'].every(p => {
            const n = document.getElementById('board-panel-' + p);
            return n.getAttribute('data-as-of') === document.getElementById('board').getAttribute('data-as-of') &&
              !n.hasAttribute('data-stale'); })""", timeout=45_000)
        page.screenshot(path=str(artifacts / "board-reach-after-1920x1080.png"))
    finally:
        ctx.close()


def test_the_selector_switches_the_measure_legibly_and_tv_mode_hides_it(
    reach_server: tuple[Served, str, str], browser: Any, artifacts: Path
) -> None:
    served, _, url = reach_server
    ctx, page = open_wall(browser, f"{served.url}{url}&lang=en")
    try:
        box = page.locator("#board-measure")
        assert box.is_visible()
        sizes = page.evaluate("""() => Array.from(document.querySelectorAll('#board-measure *, #board-bars *'))
            .filter(e => e.textContent.trim() && e.getBoundingClientRect().width)
            .map(e => parseFloat(getComputedStyle(e).fontSize))""")
        assert sizes and min(sizes) >= 16.0
        assert "household reach" in page.inner_text("#board-map-sub")
        assert "Household reach" in page.inner_text("#board-bars-title-text")
        page.click("#board-measure [data-measure=counter]")
        page.wait_for_selector("#grid-map[data-map-measure=counter]", timeout=15_000)
        assert "map=reach" not in page.url
        assert page.locator("#board-bars [data-reach]").count() == 0
        assert "household reach" not in page.inner_text("#board-map-sub")
        page.click("#board-measure [data-measure=reach]")
        page.wait_for_selector("#grid-map[data-map-measure=reach]", timeout=15_000)
        assert "map=reach" in page.url
        page.wait_for_selector("#board-bars [data-reach]", timeout=15_000)
        page.screenshot(path=str(artifacts / "board-reach-en-1920x1080.png"))
    finally:
        ctx.close()
    ctx, page = open_wall(browser, f"{served.url}{url}&tv=1")
    try:
        assert not page.locator("#board-measure").is_visible()
    finally:
        ctx.close()


def test_a_kiosk_link_refuses_an_unknown_measure_naming_the_field(reach_server: tuple[Served, str, str]) -> None:
    served, _, _ = reach_server
    r = requests.post(f"{served.url}/api/v1/kiosk", json={"scope": "TC", "map": "rainfall"},
                      headers=served.headers("commander"), timeout=10)
    assert r.status_code == 422 and r.json()["error"]["field"] == "map"
