"""A drill's wall (/?drill=ID) beside the live wall, in real headless Chromium against a real `wartime serve`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from command.access import Actor, Role
from command.drills import MINUTE
from command.modes import SwitchRequest
from command.operations import ReportRequest
from streams.county import County
from streams.server import EmbeddedRedis, connect
from tests.conftest import Served, empty, make_tree, seed_county, start_server
from tests.dashboard.test_board import BOOT_S, square_geometry

pytestmark = pytest.mark.browser

CMD = Actor("test-commander", Role.COMMANDER, "TC")
MINUTES = 30


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture(scope="module")
def served(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    """A county with a recorded operation of 30 minutes (reports every minute), and a kiosk link."""
    empty(redis_server)
    tree = make_tree()
    seed_county(redis_server.url, tree, square_geometry(tree))
    clock = Clock((int(time.time() * 1000) - 2 * 3600_000) // MINUTE * MINUTE)
    county = County(connect(redis_server.url), "TC", clock)
    county.switch(CMD, SwitchRequest("TC", "wartime", "epidemic", "II", "test"))
    county.launch(CMD, "mass_testing", "TC", "全员核酸检测", operation="op-rec")
    leaves = sorted(tree.leaves("TC"))
    for m in range(MINUTES):
        clock.ms += MINUTE
        county.report_many(CMD, [ReportRequest("op-rec", f"r{m}-{i}", g, {"sampled": 5 + i % 7})
                                 for i, g in enumerate(leaves)])
    s = start_server(redis_server.url, tmp_path_factory.mktemp("drillwall"))
    kiosk = requests.post(f"{s.url}/api/v1/kiosk", json={"scope": "TC"}, headers=s.headers("commander"),
                          timeout=10).json()["token"]
    yield s, kiosk
    s.stop()


def _value(page: Any) -> int:
    return int(page.get_attribute("[data-kpi=sampled]", "data-value") or 0)


def test_the_drill_wall_shows_its_banner_and_moves_while_the_live_wall_beside_it_does_not(
    served: tuple[Served, str], browser: Any, artifacts: Any
) -> None:
    s, kiosk = served
    boss = s.headers("commander")
    r = requests.post(f"{s.url}/api/v1/drills", json={"from_operation": "op-rec", "speed": 90, "name": "复盘演练"},
                      headers=boss, timeout=10)
    assert r.status_code == 201, r.text
    drill = r.json()["drill_id"]
    # held still while the walls boot (a slow machine takes a while), then let go
    assert requests.post(f"{s.url}/api/v1/drills/{drill}/pause", headers=boss, timeout=10).status_code == 200
    # two windows side by side, as on a wall: a page in a background tab of one window is not drawn
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    other = browser.new_context(viewport={"width": 1600, "height": 900})
    try:
        live = other.new_page()
        live.goto(f"{s.url}/?token={kiosk}&op=op-rec")
        live.wait_for_selector("#grid-map[data-map-state=complete]", timeout=BOOT_S)
        wall = context.new_page()
        logs: list[str] = []
        wall.on("console", lambda m: logs.append(m.text))
        wall.on("response", lambda r: logs.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        wall.goto(f"{s.url}/?token={kiosk}&op=op-rec&drill={drill}")
        try:
            wall.wait_for_selector(f"#board-root[data-drill={drill}] #drill-banner", timeout=BOOT_S)
            wall.wait_for_selector("#grid-map[data-map-state=complete]", timeout=BOOT_S)
        except Exception:
            wall.screenshot(path=str(artifacts / "drill-wall-failed.png"))
            raise AssertionError("\n".join(logs[-30:])) from None
        assert "演练 · DRILL" in (wall.text_content("#drill-banner") or "")
        assert live.query_selector("[data-drill]") is None
        wall.wait_for_selector("#drill-banner[data-drill-state=paused]", timeout=BOOT_S)
        live_first, drill_first = _value(live), _value(wall)
        first_clock = wall.get_attribute("#drill-banner", "data-drill-clock")
        assert requests.post(f"{s.url}/api/v1/drills/{drill}/resume", headers=boss, timeout=10).status_code == 200
        wall.wait_for_function(f"() => Number(document.querySelector('[data-kpi=sampled]')"
                               f".getAttribute('data-value')) > {drill_first}", timeout=30_000)
        wall.wait_for_function(f"() => (document.querySelector('#drill-banner').getAttribute('data-drill-clock') "
                               f"|| '') !== {first_clock!r}", timeout=30_000)
        wall.screenshot(path=str(artifacts / "drill-wall.png"))
        live.screenshot(path=str(artifacts / "drill-live-wall.png"))
        assert _value(wall) > drill_first
        assert _value(live) == live_first > 0  # the live wall did not move
        assert _value(wall) <= live_first  # the drill never shows more than the recording holds
        assert wall.get_attribute("#board-root", "data-conn") == "live"
    finally:
        context.close()
        other.close()
        requests.post(f"{s.url}/api/v1/drills/{drill}/stop", headers=boss, timeout=10)


def test_the_console_card_starts_and_stops_a_drill_and_a_console_in_a_drill_says_so(
    served: tuple[Served, str], browser: Any, artifacts: Any
) -> None:
    from tests.conftest import PASSWORD

    s, _ = served
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{s.url}/console")
        page.fill("input[name=username]", "commander")
        page.fill("input[name=password]", PASSWORD)
        page.click("[data-action=login]")
        page.wait_for_selector("[data-scope]", timeout=30_000)
        page.fill("#drill-from", "op-rec")
        page.fill("#drill-speed", "60")
        page.click("#drill-card [data-drill-action=start]")
        item = page.wait_for_selector("#drill-card li[data-state=running]", timeout=20_000)
        drill = item.get_attribute("data-drill-id")
        assert drill and requests.get(f"{s.url}/api/v1/drills/{drill}", headers=s.headers("commander"),
                                      timeout=10).json()["state"] == "running"
        page.click(f"#drill-card li[data-drill-id={drill}] [data-drill-action=stop]")
        page.wait_for_selector(f"#drill-card li[data-drill-id={drill}][data-state=stopped]", timeout=20_000)
        inside = context.new_page()
        inside.goto(f"{s.url}/console?drill={drill}")
        inside.wait_for_selector(f"#drill-banner[data-drill={drill}]", timeout=30_000)
        assert "演练 · DRILL" in (inside.text_content("#drill-banner") or "")
        inside.wait_for_selector("[data-scope]", timeout=30_000)  # the console works inside the drill
        inside.wait_for_timeout(1500)
        inside.screenshot(path=str(artifacts / "drill-console.png"))
    finally:
        context.close()


def test_a_report_posted_into_a_drill_through_the_server_stays_in_the_drill(served: tuple[Served, str]) -> None:
    s, _ = served
    boss = s.headers("commander")
    drill = requests.post(f"{s.url}/api/v1/drills", json={"from_operation": "op-rec", "speed": 1},
                          headers=boss, timeout=10).json()["drill_id"]
    requests.post(f"{s.url}/api/v1/drills/{drill}/pause", headers=boss, timeout=10)  # its first minute: no report
    inside = {**boss, "X-Wartime-Drill": drill}
    live_before = requests.get(f"{s.url}/api/v1/operations/op-rec/progress", headers=boss, timeout=10).json()
    drill_before = requests.get(f"{s.url}/api/v1/operations/op-rec/progress", headers=inside, timeout=10).json()
    assert drill_before["drill"] is True and drill_before["counts"]["sampled"] == 0 < live_before["counts"]["sampled"]
    leaf = sorted(make_tree().leaves("TC"))[0]
    r = requests.post(f"{s.url}/api/v1/operations/op-rec/reports", json={"report_id": "drill-r1", "grid": leaf,
                      "counts": {"sampled": 3}}, headers=inside, timeout=10)
    assert r.status_code == 201, r.text
    assert r.json()["drill"] is True

    def counts(h: dict[str, str]) -> int:
        return int(requests.get(f"{s.url}/api/v1/operations/op-rec/progress", headers=h, timeout=10)
                   .json()["counts"]["sampled"])

    deadline = time.monotonic() + 20
    while counts(inside) != drill_before["counts"]["sampled"] + 3:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert requests.get(f"{s.url}/api/v1/operations/op-rec/progress", headers=boss, timeout=10).json() == live_before
    requests.post(f"{s.url}/api/v1/drills/{drill}/stop", headers=boss, timeout=10)
    over = requests.post(f"{s.url}/api/v1/operations/op-rec/reports", json={"report_id": "drill-r2", "grid": leaf,
                         "counts": {"sampled": 3}}, headers=inside, timeout=10)
    assert over.status_code == 409 and over.json()["error"]["field"] == "drill"


def test_the_drill_walls_curve_runs_from_launch_to_the_drills_clock(
    served: tuple[Served, str], browser: Any, artifacts: Any
) -> None:
    s, kiosk = served
    boss = s.headers("commander")
    drill = requests.post(f"{s.url}/api/v1/drills", json={"from_operation": "op-rec", "speed": 30},
                          headers=boss, timeout=10).json()["drill_id"]
    assert requests.post(f"{s.url}/api/v1/drills/{drill}/pause", headers=boss, timeout=10).status_code == 200
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    try:
        wall = context.new_page()
        wall.goto(f"{s.url}/?token={kiosk}&op=op-rec&drill={drill}")
        try:
            wall.wait_for_selector(f"#board-root[data-drill={drill}] #drill-banner", timeout=BOOT_S)
            wall.wait_for_selector("#grid-map[data-map-state=complete]", timeout=BOOT_S)
        except Exception:
            wall.screenshot(path=str(artifacts / "drill-wall-curve-failed.png"))
            raise
        assert requests.post(f"{s.url}/api/v1/drills/{drill}/resume", headers=boss, timeout=10).status_code == 200
        wall.wait_for_function("() => Number(document.querySelector('[data-kpi=sampled]')"
                               ".getAttribute('data-value')) > 0", timeout=30_000)
        assert requests.post(f"{s.url}/api/v1/drills/{drill}/pause", headers=boss, timeout=10).status_code == 200
        wall.wait_for_selector("#drill-banner[data-drill-state=paused]", timeout=BOOT_S)
        wall.wait_for_timeout(6000)  # the curve is redrawn at most every few seconds
        got = wall.evaluate("""() => {
            var g = document.querySelector('#board-curve .js-plotly-plot');
            var off = window.wartimeBoardKit.B.cfg.zone_offset_ms || 0;
            var ms = function (s) { return Date.parse(String(s).replace(' ', 'T') + 'Z') - off; };
            return {range: g.layout.xaxis.range.map(ms), xs: g.data[0].x.map(ms), raw: g.layout.xaxis.range};
        }""")
        wall.screenshot(path=str(artifacts / "drill-wall-curve.png"))
        drill_clock = requests.get(f"{s.url}/api/v1/drills/{drill}", headers=boss, timeout=10).json()["clock"]
        assert got["range"][0] < got["range"][1], got
        assert got["xs"] and max(got["xs"]) <= drill_clock, (got, drill_clock)
        assert got["range"][1] > drill_clock  # the axis reaches past now on the drill's clock
    finally:
        context.close()
        requests.post(f"{s.url}/api/v1/drills/{drill}/stop", headers=boss, timeout=10)


def test_a_drill_walls_live_push_takes_a_kiosk_link_no_live_socket_has_used(served: tuple[Served, str]) -> None:
    """Tokens are the live world's: the push of a drill's world checks them there (else 4401, "connecting" for ever)."""
    from websockets.sync.client import connect as ws_connect

    s, _ = served
    boss = s.headers("commander")
    fresh = requests.post(f"{s.url}/api/v1/kiosk", json={"scope": "TC"}, headers=boss, timeout=10).json()["token"]
    drill = requests.post(f"{s.url}/api/v1/drills", json={"from_operation": "op-rec", "speed": 30},
                          headers=boss, timeout=10).json()["drill_id"]
    try:
        url = f"ws://127.0.0.1:{s.live_port}/live?token={fresh}&op=op-rec&scope=TC&drill={drill}"
        with ws_connect(url, open_timeout=10) as ws:
            kinds = [json.loads(ws.recv(timeout=10))["t"] for _ in range(2)]
        assert kinds == ["hello", "state"]
    finally:
        requests.post(f"{s.url}/api/v1/drills/{drill}/stop", headers=boss, timeout=10)
