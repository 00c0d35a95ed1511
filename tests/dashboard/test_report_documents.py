"""The report documents read well: PDF text inside its columns, lists after summaries, zone stated, XLSX times.

The PDF is read back with pypdfium2 (text extraction: every character's box;
the page's path objects: every grid line of every table).
"""

from __future__ import annotations

import bisect
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest

from command.report import Report, build_report, fold_records
from dashboard.reports.pdf_writer import render_pdf
from tests.command.test_report import OP, operation_log

MARGIN = 14 * 72 / 25.4
"""The page margin the writer uses (14 mm), in points."""
RUN_GAP = 4.0
"""Closer than this, two characters on a baseline are one run of text (cells are padded 3 pt each side)."""


def five_minutes() -> Report:
    log = operation_log(reports=60, spread=10_000)
    return build_report(fold_records(log.records), log.records, OP, log.ms)


def three_days() -> Report:
    log = operation_log(reports=200, spread=2_600_000)
    return build_report(fold_records(log.records), log.records, OP, log.ms)


def crossings(page: pdfium.PdfPage) -> list[str]:
    """Text that a vertical grid line runs through, or that leaves the printable width.

    A glyph's box is its ink, so a line can pass between two letters of one
    word: a run is two characters on one baseline closer than a cell's two
    paddings (6 pt), and a line inside a run is text crossing its column.
    """
    lines: list[tuple[float, float, float]] = []
    for obj in page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_PATH]):
        left, bottom, right, top = obj.get_bounds()
        if right - left < 1.0 and top - bottom > 2.0:
            lines.append(((left + right) / 2, bottom, top))
    lines.sort()
    xs = [x for x, _, _ in lines]
    width = page.get_width()
    text = page.get_textpage()
    bad = []
    prev: tuple[float, float, float, float] | None = None
    for i in range(text.count_chars()):
        ch = text.get_text_range(i, 1)
        box = text.get_charbox(i)
        left, bottom, right, top = box
        if ch.strip() and (right > width - MARGIN + 1 or left < MARGIN - 1):
            bad.append(f"{ch!r} outside the margins at x={left:.1f}")
        start = left
        if prev is not None and abs(prev[1] - bottom) < 1.5 and -0.5 <= left - prev[2] < RUN_GAP:
            start = prev[0]  # the same run of text: the gap before this character belongs to it
        mid = (bottom + top) / 2 if ch.strip() else bottom + 2
        for x, y0, y1 in lines[bisect.bisect_right(xs, start + 0.4):bisect.bisect_left(xs, right - 0.4)]:
            if y0 <= mid <= y1:
                bad.append(f"{ch!r} crosses a column line at x={x:.1f}, y={mid:.1f}")
                break
        if ch not in ("\r", "\n"):
            prev = box
    return bad


@pytest.mark.parametrize("make", [five_minutes, three_days], ids=["5-minute", "3-day"])
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_no_table_text_crosses_its_column(make: object, lang: str, artifacts: Path) -> None:
    report = make()  # type: ignore[operator]
    doc = pdfium.PdfDocument(render_pdf(report, lang))
    bad: list[str] = []
    for n in range(len(doc)):
        page = doc[n]
        bad += [f"page {n + 1}: {b}" for b in crossings(page)]
        if n < 3:
            name = f"report-{make.__name__}-{lang}-p{n + 1}.png"  # type: ignore[attr-defined]
            page.render(scale=1.4).to_pil().save(artifacts / name)
    assert not bad, bad[:20]


def test_the_check_sees_a_table_cell_that_runs_over() -> None:
    """The overflow check itself: a plain reportlab table with a cell too long for its column is caught."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate, Table, TableStyle

    buf = io.BytesIO()
    tbl = Table([["TC01-L1-M1-S1-W1 a long code", "name"]], colWidths=[40, 100])
    tbl.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, "#cccccc")]))
    SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN).build([tbl])
    assert crossings(pdfium.PdfDocument(buf.getvalue())[0])


def test_summaries_come_before_the_per_grid_lists_and_the_zone_is_stated() -> None:
    doc = pdfium.PdfDocument(render_pdf(three_days(), "zh-CN"))
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    assert "北京时间（UTC+8）" in text
    lists = text.index("附：明细表")
    for summary in ("一、总体情况", "十二、关键事件时间线"):
        assert text.index(summary) < lists


def test_xlsx_times_are_excel_datetimes_with_a_format() -> None:
    import io
    from datetime import datetime

    from openpyxl import load_workbook

    from command.localtime import local_second
    from dashboard.reports.xlsx_writer import WHEN_FORMAT, render_xlsx

    report = three_days()
    wb = load_workbook(io.BytesIO(render_xlsx(report, "en")))
    ws = wb["Grids"]
    head = [c.value for c in ws[1]]
    col = head.index("Last report") + 1
    cells = [ws.cell(row=n, column=col) for n in range(2, ws.max_row + 1) if ws.cell(row=n, column=col).value]
    assert cells
    for c in cells:
        assert isinstance(c.value, datetime) and c.number_format == WHEN_FORMAT
    latest = max(c.value for c in cells)
    assert latest.strftime("%Y-%m-%d %H:%M:%S") == local_second(int(report.grids["last_report"].max()))
    assert "UTC+8" in str(wb["Overview"]["A2"].value)
