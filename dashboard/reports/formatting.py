"""How the report's values read for people: local times, durations, numbers, findings, timeline lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

import dashboard.reports.strings as _strings  # noqa: F401 - the keys used below
from command.localtime import local_second
from command.report import Finding, TimelineItem
from dashboard.i18n import t

__all__ = [
    "activity_text",
    "finding_text",
    "fmt_duration",
    "fmt_num",
    "fmt_time",
    "term",
    "timeline_text",
    "txt",
]


def fmt_time(ms: Any) -> str:
    """Local (UTC+8) time of an epoch-ms value, '' for none."""
    if ms is None or (isinstance(ms, float) and pd.isna(ms)):
        return ""
    return local_second(int(ms))


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


def term(key: Any, lang: str) -> str:
    """A glossary term in a language, "" for none."""
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
    if "counter" in p:
        p["counter"] = t(str(p["counter"]), lang)
    if "grid" in p:
        p["grid"] = names.get(p["grid"], p["grid"])
    if item.count > 1 and item.kind in ("appointed", "alert_raised", "alert_acked"):
        return t(f"rpt.t.{item.kind}_n", lang, n=item.count, **p)
    return t(f"rpt.t.{item.kind}", lang, **p)
