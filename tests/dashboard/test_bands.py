"""Colour bands: one definition on the dashboard side, used by the hub and sent to the page."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import streams.live
from dashboard.components.bands import (
    BAND_ACTIVE,
    BAND_OVER,
    BAND_PEACETIME,
    BAND_PENDING,
    BAND_WARTIME,
    DECILES,
    PALETTE,
    band,
    browser_rules,
)


def test_band_is_peacetime_grey_and_wartime_blue_outside_the_operation() -> None:
    assert band(False, True, 10, 100) == BAND_PEACETIME
    assert band(True, False, 10, 100) == BAND_WARTIME


def test_band_counts_tenths_of_the_target_and_flags_over_target() -> None:
    assert [band(True, True, d, 100) for d in (0, 9, 10, 55, 99, 100, 101)] == ["0", "0", "1", "5", "9", "a", BAND_OVER]
    assert band(True, True, 0, None) == BAND_PENDING
    assert band(True, True, 3, 0) == BAND_ACTIVE


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(1, 10_000))
def test_band_never_falls_when_more_is_done(a: int, b: int, target: int) -> None:
    order = "0123456789ab"
    lo, hi = sorted((a, b))
    assert order.index(band(True, True, lo, target)) <= order.index(band(True, True, hi, target))


def test_streams_define_no_band_of_their_own() -> None:
    assert not [n for n in vars(streams.live) if n.startswith("BAND_") or n in ("DECILES", "band")]


def test_the_page_gets_every_band_with_its_colour_and_text() -> None:
    rules = browser_rules("en")
    assert rules["palette"] == PALETTE and rules["ramp"] == DECILES
    assert set(rules["text"]) == set(PALETTE)
    assert rules["text"]["3"] == "done 30–40%" and rules["text"]["a"] == "done 100%"
    assert rules["text"][BAND_OVER] == "Over target" and rules["text"][BAND_ACTIVE] == ""
    assert [b for b, _ in rules["legend"]] == [BAND_OVER, BAND_WARTIME, BAND_PEACETIME]
    assert set(rules["unfaded"]) == {BAND_PEACETIME, BAND_WARTIME}
    assert browser_rules("zh-CN")["text"][BAND_PEACETIME] == "平时"


def test_reach_bands_count_tenths_of_the_roster_and_a_grid_without_households_expects_nothing() -> None:
    from dashboard.components.bands import REACH_NONE, reach_band
    from dashboard.components.board_households import map_reach

    assert [reach_band(d, 10) for d in (0, 1, 5, 9, 10, 12)] == ["0", "1", "5", "9", "a", "a"]
    assert reach_band(0, 0) == REACH_NONE and REACH_NONE in browser_rules("en")["unfaded"]
    assert [b for b, _ in browser_rules("en")["reach_legend"]] == [REACH_NONE]
    cells = map_reach(["A", "B", "C"], {"A": 8, "C": 3}, {"A": {"evacuated": 2, "reached": 1}, "C": {"absent": 3}})
    assert cells == {"done": [3, 0, 3], "total": [8, 0, 3], "bands": "3" + REACH_NONE + "a"}
