"""The after-action report (复盘报告) rendered: HTML, PDF, XLSX, CSV, zh-CN and English.

`render_report(county, operation, fmt, lang)` asks `streams.history` for the
report (`command.report.Report`: scalars and DataFrames, times in epoch ms),
lays it out once as a document model (`document`: sections with paragraphs,
tables and charts, in the HSEEP order: overview, analysis, improvement plan,
then the detail sections of the issue) and writes it with the writer of the
requested format: `html_writer`, `pdf_writer`, `xlsx_writer` (openpyxl) or
`csv_writer` (the per-grid table, for machines). Words live in `strings`,
value formatting in `formatting`, charts in `charts`.

Same log, same bytes. Nothing here reads the clock: the generation time is the
log's last event (`Report.as_of`); times are shown in Asia/Shanghai
(`command.localtime`). Charts are drawn with matplotlib in the shipped CJK font
(assets/fonts, TrueType, so reportlab can embed it too) with fixed SVG ids and
no dates; the PDF is written with reportlab's ``invariant`` mode (fixed dates
and document id); the XLSX gets its document dates and zip entry times set to
the generation time; HTML is one file with inline CSS and inline SVG charts —
no script, no request to anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from command.errors import InvalidRequest, UnknownOperation
from command.report import Report
from dashboard.reports.csv_writer import render_csv
from dashboard.reports.formatting import fmt_duration, fmt_time, timeline_text
from dashboard.reports.households import attach as attach_households
from dashboard.reports.html_writer import render_html
from dashboard.reports.pdf_writer import render_pdf
from dashboard.reports.xlsx_writer import render_xlsx
from streams.history import history_for

__all__ = [
    "FORMATS",
    "RENDERERS",
    "filename",
    "fmt_duration",
    "fmt_time",
    "render",
    "render_report",
    "timeline_text",
]

FORMATS = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
"""Media type of each format."""

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


def render_report(county: Any, operation: str, fmt: str, lang: str = "zh-CN", *, personal: bool = False) -> bytes:
    """The after-action report of an operation of a `County`, from its log (the CLI and the API call this).

    Households' names and phones are masked in every format; `personal` (the API sets it for a
    commander's XLSX only, and audits it) writes them in full in the XLSX."""
    if fmt not in RENDERERS:
        raise InvalidRequest(f"format must be one of: {', '.join(RENDERERS)}", field="format")
    hist = history_for(county.client, county.code)
    try:
        report = hist.report(operation)
    except KeyError:
        raise UnknownOperation(f"unknown operation {operation!r}", field="operation") from None
    return render(attach_households(county, report, personal=personal and fmt == "xlsx"), fmt, lang)


def filename(operation: str, fmt: str, lang: str) -> str:
    """Download name of a report file."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", operation)
    return f"after-action-{safe}-{lang}.{fmt}"
