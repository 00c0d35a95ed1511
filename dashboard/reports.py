"""The after-action report (复盘报告) rendered: HTML, PDF, XLSX, CSV, zh-CN and English.

`render_report(county, operation, fmt, lang)` asks `streams.history` for the
report (`command.report.Report`: scalars and DataFrames, times in epoch ms),
lays it out once as a document model — sections with paragraphs, tables and
charts, in the HSEEP order: overview, analysis, improvement plan, then the
detail sections of the issue — and writes it in the requested format.

Same log, same bytes. Nothing here reads the clock: the generation time is the
log's last event (`Report.as_of`); times are shown in Asia/Shanghai (UTC+8,
fixed). Charts are drawn with matplotlib in the shipped CJK font
(assets/fonts, TrueType, so reportlab can embed it too) with fixed SVG ids and
no dates; the PDF is written with reportlab's ``invariant`` mode (fixed dates
and document id); the XLSX gets its document dates and zip entry times set to
the generation time; HTML is one file with inline CSS and inline SVG charts —
no script, no request to anywhere.
"""

from __future__ import annotations

import csv
import html
import io
import re
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from command.errors import InvalidRequest, UnknownOperation
from command.report import LOCAL, Finding, Report, TimelineItem
from dashboard.components.axes import elapsed_unit, unit_label
from dashboard.i18n import register, t

FORMATS = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
FONT_PATH = Path(__file__).resolve().parent.parent / "assets" / "fonts" / "wqy-microhei-gb2312.ttf"
FONT_NAME = "WenQuanYi Micro Hei GB2312"
PDF_MAX_ROWS = 400
"""Long tables are cut in the PDF (the XLSX and HTML carry every row)."""

