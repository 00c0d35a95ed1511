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

__all__ = ["PDF_MAX_ROWS", "render_pdf"]

PDF_MAX_ROWS = 400
"""Long tables are cut in the PDF (the XLSX and HTML carry every row)."""

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
                tb = header_fix(tb, lang)
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
