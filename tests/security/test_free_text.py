"""Free text with HTML, JavaScript and spreadsheet formulas is inert in every report format.

Hostile text enters where people type: grid names in the registry, a first
leader's name (who becomes a secretary), an operation's name, a report's note,
an acting secretary's name. Every file the system produces from it — the
after-action report (HTML, CSV, XLSX, PDF), the daily briefing (HTML, CSV), the
CAP alert (XML), the personal-data export (CSV), the evaluation table — shows it
as text: no element or event handler appears in HTML, XML stays well formed with
the text as text, no spreadsheet cell is a formula.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from streams.server import EmbeddedRedis
from tests.security.env import Env, build_hostile_env
from tests.security.tally import tally

ATTACKS = tally("free-text")


@pytest.fixture(scope="module")
def env(redis_server: EmbeddedRedis) -> Iterator[Env]:
    yield build_hostile_env(redis_server.url)


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, Any]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert_html(doc: str, where: str) -> None:
    p = _Elements()
    p.feed(doc)
    ATTACKS.add(f"html: {where}")
    assert not [t for t, _ in p.tags if t in ("script", "iframe", "object", "embed")], where
    assert not [(t, a) for t, a in p.tags for k in a if k.lower().startswith("on")], where
    assert not [a for t, a in p.tags if t == "img" and a.get("src") == "x"], where
    shown = "".join(p.text)
    assert "alert(" in shown, f"{where}: the hostile text is not shown at all"


def assert_inert_cells(cells: list[str], where: str) -> None:
    ATTACKS.add(f"cells: {where}")
    for c in cells:
        assert not re.match(r"^[=+@\t\r]|^-[^\d]", c), f"{where}: a formula cell {c[:60]!r}"


def _csv_cells(data: bytes) -> list[str]:
    return [c for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for c in row]


def _xlsx_cells(data: bytes, where: str) -> list[str]:
    cells: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = z.read(name)
                assert b"<f>" not in xml and b"<f " not in xml, f"{where}: a formula element in {name}"
                root = ET.fromstring(xml)
                cells += [t.text or "" for t in root.iter() if t.tag.endswith("}t")]
            if name == "xl/sharedStrings.xml":
                cells += [t.text or "" for t in ET.fromstring(z.read(name)).iter() if t.tag.endswith("}t")]
    return cells


def _pdf_objects(pdf: bytes) -> bytes:
    """The PDF's object dictionaries: compressed stream bodies are binary and may hold any bytes."""
    return re.sub(rb"stream\r?\n.*?endstream", b"stream endstream", pdf, flags=re.S)


def test_the_after_action_report_is_inert_in_every_format(env: Env) -> None:
    base = f"/api/v1/operations/{env.op_county}/report"
    for lang in ("zh-CN", "en"):
        html = env.call("GET", base, "commander", query={"format": "html", "lang": lang})
        assert html.status_code == 200, html.get_data()[:300]
        assert_inert_html(html.get_data(as_text=True), f"report html {lang}")
        assert "&lt;script&gt;" in html.get_data(as_text=True)
        for fmt in ("csv", "xlsx"):
            r = env.call("GET", base, "commander", query={"format": fmt, "lang": lang})
            assert r.status_code == 200
            if fmt == "csv":
                cells = _csv_cells(r.get_data())
                assert_inert_cells(cells, f"report csv {lang}")
            else:  # inline strings are text to a spreadsheet; only <f> elements are formulas
                cells = _xlsx_cells(r.get_data(), f"report xlsx {lang}")
                ATTACKS.add("cells: report xlsx")
            assert any("HYPERLINK" in c for c in cells), f"{fmt}: the formula's text is not shown"
        pdf = env.call("GET", base, "commander", query={"format": "pdf", "lang": lang}).get_data()
        ATTACKS.add("pdf")
        assert pdf.startswith(b"%PDF"), pdf[:40]
        assert not re.search(rb"/(JavaScript|JS|OpenAction|Launch|AA)\b", _pdf_objects(pdf)), "active PDF action"


def test_the_daily_briefing_is_inert_in_html_and_csv(env: Env) -> None:
    items = env.call("GET", "/api/v1/briefings", "commander").get_json()["briefings"]
    assert items
    for b in items:
        html = env.call("GET", f"/api/v1/briefings/{b['id']}", "commander", query={"format": "html"})
        assert_inert_html(html.get_data(as_text=True), "briefing html")
        csv_ = env.call("GET", f"/api/v1/briefings/{b['id']}", "commander", query={"format": "csv"})
        assert_inert_cells(_csv_cells(csv_.get_data()), "briefing csv")


def test_cap_alerts_carry_hostile_names_as_text(env: Env) -> None:
    alerts = env.call("GET", "/api/v1/alerts", "commander").get_json()["alerts"]
    tc01 = [a for a in alerts if a["grid"].startswith("TC01")]
    assert tc01
    for a in tc01[:5]:
        r = env.call("GET", f"/api/v1/alerts/{a['id']}/cap", "commander")
        ATTACKS.add("cap xml")
        root = ET.fromstring(r.get_data())  # well formed: the names did not break out of their elements
        tags = {el.tag.split("}")[-1] for el in root.iter()}
        assert not tags & {"script", "img", "b"}


def test_the_personal_data_export_is_inert(env: Env) -> None:
    r = env.call("GET", "/api/v1/registry/export", "exporter")
    cells = _csv_cells(r.get_data())
    assert any("HYPERLINK" in c for c in cells)
    assert_inert_cells(cells, "registry export csv")


def test_json_answers_are_never_taken_for_html(env: Env) -> None:
    for path in ["/api/v1/grids/TC01", f"/api/v1/operations/{env.op_county}/progress", "/api/v1/board",
                 "/api/v1/console/scope/TC", "/api/v1/field/mine"]:
        r = env.call("GET", path, "commander")
        ATTACKS.add("json content type")
        assert r.mimetype == "application/json" and r.headers["X-Content-Type-Options"] == "nosniff", path
