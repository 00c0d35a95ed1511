"""The drill report (演练评估): the drill's after-action report beside the recorded operation's.

Both sides are `command.report.Report`s built by the one after-action fold
(`command.report_fold`, `command.report.build_report`) — the recorded one from
the live log, the drill's from the drill's world — so every figure is defined
once. This module only sets them side by side in the shape of an HSEEP
after-action report: the exercise's objectives, strengths and areas for
improvement of each side, and the figures a commander compares — time to post,
time to 50/90/100 % of the headline target, the alerts and how fast they were
taken, and the players' decisions with their timestamps (minutes from launch).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from command.events import (
    AlertAcknowledged,
    LevelChanged,
    ModeSwitched,
    OperationClosed,
    OperationLaunched,
    Recorded,
    SecretaryAppointed,
    TargetRaised,
)
from command.report import Finding, Report

__all__ = ["DECISIONS", "compare", "decisions", "facts"]

MINUTE = 60_000

DECISIONS = (ModeSwitched, LevelChanged, SecretaryAppointed, AlertAcknowledged, OperationLaunched,
             OperationClosed, TargetRaised)
"""What counts as a commander's decision in the log."""


def _minutes(ms: float | int | None, since: int | None = None) -> float | None:
    if ms is None or (isinstance(ms, float) and math.isnan(ms)):
        return None
    return round((float(ms) - (since or 0)) / MINUTE, 1)


def _finding(f: Finding) -> dict[str, Any]:
    return {"key": f.key, "params": {k: (v if isinstance(v, int | float | str) or v is None else str(v))
                                     for k, v in f.params.items()}}


def _plain(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def facts(report: Report) -> dict[str, Any]:
    """The figures of one side, times in minutes from its launch."""
    t0 = report.launched_at
    head = report.counters[0] if report.counters else ""
    summary = report.summary
    total = target = None
    if head and not summary.empty and "counter" in summary.columns:
        row = summary[summary["counter"] == head]
        if not row.empty:
            total = _plain(row.iloc[0].get("total"))
            target = _plain(row.iloc[0].get("target"))
    alerts = [
        {
            "alert": r["alert"], "kind": r["kind"], "grid": r["grid"],
            "raised": _minutes(r["raised_at"], t0), "acknowledged": _minutes(_plain(r["acked_at"]), t0),
            "by": _plain(r["acked_by"]), "response": _minutes(_plain(r["time_to_ack"])),
        }
        for r in report.alerts.to_dict("records")
    ]
    sec = report.secretaries
    return {
        "operation": report.operation, "name": report.name, "scope": report.scope,
        "launched_at": t0, "closed_at": report.closed_at, "duration": _minutes(report.duration_ms),
        "reports": report.reports, "headline": head, "total": total, "target": target,
        "time_to_post": (sec.get("minutes_to") or {}) if isinstance(sec, dict) else {},
        "on_post": sec.get("on_post") if isinstance(sec, dict) else None,
        "time_to": {str(p): _minutes(ms, t0) for p, ms in report.reached.items()},
        "alerts": alerts, "alerts_raised": len(alerts),
        "ack_median": _minutes(report.ack_median_ms), "ack_worst": _minutes(report.ack_worst_ms),
        "strengths": [_finding(f) for f in report.went_well],
        "areas_for_improvement": [_finding(f) for f in report.lagged],
    }


def decisions(records: Iterable[Recorded], since: int, replayed: Iterable[Recorded] = (),
              machine: Sequence[str] = ("scheduler", "drill")) -> list[dict[str, Any]]:
    """The commanders' decisions among `records` (minutes from `since`); those in `replayed` (the recording's,
    replayed into a drill) and what the machine decided are not the players'."""
    seen = {(r.event.wire, r.at, r.actor) for r in replayed}
    out = []
    for r in records:
        ev = r.event
        if not isinstance(ev, DECISIONS) or r.actor in machine or (ev.wire, r.at, r.actor) in seen:
            continue
        what = {k: getattr(ev, k) for k in ("scope", "mode", "level", "grid", "person", "alert", "operation",
                                             "counter", "target") if hasattr(ev, k)}
        out.append({"at": r.at, "minute": _minutes(r.at, since), "actor": r.actor, "decision": ev.wire, **what})
    return out


def compare(recorded: Report, drill: Report, objectives: Sequence[str], recorded_decisions: list[dict[str, Any]],
            drill_decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """The drill report: objectives, then each figure of the recording and of the drill side by side."""
    a, b = facts(recorded), facts(drill)
    return {
        "objectives": list(objectives),
        "recorded": a,
        "drill": b,
        "strengths": {"recorded": a["strengths"], "drill": b["strengths"]},
        "areas_for_improvement": {"recorded": a["areas_for_improvement"], "drill": b["areas_for_improvement"]},
        "decisions": {"recorded": recorded_decisions, "drill": drill_decisions},
        "differences": {
            "time_to": {p: _diff(a["time_to"].get(p), b["time_to"].get(p)) for p in ("50", "90", "100")},
            "alerts_raised": b["alerts_raised"] - a["alerts_raised"],
            "ack_median": _diff(a["ack_median"], b["ack_median"]),
            "decisions": len(drill_decisions) - len(recorded_decisions),
        },
    }


def _diff(x: float | None, y: float | None) -> float | None:
    return None if x is None or y is None else round(y - x, 1)
