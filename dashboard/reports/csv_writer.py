"""The report's per-grid table as CSV: a file for machines, which `pandas.read_csv` reads as typed.

Numbers are plain (no thousands separators), times are ISO 8601 with the
+08:00 offset, durations are whole seconds. With ``lang=en`` the headers and
the level and kind columns are the codes of the glossary (``sampled_target``,
``small``, ``comprehensive``); in zh-CN they are the Chinese labels. UTF-8 with
a byte-order mark, so spreadsheet programs read Chinese; text made inert.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from command.cells import inert_cell
from command.localtime import local_datetime
from command.report import Report
from dashboard.i18n import t
from dashboard.reports.document import COUNTER_KEYS

__all__ = ["csv_columns", "render_csv"]

_TIMES = ("first_report", "last_report", "reached_90")
_DURATIONS = ("time_to_90", "longest_silence")
_TERMS = ("level", "kind")


def csv_columns(r: Report) -> list[str]:
    """The column codes, in order."""
    return list(r.grids.columns)


def _header(code: str, lang: str) -> str:
    if lang == "en":
        return code
    if code in COUNTER_KEYS:
        return t(code, lang)
    if code.endswith("_target") and code[: -len("_target")] in COUNTER_KEYS:
        return f"{t(code[: -len('_target')], lang)} · {t('rpt.c.target', lang)}"
    if code in _DURATIONS:
        return f"{t(f'rpt.c.{code}', lang)}{t('rpt.c.seconds', lang)}"
    return t(f"rpt.c.{code}", lang)


def _value(code: str, v: Any, lang: str) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if code in _TIMES:
        return local_datetime(int(v)).isoformat(timespec="milliseconds")
    if code in _DURATIONS:
        return round(float(v) / 1000)
    if code in _TERMS:
        return v if lang == "en" else t(str(v), lang)
    if isinstance(v, float) and code != "completion" and v.is_integer():
        return int(v)  # a target column with a blank holds floats in pandas
    return inert_cell(v) if isinstance(v, str) else v


def render_csv(r: Report, lang: str) -> bytes:
    """The per-grid table, one row per grid of the scope."""
    cols = csv_columns(r)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([_header(c, lang) for c in cols])
    for rec in r.grids.itertuples(index=False, name=None):
        w.writerow([_value(c, v, lang) for c, v in zip(cols, rec, strict=True)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
