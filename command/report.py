"""The after-action report (复盘报告): tables (pandas) from the folded log, one builder per section.

Two steps, both pure:

1. `command.report_fold.ReportFold` folds the merged log into per-operation
   aggregates (see there).
2. `build_report(fold, control_records, operation, as_of)` turns them into a
   `Report`: scalars and DataFrames for each section of the issue, structured
   after the HSEEP after-action report (overview, analysis — what went well,
   what lagged — and an improvement plan to fill in). Each section has its own
   builder below (`_overview`, `_secretaries`, `_pace`, `_units`, `_slow_grids`,
   `_alerts`, `_corrections`, `_activity`, `_grids`, `_analysis`), reading one
   `_Scope`. Nothing is rendered here: times are epoch ms, texts are keys with
   parameters; `dashboard.reports` localises and renders HTML, PDF, XLSX and CSV.

A report is a function of the log: no clock is read, every table is sorted
explicitly, and `as_of` (the log's last event) stands for "now".
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from command.access import overlaps
from command.events import (
    AlertAcknowledged,
    AlertRaised,
    LevelChanged,
    ModeSwitched,
    OperationClosed,
    OperationLaunched,
    Recorded,
    SecretaryAppointed,
)
from command.fold import Alert, ControlState
from command.grids import GridTree, Level
from command.operations import Operation
from command.report_fold import (
    BUCKET_WIDTHS,
    FIRST,
    GAP,
    GAP_FROM,
    GAP_TO,
    HOUR,
    LAST,
    MAX_BUCKETS,
    MILESTONES,
    REACHED,
    TOTALS,
    N,
    OpFold,
    ReportFold,
    fold_records,
    target_of,
)

__all__ = [
    "BUCKET_WIDTHS",
    "MAX_BUCKETS",
    "MILESTONES",
    "TOP",
    "Finding",
    "OpFold",
    "Report",
    "ReportFold",
    "TimelineItem",
    "build_report",
    "fold_records",
    "timeline",
    "utc_iso",
    "wartime_switches",
]

TOP = 10
"""Rows of the slowest-grids and longest-silences tables."""


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


def _related(tree: GridTree, a: str, b: str) -> bool:
    return a in tree and b in tree and overlaps(tree, a, b)


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
        if isinstance(ev, ModeSwitched) and ev.mode == "wartime" and _related(tree, ev.scope, scope):
            out.append((rec, ev))
    return out


@dataclass(frozen=True)
class _Scope:
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
        return self.op.scope

    @property
    def counters(self) -> tuple[str, ...]:
        return self.op.counters

    @property
    def head(self) -> str:
        return self.op.counters[0]

    def unit(self, g: str) -> list[Any] | None:
        return self.of.units.get(g)

    def total(self, g: str, c: str) -> int:
        u = self.of.units.get(g)
        return int(u[TOTALS + self.counters.index(c)]) if u is not None else 0

    def target(self, g: str, c: str) -> int | None:
        return target_of(self.op, g, c)


# -- overview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Overview:
    incident: str | None
    level_at_launch: str | None
    level_at_end: str | None
    switch_at: int | None
    summary: pd.DataFrame


def _overview(s: _Scope) -> _Overview:
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
                "completion": _pct(s.total(scope, c), s.target(scope, c)),
            }
            for c in s.counters
        ],
        columns=["counter", "target", "total", "completion"],
    )
    return _Overview(incident, launch_level, level_end, switch_at, summary)


# -- secretaries ------------------------------------------------------------------------

Holder = tuple[str, str, bool, int, int | None]
"""A secretary's tenure: small grid, person, acting, since, until (None: still holding)."""


@dataclass(frozen=True)
class _Secretaries:
    installed: list[tuple[str, str, int]]
    appointed: dict[str, tuple[str, int, str]]
    vacancy_rows: list[dict[str, Any]]
    unfilled: list[str]
    holders: list[Holder]
    counts: dict[str, Any]
    vacancies: pd.DataFrame
    tenures: pd.DataFrame