register({
    "rpt.title": ("战时任务复盘报告", "After-action report"),
    "rpt.generated": ("生成依据：事件日志截至 {at}（北京时间）",
                      "Generated from the event log as of {at} (Beijing time)"),
    "rpt.s.overview": ("一、总体情况", "1. Overview"),
    "rpt.s.analysis": ("二、分析：做得好的与滞后的", "2. Analysis: what went well and what lagged"),
    "rpt.s.improvement": ("三、改进计划", "3. Improvement plan"),
    "rpt.s.summary": ("四、目标与完成情况", "4. Targets, totals and completion"),
    "rpt.s.secretaries": ("五、临时党支部书记", "5. Temporary branch secretaries"),
    "rpt.s.pace": ("六、进度节奏", "6. Pace"),
    "rpt.s.towns": ("七、分单位情况", "7. By unit"),
    "rpt.s.slowest": ("八、进度最慢的网格与最长静默", "8. Slowest grids and longest silences"),
    "rpt.s.alerts": ("九、预警处置", "9. Alerts"),
    "rpt.s.corrections": ("十、更正与被拒上报", "10. Corrections and refused reports"),
    "rpt.s.activity": ("十一、书记工作日志（参照 ICS 214）", "11. Secretaries' activity log (after ICS 214)"),
    "rpt.s.timeline": ("十二、关键事件时间线", "12. Timeline of decisive events"),
    "rpt.went_well": ("做得好的", "Went well"),
    "rpt.lagged": ("滞后的", "Lagged"),
    "rpt.none": ("无", "None"),
    "rpt.open": ("进行中", "open"),
    "rpt.closed": ("已结束", "closed"),
    "rpt.k.operation": ("任务", "Operation"),
    "rpt.k.kind": ("任务类型", "Kind"),
    "rpt.k.scope": ("范围", "Scope"),
    "rpt.k.incident": ("突发事件", "Incident"),
    "rpt.k.level": ("应急响应等级（启动时 / 当前）", "Response level (at launch / at end)"),
    "rpt.k.switch": ("转入战时", "Switched to wartime"),
    "rpt.k.launch": ("任务启动", "Launched"),
    "rpt.k.launched_by": ("启动人", "Launched by"),
    "rpt.k.close": ("任务结束", "Closed"),
    "rpt.k.deadline": ("完成时限", "Deadline"),
    "rpt.k.duration": ("历时", "Duration"),
    "rpt.k.state": ("状态", "State"),
    "rpt.k.reports": ("上报次数", "Progress reports"),
    "rpt.k.reporters": ("上报人数", "Reporters"),
    "rpt.k.grids_reporting": ("有上报的网格 / 末级网格", "Grids reporting / leaf grids"),
    "rpt.k.installed": ("转战时即到岗书记", "Secretaries installed at the switch"),
    "rpt.k.vacancies": ("转战时空缺", "Vacancies at the switch"),
    "rpt.k.appointed": ("已任命代理书记", "Acting secretaries appointed"),
    "rpt.k.still_vacant": ("仍空缺", "Still vacant"),
    "rpt.k.time_to_fill": ("空缺全部补齐用时", "Time until every vacancy was filled"),
    "rpt.k.not_filled": ("尚未全部补齐", "not all filled"),
    "rpt.k.small_grids": ("范围内小网格", "Small grids in scope"),
    "rpt.k.peak": ("{counter} 峰值小时速率", "Peak hourly rate, {counter}"),
    "rpt.k.reached": ("达到 {pct}%", "{pct}% reached"),
    "rpt.k.not_reached": ("未达到", "not reached"),
    "rpt.k.ack_median": ("确认用时中位数", "Time to acknowledge, median"),
    "rpt.k.ack_worst": ("确认用时最长", "Time to acknowledge, worst"),
    "rpt.k.corrections": ("更正次数", "Corrections"),
    "rpt.k.refused": ("被拒上报", "Refused reports"),
    "rpt.refused_note": (
        "被拒上报不写入事件日志；审计记录建立后将据此统计。",
        "Refused reports are not written to the event log; they will be counted from the audit trail once it exists.",
    ),
    "rpt.truncated": ("（PDF 仅列前 {n} 行，共 {total} 行；完整表格见 XLSX/HTML。）",
                      "(The PDF lists the first {n} of {total} rows; the XLSX and HTML carry them all.)"),
    "rpt.chart.pace": ("累计进度与时限进度", "Cumulative progress against the deadline pace"),
    "rpt.chart.towns": ("各单位完成率（%）", "Completion by unit (%)"),
    "rpt.chart.deadline": ("时限进度", "deadline pace"),
    "rpt.chart.target": ("目标", "target"),
    "rpt.unit.town": ("镇（街道）", "Town / street"),
    # column headers
    "rpt.c.counter": ("指标", "Counter"),
    "rpt.c.target": ("目标", "Target"),
    "rpt.c.total": ("完成", "Total"),
    "rpt.c.completion": ("完成率（%）", "Completion (%)"),
    "rpt.c.grid": ("网格编码", "Grid"),
    "rpt.c.name": ("名称", "Name"),
    "rpt.c.town": ("镇（街道）", "Town"),
    "rpt.c.level": ("层级", "Level"),
    "rpt.c.kind": ("类别", "Kind"),
    "rpt.c.parent": ("上级网格", "Parent"),
    "rpt.c.secretary": ("书记", "Secretary"),
    "rpt.c.acting": ("代理", "Acting"),
    "rpt.c.since": ("到岗", "Since"),
    "rpt.c.until": ("离岗", "Until"),
    "rpt.c.reports": ("上报次数", "Reports"),
    "rpt.c.first_report": ("首次上报", "First report"),
    "rpt.c.last_report": ("最后上报", "Last report"),
    "rpt.c.corrections": ("更正", "Corrections"),
    "rpt.c.raised_at": ("出现空缺", "Vacant since"),
    "rpt.c.filled_at": ("补齐时间", "Filled at"),
    "rpt.c.person": ("代理书记", "Acting secretary"),
    "rpt.c.appointed_by": ("任命人", "Appointed by"),
    "rpt.c.time_to_fill": ("补齐用时", "Time to fill"),
    "rpt.c.time": ("时间", "Time"),
    "rpt.c.elapsed": ("已用时", "Elapsed"),
    "rpt.c.deadline_pace": ("时限进度", "Deadline pace"),
    "rpt.c.reached_90": ("达到90%", "90% reached"),
    "rpt.c.time_to_90": ("达到90%用时", "Time to 90%"),
    "rpt.c.reached_100": ("达到100%", "100% reached"),
    "rpt.c.from": ("起", "From"),
    "rpt.c.to": ("止", "To"),
    "rpt.c.duration": ("静默时长", "Silence"),
    "rpt.c.ongoing": ("（至今）", "(ongoing)"),
    "rpt.c.alert_kind": ("预警类型", "Alert kind"),
    "rpt.c.raised": ("发出", "Raised"),
    "rpt.c.acknowledged": ("已确认", "Acknowledged"),
    "rpt.c.unacknowledged": ("未确认", "Unacknowledged"),
    "rpt.c.cleared": ("已解除", "Cleared"),
    "rpt.c.median_ack": ("确认用时中位数", "Median time to ack"),
    "rpt.c.worst_ack": ("确认用时最长", "Worst time to ack"),
    "rpt.c.alert": ("预警编号", "Alert"),
    "rpt.c.raised_time": ("发出时间", "Raised at"),
    "rpt.c.acked_at": ("确认时间", "Acknowledged at"),
    "rpt.c.acked_by": ("确认人", "Acknowledged by"),
    "rpt.c.time_to_ack": ("确认用时", "Time to ack"),
    "rpt.c.cleared_at": ("解除时间", "Cleared at"),
    "rpt.c.actor": ("操作人", "By"),
    "rpt.c.reason": ("原因", "Reason"),
    "rpt.c.count": ("次数", "Count"),
    "rpt.c.activity": ("工作事项", "Activity"),
    "rpt.c.longest_silence": ("最长静默", "Longest silence"),
    "rpt.c.event": ("事件", "Event"),
    "rpt.c.issue": ("问题（待改进事项）", "Issue / area for improvement"),
    "rpt.c.action": ("改进措施", "Corrective action"),
    "rpt.c.responsible": ("责任单位", "Responsible organisation"),
    "rpt.c.contact": ("联系人", "Point of contact"),
    "rpt.c.start": ("开始日期", "Start date"),
    "rpt.c.completion_date": ("完成日期", "Completion date"),
    "rpt.c.finding": ("结论", "Finding"),
    "rpt.c.kind_col": ("类别", "Kind"),
    "rpt.yes": ("是", "yes"),
    # sheet names (≤ 31 characters)
    "rpt.sh.overview": ("总体情况", "Overview"),
    "rpt.sh.analysis": ("分析", "Analysis"),
    "rpt.sh.improvement": ("改进计划", "Improvement plan"),
    "rpt.sh.summary": ("完成情况", "Summary"),
    "rpt.sh.tenures": ("书记", "Secretaries"),
    "rpt.sh.vacancies": ("空缺", "Vacancies"),
    "rpt.sh.pace": ("进度曲线", "Pace"),
    "rpt.sh.towns": ("分单位", "By unit"),
    "rpt.sh.slowest": ("最慢网格", "Slowest grids"),
    "rpt.sh.silences": ("最长静默", "Longest silences"),
    "rpt.sh.alerts_by_kind": ("预警统计", "Alerts by kind"),
    "rpt.sh.alerts": ("预警明细", "Alerts"),
    "rpt.sh.corrections": ("更正", "Corrections"),
    "rpt.sh.reasons": ("更正原因", "Correction reasons"),
    "rpt.sh.activity": ("书记工作日志", "Activity log ICS 214"),
    "rpt.sh.timeline": ("时间线", "Timeline"),
    "rpt.sh.grids": ("网格明细", "Grids"),
    # findings
    "rpt.f.target_met": ("{counter}于{at}达到目标（启动后{elapsed}），未超时限。",
                         "{counter} reached its target at {at}, {elapsed} after launch, within the deadline."),
    "rpt.f.target_late": ("{counter}达到目标，但晚于时限{late}。",
                          "{counter} reached its target {late} after the deadline."),
    "rpt.f.target_short": ("{counter}完成{pct}%，尚差{missing}。",
                           "{counter} stands at {pct}% of target, {missing} short."),
    "rpt.f.vacancies_filled": ("{n}个空缺小网格均已任命代理书记，转战时后{within}内补齐。",
                               "All {n} vacant small grids got an acting secretary, within {within} of the switch."),
    "rpt.f.vacancies_open": ("{of}个空缺中仍有{n}个未任命代理书记。",
                             "{n} of {of} vacancies still have no acting secretary."),
    "rpt.f.no_vacancy": ("转战时{n}名第一小网格长全部到岗，无空缺。",
                         "All {n} first small-grid leaders were installed at the switch; no vacancy."),
    "rpt.f.fastest_unit": ("{name}最快达到90%，用时{elapsed}。", "{name} reached 90% first, in {elapsed}."),
    "rpt.f.units_below_90": ("{of}个单位中有{n}个未达到90%：{names}。",
                             "{n} of {of} units never reached 90%: {names}."),
    "rpt.f.ack_median": ("预警确认用时中位数{median}，最长{worst}。",
                         "Alerts were acknowledged in {median} (median), {worst} at worst."),
    "rpt.f.alerts_unacked": ("{of}条预警中有{n}条未被确认。", "{n} of {of} alerts were never acknowledged."),
    "rpt.f.longest_silence": ("{name}（{grid}）最长{duration}无上报。",
                              "{name} ({grid}) went {duration} without a report."),
    "rpt.f.corrections": ("共有{n}次更正上报。", "{n} reports were corrected."),
    # activity (ICS 214)
    "rpt.a.installed": ("转入战时，任临时党支部书记", "Installed as temporary branch secretary at the switch"),
    "rpt.a.appointed": ("被任命为代理书记（{by}）", "Appointed acting secretary (by {by})"),
    "rpt.a.first_report": ("本网格首次上报进度", "First progress report from the grid"),
    "rpt.a.daily": ("{day}：上报{reports}次，{counts}", "{day}: {reports} reports, {counts}"),
    "rpt.a.corrected": ("更正 {counts}（{actor}）：{reason}", "Correction {counts} (by {actor}): {reason}"),
    "rpt.a.reached": ("本网格达到目标的{pct}%", "The grid reached {pct}% of its target"),
    "rpt.a.alert": ("本网格出现预警：{kind}", "Alert on the grid: {kind}"),
    "rpt.a.last_report": ("最后一次上报（共{reports}次，{counts}）", "Last report ({reports} in all, {counts})"),
    "rpt.a.released": ("解除战时状态，离岗", "Released at the stand-down"),
    # timeline
    "rpt.t.switch_wartime": ("{scope}转入战时（{incident}，{level}）：{installed}名书记到岗，{vacancies}个空缺",
                             "{scope} to wartime ({incident}, {level}): {installed} secretaries installed, "
                             "{vacancies} vacancies"),
    "rpt.t.switch_peacetime": ("{scope}解除战时状态，释放{released}名书记",
                               "{scope} stood down; {released} secretaries released"),
    "rpt.t.level_changed": ("{scope}响应等级调整为{level}", "{scope} response level changed to {level}"),
    "rpt.t.appointed": ("任命代理书记：{person}（{grid}）", "Acting secretary appointed: {person} ({grid})"),
    "rpt.t.appointed_n": ("任命代理书记{n}名", "{n} acting secretaries appointed"),
    "rpt.t.vacancies_filled": ("空缺全部补齐", "Every vacancy filled"),
    "rpt.t.launched": ("任务启动：{name}", "Operation launched: {name}"),
    "rpt.t.closed": ("任务结束", "Operation closed"),
    "rpt.t.alert_raised": ("预警：{alert_kind}（{grid}）", "Alert raised: {alert_kind} ({grid})"),
    "rpt.t.alert_raised_n": ("预警{n}条：{alert_kind}", "{n} alerts raised: {alert_kind}"),
    "rpt.t.alert_acked": ("预警已确认：{alert_kind}（{by}）", "Alert acknowledged: {alert_kind} (by {by})"),
    "rpt.t.alert_acked_n": ("{n}条预警已确认", "{n} alerts acknowledged"),
    "rpt.t.milestone": ("完成{pct}%", "{pct}% of target reached"),
    "rpt.d.h": ("{h}小时{m:02d}分", "{h} h {m:02d} min"),
    "rpt.d.m": ("{m}分{s:02d}秒", "{m} min {s:02d} s"),
    "rpt.d.s": ("{s}秒", "{s} s"),
    "rpt.d.d": ("{d}天{h}小时", "{d} d {h} h"),
    "rpt.per_hour": ("{n}/小时（{at}起）", "{n}/h (from {at})"),
})


