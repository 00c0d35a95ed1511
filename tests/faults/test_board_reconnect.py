"""The big screen under faults: it says "connection lost" when its server dies, then catches up exactly.

A wall (kiosk link, real headless Chromium) watches a county whose `wartime
serve` owns its embedded Redis:

1. `wartime serve` is SIGKILLed (whole process group). The board must turn to
   ``data-conn=lost`` and show its "connection lost" banner; reports keep
   landing in the log meanwhile (the field writes to Redis); when the server is
   back the board goes live again and its KPI is exactly the new total.
2. The embedded redis-server is SIGKILLed. Its numbers cannot move while Redis
   is gone, so the board must say "connection lost" then too (the live hub drops
   its sockets when it loses its feed); the supervisor restarts Redis, and
   reports sent afterwards reach the board, to the unit.

Screenshots: tests/artifacts/fault-board-*.png.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import requests

from bench.soak import OwnServe, seed_embedded, wait_until
from command.access import Actor, Role
from command.operations import ReportRequest
from streams.county import County
from streams.server import EmbeddedRedis, connect

BOOT_MS = 90_000
BOSS = Actor("commander", Role.COMMANDER, "TC")
WATCH = """() => {
  window.__conn = [];
  const root = document.querySelector('.board');
  new MutationObserver(() => window.__conn.push(root.getAttribute('data-conn')))
    .observe(root, {attributes: true, attributeFilter: ['data-conn']});
}"""


def _kpi(page: Any) -> int:
    return int(page.get_attribute("[data-kpi=sampled]", "data-value"))


def _wait_kpi(page: Any, want: int) -> None:
    page.wait_for_function(
        "want => document.querySelector('[data-kpi=sampled]').getAttribute('data-value') === want",
        arg=str(want), timeout=60_000,
    )


def test_the_board_says_connection_lost_on_kills_and_catches_up_exactly(
    browser: Any, tmp_path: Path, artifacts: Path
) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    data.mkdir()
    logs.mkdir()
    from tests.conftest import make_tree
    from tests.dashboard.test_board import square_geometry  # the board's own test polygons

    url, op = seed_embedded(data, square_geometry(make_tree()))
    county = County(connect(url), "TC")
    serve = OwnServe(data, logs, workers=1)
    serve.start()
    page = None
    try:
        h = {"Authorization": f"Bearer {serve.token()}"}
        kiosk = requests.post(f"{serve.url}/api/v1/kiosk", json={"scope": "TC"}, headers=h, timeout=30).json()["token"]
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        page.goto(f"{serve.url}/?token={kiosk}")
        page.wait_for_selector("#grid-map[data-map-state=complete]", timeout=BOOT_MS)
        page.wait_for_selector(".board[data-conn=live] [data-kpi=sampled]", timeout=BOOT_MS)
        page.evaluate(WATCH)
        before = _kpi(page)

        # 1. The whole server dies without warning.
        serve.kill(signal.SIGKILL)
        page.wait_for_selector(".board[data-conn=lost]", timeout=30_000)
        assert page.is_visible("#board-lost")
        page.screenshot(path=str(artifacts / "fault-board-lost.png"))
        county.report_many(BOSS, [ReportRequest(op, f"down-{i}", "TC01-L1-M1-S1-W1", {"sampled": 3})
                                  for i in range(4)])  # the field keeps writing to the log meanwhile
        serve.start()
        page.wait_for_selector(".board[data-conn=live]", timeout=BOOT_MS)
        _wait_kpi(page, before + 12)
        assert not page.is_visible("#board-lost")
        page.screenshot(path=str(artifacts / "fault-board-caught-up.png"))

        # 2. Redis dies; the supervisor brings it back; what is reported next reaches the wall.
        embedded = EmbeddedRedis(data)
        restarts = serve.state().get("redis_restarts", 0)
        page.evaluate("window.__conn = []")
        os.kill(serve.redis_pid(), signal.SIGKILL)
        wait_until(lambda: serve.state().get("redis_restarts", 0) > restarts, 60, "redis to be restarted")
        assert embedded.running()
        api = f"{serve.url}/api/v1/operations/{op}/reports"
        for i in range(5):
            body = {"report_id": f"after-redis-{i}", "grid": "TC02-L1-M1-S1-W1", "counts": {"sampled": 2}}
            wait_until(lambda body=body: requests.post(api, json=body, headers=h, timeout=30).status_code
                       in (200, 201), 60, "a report to be acknowledged")
        _wait_kpi(page, before + 12 + 10)
        page.wait_for_selector(".board[data-conn=live]", timeout=BOOT_MS)
        page.screenshot(path=str(artifacts / "fault-board-after-redis.png"))
        seen = page.evaluate("window.__conn")
        assert "lost" in seen and seen[-1] == "live", seen  # it said so while its numbers could not move
    finally:
        if page is not None:
            page.close()
        serve.kill(signal.SIGTERM)
        EmbeddedRedis(data).stop()
