"""The report as an A4 PDF: the shipped CJK font, charts as images, reportlab's invariant mode."""

from __future__ import annotations

import html
import io
import threading
from typing import Any

from command.report import Report
from dashboard.i18n import t
from dashboard.reports.charts import FONT_PATH, charts
from dashboard.reports.document import build_document, header_fix
from dashboard.reports.formatting import fmt_time

__all__ = ["PDF_MAX_ROWS", "SUMMARY_ROWS", "column_widths", "render_pdf"]

PDF_MAX_ROWS = 400
"""Long tables are cut in the PDF (the XLSX and HTML carry every row)."""

SUMMARY_ROWS = 25
"""A table longer than this is a list (per grid, per secretary…): it goes after every summary, at the end."""
CELL_SIZE = 7.0
CELL_PAD = 3.0
"""Table text size and the padding each side of a cell, in points."""

_PDF_LOCK = threading.Lock()


def column_widths(header: list[str], rows: list[list[str]], total: float, hint: list[float] | None) -> list[float]:
    """Column widths (points) that add up to `total`: the layout's own shares, else sized to the content.

    A column whose widest cell fits its fair share keeps its natural width;
    the rest share what is left by their natural widths (their long cells wrap).
    """
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if hint:
        return [total * w for w in hint]

    def measure(text: str) -> float:
        return stringWidth(str(text), "WQY", CELL_SIZE) + 2 * CELL_PAD + 1

    sample = rows[:300]
    natural = [max([min(measure(h), 64.0), 24.0, *(measure(row[i]) for row in sample)]) for i, h in enumerate(header)]
    if sum(natural) <= total:
        return [n * total / sum(natural) for n in natural]
    fixed: dict[int, float] = {}
    while True:
        rest = [i for i in range(len(natural)) if i not in fixed]
        share = (total - sum(fixed.values())) / max(1, len(rest))
        small = {i: natural[i] for i in rest if natural[i] <= share}
        if not small:
            break
        fixed.update(small)
    left = total - sum(fixed.values())
    wide = sum(natural[i] for i in rest) or 1.0
    return [fixed[i] if i in fixed else natural[i] * left / wide for i in range(len(natural))]


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
        cell = ParagraphStyle("cell", parent=base, fontSize=CELL_SIZE, leading=CELL_SIZE * 1.25)
        head_cell = ParagraphStyle("head_cell", parent=cell, textColor=colors.HexColor("#3a2020"))
        note = ParagraphStyle("note", parent=base, fontSize=8, textColor=colors.HexColor("#666666"))
        buf = io.BytesIO()
        doc = SimpleDocTemplate(
            buf, pagesize=A4, invariant=1, title=title, author="wartime", subject=r.operation,
            creator="wartime", leftMargin=14 * mm, rightMargin=14 * mm, topMargin=14 * mm, bottomMargin=14 * mm,
        )
        width = A4[0] - 28 * mm
        e = html.escape
        lists: list[tuple[str, Any]] = []

        def table(tb: Any) -> list[Any]:
            """A table whose columns fit their content and whose long cells wrap inside their column."""
            tb = header_fix(tb, lang)
            rows = tb.rows[:PDF_MAX_ROWS]
            ncol = len(tb.header)
            cols = column_widths(tb.header, rows, width, tb.widths)
            room = [w - 2 * CELL_PAD for w in cols]

            def fit(text: str, i: int) -> Any:
                text = str(text)
                if pdfmetrics.stringWidth(text, "WQY", CELL_SIZE) <= room[i]:
                    return text
                return Paragraph(e(text), cell)

            data: list[list[Any]] = [[Paragraph(e(h), head_cell) for h in tb.header]]
            data += [[fit(c, i) for i, c in enumerate(row)] for row in rows]
            if len(data) == 1:
                data.append(["—"] + [""] * (ncol - 1))
            tbl = RLTable(data, colWidths=cols, repeatRows=1)
            tbl.setStyle(TableStyle([
                ("FONT", (0, 0), (-1, -1), "WQY", CELL_SIZE),
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#cccccc")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3eded")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]))
            out: list[Any] = [Spacer(1, 4), tbl]
            if len(tb.rows) > PDF_MAX_ROWS:
                out.append(Paragraph(e(t("rpt.truncated", lang, n=PDF_MAX_ROWS, total=len(tb.rows))), note))
            return out

        flow: list[Any] = [Paragraph(e(title), h1), Paragraph(e(t("rpt.zone_note", lang)), note)]
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
                if len(tb.rows) > SUMMARY_ROWS:
                    lists.append((sec.title, tb))  # a per-grid list: after every summary
                    continue
                flow.extend(table(tb))
            for n in sec.notes:
                flow.append(KeepTogether([Paragraph(e(n), note)]))

        if lists:
            flow.append(Paragraph(e(t("rpt.s.lists", lang)), h2))
            for sec_title, tb in lists:
                flow.append(Paragraph(e(sec_title), h3))
                flow.extend(table(tb))

        def footer(canvas: Any, _doc: Any) -> None:
            canvas.saveState()
            canvas.setFont("WQY", 7)
            canvas.setFillColor(colors.HexColor("#777777"))
            canvas.drawString(14 * mm, 8 * mm, f"{r.operation} · {fmt_time(r.as_of)} {t('rpt.zone', lang)}")
            canvas.drawRightString(A4[0] - 14 * mm, 8 * mm, str(canvas.getPageNumber()))
            canvas.restoreState()

        doc.build(flow, onFirstPage=footer, onLaterPages=footer)
        return buf.getvalue()
