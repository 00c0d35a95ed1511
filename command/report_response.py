"""The after-action report's tables of how people responded: secretaries, alerts, corrections, activity.

Builders called by `command.report.build_report` with the same `Scope` as
`command.report_sections`: who was installed and which vacancies were filled
when, each tenure's reports, the alerts and times to acknowledge, every
correction, and each secretary's activity log (after ICS 214). Pure.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from command import mobilisation
from command.events import ModeSwitched, SecretaryAppointed
from command.fold import Alert
from command.grids import Level
from command.report_fold import MILESTONES, REACHED
from command.report_sections import Scope, within

__all__ = ["Alerts", "Corrections", "Holder", "Secretaries", "activity", "alerts", "corrections", "secretaries"]


# -- secretaries ------------------------------------------------------------------------

Holder = tuple[str, str, bool, int, int | None]
"""A secretary's tenure: small grid, person, acting, since, until (None: still holding)."""


@dataclass(frozen=True)
class Secretaries:
    """The secretaries section, and what the analysis and activity log read from it."""

    installed: list[tuple[str, str, int]]
    appointed: dict[str, tuple[str, int, str]]
    vacancy_rows: list[dict[str, Any]]
    unfilled: list[str]
    holders: list[Holder]
    counts: dict[str, Any]
    vacancies: pd.DataFrame
    tenures: pd.DataFrame


def secretaries(s: Scope, switch_at: int | None) -> Secretaries:
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
                    if within(tree, g, scope):
                        installed.append((g, person, rec.ms))
                for g in ev.vacancies:
                    if within(tree, g, scope):
                        vacancy_at[g] = rec.ms
                        appointed.pop(g, None)
            else:
                for g in ev.released:
                    if within(tree, g, scope):
                        released_at[g] = rec.ms
        elif isinstance(ev, SecretaryAppointed) and within(tree, ev.grid, scope):
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
        **mobilisation.report_figures(s.st, scope),  # on post from confirmations, never from installation
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
    return Secretaries(installed, appointed, vac_rows, unfilled, holders, counts, vacancies, tenures)


# -- alerts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Alerts:
    """The alerts section, and the alerts themselves for the activity log and the analysis."""

    raised: list[Alert]
    alerts: pd.DataFrame
    by_kind: pd.DataFrame
    acks: list[int]
    ack_median: float | None
    ack_worst: int | None


def alerts(s: Scope, start: int) -> Alerts:
    """The operation's alerts (and the scope's own since `start`), with times to acknowledge."""
    tree = s.tree
    al = [
        a for a in s.st.alerts.values()
        if (a.operation == s.op.id)
        or (a.operation is None and within(tree, a.grid, s.scope) and start <= a.raised_at <= s.end)
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
    return Alerts(al, alerts, alerts_by_kind, all_acks, ack_median, ack_worst)


# -- corrections ------------------------------------------------------------------------


@dataclass(frozen=True)
class Corrections:
    """The corrections section, and its rows for the analysis."""

    corrections: pd.DataFrame
    reasons: pd.DataFrame
    rows: list[dict[str, Any]]


def corrections(s: Scope) -> Corrections:
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
    return Corrections(corrections, correction_reasons, corr_rows)


# -- activity log per secretary (ICS 214) -------------------------------------------------


def activity(s: Scope, sec: Secretaries, al: Sequence[Alert]) -> pd.DataFrame:
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
