"""A town whose part of an operation has ended is marked on the wall: hatched on the map, its bar too."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from command.access import Actor, Role
from command.modes import SwitchRequest
from command.operations import ReportRequest
from streams.county import County
from streams.server import EmbeddedRedis, connect
from tests.conftest import Served, empty, make_tree, screenshot, seed_county, start_server
from tests.dashboard.test_board import BOOT_S, square_geometry

pytestmark = pytest.mark.browser

CMD = Actor("test-commander", Role.COMMANDER, "TC")


@pytest.fixture(scope="module")
def served(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    empty(redis_server)
    tree = make_tree()
    seed_county(redis_server.url, tree, square_geometry(tree))
    county = County(connect(redis_server.url), "TC")
    county.switch(CMD, SwitchRequest("TC", "wartime", "flood", "II", "test"))
    county.launch(CMD, "mass_testing", "TC", "全员核酸检测", int(time.time() * 1000) + 86_400_000, operation="op-two")
    leaves = sorted(tree.leaves("TC"))
    county.report_many(CMD, [ReportRequest("op-two", f"r{i}", g, {"sampled": 5 + i % 10})
                             for i, g in enumerate(leaves)])
    s = start_server(redis_server.url, tmp_path_factory.mktemp("closed-part"))
    s.kiosk = requests.post(f"{s.url}/api/v1/kiosk", json={"scope": "TC"},  # type: ignore[attr-defined]
                            headers=s.headers("commander"), timeout=10).json()["token"]
    yield s
    s.stop()


def slowest_towns(served: Served) -> set[str]:
    """The towns of the grids the county's 'slowest' lists name, as the snapshot gives them."""
    from dashboard.components.board_model import snapshot

    county = County(connect(served.redis_url), "TC")
    snap = snapshot(county, Actor("viewer", Role.VIEWER, "TC"), "TC", None, "zh-CN", int(time.time() * 1000))
    rows = snap["slowest"]["lowest"] + snap["slowest"]["silent"]
    return {r["code"].split("-", 1)[0] for r in rows}


def test_a_closed_towns_part_is_hatched_on_the_map_and_striped_in_the_bars(
    served: Served, browser: Any, artifacts: Path,
) -> None:
    ctx = browser.new_context(viewport={"width": 1600, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(f"{served.url}/?token={served.kiosk}")  # type: ignore[attr-defined]
        page.wait_for_selector("#grid-map[data-map-state=complete]", timeout=BOOT_S)
        page.wait_for_selector("[data-child=TC01]", timeout=30_000)
        assert page.get_attribute("#grid-map", "data-closed-parts") == "0"
        assert page.locator("[data-closed]").count() == 0

        before = slowest_towns(served)
        assert "TC01" in before, before  # its grids lag before its part ends

        r = requests.post(f"{served.url}/api/v1/operations/op-two/towns/TC01/close", timeout=15,
                          headers=served.headers("commander"), json={"reason": "本镇采样完成"})
        assert r.status_code == 200 and r.json()["state"] == "part_closed", r.text

        page.wait_for_selector("#grid-map[data-closed-parts='1']", timeout=30_000)
        page.wait_for_selector("[data-child=TC01][data-closed='1']", timeout=30_000)
        assert page.locator("[data-child=TC02][data-closed]").count() == 0  # the other town goes on
        label = page.get_attribute("[data-child=TC01] .b-bartrack", "data-label")
        assert label == "已结束", label
        page.wait_for_selector(".b-legend-closed", timeout=10_000)  # the legend says what the stripes mean
        after = slowest_towns(served)
        assert "TC01" not in after and "TC02" in after, after  # a closed part is not behind; the other is
        screenshot(page, artifacts / "board-closed-part-1600x900.png")
    finally:
        ctx.close()