def _secretaries(s: _Scope, switch_at: int | None) -> _Secretaries:
    """Who was installed, which vacancies were filled when, and each tenure's reports."""
    tree, scope = s.tree, s.scope
    installed: list[tuple[str, str, int]] = []
    vacancy_at: dict[str, int] = {}
    appointed: dict[str, tuple[str, int, str]] = {}
    released_at: dict[str, int] = {}
    for rec in s.control_records:
        if rec.ms > s.end:
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
    counts = {
        "installed_at_switch": len(installed),
        "vacancies_at_switch": len(vacancy_at),
        "appointed": len(vac_rows) - len(unfilled),
        "still_vacant": len(unfilled),
        "all_filled_at": all_filled_at if vac_rows else None,
        "time_to_fill_all": (all_filled_at - switch_at) if (vac_rows and all_filled_at and switch_at) else None,
        "small_grids": sum(1 for g in s.scope_grids if tree.grids[g].level == Level.SMALL),
    }

    # tenures (who held which small grid from when to when) and what they did
    tenure_rows: list[dict[str, Any]] = []
    holders: list[Holder] = []
    for g, person, ms in installed:
        holders.append((g, person, False, ms, released_at.get(g) if released_at.get(g, -1) >= ms else None))
    for g, (person, ms, _) in appointed.items():
        holders.append((g, person, True, ms, released_at.get(g) if released_at.get(g, -1) >= ms else None))
    holders.sort(key=lambda h: (h[0], h[3]))
    for g, person, acting, since, until in holders:
        t = s.of.tenures.get(f"{g}@{since}")
        row: dict[str, Any] = {
            "grid": g, "name": tree[g].name, "town": tree.town_of(g), "secretary": person,
            "acting": acting, "since": since, "until": until,
            "reports": t[0] if t else 0, "first_report": t[1] if t else None,
            "last_report": t[2] if t else None, "corrections": t[3] if t else 0,
        }
        for i, c in enumerate(s.counters):
            row[c] = t[5 + i] if t else 0
        tenure_rows.append(row)
    tenures = pd.DataFrame(tenure_rows, columns=[
        "grid", "name", "town", "secretary", "acting", "since", "until", "reports",
        "first_report", "last_report", "corrections", *s.counters,
    ])
    return _Secretaries(installed, appointed, vac_rows, unfilled, holders, counts, vacancies, tenures)


# -- pace -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pace:
    pace: pd.DataFrame
    peak_hourly: dict[str, tuple[int, int | None]]
    reached: dict[int, int | None]
    width: int


def _pace(s: _Scope) -> _Pace:
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
    return _Pace(pace, peak, reached, width)


# -- by town (or by child of the scope when the scope lies inside a town) -----------------


@dataclass(frozen=True)
class _Units:
    towns: pd.DataFrame
    unit_label: str
    rows: list[dict[str, Any]]


def _units(s: _Scope) -> _Units:
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
            "completion": _pct(s.total(g, head), tgt),
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
    return _Units(towns, unit_label, town_rows)


# -- slowest grids and longest silences (small grids: each has a secretary) ----------------


@dataclass(frozen=True)
class _Slow:
    slowest: pd.DataFrame
    silences: pd.DataFrame
    silence_rows: list[dict[str, Any]]


def _slow_grids(s: _Scope) -> _Slow:
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
    return _Slow(slowest, silences, sil_rows)


# -- alerts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Alerts:
    raised: list[Alert]
    alerts: pd.DataFrame
    by_kind: pd.DataFrame
    acks: list[int]
    ack_median: float | None
    ack_worst: int | None


