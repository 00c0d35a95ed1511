"""The after-action report's tables of the operation's progress, one builder per section.

`command.report.build_report` calls them with one `Scope`: the overview, pace,
units (towns), slowest grids and silences, and every grid; the people's side —
secretaries, alerts, corrections and the activity log — is in
`command.report_response`. Pure: times are epoch ms, texts are keys with
parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from command.access import overlaps
from command.events import LevelChanged, ModeSwitched, Recorded
from command.fold import ControlState
from command.grids import GridTree, Level
from command.operations import Operation
from command.report_fold import (
    FIRST,
    GAP,
    GAP_FROM,
    GAP_TO,
    HOUR,
    LAST,
    MILESTONES,
    REACHED,
    TOTALS,
    N,
    OpFold,
    ReportFold,
    target_of,
)

__all__ = [
    "TOP",
    "Overview",
    "Pace",
    "Scope",
    "Slow",
    "Units",
    "grids",
    "overview",
    "pace",
    "pct",
    "related",
    "slow_grids",
    "units",
    "wartime_switches",
    "within",
]

TOP = 10
"""Rows of the slowest-grids and longest-silences tables."""


def within(tree: GridTree, grid: str, scope: str) -> bool:
    """A grid of the tree inside the scope (grids of an older registry are not)."""
    return grid in tree and tree.is_within(grid, scope)


def related(tree: GridTree, a: str, b: str) -> bool:
    """Two grids of the tree, one holding the other."""
    return a in tree and b in tree and overlaps(tree, a, b)


def pct(total: int, target: int | None) -> float | None:
    """Completion in percent, one decimal; None without a target."""
    return round(100.0 * total / target, 1) if target else None


def wartime_switches(
    control_records: Sequence[Recorded], tree: GridTree, scope: str, until: int
) -> list[tuple[Recorded, ModeSwitched]]:
    """Switches to wartime that brought grids of the scope into wartime, up to `until`."""
    out = []
    for rec in control_records:
        ev = rec.event
        if rec.ms > until:
            break
        if isinstance(ev, ModeSwitched) and ev.mode == "wartime" and related(tree, ev.scope, scope):
            out.append((rec, ev))
    return out


@dataclass(frozen=True)
class Scope:
    """What every section reads: the operation, its scope, and the aggregates folded for it."""

    fold: ReportFold
    control_records: Sequence[Recorded]
    st: ControlState
    tree: GridTree
    op: Operation
    of: OpFold
    end: int
    scope_grids: list[str]
    leaves: list[str]

    @property
    def scope(self) -> str:
        """The operation's scope."""
        return self.op.scope

    @property
    def counters(self) -> tuple[str, ...]:
        """The operation's counters, headline first."""
        return self.op.counters

    @property
    def head(self) -> str:
        """The headline counter."""
        return self.op.counters[0]

    def unit(self, g: str) -> list[Any] | None:
        """The folded aggregates of one grid, None where no report touched it."""
        return self.of.units.get(g)

    def total(self, g: str, c: str) -> int:
        """One counter's total on one grid."""
        u = self.of.units.get(g)
        return int(u[TOTALS + self.counters.index(c)]) if u is not None else 0

    def target(self, g: str, c: str) -> int | None:
        """One counter's target on one grid, None where none is set."""
        return target_of(self.op, g, c)



# -- overview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """What the overview section shows beside the totals."""

    incident: str | None
    level_at_launch: str | None
    level_at_end: str | None
    switch_at: int | None
    summary: pd.DataFrame


def overview(s: Scope) -> Overview:
    """Incident, levels at launch and at the end, the switch, and totals against targets."""
    op, scope = s.op, s.scope
    switches = wartime_switches(s.control_records, s.tree, scope, s.end)
    launch_level = None
    incident = None
    w = s.st.wartime.get(scope)
    for rec in s.control_records:
        if rec.ms > op.launched_at:
            break
        ev = rec.event
        if isinstance(ev, ModeSwitched) and ev.mode == "wartime" and scope in ev.grids:
            launch_level, incident = ev.level, ev.incident
        elif isinstance(ev, LevelChanged) and scope in ev.grids:
            launch_level = ev.level
    level_end = w.level if w is not None else launch_level
    if incident is None and w is not None:
        incident = w.incident
    switch_at = switches[0][0].ms if switches else (w.since if w is not None else None)
    summary = pd.DataFrame(
        [
            {
                "counter": c,
                "target": s.target(scope, c),
                "total": s.total(scope, c),
                "completion": pct(s.total(scope, c), s.target(scope, c)),
            }
            for c in s.counters
        ],
        columns=["counter", "target", "total", "completion"],
    )
    return Overview(incident, launch_level, level_end, switch_at, summary)