# -- formatting -------------------------------------------------------------------------


_TIMES: dict[int, str] = {}


def fmt_time(ms: Any) -> str:
    """Local (UTC+8) time of an epoch-ms value, '' for none (cached by second: tables repeat them)."""
    if ms is None or (isinstance(ms, float) and pd.isna(ms)):
        return ""
    sec = int(ms) // 1000
    text = _TIMES.get(sec)
    if text is None:
        if len(_TIMES) > 200_000:
            _TIMES.clear()
        d = datetime.fromtimestamp(sec, LOCAL)
        text = _TIMES[sec] = (f"{d.year:04d}-{d.month:02d}-{d.day:02d} "
                              f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}")
    return text


def fmt_duration(ms: Any, lang: str) -> str:
    """A duration for people: days and hours, hours and minutes, minutes and seconds."""
    if ms is None or (isinstance(ms, float) and pd.isna(ms)):
        return ""
    s = round(float(ms) / 1000)
    if s >= 86_400:
        return t("rpt.d.d", lang, d=s // 86_400, h=(s % 86_400) // 3600)
    if s >= 3600:
        return t("rpt.d.h", lang, h=s // 3600, m=(s % 3600) // 60)
    if s >= 60:
        return t("rpt.d.m", lang, m=s // 60, s=s % 60)
    return t("rpt.d.s", lang, s=s)


def fmt_num(v: Any) -> str:
    """Integers with thousands separators, percentages with one decimal, blanks for none."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def txt(v: Any) -> str:
    """Text of a cell, '' for none (pandas turns None into NaN)."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    return str(v)


def _term(key: Any, lang: str) -> str:
    return t(str(key), lang) if key else ""


def _counts_text(counts: Mapping[str, int], lang: str) -> str:
    if not counts:
        return t("rpt.none", lang)
    sep = "，" if lang == "zh-CN" else ", "
    return sep.join(f"{t(c, lang)} {n:+,}" for c, n in counts.items())


def finding_text(f: Finding, lang: str) -> str:
    """A finding of the analysis as a sentence."""
    p = dict(f.params)
    if "counter" in p:
        p["counter"] = t(p["counter"], lang)
    for k in ("at",):
        if k in p:
            p[k] = fmt_time(p[k])
    for k in ("elapsed", "late", "within", "median", "worst", "duration"):
        if k in p:
            p[k] = fmt_duration(p[k], lang)
    if "missing" in p:
        p["missing"] = fmt_num(p["missing"])
    if "names" in p:
        p["names"] = ("、" if lang == "zh-CN" else ", ").join(p["names"])
    return t(f"rpt.f.{f.key}", lang, **p)


def activity_text(key: str, params: Mapping[str, Any], lang: str) -> str:
    """One line of a secretary's activity log."""
    p = dict(params)
    if "counts" in p:
        p["counts"] = _counts_text(p["counts"], lang)
    if "kind" in p:
        p["kind"] = t(p["kind"], lang)
    if key == "appointed" and not p.get("by"):
        p["by"] = "—"
    return t(f"rpt.a.{key}", lang, **p)


def timeline_text(item: TimelineItem, lang: str, names: Mapping[str, str] | None = None) -> str:
    """One decisive event as a line of the timeline."""
    p = dict(item.params)
    names = names or {}
    if "scope" in p:
        p["scope"] = names.get(p["scope"], p["scope"])
    if "incident" in p:
        p["incident"] = t(str(p["incident"]), lang)
    if "level" in p:
        p["level"] = t(f"level.{p['level']}", lang)
    if "alert_kind" in p:
        p["alert_kind"] = t(str(p["alert_kind"]), lang)
    if "grid" in p:
        p["grid"] = names.get(p["grid"], p["grid"])
    if item.count > 1 and item.kind in ("appointed", "alert_raised", "alert_acked"):
        return t(f"rpt.t.{item.kind}_n", lang, n=item.count, **p)
    return t(f"rpt.t.{item.kind}", lang, **p)


# -- the document model ---------------------------------------------------------------------


@dataclass
class Table:
    """A table of display strings with a sheet name and the raw frame behind it (for XLSX)."""

    key: str
    header: list[str]
    rows: list[list[str]]
    raw: pd.DataFrame | None = None
    widths: list[float] | None = None


@dataclass
class Section:
    """A heading with paragraphs, key–value pairs, tables and charts, in that order."""

    title: str
    pairs: list[tuple[str, str]] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[tuple[str, list[str]]] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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
        (t("rpt.k.incident", L), _term(r.incident, L)),
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
        (t("rpt.k.vacancies", L), num(s["vacancies_at_switch"])),
        (t("rpt.k.appointed", L), num(s["appointed"])),
        (t("rpt.k.still_vacant", L), num(s["still_vacant"])),
        (t("rpt.k.time_to_fill", L), dur(s["time_to_fill_all"]) if s["time_to_fill_all"] is not None
         else (t("rpt.k.not_filled", L) if s["still_vacant"] else "—")),
    ]
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

    return title, secs


def grids_table(r: Report, lang: str) -> Table:
    """Every grid of the scope (the CSV, and the XLSX's last sheet)."""
    L = lang
    num, tm = fmt_num, fmt_time
    return _table("grids", r.grids, [
        ("grid", "rpt.c.grid", txt), ("name", "rpt.c.name", txt), ("level", "rpt.c.level", lambda v: t(v, L)),
        ("kind", "rpt.c.kind", str), ("parent", "rpt.c.parent", txt),
        ("town", "rpt.c.town", txt),
        *[x for c in r.counters for x in ((f"{c}_target", f"{t(c, L)} · {t('rpt.c.target', L)}", num), (c, c, num))],
        ("completion", "rpt.c.completion", num), ("reports", "rpt.c.reports", num),
        ("first_report", "rpt.c.first_report", tm), ("last_report", "rpt.c.last_report", tm),
        ("time_to_90", "rpt.c.time_to_90", lambda v: fmt_duration(v, L)),
        ("longest_silence", "rpt.c.longest_silence", lambda v: fmt_duration(v, L)),
        ("secretary", "rpt.c.secretary", txt),
    ], L)


def _header_fix(tb: Table, lang: str) -> Table:
    """Counter column headers are glossary keys: translate them."""
    tb.header = [t(h, lang) if h in _COUNTER_KEYS else h for h in tb.header]
    tb.raw = pd.DataFrame(tb.rows, columns=tb.header)
    return tb


_COUNTER_KEYS = {
    "sampled", "hazard_points_checked", "people_evacuated", "households_checked", "hazards_found",
    "hazards_eliminated", "people_persuaded",
}


# -- charts (matplotlib, shipped font, deterministic) ----------------------------------------

_MPL_LOCK = threading.Lock()


def _mpl() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import font_manager

    if FONT_NAME not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(FONT_PATH))
    return matplotlib


def charts(r: Report, lang: str, fmt: str) -> dict[str, bytes]:
    """The report's charts as SVG (HTML) or PNG (PDF) bytes."""
    with _MPL_LOCK:
        mpl = _mpl()
        from matplotlib.figure import Figure

        rc = {
            "font.family": [FONT_NAME],
            "svg.hashsalt": "wartime-report",
            "svg.fonttype": "path",
            "axes.unicode_minus": False,
            "font.size": 9,
            "path.simplify": True,
        }
        out: dict[str, bytes] = {}
        with mpl.rc_context(rc):
            out["pace"] = _save(_pace_chart(Figure(figsize=(7.2, 3.2)), r, lang), fmt)
            out["towns"] = _save(_towns_chart(Figure(figsize=(7.2, max(2.2, 0.22 * len(r.towns) + 1.0))), r, lang), fmt)
        return out


def _save(fig: Any, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "svg":
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    else:
        fig.savefig(buf, format="png", dpi=160, metadata={"Software": None}, bbox_inches="tight")
    return buf.getvalue()


def _pace_chart(fig: Any, r: Report, lang: str) -> Any:
    ax = fig.subplots()
    head = r.counters[0]
    times = r.pace["time"].tolist() if len(r.pace) else []
    per, unit = elapsed_unit(max([1, *(v - r.launched_at for v in times),
                                  *([r.deadline - r.launched_at] if r.deadline else [])]))
    if len(r.pace):
        xs = [(v - r.launched_at) / per for v in [r.launched_at, *times]]
        for i, c in enumerate(r.counters):
            ys = [0, *r.pace[c].tolist()]
            ax.step(xs, ys, where="post", label=t(c, lang), linewidth=2.0 if i == 0 else 1.2)
        target = r.summary[r.summary["counter"] == head]["target"].iloc[0]
        if r.deadline and pd.notna(target):
            dl = (r.deadline - r.launched_at) / per
            ax.plot([0, dl], [0, float(target)], linestyle="--", color="#888888", label=t("rpt.chart.deadline", lang))
        if pd.notna(target):
            ax.axhline(float(target), color="#cc3333", linewidth=0.8, linestyle=":", label=t("rpt.chart.target", lang))
    ax.set_xlabel(unit_label(unit, lang))
    ax.set_title(t("rpt.chart.pace", lang))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def _towns_chart(fig: Any, r: Report, lang: str) -> Any:
    ax = fig.subplots()
    df = r.towns.iloc[::-1]
    vals = [float(v) if pd.notna(v) else 0.0 for v in df["completion"]]
    ax.barh(list(df["name"]), vals, color=["#2e7d32" if v >= 90 else "#f9a825" if v >= 50 else "#c62828" for v in vals])
    ax.axvline(90, color="#555555", linewidth=0.8, linestyle="--")
    ax.set_title(t("rpt.chart.towns", lang))
    ax.grid(True, axis="x", alpha=0.3)
    return fig


# -- HTML ------------------------------------------------------------------------------------

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC","WenQuanYi Micro Hei",
sans-serif;margin:2em auto;max-width:1100px;color:#1b1b1b;line-height:1.5;padding:0 1em}
h1{font-size:1.6em;border-bottom:3px solid #b71c1c;padding-bottom:.3em}
h2{font-size:1.25em;margin-top:2em;border-left:5px solid #b71c1c;padding-left:.5em}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em;width:100%}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3eded}
dl.pairs{display:grid;grid-template-columns:max-content 1fr;gap:2px 1.2em}
dl.pairs dt{color:#555}dl.pairs dd{margin:0;font-weight:600}
.chart svg{max-width:100%;height:auto}.note{color:#666;font-size:.9em}
details summary{cursor:pointer;color:#555}
@media print{details{display:block}}
"""


def render_html(r: Report, lang: str) -> bytes:
    """One self-contained HTML file: inline CSS and SVG charts, no script, no external URL."""
    title, secs = build_document(r, lang)
    ch = charts(r, lang, "svg")
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{e(lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    for sec in secs:
        out.append(f"<section><h2>{e(sec.title)}</h2>")
        for p in sec.paragraphs:
            out.append(f"<p>{e(p)}</p>")
        if sec.pairs:
            out.append('<dl class="pairs">' + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in sec.pairs)
                       + "</dl>")
        for head, items in sec.bullets:
            out.append(f"<h3>{e(head)}</h3><ul>" + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>")
        for name in sec.charts:
            svg = ch[name].decode("utf-8")
            svg = svg[svg.index("<svg"):]
            out.append(f'<div class="chart" id="chart-{name}">{svg}</div>')
        for tb in sec.tables:
            if tb.key == "analysis":
                continue
            tb = _header_fix(tb, lang)
            body = _html_table(tb)
            if len(tb.rows) > 60:
                out.append(f"<details><summary>{e(tb.header[0])} … ({len(tb.rows):,})</summary>{body}</details>")
            else:
                out.append(body)
        for n in sec.notes:
            out.append(f'<p class="note">{e(n)}</p>')
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out).encode("utf-8")


def _html_table(tb: Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in tb.header)
    rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in tb.rows)
    return f'<table data-table="{e(tb.key)}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


# -- PDF -------------------------------------------------------------------------------------

_PDF_LOCK = threading.Lock()


def render_pdf(r: Report, lang: str) -> bytes:
    """A4 PDF in the shipped CJK font, charts as images, reportlab's invariant mode (fixed dates and ids)."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as RLTable

    title, secs = build_document(r, lang)
    ch = charts(r, lang, "png")
    with _PDF_LOCK:
        if "WQY" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("WQY", str(FONT_PATH)))
        base = ParagraphStyle("base", fontName="WQY", fontSize=9.5, leading=13, wordWrap="CJK", alignment=TA_LEFT)
        h1 = ParagraphStyle("h1", parent=base, fontSize=17, leading=22, spaceAfter=8,
                            textColor=colors.HexColor("#b71c1c"))
        h2 = ParagraphStyle("h2", parent=base, fontSize=12.5, leading=17, spaceBefore=10, spaceAfter=4,
                            textColor=colors.HexColor("#7f0000"))
        h3 = ParagraphStyle("h3", parent=base, fontSize=10.5, leading=14, spaceBefore=4)
        cell = ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.5)
        note = ParagraphStyle("note", parent=base, fontSize=8, textColor=colors.HexColor("#666666"))
        buf = io.BytesIO()
        doc = SimpleDocTemplate(
            buf, pagesize=A4, invariant=1, title=title, author="wartime", subject=r.operation,
            creator="wartime", leftMargin=14 * mm, rightMargin=14 * mm, topMargin=14 * mm, bottomMargin=14 * mm,
        )
        width = A4[0] - 28 * mm
        e = html.escape
        flow: list[Any] = [Paragraph(e(title), h1)]
        for sec in secs:
            flow.append(Paragraph(e(sec.title), h2))
            for p in sec.paragraphs:
                flow.append(Paragraph(e(p), base))
            if sec.pairs:
                data = [[Paragraph(e(k), cell), Paragraph(e(v), cell)] for k, v in sec.pairs]
                tbl = RLTable(data, colWidths=[width * 0.38, width * 0.62])
                tbl.setStyle(TableStyle([
                    ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#cccccc")),
                    ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f6f1f1")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]))
                flow.append(tbl)
            for head, items in sec.bullets:
                flow.append(Paragraph(e(head), h3))
                for i in items:
                    flow.append(Paragraph("• " + e(i), base))
            for name in sec.charts:
                img = Image(io.BytesIO(ch[name]))
                scale = min(width / img.drawWidth, 1.0)
                img.drawWidth *= scale
                img.drawHeight *= scale
                flow.append(Spacer(1, 4))
                flow.append(img)
            for tb in sec.tables:
                if tb.key in ("analysis", "pace"):
                    continue
                tb = _header_fix(tb, lang)
                rows = tb.rows[:PDF_MAX_ROWS]
                ncol = len(tb.header)
                widths = tb.widths or [1.0 / ncol] * ncol
                big = len(rows) > 80
                if big:
                    data = [[Paragraph(e(h), cell) for h in tb.header]] + [[str(c) for c in row] for row in rows]
                else:
                    data = [[Paragraph(e(h), cell) for h in tb.header]] + [
                        [Paragraph(e(str(c)), cell) for c in row] for row in rows
                    ]
                if len(data) == 1:
                    data.append(["—"] + [""] * (ncol - 1))
                tbl = RLTable(data, colWidths=[width * w for w in widths], repeatRows=1)
                tbl.setStyle(TableStyle([
                    ("FONT", (0, 0), (-1, -1), "WQY", 7),
                    ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#cccccc")),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3eded")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ]))
                flow.append(Spacer(1, 4))
                flow.append(tbl)
                if len(tb.rows) > PDF_MAX_ROWS:
                    flow.append(Paragraph(e(t("rpt.truncated", lang, n=PDF_MAX_ROWS, total=len(tb.rows))), note))
            for n in sec.notes:
                flow.append(KeepTogether([Paragraph(e(n), note)]))

        def footer(canvas: Any, _doc: Any) -> None:
            canvas.saveState()
            canvas.setFont("WQY", 7)
            canvas.setFillColor(colors.HexColor("#777777"))
            canvas.drawString(14 * mm, 8 * mm, f"{r.operation} · {fmt_time(r.as_of)}")
            canvas.drawRightString(A4[0] - 14 * mm, 8 * mm, str(canvas.getPageNumber()))
            canvas.restoreState()

        doc.build(flow, onFirstPage=footer, onLaterPages=footer)
        return buf.getvalue()


# -- XLSX and CSV ----------------------------------------------------------------------------


def render_xlsx(r: Report, lang: str) -> bytes:
    """One sheet per table; document dates and zip entry times are the log's last event."""
    title, secs = build_document(r, lang)
    when = datetime.fromtimestamp(r.as_of / 1000, LOCAL).replace(tzinfo=None)
    sheets: list[tuple[str, list[list[str]]]] = []
    overview: list[list[str]] = [[title]]
    for sec in secs:
        overview.extend([sec.title, k, v] for k, v in sec.pairs)
    sheets.append((t("rpt.sh.overview", lang), overview))
    for sec in secs:
        for tb in sec.tables:
            tb = _header_fix(tb, lang)
            sheets.append((t(f"rpt.sh.{tb.key}", lang), [tb.header, *tb.rows]))
    gt = _header_fix(grids_table(r, lang), lang)
    sheets.append((t("rpt.sh.grids", lang), [gt.header, *gt.rows]))
    return write_xlsx(sheets, title, when)


_NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$|^-?\d+(\.\d+)?$")
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        name = chr(65 + rem) + name
    return name


def _sheet_xml(rows: Sequence[Sequence[str]]) -> bytes:
    """A worksheet: numbers as numbers, everything else as inline strings; row 1 bold (style 1)."""
    esc = html.escape
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" state="frozen"/>'
           '</sheetView></sheetViews><sheetData>']
    cols = [_col(i) for i in range(max((len(r) for r in rows), default=0))]
    for n, row in enumerate(rows, start=1):
        style = ' s="1"' if n == 1 else ""
        cells = []
        for c, v in zip(cols, row, strict=False):
            if v == "":
                continue
            if n > 1 and _NUMBER.match(v):
                cells.append(f'<c r="{c}{n}"><v>{v.replace(",", "")}</v></c>')
            else:
                text = esc(_XML_BAD.sub("", v), quote=False)
                cells.append(f'<c r="{c}{n}" t="inlineStr"{style}><is><t xml:space="preserve">{text}</t></is></c>')
        out.append(f'<row r="{n}">{"".join(cells)}</row>')
    out.append("</sheetData></worksheet>")
    return "".join(out).encode("utf-8")


def write_xlsx(sheets: Sequence[tuple[str, Sequence[Sequence[str]]]], title: str, when: datetime) -> bytes:
    """A minimal, valid SpreadsheetML package written directly: fast, and its bytes depend on content only."""
    esc = html.escape
    names: list[str] = []
    for name, _ in sheets:
        base = re.sub(r"[\\/?*\[\]:]", " ", name)[:31] or "Sheet"
        cand, k = base, 2
        while cand in names:
            cand = f"{base[:28]}({k})"
            k += 1
        names.append(cand)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    ns = "http://schemas.openxmlformats.org"
    files: list[tuple[str, bytes]] = []
    ct = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        f'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    files.append(("[Content_Types].xml", (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Types xmlns="{ns}/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        f"{ct}</Types>").encode()))
    files.append(("_rels/.rels", (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{ns}/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/>'
        f'<Relationship Id="rId2" Type="{ns}/package/2006/relationships/metadata/core-properties" '
        'Target="docProps/core.xml"/></Relationships>').encode()))
    files.append(("docProps/core.xml", (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<cp:coreProperties xmlns:cp="{ns}/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{esc(title)}</dc:title><dc:creator>wartime</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>").encode()))
    sheets_xml = "".join(
        f'<sheet name="{esc(n)}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, start=1)
    )
    files.append(("xl/workbook.xml", (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{ns}/spreadsheetml/2006/main" xmlns:r="{ns}/officeDocument/2006/relationships">'
        f"<sheets>{sheets_xml}</sheets></workbook>").encode()))
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{ns}/officeDocument/2006/relationships/worksheet" '
        f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(sheets) + 1)
    )
    rels += (f'<Relationship Id="rId{len(sheets) + 1}" Type="{ns}/officeDocument/2006/relationships/styles" '
             'Target="styles.xml"/>')
    files.append(("xl/_rels/workbook.xml.rels", (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{ns}/package/2006/relationships">{rels}</Relationships>').encode()))
    files.append(("xl/styles.xml", (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<styleSheet xmlns="{ns}/spreadsheetml/2006/main">'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>").encode()))
    for i, (_, rows) in enumerate(sheets, start=1):
        files.append((f"xl/worksheets/sheet{i}.xml", _sheet_xml(rows)))
    date_time = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in files:
            zi = zipfile.ZipInfo(name, date_time=date_time)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            z.writestr(zi, body, compresslevel=6)
    return out.getvalue()


def render_csv(r: Report, lang: str) -> bytes:
    """The per-grid table, UTF-8 with a byte-order mark (so spreadsheet programs read Chinese)."""
    from dashboard.privacy import inert_cell  # names and notes starting with = + - @ must not run as formulas

    tb = _header_fix(grids_table(r, lang), lang)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(tb.header)
    w.writerows([inert_cell(c) for c in row] for row in tb.rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


RENDERERS: dict[str, Callable[[Report, str], bytes]] = {
    "html": render_html,
    "pdf": render_pdf,
    "xlsx": render_xlsx,
    "csv": render_csv,
}


def render(r: Report, fmt: str, lang: str = "zh-CN") -> bytes:
    """A built report in one format."""
    fn = RENDERERS.get(fmt)
    if fn is None:
        raise InvalidRequest(f"format must be one of: {', '.join(RENDERERS)}", field="format")
    return fn(r, lang if lang in ("zh-CN", "en") else "zh-CN")


def render_report(county: Any, operation: str, fmt: str, lang: str = "zh-CN") -> bytes:
    """The after-action report of an operation of a `County`, from its log (the CLI and the API call this)."""
    from streams.history import history_for

    if fmt not in RENDERERS:
        raise InvalidRequest(f"format must be one of: {', '.join(RENDERERS)}", field="format")
    hist = history_for(county.client, county.code)
    try:
        report = hist.report(operation)
    except KeyError:
        raise UnknownOperation(f"unknown operation {operation!r}", field="operation") from None
    return render(report, fmt, lang)


def filename(operation: str, fmt: str, lang: str) -> str:
    """Download name of a report file."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", operation)
    return f"after-action-{safe}-{lang}.{fmt}"
