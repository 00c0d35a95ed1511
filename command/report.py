"""The after-action report (复盘报告): tables (pandas) from the folded log, one builder per section.

Two steps, both pure:

1. `command.report_fold.ReportFold` folds the merged log into per-operation
   aggregates (see there).
2. `build_report(fold, control_records, operation, as_of)` turns them into a
   `Report`: scalars and DataFrames for each section of the issue, structured
   after the HSEEP after-action report (overview, analysis — what went well,
   what lagged — and an improvement plan to fill in). Each section has its own
   builder in `command.report_sections` (progress) or `command.report_response`
   (people), reading one `Scope`; the analysis is here. Nothing is rendered
   here: times are epoch ms, texts are keys with parameters; `dashboard.reports`
   localises and renders HTML, PDF, XLSX and CSV.

A report is a function of the log: no clock is read, every table is sorted
explicitly, and `as_of` (the log's last event) stands for "now".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from command import report_response as response
from command import report_sections as sections
from command.events import (
    AlertAcknowledged,
    AlertRaised,
    LevelChanged,
    ModeSwitched,
    OperationClosed,
    OperationLaunched,
    OperationPartClosed,
    Recorded,
    SecretaryAppointed,
)
from command.report_fold import (
    BUCKET_WIDTHS,
    MAX_BUCKETS,
    MILESTONES,
    REACHED,
    TOTALS,
    OpFold,
    ReportFold,
    fold_records,
)
from command.report_sections import TOP, related, wartime_switches, within

__all__ = [
    "ACK_QUICK_MS",
    "ACK_SHARE",
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

ACK_QUICK_MS = 15 * 60_000
"""A median time to acknowledge at or under this is quick."""
ACK_SHARE = 0.9
"""The share of raised alerts that must be acknowledged before their median counts as done well."""


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
    households: Any = None
    """The households section (`command.report_households.HouseholdsReport`), attached by the renderer."""




# -- analysis (HSEEP: strengths and areas for improvement) ----------------------------------


def _analysis(
    s: sections.Scope, pace: sections.Pace, sec: response.Secretaries, units: sections.Units, alerts: response.Alerts,
    slow: sections.Slow, corr: response.Corrections,
) -> tuple[list[Finding], list[Finding], pd.DataFrame]:
    """What went well, what lagged, and an improvement plan with a row per lag to fill in."""
    op, scope, head = s.op, s.scope, s.head
    well: list[Finding] = []
    lag: list[Finding] = []
    head_target = s.target(scope, head)
    comp = sections.pct(s.total(scope, head), head_target)
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
    mob = sec.counts
    if mob["installed"]:
        mins = mob["minutes_to"]["100"]
        if mins is not None:
            well.append(Finding("all_on_post", {"n": mob["on_post"], "within": int(mins * 60_000)}))
        else:
            lag.append(Finding("not_on_post", {"n": mob["installed"] - mob["on_post"], "of": mob["installed"]}))
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
    unacked = [a for a in alerts.raised if a.acked_at is None]
    if alerts.acks:
        # Praise only what the log supports: a quick median counts for little when most alerts were never
        # acknowledged (20 of 21 unacknowledged is no "done well"), so it needs nine in ten acknowledged too.
        quick = alerts.ack_median is not None and alerts.ack_median <= ACK_QUICK_MS
        most = len(alerts.acks) >= ACK_SHARE * len(alerts.raised)
        (well if quick and most else lag).append(
            Finding("ack_median", {"median": alerts.ack_median, "worst": alerts.ack_worst,
                                   "acked": len(alerts.acks), "of": len(alerts.raised)}))
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
    s = sections.Scope(fold, control_records, st, tree, op, of, end, scope_grids, leaves)

    overview = sections.overview(s)
    sec = response.secretaries(s, overview.switch_at)
    pace = sections.pace(s)
    units = sections.units(s)
    slow = sections.slow_grids(s)
    alerts = response.alerts(s, overview.switch_at if overview.switch_at is not None else op.launched_at)
    corr = response.corrections(s)
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
        activity=response.activity(s, sec, alerts.raised),
        grids=sections.grids(s),
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
        if a.operation == operation or (a.operation is None and within(tree, a.grid, scope))
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
        if isinstance(ev, ModeSwitched) and related(tree, ev.scope, scope):
            if ev.mode == "wartime":
                push(rec.ms, "switch_wartime", scope=ev.scope, incident=ev.incident, level=ev.level,
                     grids=len(ev.grids), installed=len(ev.installed), vacancies=len(ev.vacancies))
                vacant |= {g for g in ev.vacancies if within(tree, g, scope)}
            else:
                push(rec.ms, "switch_peacetime", scope=ev.scope, released=len(ev.released))
        elif isinstance(ev, LevelChanged) and related(tree, ev.scope, scope):
            push(rec.ms, "level_changed", scope=ev.scope, level=ev.level)
        elif isinstance(ev, SecretaryAppointed) and within(tree, ev.grid, scope):
            push(rec.ms, "appointed", grid=ev.grid, person=ev.person)
            if ev.grid in vacant:
                vacant.discard(ev.grid)
                if not vacant:
                    push(rec.ms, "vacancies_filled")
        elif isinstance(ev, OperationLaunched) and ev.operation == operation:
            push(rec.ms, "launched", name=ev.name, by=rec.actor)
        elif isinstance(ev, OperationClosed) and ev.operation == operation:
            push(rec.ms, "closed", by=rec.actor)
        elif isinstance(ev, OperationPartClosed) and ev.operation == operation and ev.town in tree:
            # The town's totals froze here (its reports refused from now on): they are its final ones.
            part = fold.ops[operation].units.get(ev.town) if operation in fold.ops else None
            total = int(part[TOTALS]) if part is not None else 0
            push(rec.ms, "part_closed", grid=ev.town, by=rec.actor, total=f"{total:,}",
                 counter=op.counters[0])
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
    "alert_acked", "milestone", "part_closed", "closed", "switch_peacetime",
)


def utc_iso(ms: int) -> str:
    """UTC ISO time of an instant (metadata of generated files)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
