"""The report as a workbook (openpyxl): one sheet per table, numbers as numbers, same log → same bytes.

openpyxl stamps a workbook with the time it is saved and its zip entries with
the time they are written; here both are the log's last event (`Report.as_of`,
local time), so two generations of one log give identical bytes. Text cells are
made inert (`command.cells`) and stored as strings, never as formulas.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.writer.excel import ExcelWriter

from command.cells import inert_cell
from command.localtime import local_datetime
from command.report import Report
from dashboard.i18n import t
from dashboard.reports.document import build_document, grids_table, header_fix

__all__ = ["WHEN_FORMAT", "render_xlsx", "write_xlsx"]

_NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$|^-?\d+(\.\d+)?$")
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_BOLD = Font(bold=True)
_WHEN = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$")
WHEN_FORMAT = "yyyy-mm-dd hh:mm:ss"
"""Times are real Excel date-times (sortable, arithmetic works) in the county's wall clock (UTC+8, stated)."""


def render_xlsx(r: Report, lang: str) -> bytes:
    """An overview sheet, one sheet per table of the document, and every grid of the scope."""
    title, secs = build_document(r, lang)
    when = local_datetime(r.as_of).replace(tzinfo=None)
    sheets: list[tuple[str, list[list[str]]]] = []
    overview: list[list[str]] = [[title], [t("rpt.zone_note", lang)]]
    for sec in secs:
        overview.extend([sec.title, k, v] for k, v in sec.pairs)
    sheets.append((t("rpt.sh.overview", lang), overview))
    for sec in secs:
        for tb in sec.tables:
            tb = header_fix(tb, lang)
            sheets.append((t(f"rpt.sh.{tb.key}", lang), [tb.header, *(tb.full_rows or tb.rows)]))
    gt = header_fix(grids_table(r, lang), lang)
    sheets.append((t("rpt.sh.grids", lang), [gt.header, *gt.rows]))
    return write_xlsx(sheets, title, when)


def _sheet_names(names: Sequence[str]) -> list[str]:
    """Names Excel accepts: no \\ / ? * [ ] :, at most 31 characters, unique."""
    out: list[str] = []
    for name in names:
        base = re.sub(r"[\\/?*\[\]:]", " ", name)[:31] or "Sheet"
        cand, k = base, 2
        while cand in out:
            cand = f"{base[:28]}({k})"
            k += 1
        out.append(cand)
    return out


def _cell(ws: Any, text: str, header: bool) -> Any:
    """A display string as a cell: a number where it reads as one (below the header), else inert text."""
    if text == "":
        return None
    if not header and _NUMBER.match(text):
        plain = text.replace(",", "")
        return float(plain) if "." in plain else int(plain)
    if not header and _WHEN.match(text):
        when = WriteOnlyCell(ws, value=datetime.fromisoformat(text))  # local wall clock, as every page shows it
        when.number_format = WHEN_FORMAT
        return when
    value = inert_cell(_XML_BAD.sub("", text))  # text that starts like a formula gets an apostrophe
    if not header:
        # A plain string: openpyxl stores it as text, since none starts with "=" any more. A cell
        # object per text costs 1.8× the time, and a roster's sheet holds 2.5 million cells.
        return value
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    cell.font = _BOLD
    return cell


class _StampedZip(zipfile.ZipFile):
    """A zip whose every entry carries one fixed time (openpyxl would stamp the current one)."""

    def __init__(self, file: io.BytesIO, when: datetime) -> None:
        super().__init__(file, "w", zipfile.ZIP_DEFLATED)
        self.stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)

    def writestr(self, zinfo_or_arcname: Any, data: Any, compress_type: Any = None, compresslevel: Any = None) -> None:
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = zipfile.ZipInfo(str(zinfo_or_arcname), date_time=self.stamp)
            zinfo_or_arcname.compress_type = zipfile.ZIP_DEFLATED
            zinfo_or_arcname.external_attr = 0o600 << 16
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename: Any, arcname: Any = None, compress_type: Any = None, compresslevel: Any = None) -> None:
        with open(filename, "rb") as f:
            self.writestr(arcname or filename, f.read())


def write_xlsx(sheets: Sequence[tuple[str, Sequence[Sequence[str]]]], title: str, when: datetime) -> bytes:
    """Sheets of display strings (first row bold and frozen) as XLSX bytes that depend on content only."""
    wb = Workbook(write_only=True)
    for name, (_, rows) in zip(_sheet_names([n for n, _ in sheets]), sheets, strict=True):
        ws = wb.create_sheet(name)
        ws.freeze_panes = "A2"
        for n, row in enumerate(rows):
            ws.append([_cell(ws, v, n == 0) for v in row])
    props = wb.properties
    props.title = title
    props.creator = "wartime"
    props.lastModifiedBy = None
    props.created = when
    props.modified = when
    buf = io.BytesIO()
    ExcelWriter(wb, _StampedZip(buf, when)).save()
    return buf.getvalue()
