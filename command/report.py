"""The after-action report (复盘报告): one fold of the log, then tables (pandas).

Two steps, both pure:

1. `ReportFold` folds the merged log (control and report streams in id order)
   into per-operation aggregates small enough to keep: for every grid a report
   touched (inside the operation's scope) its totals, number of reports, first
   and last report, longest silence while below target and the instants it
   reached 50/90/100 % of its headline target; the scope's cumulative series in
   buckets of adaptive width; per secretary tenure (small grid + since) what was
   reported while they held it, by day; every correction; reports per actor.
   The control state it needs (targets, who is secretary where) is folded
   alongside with `command.fold.ControlState`. `to_plain` / `from_plain` make it
   storable, so the Redis side can keep an index and fold only the tail:
   folding a log in one go or in pieces gives the same aggregates.
2. `build_report(fold, control_records, operation, as_of)` turns them into a
   `Report`: scalars and DataFrames for each section of the issue, structured
   after the HSEEP after-action report (overview, analysis — what went well,
   what lagged — and an improvement plan to fill in). Nothing is rendered here:
   times are epoch ms, texts are keys with parameters; `dashboard.reports`
   localises and renders HTML, PDF, XLSX and CSV.

A report is a function of the log: no clock is read, every table is sorted
explicitly, and `as_of` (the log's last event) stands for "now".
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd

from command import bounds
from command.events import (
    AlertAcknowledged,
    AlertRaised,
    LevelChanged,
    ModeSwitched,
    OperationClosed,
    OperationLaunched,
    ProgressReported,
    Recorded,
    SecretaryAppointed,
)
from command.fold import ControlState
from command.grids import GridTree, Level
from command.operations import COUNTERS, Operation

LOCAL = timezone(timedelta(hours=8))
"""Asia/Shanghai, fixed: report dates never depend on the machine's zone."""

MILESTONES = (50, 90, 100)
BUCKET_WIDTHS = (
    100, 200, 1_000, 2_000, 10_000, 20_000, 60_000, 120_000, 600_000, 1_200_000,
    3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000,
)
"""Series bucket widths in ms; each a multiple of the one before, so buckets merge exactly."""
MAX_BUCKETS = 3_000
HOUR = 3_600_000
TOP = 10

# Unit record layout (a plain list so that it stores compactly): per grid of the scope.
N, FIRST, LAST, GAP, GAP_FROM, GAP_TO, REACHED = 0, 1, 2, 3, 4, 5, 6
TOTALS = REACHED + len(MILESTONES)


_DAYS: dict[int, str] = {}


def local_day(ms: int) -> str:
    """The Asia/Shanghai calendar date of an instant, ISO."""
    n = (ms + 8 * HOUR) // 86_400_000
    day = _DAYS.get(n)
    if day is None:
        day = _DAYS[n] = datetime.fromtimestamp(ms / 1000, LOCAL).date().isoformat()
    return day


def _target_of(op: Operation, grid: str, counter: str) -> int | None:
    t = op.targets.get(grid, {}).get(counter)
    return int(t) if t else None