# -- pace -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pace:
    """The pace section: the series, its peak hour and the milestones."""

    pace: pd.DataFrame
    peak_hourly: dict[str, tuple[int, int | None]]
    reached: dict[int, int | None]
    width: int


def pace(s: Scope) -> Pace:
    """The cumulative series against the deadline's pace, the peak hour, the milestones."""
    op, of, end, counters = s.op, s.of, s.end, s.counters
    nc = len(counters)
    width = of.width
    keys = sorted(of.series)
    rows = []
    cum = [0] * nc
    head_target = s.target(s.scope, s.head)
    for k in keys:
        cell = of.series[k]
        for i in range(nc):
            cum[i] += cell[i]
        t_end = min(of.origin + (k + 1) * width, end) if keys else end
        row: dict[str, Any] = {"time": t_end, "elapsed": t_end - op.launched_at}
        for i, c in enumerate(counters):
            row[c] = cum[i]
            row[f"{c}_in_bucket"] = cell[i]
        rows.append(row)
    pace = pd.DataFrame(rows, columns=["time", "elapsed", *counters, *(f"{c}_in_bucket" for c in counters)])
    if op.deadline and head_target:
        span = max(op.deadline - op.launched_at, 1)
        pace["deadline_pace"] = [
            round(head_target * min(max((t - op.launched_at) / span, 0.0), 1.0)) for t in pace["time"]
        ]
    else:
        pace["deadline_pace"] = pd.Series([None] * len(pace), dtype="object")
    peak: dict[str, tuple[int, int | None]] = {}
    for i, c in enumerate(counters):
        best, best_at = 0, None
        if keys:
            per = max(1, HOUR // width) if width <= HOUR else 1
            lo = 0
            run = 0
            vals = {k: of.series[k][i] for k in keys}
            for k in keys:
                run += vals[k]
                while keys[lo] <= k - per:
                    run -= vals[keys[lo]]
                    lo += 1
                rate = run if width <= HOUR else run * HOUR // width
                if rate > best:
                    best, best_at = rate, of.origin + keys[lo] * width
        peak[c] = (best, best_at)
    su = s.unit(s.scope)
    reached = {p: (su[REACHED + k] if su is not None else None) for k, p in enumerate(MILESTONES)}
    return Pace(pace, peak, reached, width)


# -- by town (or by child of the scope when the scope lies inside a town) -----------------


@dataclass(frozen=True)
class Units:
    """The by-unit table, and its rows for the analysis."""

    towns: pd.DataFrame
    unit_label: str
    rows: list[dict[str, Any]]


def units(s: Scope) -> Units:
    """One row per town (or per child of a scope inside a town): totals, reports, time to 90 %."""
    tree, scope, op, counters, head = s.tree, s.scope, s.op, s.counters, s.head
    if tree[scope].level == Level.COUNTY:
        rows_units = [t for t in tree.towns if t in s.scope_grids]
        unit_label = "town"
    else:
        rows_units = list(tree.children[scope]) or [scope]
        unit_label = tree[rows_units[0]].level.value if rows_units else "town"
    town_rows: list[dict[str, Any]] = []
    for g in rows_units:
        u = s.unit(g)
        tgt = s.target(g, head)
        r90 = u[REACHED + 1] if u is not None else None
        row: dict[str, Any] = {"grid": g, "name": tree[g].name}
        for c in counters:
            row[f"{c}_target"] = s.target(g, c)
            row[c] = s.total(g, c)
        row.update({
            "completion": pct(s.total(g, head), tgt),
            "reports": u[N] if u is not None else 0,
            "first_report": u[FIRST] if u is not None else None,
            "last_report": u[LAST] if u is not None else None,
            "reached_90": r90,
            "time_to_90": (r90 - op.launched_at) if r90 is not None else None,
        })
        town_rows.append(row)
    towns = pd.DataFrame(town_rows, columns=[
        "grid", "name", *[x for c in counters for x in (f"{c}_target", c)],
        "completion", "reports", "first_report", "last_report", "reached_90", "time_to_90",
    ])
    return Units(towns, unit_label, town_rows)


# -- slowest grids and longest silences (small grids: each has a secretary) ----------------


@dataclass(frozen=True)
class Slow:
    """The slowest grids and longest silences, and every silence for the analysis."""

    slowest: pd.DataFrame
    silences: pd.DataFrame
    silence_rows: list[dict[str, Any]]


def slow_grids(s: Scope) -> Slow:
    """The small grids furthest from their target, and the longest silences below target."""
    tree, op, head, end = s.tree, s.op, s.head, s.end
    smalls = [g for g in s.scope_grids if tree.grids[g].level == Level.SMALL] or s.leaves
    sec_now = s.st.secretaries
    slow_rows: list[dict[str, Any]] = []
    for g in smalls:
        u = s.unit(g)
        tgt = s.target(g, head)
        if not tgt:
            continue
        done = s.total(g, head)
        r90 = u[REACHED + 1] if u is not None else None
        r100 = u[REACHED + 2] if u is not None else None
        slow_rows.append({
            "grid": g, "name": tree[g].name, "town": tree.town_of(g),
            "secretary": sec_now[g].name if g in sec_now else None,
            "target": tgt, "total": done, "completion": pct(done, tgt),
            "reached_90": r90, "time_to_90": (r90 - op.launched_at) if r90 is not None else None,
            "reached_100": r100, "last_report": u[LAST] if u is not None else None,
        })
    slow_rows.sort(key=lambda r: (
        r["completion"] if r["completion"] is not None else 0.0,
        -(r["reached_90"] if r["reached_90"] is not None else end + 1),
        r["grid"],
    ))
    slowest = pd.DataFrame(slow_rows[:TOP], columns=[
        "grid", "name", "town", "secretary", "target", "total", "completion", "reached_90",
        "time_to_90", "reached_100", "last_report",
    ])
    sil_rows: list[dict[str, Any]] = []
    for g in smalls:
        u = s.unit(g)
        tgt = s.target(g, head)
        sil: tuple[int, int | None, int | None] = (
            (u[GAP], u[GAP_FROM], u[GAP_TO]) if u is not None and u[GAP_FROM] is not None else (0, None, None)
        )
        last = u[LAST] if u is not None else None
        if tgt is None or s.total(g, head) < tgt:
            begin = last if last is not None else op.launched_at
            if end - begin > sil[0]:
                sil = (end - begin, begin, None)
        if sil[1] is not None and sil[0] > 0:
            sil_rows.append({
                "grid": g, "name": tree[g].name, "town": tree.town_of(g),
                "from": sil[1], "to": sil[2], "duration": sil[0],
                "ongoing": sil[2] is None,
            })
    sil_rows.sort(key=lambda r: (-r["duration"], r["grid"]))
    silences = pd.DataFrame(sil_rows[:TOP], columns=["grid", "name", "town", "from", "to", "duration", "ongoing"])
    return Slow(slowest, silences, sil_rows)


# -- every grid of the scope (the CSV) ----------------------------------------------------


def grids(s: Scope) -> pd.DataFrame:
    """One row per grid of the scope: targets, totals, reports, time to 90 %, silence, secretary."""
    tree, op, counters, head = s.tree, s.op, s.counters, s.head
    sec_now = s.st.secretaries
    grid_rows: list[dict[str, Any]] = []
    for g in s.scope_grids:
        gr = tree.grids[g]
        u = s.unit(g)
        row: dict[str, Any] = {"grid": g, "name": gr.name, "level": gr.level.value, "kind": gr.kind.value,
               "parent": gr.parent, "town": tree.town_of(g)}
        for c in counters:
            row[f"{c}_target"] = s.target(g, c)
            row[c] = s.total(g, c)
        r90 = u[REACHED + 1] if u is not None else None
        row.update({
            "completion": pct(s.total(g, head), s.target(g, head)),
            "reports": u[N] if u is not None else 0,
            "first_report": u[FIRST] if u is not None else None,
            "last_report": u[LAST] if u is not None else None,
            "reached_90": r90,
            "time_to_90": (r90 - op.launched_at) if r90 is not None else None,
            "longest_silence": u[GAP] if u is not None and u[GAP_FROM] is not None else None,
            "secretary": sec_now[g].name if g in sec_now else None,
        })
        grid_rows.append(row)
    return pd.DataFrame(grid_rows, columns=[
        "grid", "name", "level", "kind", "parent", "town",
        *[x for c in counters for x in (f"{c}_target", c)],
        "completion", "reports", "first_report", "last_report", "reached_90", "time_to_90",
        "longest_silence", "secretary",
    ])
