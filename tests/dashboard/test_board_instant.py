"""One instant on the wall (DESIGN §7.6), in real Chromium under a stream of reports.

`#board[data-as-of]` names the log position the panels reflect and advances as reports
land; at every moment the operation's KPI equals the sum of the towns panel; once the
reports stop, every panel catches up (no `[data-stale]`) and every total on the screen
equals what the API answers.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from command.operations import ReportRequest
from streams.position import decode, later
from tests.conftest import screenshot
from tests.dashboard.test_board import BOOT_S, CMD, Wall, _open, tab, wall

__all__ = ["tab", "wall"]  # fixtures

pytestmark = pytest.mark.browser

SAMPLE = """() => {
    const board = document.getElementById('board');
    const kpi = document.querySelector('[data-kpi=sampled]');
    const bars = [...document.querySelectorAll('#board-bars [data-child]')];
    const panels = {};
    document.querySelectorAll('.b-panel').forEach(p => {
        panels[p.id] = {at: p.getAttribute('data-as-of'), stale: p.hasAttribute('data-stale')};
    });
    const gd = document.querySelector('#board-curve .js-plotly-plot');
    const sum = document.querySelector('#board-sum');
    const ys = gd && gd.data && gd.data[0] && gd.data[0].y;
    return {
        at: board && board.getAttribute('data-as-of'),
        kpi: kpi ? +kpi.getAttribute('data-value') : null,
        bars: Object.fromEntries(bars.map(b => [b.getAttribute('data-child'), +b.getAttribute('data-value')])),
        sum: sum ? sum.getAttribute('data-sum-ok') : null,
        curve: ys && ys.length ? ys[ys.length - 1] : null,
        panels: panels,
    };
}"""


def _feed(wall: Wall, stop: threading.Event, sent: list[int]) -> None:
    """About 50 reports a second over every cell of the operation's town, in batches of 5."""
    leaves = list(wall.tree.leaves("TC01"))
    i = 0
    while not stop.is_set():
        batch = [ReportRequest(wall.op, f"instant-{i + k}", leaves[(i + k) % len(leaves)], {"sampled": 1 + (i + k) % 3})
                 for k in range(5)]
        wall.county.report_many(CMD, batch)
        sent.append(sum(r.counts["sampled"] for r in batch))
        i += 5
        time.sleep(0.1)


def _api(wall: Wall, grid: str) -> dict[str, Any]:
    r = requests.get(f"{wall.served.url}/api/v1/operations/{wall.op}/progress", params={"grid": grid},
                     headers=wall.served.headers("commander"), timeout=10)
    r.raise_for_status()
    return dict(r.json())


def test_every_panel_shows_one_log_position_and_two_totals_never_differ(tab: Any, wall: Wall, artifacts: Path) -> None:
    page = _open(tab, wall.url())
    try:
        page.wait_for_selector(".board[data-conn=live] #board[data-as-of]", timeout=BOOT_S)
        page.wait_for_selector("#board-bars [data-child]", timeout=BOOT_S)
        stop, sent = threading.Event(), []
        feeder = threading.Thread(target=_feed, args=(wall, stop, sent), daemon=True)
        feeder.start()
        samples = []
        try:
            t_end = time.monotonic() + 8
            while time.monotonic() < t_end:
                samples.append(page.evaluate(SAMPLE))
                time.sleep(0.12)
        finally:
            stop.set()
            feeder.join(10)
        assert sum(sent) > 300  # the load really ran
        # Two totals of the same thing on one screen never differ, whenever one looks.
        for s in samples:
            assert s["kpi"] == sum(s["bars"].values()), s
            assert s["sum"] in (None, "1"), s
        # The board names its position, and it moves forwards only, town by town.
        positions = [decode(s["at"]) for s in samples if s["at"]]
        assert len(positions) == len(samples)
        moves = 0
        for a, b in itertools.pairwise(positions):
            assert all(not later(a[k], b[k]) for k in a), (a, b)
            moves += a != b
        assert moves >= 3
        assert set(positions[-1]) == {"~", "TC01", "TC02"}
        # Once quiet: every panel at the board's position, every total the API's.
        try:
            page.wait_for_function(
                "() => document.querySelectorAll('.b-panel[data-stale]').length === 0", timeout=60_000
            )
        except Exception:
            screenshot(page, artifacts / "board-one-instant-stale.png")
            raise AssertionError(f"panels still stale: {page.evaluate(SAMPLE)}") from None
        op_scope, county = _api(wall, "TC01"), _api(wall, "TC")
        page.wait_for_function(
            "want => +document.querySelector('[data-kpi=sampled]').getAttribute('data-value') === want",
            arg=op_scope["counts"]["sampled"], timeout=30_000,
        )
        page.wait_for_function(
            "want => { const gd = document.querySelector('#board-curve .js-plotly-plot');"
            " const y = gd && gd.data[0].y; return !!y && y[y.length - 1] === want; }",
            arg=op_scope["counts"]["sampled"], timeout=30_000,
        )
        final = page.evaluate(SAMPLE)
        assert final["kpi"] == op_scope["counts"]["sampled"]
        assert final["bars"] == {c["grid"]: c["counts"].get("sampled", 0) for c in county["children"]}
        assert final["sum"] == "1" and final["curve"] == final["kpi"]
        live = ("board-panel-kpi", "board-panel-bars", "board-panel-feed")
        assert all(final["panels"][p]["at"] == final["at"] for p in live), final["panels"]
        screenshot(page, artifacts / "board-one-instant.png")
    finally:
        page.close()