class OpFold:
    """Aggregates of one operation, folded report by report."""

    __slots__ = (
        "_paths",
        "actors",
        "corrections",
        "counters",
        "launched_at",
        "operation",
        "origin",
        "reports",
        "scope",
        "series",
        "tenures",
        "units",
        "width",
    )

    def __init__(self, operation: str, scope: str, counters: Sequence[str], launched_at: int) -> None:
        self.operation = operation
        self.scope = scope
        self.counters = tuple(counters)
        self.launched_at = launched_at
        self.origin = launched_at
        self.width = BUCKET_WIDTHS[0]
        self.units: dict[str, list[Any]] = {}
        self.series: dict[int, list[int]] = {}
        self.tenures: dict[str, list[Any]] = {}
        self.corrections: list[list[Any]] = []
        self.actors: dict[str, int] = {}
        self.reports = 0
        self._paths: dict[str, tuple[tuple[list[Any], int | None], ...]] = {}

    # -- folding -------------------------------------------------------------------

    def _units_on(self, control: ControlState, grid: str) -> tuple[tuple[list[Any], int | None], ...]:
        """The units a report on `grid` moves (it and its ancestors up to the scope), with their targets."""
        p = self._paths.get(grid)
        if p is None:
            tree = control.tree
            op = control.operations.get(self.operation)
            chain: list[str] = []
            if tree is not None:
                for g in tree.path(grid):
                    chain.append(g)
                    if g == self.scope:
                        break
                else:
                    chain = []  # outside the scope: no unit of this operation moves
            nc = len(self.counters)
            head = self.counters[0]
            out = []
            for g in chain:
                u = self.units.get(g)
                if u is None:
                    u = self.units[g] = [0, None, None, 0, None, None, None, None, None, *([0] * nc)]
                out.append((u, _target_of(op, g, head) if op is not None else None))
            p = self._paths[grid] = tuple(out)
        return p

    def add(
        self,
        control: ControlState,
        grid: str,
        counts: Mapping[str, int],
        ms: int,
        actor: str,
        reason: str = "",
        report_id: str = "",
        small: str | None = None,
    ) -> None:
        """One report: every unit of its path, the series, the secretary's tenure, corrections."""
        if control.tree is None or self.operation not in control.operations:
            return
        counters = self.counters
        nc = len(counters)
        idx = [counters.index(c) if c in counters else -1 for c in counts]
        vals = list(counts.values())
        pairs = [(TOTALS + i, n) for i, n in zip(idx, vals, strict=True) if i >= 0]
        correction = any(v < 0 for v in vals)
        self.reports += 1
        self.actors[actor] = self.actors.get(actor, 0) + 1
        launched = self.launched_at
        for u, target in self._units_on(control, grid):
            last = u[LAST]
            if last is None:
                u[FIRST] = ms
                prev = launched
            else:
                prev = last
            if ms - prev > u[GAP] and (target is None or u[TOTALS] < target):
                u[GAP] = ms - prev
                u[GAP_FROM] = prev
                u[GAP_TO] = ms
            u[N] += 1
            u[LAST] = ms
            for j, n in pairs:
                u[j] += n
            if target and u[REACHED + 2] is None:
                now = u[TOTALS] * 100
                if u[REACHED] is None and now >= target * 50:
                    u[REACHED] = ms
                if u[REACHED + 1] is None and now >= target * 90:
                    u[REACHED + 1] = ms
                if now >= target * 100:
                    u[REACHED + 2] = ms
        self._bucket(ms, idx, vals)
        if small is not None:
            sec = control.secretaries.get(small)
            if sec is not None:
                key = f"{small}@{sec.since}"
                t = self.tenures.get(key)
                if t is None:
                    t = self.tenures[key] = [0, ms, ms, 0, {}, *([0] * nc)]
                t[0] += 1
                t[2] = ms
                today = local_day(ms)
                day = t[4].get(today)
                if day is None:
                    day = t[4][today] = [0, ms, *([0] * nc)]
                day[0] += 1
                for j, n in pairs:
                    t[j - TOTALS + 5] += n
                    day[j - TOTALS + 2] += n
                if correction:
                    t[3] += 1
        if correction:
            self.corrections.append([ms, grid, actor, dict(counts), reason, report_id])

    def _bucket(self, ms: int, idx: list[int], vals: list[int]) -> None:
        b = (ms - self.origin) // self.width
        while b >= MAX_BUCKETS and self.width != BUCKET_WIDTHS[-1]:
            wider = BUCKET_WIDTHS[BUCKET_WIDTHS.index(self.width) + 1]
            merged: dict[int, list[int]] = {}
            for k, cell in self.series.items():
                nk = k * self.width // wider
                m = merged.get(nk)
                if m is None:
                    merged[nk] = list(cell)
                else:
                    for i, v in enumerate(cell):
                        m[i] += v
            self.series = merged
            self.width = wider
            b = (ms - self.origin) // self.width
        cur = self.series.get(b)
        if cur is None:
            cur = self.series[b] = [0] * len(self.counters)
        for i, n in zip(idx, vals, strict=True):
            if i >= 0:
                cur[i] += n

    # -- storage -------------------------------------------------------------------

    def to_plain(self) -> dict[str, Any]:
        """JSON-ready (lists, dicts with string keys)."""
        return {
            "operation": self.operation,
            "scope": self.scope,
            "counters": list(self.counters),
            "launched_at": self.launched_at,
            "origin": self.origin,
            "width": self.width,
            "units": self.units,
            "series": [[k, v] for k, v in self.series.items()],
            "tenures": self.tenures,
            "corrections": self.corrections,
            "actors": self.actors,
            "reports": self.reports,
        }

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> OpFold:
        """Inverse of `to_plain`."""
        f = cls(data["operation"], data["scope"], data["counters"], int(data["launched_at"]))
        f.origin = int(data["origin"])
        f.width = int(data["width"])
        f.units = {g: list(u) for g, u in data["units"].items()}
        f.series = {int(k): list(v) for k, v in data["series"]}
        f.tenures = {k: [*v[:4], {d: list(x) for d, x in v[4].items()}, *v[5:]] for k, v in data["tenures"].items()}
        f.corrections = [list(c) for c in data["corrections"]]
        f.actors = dict(data["actors"])
        f.reports = int(data["reports"])
        return f


