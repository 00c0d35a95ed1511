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


def curve_end(launched_at: int, last: int, deadline: int | None) -> tuple[int, bool]:
    """Where a progress curve's time axis ends, and whether the deadline is drawn inside it.

    The axis spans the data (launch to the last report or the close), not the
    deadline: a 5-minute operation with a 3-day deadline would otherwise be a
    sliver at the left. The deadline stays inside when it falls within twice
    the data's span (then the axis reaches it); a 4 % margin follows the end.
    """
    span = max(last - launched_at, MINUTE)
    inside = deadline is not None and launched_at < deadline <= launched_at + 2 * span
    end = max(last, deadline) if inside and deadline is not None else launched_at + span
    return int(end + (end - launched_at) * 0.04), inside


def clock_format(span_ms: float) -> str:
    """A d3 time format for a wall-clock axis of that span: numbers only (no month names in any language)."""
    if span_ms < 2 * HOUR:
        return "%H:%M:%S" if span_ms < 10 * MINUTE else "%H:%M"
    return "%m-%d %H:%M"