def _alerts(s: _Scope, start: int) -> _Alerts:
    """The operation's alerts (and the scope's own since `start`), with times to acknowledge."""
    tree = s.tree
    al = [
        a for a in s.st.alerts.values()
        if (a.operation == s.op.id)
        or (a.operation is None and _within(tree, a.grid, s.scope) and start <= a.raised_at <= s.end)
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
    return _Alerts(al, alerts, alerts_by_kind, all_acks, ack_median, ack_worst)


# -- corrections ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Corrections:
    corrections: pd.DataFrame
    reasons: pd.DataFrame
    rows: list[dict[str, Any]]


def _corrections(s: _Scope) -> _Corrections:
    """Every correction, and how often each reason was given."""
    tree, counters = s.tree, s.counters
    corr_rows: list[dict[str, Any]] = []
    for ms, grid, actor, counts, reason, rid in sorted(s.of.corrections, key=lambda c: (c[0], c[1], c[5])):
        row: dict[str, Any] = {"time": ms, "grid": grid, "name": tree[grid].name if grid in tree else grid,
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
    return _Corrections(corrections, correction_reasons, corr_rows)


# -- activity log per secretary (ICS 214) -------------------------------------------------


def _activity(s: _Scope, sec: _Secretaries, al: Sequence[Alert]) -> pd.DataFrame:
    """What each secretary did while holding a small grid, in order (the ICS 214 activity log)."""
    tree, of, counters, appointed = s.tree, s.of, s.counters, sec.appointed
    act: list[dict[str, Any]] = []

    def log(h: Holder, ms: int, key: str, **params: Any) -> None:
        act.append({"secretary": h[1], "grid": h[0], "name": tree[h[0]].name, "time": ms,
                    "activity": key, "params": params})

    corr_by_small: dict[str, list[list[Any]]] = {}
    for corr in of.corrections:
        sm = s.fold.small_of(corr[1])
        if sm is not None:
            corr_by_small.setdefault(sm, []).append(corr)
    for h in sec.holders:
        g, _, acting, since, until = h
        stop = until if until is not None else s.end
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
        u = s.unit(g)
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
    return pd.DataFrame(act, columns=["secretary", "grid", "name", "time", "activity", "params"])


# -- every grid of the scope (the CSV) ----------------------------------------------------


def _grids(s: _Scope) -> pd.DataFrame:
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
            "completion": _pct(s.total(g, head), s.target(g, head)),
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


# -- analysis (HSEEP: strengths and areas for improvement) ----------------------------------


def _analysis(
    s: _Scope, pace: _Pace, sec: _Secretaries, units: _Units, alerts: _Alerts, slow: _Slow, corr: _Corrections,
) -> tuple[list[Finding], list[Finding], pd.DataFrame]:
    """What went well, what lagged, and an improvement plan with a row per lag to fill in."""
    op, scope, head = s.op, s.scope, s.head
    well: list[Finding] = []
    lag: list[Finding] = []
    head_target = s.target(scope, head)
    comp = _pct(s.total(scope, head), head_target)
    r100 = pace.reached[100]
    if comp is not None:
        if comp >= 100 and r100 is not None:
            if op.deadline is None or r100 <= op.deadline:
                well.append(Finding("target_met", {"counter": head, "at": r100,
                                                   "elapsed": r100 - op.launched_at}))
            else:
                lag.append(Finding("target_late", {"counter": head, "late": r100 - op.deadline}))
        else:
            lag.append(Finding("target_short", {"counter": head, "pct": comp,
                                                "missing": (head_target or 0) - s.total(scope, head)}))
    vac_rows, unfilled = sec.vacancy_rows, sec.unfilled
    if vac_rows:
        if not unfilled and sec.counts["time_to_fill_all"] is not None:
            well.append(Finding("vacancies_filled", {"n": len(vac_rows),
                                                     "within": sec.counts["time_to_fill_all"]}))
        else:
            lag.append(Finding("vacancies_open", {"n": len(unfilled), "of": len(vac_rows)}))
    elif sec.installed:
        well.append(Finding("no_vacancy", {"n": len(sec.installed)}))
    town_rows = units.rows
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
    if alerts.acks:
        (well if alerts.ack_median is not None and alerts.ack_median <= 15 * 60_000 else lag).append(
            Finding("ack_median", {"median": alerts.ack_median, "worst": alerts.ack_worst}))
    unacked = [a for a in alerts.raised if a.acked_at is None]
    if unacked:
        lag.append(Finding("alerts_unacked", {"n": len(unacked), "of": len(alerts.raised)}))
    if slow.silence_rows:
        s0 = slow.silence_rows[0]
        lag.append(Finding("longest_silence", {"grid": s0["grid"], "name": s0["name"], "duration": s0["duration"]}))
    if corr.rows:
        lag.append(Finding("corrections", {"n": len(corr.rows)}))
    improvement = pd.DataFrame(
        [{"issue": f.key, "params": dict(f.params), "action": "", "responsible": "", "contact": "",
          "start": "", "completion": ""} for f in lag],
        columns=["issue", "params", "action", "responsible", "contact", "start", "completion"],
    )
    return well, lag, improvement


# -- the report -------------------------------------------------------------------------


def build_report(
    fold: ReportFold, control_records: Sequence[Recorded], operation: str, as_of: int,
    refused: int | None = None,
) -> Report:
    """The report of one operation as of `as_of` (the log's last event), section by section."""
    st = fold.control
    tree = st.tree
    op = st.operations.get(operation)
    if tree is None or op is None:
        raise KeyError(operation)
    of = fold.ops.get(operation) or OpFold(operation, op.scope, op.counters, op.launched_at)
    end = op.closed_at if op.closed_at is not None else as_of
    scope_grids = list(tree.subtree(op.scope))
    leaves = [g for g in scope_grids if not tree.children[g]]
    s = _Scope(fold, control_records, st, tree, op, of, end, scope_grids, leaves)

    overview = _overview(s)
    sec = _secretaries(s, overview.switch_at)
    pace = _pace(s)
    units = _units(s)
    slow = _slow_grids(s)
    alerts = _alerts(s, overview.switch_at if overview.switch_at is not None else op.launched_at)
    corr = _corrections(s)
    well, lag, improvement = _analysis(s, pace, sec, units, alerts, slow, corr)

    return Report(
        operation=operation,
        name=op.name,
        kind=op.kind,
        scope=op.scope,
        scope_name=tree[op.scope].name,
        counters=op.counters,
        as_of=as_of,
        state=op.state.value,
        incident=overview.incident,
        level_at_launch=overview.level_at_launch,
        level_at_end=overview.level_at_end,
        switch_at=overview.switch_at,
        launched_at=op.launched_at,
        launched_by=op.launched_by,
        closed_at=op.closed_at,
        deadline=op.deadline,
        duration_ms=end - op.launched_at,
        reports=of.reports,
        reporters=len(of.actors),
        grids_reporting=sum(1 for g in leaves if g in of.units),
        leaf_grids=len(leaves),
        summary=overview.summary,
        secretaries=sec.counts,
        vacancies=sec.vacancies,
        tenures=sec.tenures,
        pace=pace.pace,
        peak_hourly=pace.peak_hourly,
        reached=pace.reached,
        series_width=pace.width,
        towns=units.towns,
        unit_label=units.unit_label,
        slowest=slow.slowest,
        silences=slow.silences,
        alerts_by_kind=alerts.by_kind,
        alerts=alerts.alerts,
        ack_median_ms=alerts.ack_median,
        ack_worst_ms=alerts.ack_worst,
        corrections=corr.corrections,
        correction_reasons=corr.reasons,
        refused=refused,
        activity=_activity(s, sec, alerts.raised),
        grids=_grids(s),
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
        if isinstance(ev, ModeSwitched) and _related(tree, ev.scope, scope):
            if ev.mode == "wartime":
                push(rec.ms, "switch_wartime", scope=ev.scope, incident=ev.incident, level=ev.level,
                     grids=len(ev.grids), installed=len(ev.installed), vacancies=len(ev.vacancies))
                vacant |= {g for g in ev.vacancies if _within(tree, g, scope)}
            else:
                push(rec.ms, "switch_peacetime", scope=ev.scope, released=len(ev.released))
        elif isinstance(ev, LevelChanged) and _related(tree, ev.scope, scope):
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
