"""One time zone for the county (Asia/Shanghai, UTC+8) and one scope rule, each defined once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from command.access import SYSTEM, Actor, Role, overlaps, overlaps_scope, within_scope
from command.grids import Grid, GridKind, GridTree, Level
from command.localtime import LOCAL, day_bounds, local_date, local_minute, local_second, parse_instant

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for pkg in ("command", "streams", "dashboard", "bench") for p in (ROOT / pkg).rglob("*.py")]
# 2025-06-15 23:06:40 in Shanghai, 15:06:40 UTC.
LATE = 1_750_000_000_000


def test_local_day_and_times_are_utc_plus_8_whatever_the_machine() -> None:
    assert local_date(LATE) == "2025-06-15"
    assert local_date(LATE + 3_600_000) == "2025-06-16"  # past local midnight, still the 15th in UTC
    assert local_minute(LATE) == "2025-06-15 23:06"
    assert local_second(LATE) == "2025-06-15 23:06:40"
    start, end = day_bounds(LATE)
    assert datetime.fromtimestamp(start / 1000, LOCAL).strftime("%Y-%m-%d %H:%M") == "2025-06-15 00:00"
    assert end - start == 86_400_000 and start <= LATE < end
    assert LOCAL.utcoffset(None).total_seconds() == 8 * 3600


def test_parse_instant_reads_naive_times_as_local() -> None:
    assert parse_instant("1750000000000") == LATE
    assert parse_instant("2025-06-15T23:06:40") == LATE
    assert parse_instant("2025-06-15T15:06:40+00:00") == LATE
    assert datetime.fromtimestamp(parse_instant("2025-01-01T08:00:00") / 1000, UTC).hour == 0


_ZONE = re.compile(r"hours=8\b|ZoneInfo\(|8 \* 3600|8 \* 3_600|28800|28_800|timezone\(timedelta")


def _lines_matching(pattern: re.Pattern[str], home: str) -> list[str]:
    """Source lines (file:line) matching `pattern` outside the module `home` that defines the thing."""
    return [
        f"{p.relative_to(ROOT)}:{n}"
        for p in SOURCES if p.name != home
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]


def test_the_time_zone_is_defined_once() -> None:
    copies = _lines_matching(_ZONE, "localtime.py")
    assert not copies, "a second definition of UTC+8 (use command.localtime):\n" + "\n".join(copies)


def _tree() -> GridTree:
    def grid(code: str, level: Level, parent: str | None) -> Grid:
        return Grid(code, code, level, GridKind.COMPREHENSIVE, parent, 10, 30)

    return GridTree.build([
        grid("C", Level.COUNTY, None), grid("T1", Level.TOWN, "C"),
        grid("T2", Level.TOWN, "C"), grid("T1-L", Level.LARGE, "T1"),
    ])


def test_the_scope_rule() -> None:
    tree = _tree()
    town = Actor("t", Role.COMMANDER, "T1")
    everyone = Actor("e", Role.VIEWER, "")
    assert within_scope(town, tree, "T1-L") and within_scope(town, tree, "T1")
    assert not within_scope(town, tree, "C") and not within_scope(town, tree, "T2")
    assert within_scope(everyone, tree, "C") and within_scope(SYSTEM, tree, "T2")
    assert overlaps(tree, "C", "T1") and overlaps(tree, "T1", "C") and not overlaps(tree, "T1", "T2")
    assert overlaps_scope(town, tree, "C") and overlaps_scope(town, tree, "T1-L")
    assert not overlaps_scope(town, tree, "T2") and overlaps_scope(everyone, tree, "T2")
    assert town.can_see(tree, "T1-L") and everyone.can_see(tree, "T2")


_SCOPE_COPY = re.compile(r'actor\.scope == "" or|is_within\([^)]*\) or [a-z_.]*is_within\(')


def test_the_scope_rule_is_written_once() -> None:
    copies = _lines_matching(_SCOPE_COPY, "access.py")
    assert not copies, "a copy of the scope rule (use command.access):\n" + "\n".join(copies)
