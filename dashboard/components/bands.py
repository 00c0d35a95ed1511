"""Colour bands of the board (色带): the one definition, used by the live hub and sent to the page.

A band is one character per map cell (so a whole map fits a short string)
and per bar of the board. The live hub (`streams.live`) computes them with
`band`, which the dashboard hands it; the page gets `browser_rules` in its
initial config — the palette, the ramp and legend, which bands never fade,
and the text of every band — and never re-codes a rule.
"""

from __future__ import annotations

from typing import Any

from dashboard.i18n import register, t

BAND_PEACETIME = "p"
"""A cell in peacetime."""
BAND_WARTIME = "w"
"""A cell in wartime outside the map's operation (or with no operation on view)."""
BAND_PENDING = "n"
"""In the operation, no target of its own, nothing reported yet."""
BAND_ACTIVE = "r"
"""In the operation, no target of its own, something reported."""
BAND_OVER = "b"
"""Beyond its target (floating population: flagged, not refused)."""
DECILES = "0123456789a"
"""Completion in tenths: ``0`` under 10 % … ``9`` 90–99 %, ``a`` exactly done."""

UNFADED = (BAND_PEACETIME, BAND_WARTIME)
"""Bands whose cells never fade with silence (nothing is expected of them)."""

PALETTE: dict[str, str] = {
    BAND_PEACETIME: "#3b4a5e",
    BAND_WARTIME: "#24476b",
    BAND_PENDING: "#2b3f57",
    BAND_ACTIVE: "#1fb5a8",
    BAND_OVER: "#22d3ee",
    **dict(zip(DECILES, (
        "#8e1b1b", "#b42318", "#d9481c", "#ea6a1d", "#f08c1b",
        "#f2b01e", "#d9c92a", "#a5cf34", "#6bbf3c", "#35a852", "#139a5f",
    ), strict=True)),
}
"""Band → fill colour: red (nothing done) through amber to green (done), cyan beyond target."""

REACH_NONE = BAND_WARTIME
"""A map cell with no household in the roster, when the map shows household reach (nothing expected of it)."""

LEGEND = ((BAND_OVER, "board.legend_over"), (BAND_WARTIME, "board.legend_war"), (BAND_PEACETIME, "board.legend_peace"))
"""The legend's keys beside the ramp of deciles: band and label."""
REACH_LEGEND = ((REACH_NONE, "board.legend_no_roster"),)
"""The legend's keys beside the ramp when the map shows household reach."""

register({
    "band.tenths": ("{lo}–{hi}%", "{lo}–{hi}%"),
    "band.done": ("已完成", "done"),
    "band.pending": ("尚无上报", "no report yet"),
    "board.legend_no_roster": ("无住户清单", "no household roster"),
})


def band(wartime: bool, in_op: bool, done: int, target: int | None) -> str:
    """The colour band of one map cell or bar."""
    if not wartime:
        return BAND_PEACETIME
    if not in_op:
        return BAND_WARTIME
    if not target:
        return BAND_ACTIVE if done > 0 else BAND_PENDING
    if done > target:
        return BAND_OVER
    return DECILES[min(10, max(0, done * 10 // target))]


def reach_band(done: int, total: int) -> str:
    """The band of a cell or bar coloured by household reach (households with a status / households).

    The deciles of `band`, on the roster instead of a target: a grid with no household expects nothing."""
    if total <= 0:
        return REACH_NONE
    return DECILES[min(10, max(0, min(done, total) * 10 // total))]


def band_text(b: str, lang: str) -> str:
    """What a band says in a tooltip ("" for a band that says nothing)."""
    if b in DECILES:
        d = DECILES.index(b)
        share = "100%" if d == 10 else t("band.tenths", lang, lo=d * 10, hi=d * 10 + 10)
        return f"{t('band.done', lang)} {share}"
    return {
        BAND_PEACETIME: t("peacetime", lang),
        BAND_WARTIME: t("wartime", lang),
        BAND_OVER: t("over_target", lang),
        BAND_PENDING: t("band.pending", lang),
    }.get(b, "")


def browser_rules(lang: str) -> dict[str, Any]:
    """Everything the page needs to show bands, in its initial config."""
    return {
        "palette": PALETTE,
        "ramp": DECILES,
        "legend": [[b, t(key, lang)] for b, key in LEGEND],
        "reach_legend": [[b, t(key, lang)] for b, key in REACH_LEGEND],
        "unfaded": "".join(UNFADED),
        "text": {b: band_text(b, lang) for b in PALETTE},
    }