class ReportFold:
    """The whole log folded for reports: control state plus one `OpFold` per operation."""

    def __init__(self, control: ControlState | None = None) -> None:
        self.control = control if control is not None else ControlState()
        self.ops: dict[str, OpFold] = {}
        self._small: dict[str, str | None] = {}
        self._tree: GridTree | None = None

    def apply(self, rec: Recorded) -> None:
        """Fold any recorded event."""
        ev = rec.event
        if isinstance(ev, ProgressReported):
            # An old report no command accepts is skipped, as by every reader (typed decoders refuse it).
            if bounds.readable_counts(ev.counts) is not None:
                self.add_report(ev.operation, ev.grid, ev.counts, rec.ms, rec.actor, ev.reason, ev.report_id)
        else:
            self.apply_control(rec)

    def apply_control(self, rec: Recorded) -> None:
        """A control event: into the control state; a launch opens an operation's aggregates."""
        self.control.apply(rec)
        ev = rec.event
        if isinstance(ev, OperationLaunched) and ev.operation not in self.ops:
            self.ops[ev.operation] = OpFold(ev.operation, ev.scope, COUNTERS[ev.kind], rec.ms)

    def small_of(self, grid: str) -> str | None:
        """The small grid a reporting grid belongs to (itself if small): its secretary's unit."""
        tree = self.control.tree
        if tree is not self._tree:
            self._small, self._tree = {}, tree
        if grid in self._small:
            return self._small[grid]
        out = None
        if tree is not None and grid in tree:
            for g in tree.path(grid):
                if tree.grids[g].level == Level.SMALL:
                    out = g
                    break
        self._small[grid] = out
        return out

    def add_report(
        self, operation: str, grid: str, counts: Mapping[str, int], ms: int, actor: str,
        reason: str = "", report_id: str = "",
    ) -> None:
        """The fast path of `apply` for a report (callers that decode entries themselves)."""
        f = self.ops.get(operation)
        if f is None or self.control.tree is None or grid not in self.control.tree:
            return
        f.add(self.control, grid, counts, ms, actor, reason, report_id, self.small_of(grid))

    def to_plain(self) -> dict[str, Any]:
        """The aggregates (the control state is re-folded from the control stream, not stored)."""
        return {"ops": {k: f.to_plain() for k, f in self.ops.items()}}

    @classmethod
    def from_plain(cls, data: Mapping[str, Any], control: ControlState) -> ReportFold:
        """Aggregates stored at some position, with the control state folded to the same position."""
        rf = cls(control)
        rf.ops = {k: OpFold.from_plain(v) for k, v in data.get("ops", {}).items()}
        return rf


def fold_records(records: Iterable[Recorded]) -> ReportFold:
    """Fold a merged run of records from scratch."""
    rf = ReportFold()
    for rec in records:
        rf.apply(rec)
    return rf


# -- the report ------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One sentence of the analysis, as a key with parameters (localised by the renderer)."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelineItem:
    """A decisive event of the operation; `count` > 1 when several alike fell in one minute."""

    ms: int
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    count: int = 1


@dataclass
class Report:
    """Everything the renderers need; times in epoch ms, durations in ms."""

    operation: str
    name: str
    kind: str
    scope: str
    scope_name: str
    counters: tuple[str, ...]
    as_of: int
    state: str
    incident: str | None
    level_at_launch: str | None
    level_at_end: str | None
    switch_at: int | None
    launched_at: int
    launched_by: str
    closed_at: int | None
    deadline: int | None
    duration_ms: int
    reports: int
    reporters: int
    grids_reporting: int
    leaf_grids: int
    summary: pd.DataFrame
    secretaries: dict[str, Any]
    vacancies: pd.DataFrame
    tenures: pd.DataFrame
    pace: pd.DataFrame
    peak_hourly: dict[str, tuple[int, int | None]]
    reached: dict[int, int | None]
    series_width: int
    towns: pd.DataFrame
    unit_label: str
    slowest: pd.DataFrame
    silences: pd.DataFrame
    alerts_by_kind: pd.DataFrame
    alerts: pd.DataFrame
    ack_median_ms: float | None
    ack_worst_ms: int | None
    corrections: pd.DataFrame
    correction_reasons: pd.DataFrame
    refused: int | None
    activity: pd.DataFrame
    grids: pd.DataFrame
    went_well: list[Finding]
    lagged: list[Finding]
    improvement: pd.DataFrame
    timeline: list[TimelineItem]


