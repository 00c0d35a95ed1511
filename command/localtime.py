"""The county's time zone, Asia/Shanghai (UTC+8, 北京时间), and how instants read in it.

The one definition for the whole program: reports, briefings, CAP messages,
contact rounds, the audit trail, the CLI's ``--since``/``--until`` and the
scheduler all use `LOCAL`. China keeps no summer time, so a fixed offset is
exact, needs no tz database (this package does no I/O) and never depends on
the machine's zone. Instants everywhere else are epoch milliseconds (UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

__all__ = [
    "DAY_MS",
    "LOCAL",
    "OFFSET_MS",
    "day_bounds",
    "local_date",
    "local_datetime",
    "local_minute",
    "local_second",
    "parse_instant",
]

OFFSET_MS = 8 * 3_600_000
"""UTC+8 in milliseconds."""
DAY_MS = 86_400_000
LOCAL = timezone(timedelta(milliseconds=OFFSET_MS), "Asia/Shanghai")
"""Asia/Shanghai as a fixed offset."""

_DATES: dict[int, str] = {}
_SECONDS: dict[int, str] = {}


def local_datetime(ms: int | float) -> datetime:
    """An instant (epoch ms) as an aware local datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(LOCAL)


def local_date(ms: int) -> str:
    """The local calendar date of an instant, ``YYYY-MM-DD`` (cached by day: tables repeat them)."""
    n = (int(ms) + OFFSET_MS) // DAY_MS
    text = _DATES.get(n)
    if text is None:
        text = _DATES[n] = local_datetime(ms).date().isoformat()
    return text


def local_minute(ms: int) -> str:
    """An instant as local wall time for people, ``YYYY-MM-DD HH:MM``."""
    return local_datetime(ms).strftime("%Y-%m-%d %H:%M")


def local_second(ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` local (cached by second: report tables repeat them)."""
    sec = int(ms) // 1000
    text = _SECONDS.get(sec)
    if text is None:
        if len(_SECONDS) > 200_000:
            _SECONDS.clear()
        d = datetime.fromtimestamp(sec, LOCAL)
        text = _SECONDS[sec] = (f"{d.year:04d}-{d.month:02d}-{d.day:02d} "
                                f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}")
    return text


def day_bounds(ms: int) -> tuple[int, int]:
    """Start and end (epoch ms) of the local calendar day holding an instant."""
    start = (int(ms) + OFFSET_MS) // DAY_MS * DAY_MS - OFFSET_MS
    return start, start + DAY_MS


def parse_instant(text: str) -> int:
    """Epoch ms from epoch ms or an ISO-8601 time; a time without an offset is local."""
    if text.isdigit():
        return int(text)
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=LOCAL)
    return int(dt.timestamp() * 1000)
