"""Time axes for people: an elapsed-time axis is labelled in seconds, minutes or hours by its span."""

from __future__ import annotations

from dashboard.i18n import register, t

register({
    "axis.s": ("秒", "s"),
    "axis.min": ("分钟", "min"),
    "axis.h": ("小时", "h"),
})

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


def elapsed_unit(span_ms: float) -> tuple[int, str]:
    """(milliseconds per unit, unit) for an axis spanning `span_ms`: ticks read 0–120 s, 2–180 min, then hours."""
    if span_ms < 2 * MINUTE:
        return SECOND, "s"
    if span_ms < 3 * HOUR:
        return MINUTE, "min"
    return HOUR, "h"


def unit_label(unit: str, lang: str) -> str:
    """The axis title of a unit from `elapsed_unit`."""
    return t(f"axis.{unit}", lang)
