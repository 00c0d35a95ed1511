"""The report as one self-contained HTML file: inline CSS and SVG charts, no script, no external URL."""

from __future__ import annotations

import html

from command.bounds import strip_controls
from command.report import Report
from dashboard.i18n import t
from dashboard.reports.charts import charts
from dashboard.reports.document import Table, build_document, header_fix

__all__ = ["HTML_MAX_ROWS", "render_html"]

HTML_MAX_ROWS = 2_000
"""Rows of one table the HTML lists; the XLSX carries them all. Pingnan's never-reached households
(310,326 rows in a mass testing that tracked none) made a 65 MB file that took 30 s to write."""

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
            tb = header_fix(tb, lang)
            body = _html_table(tb)
            if len(tb.rows) > 60:
                out.append(f"<details><summary>{e(tb.header[0])} … ({len(tb.rows):,})</summary>{body}</details>")
            else:
                out.append(body)
            if len(tb.rows) > HTML_MAX_ROWS:
                out.append(f'<p class="note">{e(t("rpt.truncated_html", lang, n=HTML_MAX_ROWS, total=len(tb.rows)))}'
                           "</p>")
        for n in sec.notes:
            out.append(f'<p class="note">{e(n)}</p>')
        out.append("</section>")
    out.append("</body></html>")
    return strip_controls("\n".join(out)).encode("utf-8")  # no raw NUL or control character in the file


def _html_table(tb: Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in tb.header)
    rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in tb.rows[:HTML_MAX_ROWS])
    return f'<table data-table="{e(tb.key)}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
