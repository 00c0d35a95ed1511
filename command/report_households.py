"""The after-action report's households section (不漏一户, issue 16): reach per town over time.

From the roster (a fold of `HouseholdsRegistered`) and the operation's
`HouseholdStatusSet` records up to the close, for the operation's scope:

* per town: households, households with a status at the close (reach), by
  status, and the minutes from the launch until the town's last household got
  its first status (its 100 %), or none;
* the same for the scope, with the minutes to 50 / 90 / 100 %;
* reach per town over time: the share of households with a status at the end
  of each of at most `POINTS` equal steps from the launch to the close;
* the households never reached at the close (no status), vulnerable first,
  then by code — without names or phones: the log holds none; the renderer
  adds them masked, or in full for the commander's XLSX.

A household counts as reached from its first status on; a correction changes
its status, never whether it was reached. Pure: times are epoch ms.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from command.events import HouseholdsRegistered, HouseholdStatusSet, Recorded
from command.grids import GridTree

__all__ = ["MILESTONES", "POINTS", "HouseholdsReport", "households_report", "roster_at"]

POINTS = 24
"""Steps of the reach-over-time table."""

MILESTONES = (50, 90, 100)

Row = tuple[str, str, str, str, int, tuple[str, ...]]
"""(code, leaf grid, central household, address, size, vulnerable groups)."""


@dataclass
class HouseholdsReport:
    """The section's figures; `never` has no names or phones (see the module)."""

    total: int
    reached: int
    by_status: dict[str, int]
    minutes_to: dict[int, float | None]
    towns: pd.DataFrame
    """grid, name, total, with_status (reached in any way), pct, minutes_to_100, one column per status."""
    series: pd.DataFrame
    """time, elapsed, then one column per town code: reach in percent at that time."""
    never: pd.DataFrame
    """code, micro_grid, micro_name, town, town_name, address, size, vulnerable."""
    people: dict[str, tuple[str, str]] = field(default_factory=dict)
    """household → (head, phone) masked, for every writer (filled by the renderer: the log has none)."""
    people_full: dict[str, tuple[str, str]] | None = None
    """The same in full, only for a reader allowed to see them (the commander's XLSX)."""


def _groups(v: object) -> tuple[str, ...]:
    if isinstance(v, (list, tuple)):
        return tuple(str(x) for x in v if x)
    return tuple(x for x in str(v or "").split(";") if x)


def roster_at(records: Iterable[Recorded], until: int) -> dict[str, Row]:
    """household → row, after every roster load up to `until` (a load replaces its grids whole)."""
    by_grid: dict[str, dict[str, Row]] = {}
    for rec in records:
        if rec.ms > until:
            break
        ev = rec.event
        if not isinstance(ev, HouseholdsRegistered):
            continue
        for g in ev.grids:
            by_grid[g] = {}
        for raw in ev.households:
            if len(raw) < 6:
                continue
            row: Row = (str(raw[0]), str(raw[1]), str(raw[2] or ""), str(raw[3] or ""), int(raw[4] or 0),
                        _groups(raw[5]))
            by_grid.setdefault(row[1], {})[row[0]] = row
    return {code: row for rows in by_grid.values() for code, row in rows.items()}


def _pct(n: int, total: int) -> float | None:
    return (n * 1000 // total) / 10 if total else None


def households_report(
    records: Sequence[Recorded], tree: GridTree, operation: str, scope: str, launched_at: int, end: int,
    statuses: Sequence[str],
) -> HouseholdsReport | None:
    """The section, or None when the scope has no household in the roster at the close."""
    roster = {c: r for c, r in roster_at(records, end).items()
              if r[1] in tree and tree.is_within(r[1], scope)}
    if not roster:
        return None
    first: dict[str, int] = {}
    last: dict[str, str] = {}
    for rec in records:
        if rec.ms > end:
            break
        ev = rec.event
        if isinstance(ev, HouseholdStatusSet) and ev.operation == operation and ev.household in roster:
            first.setdefault(ev.household, rec.ms)
            last[ev.household] = ev.status
    town_of = {c: tree.town_of(r[1]) or r[1] for c, r in roster.items()}
    towns = sorted(set(town_of.values()))
    rows = []
    members: dict[str, list[str]] = {town: [] for town in towns}
    for c, town in town_of.items():
        members[town].append(c)
    for town in towns:
        mine = members[town]
        reached = [c for c in mine if c in first]
        done_at = max(first[c] for c in reached) if reached and len(reached) == len(mine) else None
        by = {s: sum(1 for c in reached if last[c] == s) for s in statuses}
        rows.append({"grid": town, "name": tree[town].name if town in tree else town, "total": len(mine),
                     "with_status": len(reached), "pct": _pct(len(reached), len(mine)),
                     "minutes_to_100": round((done_at - launched_at) / 60_000, 1) if done_at is not None else None,
                     **by})
    town_df = pd.DataFrame(rows, columns=["grid", "name", "total", "with_status", "pct", "minutes_to_100", *statuses])
    times = sorted(first.values())
    minutes_to: dict[int, float | None] = {}
    for p in MILESTONES:
        need = -(-len(roster) * p // 100)
        minutes_to[p] = round((times[need - 1] - launched_at) / 60_000, 1) if need and len(times) >= need else None
    step = max(1, -(-(end - launched_at) // POINTS))
    per_town: dict[str, list[int]] = {town: [] for town in towns}
    for c, ms in first.items():
        per_town[town_of[c]].append(ms)
    for ms_list in per_town.values():
        ms_list.sort()
    sizes = Counter(town_of.values())
    series_rows = []
    for k in range(1, POINTS + 1):
        at = min(end, launched_at + k * step)
        row: dict[str, object] = {"time": at, "elapsed": at - launched_at}
        for town in towns:
            row[town] = _pct(bisect_right(per_town[town], at), sizes[town])
        series_rows.append(row)
        if at >= end:
            break
    never_rows = [
        {"code": c, "micro_grid": r[1], "micro_name": tree[r[1]].name, "town": town_of[c],
         "town_name": tree[town_of[c]].name if town_of[c] in tree else town_of[c], "address": r[3], "size": r[4],
         "vulnerable": ";".join(r[5])}
        for c, r in roster.items() if c not in first
    ]
    never_rows.sort(key=lambda x: (not x["vulnerable"], x["code"]))
    return HouseholdsReport(
        total=len(roster),
        reached=len(first),
        by_status={s: sum(1 for c in first if last[c] == s) for s in statuses},
        minutes_to=minutes_to,
        towns=town_df,
        series=pd.DataFrame(series_rows, columns=["time", "elapsed", *towns]),
        never=pd.DataFrame(never_rows, columns=["code", "micro_grid", "micro_name", "town", "town_name", "address",
                                                "size", "vulnerable"]),
    )
