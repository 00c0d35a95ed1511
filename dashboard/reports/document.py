"""The report laid out once as a document — sections with pairs, paragraphs, tables and charts.

HSEEP order: overview, analysis, improvement plan, then the detail sections of
the issue. The HTML, PDF and XLSX writers all write this one model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from command.report import Finding, Report
from dashboard.i18n import t
from dashboard.reports.formatting import (
    activity_text,
    finding_text,
    fmt_duration,
    fmt_num,
    fmt_time,
    term,
    timeline_text,
    txt,
)
from dashboard.reports.households import section as households_section
from dashboard.reports.model import Section, Table

__all__ = ["COUNTER_KEYS", "Section", "Table", "build_document", "grids_table", "header_fix"]


Col = tuple[str, str, Callable[[Any], str]]


def _table(key: str, df: pd.DataFrame, cols: Sequence[Col], lang: str) -> Table:
    header = [t(h, lang) for _, h, _ in cols]
    rows = []
    for rec in df.to_dict("records"):
        rows.append([str(fmt(rec.get(name))) for name, _, fmt in cols])
    raw = pd.DataFrame(rows, columns=header)
    return Table(key, header, rows, raw)


def build_document(r: Report, lang: str) -> tuple[str, list[Section]]:
    """The report laid out as sections (shared by HTML, PDF and XLSX)."""
    L = lang

    def dur(v: Any) -> str:
        return fmt_duration(v, L)

    def yes(v: Any) -> str:
        return t("rpt.yes", L) if v is True else ""

    num, tm = fmt_num, fmt_time
    title = f"{t('rpt.title', L)} · {r.name}"
    secs: list[Section] = []

    ov = Section(t("rpt.s.overview", L))
    ov.paragraphs.append(t("rpt.generated", L, at=tm(r.as_of)))
    ov.pairs = [
        (t("rpt.k.operation", L), f"{r.name} ({r.operation})"),
        (t("rpt.k.kind", L), t(r.kind, L)),
        (t("rpt.k.scope", L), f"{r.scope_name} ({r.scope})"),
        (t("rpt.k.incident", L), term(r.incident, L)),
        (t("rpt.k.level", L),
         " / ".join(t(f"level.{x}", L) if x else "—" for x in (r.level_at_launch, r.level_at_end))),
        (t("rpt.k.switch", L), tm(r.switch_at)),
        (t("rpt.k.launch", L), tm(r.launched_at)),
        (t("rpt.k.launched_by", L), r.launched_by),
        (t("rpt.k.deadline", L), tm(r.deadline) or "—"),
        (t("rpt.k.close", L), tm(r.closed_at) or t("rpt.open", L)),
        (t("rpt.k.duration", L), dur(r.duration_ms)),
        (t("rpt.k.state", L), t(f"rpt.{r.state}", L)),
        (t("rpt.k.reports", L), num(r.reports)),
        (t("rpt.k.reporters", L), num(r.reporters)),
        (t("rpt.k.grids_reporting", L), f"{num(r.grids_reporting)} / {num(r.leaf_grids)}"),
    ]
    for c in r.counters:
        row = r.summary[r.summary["counter"] == c].iloc[0]
        tgt = row["target"]
        ov.pairs.append((t(c, L), f"{num(int(row['total']))}"
                         + (f" / {num(int(tgt))} ({num(float(row['completion']))}%)" if pd.notna(tgt) else "")))
    secs.append(ov)

    an = Section(t("rpt.s.analysis", L))
    an.bullets = [
        (t("rpt.went_well", L), [finding_text(f, L) for f in r.went_well] or [t("rpt.none", L)]),
        (t("rpt.lagged", L), [finding_text(f, L) for f in r.lagged] or [t("rpt.none", L)]),
    ]
    an_rows = pd.DataFrame(
        [{"kind": t("rpt.went_well", L), "finding": finding_text(f, L)} for f in r.went_well]
        + [{"kind": t("rpt.lagged", L), "finding": finding_text(f, L)} for f in r.lagged],
        columns=["kind", "finding"],
    )
    an.tables.append(_table("analysis", an_rows,
                            [("kind", "rpt.c.kind_col", str), ("finding", "rpt.c.finding", str)], L))
    an.tables[-1].widths = [0.15, 0.85]
    an.tables[-1].key = "analysis"
    secs.append(an)

    imp = Section(t("rpt.s.improvement", L))
    imp_df = r.improvement.copy()
    imp_df["issue"] = [finding_text(Finding(k, p), L) for k, p in zip(imp_df["issue"], imp_df["params"], strict=True)]
    imp.tables.append(_table("improvement", imp_df, [
        ("issue", "rpt.c.issue", str), ("action", "rpt.c.action", str), ("responsible", "rpt.c.responsible", str),
        ("contact", "rpt.c.contact", str), ("start", "rpt.c.start", str), ("completion", "rpt.c.completion_date", str),
    ], L))
    imp.tables[-1].widths = [0.34, 0.22, 0.14, 0.1, 0.1, 0.1]
    secs.append(imp)

    su = Section(t("rpt.s.summary", L))
    summ = r.summary.copy()
    summ["counter"] = [t(c, L) for c in summ["counter"]]
    su.tables.append(_table("summary", summ, [
        ("counter", "rpt.c.counter", str), ("target", "rpt.c.target", num), ("total", "rpt.c.total", num),
        ("completion", "rpt.c.completion", num),
    ], L))
    secs.append(su)

    se = Section(t("rpt.s.secretaries", L))
    s = r.secretaries
    se.pairs = [
        (t("rpt.k.small_grids", L), num(s["small_grids"])),
        (t("rpt.k.installed", L), num(s["installed_at_switch"])),
        (t("rpt.k.acknowledged", L), num(s.get("acknowledged", 0))),
        (t("rpt.k.on_post", L), num(s.get("on_post", 0))),
        (t("rpt.k.minutes_to", L), " / ".join(
            "—" if m is None else t("rpt.k.minutes", L, m=m) for m in (s.get("minutes_to") or {}).values())),
        (t("rpt.k.vacancies", L), num(s["vacancies_at_switch"])),
        (t("rpt.k.appointed", L), num(s["appointed"])),
        (t("rpt.k.still_vacant", L), num(s["still_vacant"])),
        (t("rpt.k.time_to_fill", L), dur(s["time_to_fill_all"]) if s["time_to_fill_all"] is not None
         else (t("rpt.k.not_filled", L) if s["still_vacant"] else "—")),
    ]
    mob_rows = [{"name": row["name"], "installed": row["installed"], "on_post": row["on_post"],
                 **{f"m{k}": v for k, v in row["minutes_to"].items()}} for row in s.get("by_town", [])]
    se.tables.append(_table("mobilisation", pd.DataFrame(mob_rows, columns=[
        "name", "installed", "on_post", "m50", "m90", "m100"]), [
        ("name", "rpt.c.name", txt), ("installed", "rpt.c.installed", num), ("on_post", "rpt.c.on_post", num),
        ("m50", "rpt.c.m50", num), ("m90", "rpt.c.m90", num), ("m100", "rpt.c.m100", num),
    ], L))
    se.tables.append(_table("vacancies", r.vacancies, [
        ("grid", "rpt.c.grid", txt), ("name", "rpt.c.name", txt), ("raised_at", "rpt.c.raised_at", tm),
        ("filled_at", "rpt.c.filled_at", tm), ("person", "rpt.c.person", txt),
        ("appointed_by", "rpt.c.appointed_by", txt), ("time_to_fill", "rpt.c.time_to_fill", dur),
    ], L))
    se.tables.append(_table("tenures", r.tenures, [
        ("grid", "rpt.c.grid", txt), ("name", "rpt.c.name", txt), ("secretary", "rpt.c.secretary", str),
        ("acting", "rpt.c.acting", yes), ("since", "rpt.c.since", tm), ("until", "rpt.c.until", tm),
        ("reports", "rpt.c.reports", num), *[(c, c, num) for c in r.counters],
        ("last_report", "rpt.c.last_report", tm),
    ], L))
    secs.append(se)

    pa = Section(t("rpt.s.pace", L))
    for c in r.counters:
        rate, at = r.peak_hourly[c]
        pa.pairs.append((t("rpt.k.peak", L, counter=t(c, L)),
                         t("rpt.per_hour", L, n=num(rate), at=tm(at)) if at is not None else "—"))
    for p, ms in r.reached.items():
        pa.pairs.append((t("rpt.k.reached", L, pct=p), (f"{tm(ms)}  (+{dur(ms - r.launched_at)})"
                                                       if ms is not None else t("rpt.k.not_reached", L))))
    pa.charts.append("pace")
    pace = r.pace.copy()
    pa.tables.append(_table("pace", pace, [
        ("time", "rpt.c.time", tm), ("elapsed", "rpt.c.elapsed", dur), *[(c, c, num) for c in r.counters],
        ("deadline_pace", "rpt.c.deadline_pace", num),
    ], L))
    secs.append(pa)

    tw = Section(t("rpt.s.towns", L))
    tw.charts.append("towns")
    tw.tables.append(_table("towns", r.towns, [
        ("grid", "rpt.c.grid", txt), ("name", "rpt.c.name", txt),
        *[x for c in r.counters for x in ((f"{c}_target", "rpt.c.target", num), (c, c, num))],
        ("completion", "rpt.c.completion", num), ("reports", "rpt.c.reports", num),
        ("reached_90", "rpt.c.reached_90", tm), ("time_to_90", "rpt.c.time_to_90", dur),
    ], L))
    secs.append(tw)

    sl = Section(t("rpt.s.slowest", L))
    sl.tables.append(_table("slowest", r.slowest, [
        ("grid", "rpt.c.grid", txt), ("name", "rpt.c.name", txt), ("secretary", "rpt.c.secretary", txt),
        ("target", "rpt.c.target", num), ("total", "rpt.c.total", num), ("completion", "rpt.c.completion", num),
        ("time_to_90", "rpt.c.time_to_90", dur), ("last_report", "rpt.c.last_report", tm),
    ], L))
    sil = r.silences.copy()
    sl.tables.append(_table("silences", sil, [
        ("grid", "rpt.c.grid", txt), ("name", "rpt.c.name", txt), ("from", "rpt.c.from", tm),
        ("to", "rpt.c.to", lambda v: tm(v) if v is not None and not pd.isna(v) else t("rpt.c.ongoing", L)),
        ("duration", "rpt.c.duration", dur),
    ], L))
    secs.append(sl)

    al = Section(t("rpt.s.alerts", L))
    al.pairs = [
        (t("rpt.k.ack_median", L), dur(r.ack_median_ms) or "—"),
        (t("rpt.k.ack_worst", L), dur(r.ack_worst_ms) or "—"),
    ]
    abk = r.alerts_by_kind.copy()
    abk["kind"] = [t(k, L) for k in abk["kind"]]
    al.tables.append(_table("alerts_by_kind", abk, [
        ("kind", "rpt.c.alert_kind", str), ("raised", "rpt.c.raised", num), ("acknowledged", "rpt.c.acknowledged", num),
        ("unacknowledged", "rpt.c.unacknowledged", num), ("cleared", "rpt.c.cleared", num),
        ("median_ack", "rpt.c.median_ack", dur), ("worst_ack", "rpt.c.worst_ack", dur),
    ], L))
    alerts = r.alerts.copy()
    alerts["kind"] = [t(k, L) for k in alerts["kind"]]
    al.tables.append(_table("alerts", alerts, [
        ("kind", "rpt.c.alert_kind", str), ("grid", "rpt.c.grid", txt), ("name", "rpt.c.name", txt),
        ("raised_at", "rpt.c.raised_time", tm), ("acked_at", "rpt.c.acked_at", tm),
        ("acked_by", "rpt.c.acked_by", txt), ("time_to_ack", "rpt.c.time_to_ack", dur),
        ("cleared_at", "rpt.c.cleared_at", tm),
    ], L))
    secs.append(al)

    co = Section(t("rpt.s.corrections", L))
    co.pairs = [
        (t("rpt.k.corrections", L), num(len(r.corrections))),
        (t("rpt.k.refused", L), num(r.refused) if r.refused is not None else "—"),
    ]
    if r.refused is None:
        co.notes.append(t("rpt.refused_note", L))
    co.tables.append(_table("reasons", r.correction_reasons, [
        ("reason", "rpt.c.reason", str), ("count", "rpt.c.count", num),
    ], L))
    co.tables.append(_table("corrections", r.corrections, [
        ("time", "rpt.c.time", tm), ("grid", "rpt.c.grid", txt), ("name", "rpt.c.name", txt),
        ("actor", "rpt.c.actor", str), *[(c, c, lambda v: f"{int(v):+,}" if v else "") for c in r.counters],
        ("reason", "rpt.c.reason", str),
    ], L))
    secs.append(co)

    ac = Section(t("rpt.s.activity", L))
    act = r.activity.copy()
    act["text"] = [activity_text(k, p, L) for k, p in zip(act["activity"], act["params"], strict=True)]
    ac.tables.append(_table("activity", act, [
        ("secretary", "rpt.c.secretary", str), ("grid", "rpt.c.grid", txt), ("name", "rpt.c.name", txt),
        ("time", "rpt.c.time", tm), ("text", "rpt.c.activity", str),
    ], L))
    ac.tables[-1].widths = [0.12, 0.16, 0.18, 0.17, 0.37]
    secs.append(ac)

    tl = Section(t("rpt.s.timeline", L))
    names = {r.scope: r.scope_name}
    tl_df = pd.DataFrame(
        [{"time": it.ms, "event": timeline_text(it, L, names)} for it in r.timeline], columns=["time", "event"]
    )
    tl.tables.append(_table("timeline", tl_df, [("time", "rpt.c.time", tm), ("event", "rpt.c.event", str)], L))
    tl.tables[-1].widths = [0.22, 0.78]
    secs.append(tl)

    hh = households_section(r, L)
    if hh is not None:
        secs.append(hh)

    return title, secs


def grids_table(r: Report, lang: str) -> Table:
    """Every grid of the scope (the CSV, and the XLSX's last sheet)."""
    L = lang
    num, tm = fmt_num, fmt_time
    return _table("grids", r.grids, [
        ("grid", "rpt.c.grid", txt), ("name", "rpt.c.name", txt), ("level", "rpt.c.level", lambda v: t(v, L)),
        ("kind", "rpt.c.kind", lambda v: t(v, L)), ("parent", "rpt.c.parent", txt),
        ("town", "rpt.c.town", txt),
        *[x for c in r.counters for x in ((f"{c}_target", f"{t(c, L)} · {t('rpt.c.target', L)}", num), (c, c, num))],
        ("completion", "rpt.c.completion", num), ("reports", "rpt.c.reports", num),
        ("first_report", "rpt.c.first_report", tm), ("last_report", "rpt.c.last_report", tm),
        ("time_to_90", "rpt.c.time_to_90", lambda v: fmt_duration(v, L)),
        ("longest_silence", "rpt.c.longest_silence", lambda v: fmt_duration(v, L)),
        ("secretary", "rpt.c.secretary", txt),
    ], L)


def header_fix(tb: Table, lang: str) -> Table:
    """Counter column headers are glossary keys: translate them."""
    tb.header = [t(h, lang) if h in COUNTER_KEYS else h for h in tb.header]
    tb.raw = pd.DataFrame(tb.rows, columns=tb.header)
    return tb


COUNTER_KEYS = {
    "sampled", "hazard_points_checked", "people_evacuated", "households_checked", "hazards_found",
    "hazards_eliminated", "people_persuaded",
}