def _within(tree: GridTree, grid: str, scope: str) -> bool:
    return grid in tree and tree.is_within(grid, scope)


def _pct(total: int, target: int | None) -> float | None:
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
        if isinstance(ev, ModeSwitched) and ev.mode == "wartime" and (
            _within(tree, ev.scope, scope) or _within(tree, scope, ev.scope)
        ):
            out.append((rec, ev))
    return out


def build_report(
    fold: ReportFold, control_records: Sequence[Recorded], operation: str, as_of: int,
    refused: int | None = None,
) -> Report:
    """The report of one operation as of `as_of` (the log's last event)."""
    st = fold.control
    tree = st.tree
    op = st.operations.get(operation)
    if tree is None or op is None:
        raise KeyError(operation)
    of = fold.ops.get(operation) or OpFold(operation, op.scope, op.counters, op.launched_at)
    counters = op.counters
    head = counters[0]
    scope = op.scope
    end = op.closed_at if op.closed_at is not None else as_of
    scope_grids = list(tree.subtree(scope))
    leaves = [g for g in scope_grids if not tree.children[g]]

    # -- overview -------------------------------------------------------------------
    switches = wartime_switches(control_records, tree, scope, end)
    launch_level = None
    incident = None
    level_end = None
    w = st.wartime.get(scope)
    for rec in control_records:
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

    def unit(g: str) -> list[Any] | None:
        return of.units.get(g)

    def total(g: str, c: str) -> int:
        u = unit(g)
        return int(u[TOTALS + counters.index(c)]) if u is not None else 0

    summary = pd.DataFrame(
        [
            {
                "counter": c,
                "target": _target_of(op, scope, c),
                "total": total(scope, c),
                "completion": _pct(total(scope, c), _target_of(op, scope, c)),
            }
            for c in counters
        ],
        columns=["counter", "target", "total", "completion"],
    )

    # -- secretaries ----------------------------------------------------------------
    installed: list[tuple[str, str, int]] = []
    vacancy_at: dict[str, int] = {}
    appointed: dict[str, tuple[str, int, str]] = {}
    released_at: dict[str, int] = {}
    for rec in control_records:
        if rec.ms > end:
            break
        ev = rec.event
        if isinstance(ev, ModeSwitched):
            if ev.mode == "wartime":
                for g, person in ev.installed:
                    if _within(tree, g, scope):
                        installed.append((g, person, rec.ms))
                for g in ev.vacancies:
                    if _within(tree, g, scope):
                        vacancy_at[g] = rec.ms
                        appointed.pop(g, None)
            else:
                for g in ev.released:
                    if _within(tree, g, scope):
                        released_at[g] = rec.ms
        elif isinstance(ev, SecretaryAppointed) and _within(tree, ev.grid, scope):
            appointed[ev.grid] = (ev.person, rec.ms, rec.actor)
    vac_rows: list[dict[str, Any]] = []
    for g in sorted(vacancy_at):
        a = appointed.get(g)
        vac_rows.append({
            "grid": g, "name": tree[g].name, "town": tree.town_of(g),
            "raised_at": vacancy_at[g], "filled_at": a[1] if a else None,
            "person": a[0] if a else None, "appointed_by": a[2] if a else None,
            "time_to_fill": (a[1] - vacancy_at[g]) if a else None,
        })
    vacancies = pd.DataFrame(vac_rows, columns=[
        "grid", "name", "town", "raised_at", "filled_at", "person", "appointed_by", "time_to_fill",
    ])
    unfilled = [r["grid"] for r in vac_rows if r["filled_at"] is None]
    all_filled_at = max((r["filled_at"] for r in vac_rows), default=None) if not unfilled else None
    secretaries = {
        "installed_at_switch": len(installed),
        "vacancies_at_switch": len(vacancy_at),
        "appointed": len(vac_rows) - len(unfilled),
        "still_vacant": len(unfilled),
        "all_filled_at": all_filled_at if vac_rows else None,
        "time_to_fill_all": (all_filled_at - switch_at) if (vac_rows and all_filled_at and switch_at) else None,
        "small_grids": sum(1 for g in scope_grids if tree.grids[g].level == Level.SMALL),
    }

    # tenures (who held which small grid from when to when) and what they did
    tenure_rows: list[dict[str, Any]] = []
    holders: list[tuple[str, str, bool, int, int | None]] = []
    for g, person, ms in installed:
        holders.append((g, person, False, ms, released_at.get(g) if released_at.get(g, -1) >= ms else None))
    for g, (person, ms, _) in appointed.items():
        holders.append((g, person, True, ms, released_at.get(g) if released_at.get(g, -1) >= ms else None))
    holders.sort(key=lambda h: (h[0], h[3]))
    nc = len(counters)
    for g, person, acting, since, until in holders:
        t = of.tenures.get(f"{g}@{since}")
        row = {
            "grid": g, "name": tree[g].name, "town": tree.town_of(g), "secretary": person,
            "acting": acting, "since": since, "until": until,
            "reports": t[0] if t else 0, "first_report": t[1] if t else None,
            "last_report": t[2] if t else None, "corrections": t[3] if t else 0,
        }
        for i, c in enumerate(counters):
            row[c] = t[5 + i] if t else 0
        tenure_rows.append(row)
    tenures = pd.DataFrame(tenure_rows, columns=[
        "grid", "name", "town", "secretary", "acting", "since", "until", "reports",
        "first_report", "last_report", "corrections", *counters,
    ])

    # -- pace -----------------------------------------------------------------------
    width = of.width
    keys = sorted(of.series)
    rows = []
    cum = [0] * nc
    head_target = _target_of(op, scope, head)
    for k in keys:
        cell = of.series[k]
        for i in range(nc):
            cum[i] += cell[i]
        t_end = min(of.origin + (k + 1) * width, end) if keys else end
        row = {"time": t_end, "elapsed": t_end - op.launched_at}
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
    su = unit(scope)
    reached = {p: (su[REACHED + k] if su is not None else None) for k, p in enumerate(MILESTONES)}

    # -- by town (or by child of the scope when the scope lies inside a town) ---------
    if tree[scope].level == Level.COUNTY:
        rows_units = [t for t in tree.towns if t in scope_grids]
        unit_label = "town"
    else:
        rows_units = list(tree.children[scope]) or [scope]
        unit_label = tree[rows_units[0]].level.value if rows_units else "town"
    town_rows: list[dict[str, Any]] = []
    for g in rows_units:
        u = unit(g)
        tgt = _target_of(op, g, head)
        r90 = u[REACHED + 1] if u is not None else None
        row = {"grid": g, "name": tree[g].name}
        for c in counters:
            row[f"{c}_target"] = _target_of(op, g, c)
            row[c] = total(g, c)
        row.update({
            "completion": _pct(total(g, head), tgt),
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

    # -- slowest grids and longest silences (small grids: each has a secretary) --------
    smalls = [g for g in scope_grids if tree.grids[g].level == Level.SMALL] or leaves
    sec_now = st.secretaries
    slow_rows: list[dict[str, Any]] = []
    for g in smalls:
        u = unit(g)
        tgt = _target_of(op, g, head)
        if not tgt:
            continue
        done = total(g, head)
        r90 = u[REACHED + 1] if u is not None else None
        r100 = u[REACHED + 2] if u is not None else None
        slow_rows.append({
            "grid": g, "name": tree[g].name, "town": tree.town_of(g),
            "secretary": sec_now[g].name if g in sec_now else None,
            "target": tgt, "total": done, "completion": _pct(done, tgt),
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
        u = unit(g)
        tgt = _target_of(op, g, head)
        sil: tuple[int, int | None, int | None] = (
            (u[GAP], u[GAP_FROM], u[GAP_TO]) if u is not None and u[GAP_FROM] is not None else (0, None, None)
        )
        last = u[LAST] if u is not None else None
        if tgt is None or total(g, head) < tgt:
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

    # -- alerts ---------------------------------------------------------------------
    start = switch_at if switch_at is not None else op.launched_at
    al = [
        a for a in st.alerts.values()
        if (a.operation == operation)
        or (a.operation is None and _within(tree, a.grid, scope) and start <= a.raised_at <= end)
    ]
    al.sort(key=lambda a: (a.raised_at, a.id))
    alert_rows = [{
        "alert": a.id, "kind": a.kind, "grid": a.grid,
        "name": tree[a.grid].name if a.grid in tree else a.grid,
        "raised_at": a.raised_at, "acked_at": a.acked_at, "acked_by": a.acked_by,
        "time_to_ack": (a.acked_at - a.raised_at) if a.acked_at is not None else None,
        "cleared_at": a.cleared_at,
    } for a in al]
    alerts = pd.DataFrame(alert_rows, columns=[
        "alert", "kind", "grid", "name", "raised_at", "acked_at", "acked_by", "time_to_ack", "cleared_at",
    ])
    kind_rows: list[dict[str, Any]] = []
    for kind in sorted({a.kind for a in al}):
        acks = sorted(a.acked_at - a.raised_at for a in al if a.kind == kind and a.acked_at is not None)
        kind_rows.append({
            "kind": kind,
            "raised": sum(1 for a in al if a.kind == kind),
            "acknowledged": len(acks),
            "unacknowledged": sum(1 for a in al if a.kind == kind and a.acked_at is None),
            "cleared": sum(1 for a in al if a.kind == kind and a.cleared_at is not None),
            "median_ack": float(statistics.median(acks)) if acks else None,
            "worst_ack": acks[-1] if acks else None,
        })
    alerts_by_kind = pd.DataFrame(kind_rows, columns=[
        "kind", "raised", "acknowledged", "unacknowledged", "cleared", "median_ack", "worst_ack",
    ])
    all_acks = sorted(a.acked_at - a.raised_at for a in al if a.acked_at is not None)
    ack_median = float(statistics.median(all_acks)) if all_acks else None
    ack_worst = all_acks[-1] if all_acks else None

    # -- corrections ----------------------------------------------------------------
    corr_rows: list[dict[str, Any]] = []
    for ms, grid, actor, counts, reason, rid in sorted(of.corrections, key=lambda c: (c[0], c[1], c[5])):
        row = {"time": ms, "grid": grid, "name": tree[grid].name if grid in tree else grid,
               "actor": actor, "reason": reason, "report_id": rid}
        for c in counters:
            row[c] = int(counts.get(c, 0))
        corr_rows.append(row)
    corrections = pd.DataFrame(corr_rows, columns=["time", "grid", "name", "actor", *counters, "reason", "report_id"])
    reasons: dict[str, int] = {}
    for r in corr_rows:
        reasons[r["reason"].strip()] = reasons.get(r["reason"].strip(), 0) + 1
    correction_reasons = pd.DataFrame(
        [[k, v] for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))],
        columns=["reason", "count"],
    )

    # -- activity log per secretary (ICS 214) ---------------------------------------
    act: list[dict[str, Any]] = []

    def log(h: tuple[str, str, bool, int, int | None], ms: int, key: str, **params: Any) -> None:
        act.append({"secretary": h[1], "grid": h[0], "name": tree[h[0]].name, "time": ms,
                    "activity": key, "params": params})

    corr_by_small: dict[str, list[list[Any]]] = {}
    for corr in of.corrections:
        sm = fold.small_of(corr[1])
        if sm is not None:
            corr_by_small.setdefault(sm, []).append(corr)
    for h in holders:
        g, person, acting, since, until = h
        stop = until if until is not None else end
        log(h, since, "appointed" if acting else "installed",
            by=appointed[g][2] if acting and g in appointed else "")
        t = of.tenures.get(f"{g}@{since}")
        if t is not None:
            log(h, t[1], "first_report")
            for day in sorted(t[4]):
                d = t[4][day]
                log(h, d[1], "daily", day=day, reports=d[0],
                    counts={c: d[2 + i] for i, c in enumerate(counters) if d[2 + i]})
        for corr in corr_by_small.get(g, []):
            if since <= corr[0] <= stop:
                log(h, corr[0], "corrected", counts=corr[3], reason=corr[4], actor=corr[2])
        u = unit(g)
        if u is not None:
            for k, p in enumerate(MILESTONES):
                ms = u[REACHED + k]
                if ms is not None and since <= ms <= stop:
                    log(h, ms, "reached", pct=p)
        for alert in al:
            if alert.grid == g and since <= alert.raised_at <= stop:
                log(h, alert.raised_at, "alert", kind=alert.kind)
        if t is not None:
            log(h, t[2], "last_report", reports=t[0],
                counts={c: t[5 + i] for i, c in enumerate(counters) if t[5 + i]})
        if until is not None:
            log(h, until, "released")
    act.sort(key=lambda r: (r["grid"], r["time"], r["activity"]))
    activity = pd.DataFrame(act, columns=["secretary", "grid", "name", "time", "activity", "params"])

    # -- every grid of the scope (the CSV) ----------------------------------------------
    grid_rows: list[dict[str, Any]] = []
    for g in scope_grids:
        gr = tree.grids[g]
        u = unit(g)
        row = {"grid": g, "name": gr.name, "level": gr.level.value, "kind": gr.kind.value,
               "parent": gr.parent, "town": tree.town_of(g)}
        for c in counters:
            row[f"{c}_target"] = _target_of(op, g, c)
            row[c] = total(g, c)
        r90 = u[REACHED + 1] if u is not None else None
        row.update({
            "completion": _pct(total(g, head), _target_of(op, g, head)),
            "reports": u[N] if u is not None else 0,
            "first_report": u[FIRST] if u is not None else None,
            "last_report": u[LAST] if u is not None else None,
            "reached_90": r90,
            "time_to_90": (r90 - op.launched_at) if r90 is not None else None,
            "longest_silence": u[GAP] if u is not None and u[GAP_FROM] is not None else None,
            "secretary": sec_now[g].name if g in sec_now else None,
        })
        grid_rows.append(row)
    grids = pd.DataFrame(grid_rows, columns=[
        "grid", "name", "level", "kind", "parent", "town",
        *[x for c in counters for x in (f"{c}_target", c)],
        "completion", "reports", "first_report", "last_report", "reached_90", "time_to_90",
        "longest_silence", "secretary",
    ])

    # -- analysis (HSEEP: strengths and areas for improvement) --------------------------
    well: list[Finding] = []
    lag: list[Finding] = []
    comp = _pct(total(scope, head), head_target)
    r100 = reached[100]
    if comp is not None:
        if comp >= 100 and r100 is not None:
            if op.deadline is None or r100 <= op.deadline:
                well.append(Finding("target_met", {"counter": head, "at": r100,
                                                   "elapsed": r100 - op.launched_at}))
            else:
                lag.append(Finding("target_late", {"counter": head, "late": r100 - op.deadline}))
        else:
            lag.append(Finding("target_short", {"counter": head, "pct": comp,
                                                "missing": (head_target or 0) - total(scope, head)}))
    if vac_rows:
        if not unfilled and secretaries["time_to_fill_all"] is not None:
            well.append(Finding("vacancies_filled", {"n": len(vac_rows),
                                                     "within": secretaries["time_to_fill_all"]}))
        else:
            lag.append(Finding("vacancies_open", {"n": len(unfilled), "of": len(vac_rows)}))
    elif installed:
        well.append(Finding("no_vacancy", {"n": len(installed)}))
    if town_rows:
        done90 = [r for r in town_rows if r["reached_90"] is not None]
        if done90:
            fastest = min(done90, key=lambda r: (r["time_to_90"], r["grid"]))
            well.append(Finding("fastest_unit", {"grid": fastest["grid"], "name": fastest["name"],
                                                 "elapsed": fastest["time_to_90"]}))
        behind = sorted((r for r in town_rows if r["reached_90"] is None and r["completion"] is not None),
                        key=lambda r: (r["completion"], r["grid"]))
        if behind:
            lag.append(Finding("units_below_90", {"n": len(behind), "of": len(town_rows),
                                                  "names": [r["name"] for r in behind[:5]]}))
    if all_acks:
        (well if ack_median is not None and ack_median <= 15 * 60_000 else lag).append(
            Finding("ack_median", {"median": ack_median, "worst": ack_worst}))
    unacked = [a for a in al if a.acked_at is None]
    if unacked:
        lag.append(Finding("alerts_unacked", {"n": len(unacked), "of": len(al)}))
    if sil_rows:
        s0 = sil_rows[0]
        lag.append(Finding("longest_silence", {"grid": s0["grid"], "name": s0["name"], "duration": s0["duration"]}))
    if corr_rows:
        lag.append(Finding("corrections", {"n": len(corr_rows)}))
    improvement = pd.DataFrame(
        [{"issue": f.key, "params": dict(f.params), "action": "", "responsible": "", "contact": "",
          "start": "", "completion": ""} for f in lag],
        columns=["issue", "params", "action", "responsible", "contact", "start", "completion"],
    )

    return Report(
        operation=operation,
        name=op.name,
        kind=op.kind,
        scope=scope,
        scope_name=tree[scope].name,
        counters=counters,
        as_of=as_of,
        state=op.state.value,
        incident=incident,
        level_at_launch=launch_level,
        level_at_end=level_end,
        switch_at=switch_at,
        launched_at=op.launched_at,
        launched_by=op.launched_by,
        closed_at=op.closed_at,
        deadline=op.deadline,
        duration_ms=end - op.launched_at,
        reports=of.reports,
        reporters=len(of.actors),
        grids_reporting=sum(1 for g in leaves if g in of.units),
        leaf_grids=len(leaves),
        summary=summary,
        secretaries=secretaries,
        vacancies=vacancies,
        tenures=tenures,
        pace=pace,
        peak_hourly=peak,
        reached=reached,
        series_width=width,
        towns=towns,
        unit_label=unit_label,
        slowest=slowest,
        silences=silences,
        alerts_by_kind=alerts_by_kind,
        alerts=alerts,
        ack_median_ms=ack_median,
        ack_worst_ms=ack_worst,
        corrections=corrections,
        correction_reasons=correction_reasons,
        refused=refused,
        activity=activity,
        grids=grids,
        went_well=well,
        lagged=lag,
        improvement=improvement,
        timeline=timeline(fold, control_records, operation, as_of),
    )


def timeline(
    fold: ReportFold, control_records: Sequence[Recorded], operation: str, as_of: int
) -> list[TimelineItem]:
    """Decisive events of an operation: switches, installations, vacancies filled, alerts, launch, close.

    Alike events within the same minute (a burst of appointments or alerts) make
    one item with a count; progress milestones (50/90/100 %) join them.
    """
    st = fold.control
    tree = st.tree
    op = st.operations.get(operation)
    if tree is None or op is None:
        return []
    scope = op.scope
    end = op.closed_at if op.closed_at is not None else as_of
    relevant_alerts = {
        a.id for a in st.alerts.values()
        if a.operation == operation or (a.operation is None and _within(tree, a.grid, scope))
    }
    vacant: set[str] = set()
    items: list[TimelineItem] = []

    def push(ms: int, kind: str, **params: Any) -> None:
        if (items and items[-1].kind == kind and items[-1].ms // 60_000 == ms // 60_000 and kind in _GROUPED
                and items[-1].params.get("alert_kind") == params.get("alert_kind")):
            last = items[-1]
            items[-1] = TimelineItem(last.ms, kind, last.params, last.count + 1)
        else:
            items.append(TimelineItem(ms, kind, params))

    for rec in control_records:
        if rec.ms > end:
            break
        ev = rec.event
        if isinstance(ev, ModeSwitched) and (_within(tree, ev.scope, scope) or _within(tree, scope, ev.scope)):
            if ev.mode == "wartime":
                push(rec.ms, "switch_wartime", scope=ev.scope, incident=ev.incident, level=ev.level,
                     grids=len(ev.grids), installed=len(ev.installed), vacancies=len(ev.vacancies))
                vacant |= {g for g in ev.vacancies if _within(tree, g, scope)}
            else:
                push(rec.ms, "switch_peacetime", scope=ev.scope, released=len(ev.released))
        elif isinstance(ev, LevelChanged) and (_within(tree, ev.scope, scope) or _within(tree, scope, ev.scope)):
            push(rec.ms, "level_changed", scope=ev.scope, level=ev.level)
        elif isinstance(ev, SecretaryAppointed) and _within(tree, ev.grid, scope):
            push(rec.ms, "appointed", grid=ev.grid, person=ev.person)
            if ev.grid in vacant:
                vacant.discard(ev.grid)
                if not vacant:
                    push(rec.ms, "vacancies_filled")
        elif isinstance(ev, OperationLaunched) and ev.operation == operation:
            push(rec.ms, "launched", name=ev.name, by=rec.actor)
        elif isinstance(ev, OperationClosed) and ev.operation == operation:
            push(rec.ms, "closed", by=rec.actor)
        elif isinstance(ev, AlertRaised) and ev.alert in relevant_alerts:
            push(rec.ms, "alert_raised", alert_kind=ev.kind, grid=ev.grid)
        elif isinstance(ev, AlertAcknowledged) and ev.alert in relevant_alerts:
            a = st.alerts.get(ev.alert)
            push(rec.ms, "alert_acked", alert_kind=a.kind if a else "", by=rec.actor)
    of = fold.ops.get(operation)
    u = of.units.get(scope) if of is not None else None
    if u is not None:
        for k, p in enumerate(MILESTONES):
            if u[REACHED + k] is not None:
                items.append(TimelineItem(u[REACHED + k], "milestone", {"pct": p}))
    order = {k: i for i, k in enumerate(_ORDER)}
    items.sort(key=lambda it: (it.ms, order.get(it.kind, 99)))
    return items


_GROUPED = frozenset({"appointed", "alert_raised", "alert_acked"})
_ORDER = (
    "switch_wartime", "level_changed", "appointed", "vacancies_filled", "launched", "alert_raised",
    "alert_acked", "milestone", "closed", "switch_peacetime",
)


def utc_iso(ms: int) -> str:
    """UTC ISO time of an instant (metadata of generated files)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
