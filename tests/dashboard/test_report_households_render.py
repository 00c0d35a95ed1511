"""The report's households section as written: masked in HTML and PDF, full only in the commander's XLSX."""

from __future__ import annotations

import io
import time

import openpyxl
import pypdfium2 as pdfium
import pytest
import requests

from command.households import HouseholdStatusRequest
from command.modes import SwitchRequest
from dashboard.reports import html_writer, render_report
from streams.county import County
from streams.keys import CountyKeys
from streams.projector import Projector
from streams.server import connect
from tests.conftest import Served, make_tree, seed_county
from tests.dashboard.test_households_ui import CMD, MICRO, roster

OP = "op-hh-report"


def _county(redis_url: str, *, seeded: bool = False) -> County:
    """The test county (seeded unless it is already) with a roster and a flood evacuation in which 2 households
    got a status (one of them twice)."""
    if not seeded:
        seed_county(redis_url, make_tree())
    county = County(connect(redis_url), "TC")
    county.load_households(roster(), CMD)
    Projector(county.client, "TC", consumer="t", publish=False).catch_up()
    county.switch(CMD, SwitchRequest("TC", "wartime", "flood", "II", "test"))
    county.launch(CMD, "flood_evacuation", "TC", "防汛转移", None, operation=OP)
    for i, status in ((1, "evacuated"), (2, "reached"), (1, "safe_in_place")):
        req = HouseholdStatusRequest(OP, f"r-{i}-{status}", f"{MICRO}-{i:03d}", status)
        ev = county.plan_household_status(CMD, req)
        county.append_household_status(ev, CMD)
    Projector(county.client, "TC", consumer="t", publish=False).catch_up()
    return county


@pytest.fixture
def county(redis_url: str) -> County:
    return _county(redis_url)


def test_the_html_report_has_the_households_section_masked(county: County) -> None:
    html = render_report(county, OP, "html", "zh-CN").decode()
    section = html[html.index("不漏一户"):]
    assert "王*兰" in section and "138****0003" in section  # never reached, vulnerable first, masked
    assert section.index(f"{MICRO}-003") < section.index(f"{MICRO}-004")
    assert "王桂兰" not in html and "13800000003" not in html
    assert f"{MICRO}-001" not in section.split("始终未覆盖")[-1]  # reached (twice corrected): not in the list
    english = render_report(county, OP, "html", "en").decode()
    assert "Nobody missed: household reach" in english and "Never reached" in english


def test_only_a_personal_xlsx_has_names_in_full(county: County) -> None:
    def never(data: bytes) -> list[tuple[object, ...]]:
        wb = openpyxl.load_workbook(io.BytesIO(data))
        return list(wb["未覆盖住户"].iter_rows(values_only=True))

    masked = never(render_report(county, OP, "xlsx", "zh-CN"))
    full = never(render_report(county, OP, "xlsx", "zh-CN", personal=True))
    assert len(masked) == len(full) == 1 + 14 - 2
    assert masked[1][3] == "王*兰" and full[1][3] == "王桂兰"
    assert str(full[1][4]) == "13800000003"
    pdf = pdfium.PdfDocument(render_report(county, OP, "pdf", "zh-CN", personal=True))  # only ever the XLSX
    text = "".join(page.get_textpage().get_text_range() for page in pdf)
    assert "王*兰" in text and "138****0003" in text
    assert "王桂兰" not in text and "13800000003" not in text


def test_the_reached_counts_each_household_once(county: County) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(render_report(county, OP, "xlsx", "en")))
    rows = list(wb["Household reach"].iter_rows(values_only=True))
    town = next(r for r in rows if r[0] == "TC01")
    assert town[2] == 12 and town[3] == 2  # 2 households reached, one of them corrected: still 2


def test_the_api_writes_names_in_full_only_in_a_commanders_xlsx(served: Served) -> None:
    _county(served.redis_url, seeded=True)  # `served` seeded the county; its projector applies the rest

    def head(user: str) -> object:
        r = requests.get(f"{served.url}/api/v1/operations/{OP}/report", params={"format": "xlsx"},
                         headers=served.headers(user), timeout=60)
        assert r.status_code == 200, r.text
        wb = openpyxl.load_workbook(io.BytesIO(r.content))
        return list(wb["未覆盖住户"].iter_rows(values_only=True))[1][3]

    assert head("commander") == "王桂兰"
    assert head("viewer") == "王*兰"
    time.sleep(0.5)
    audit = served_audit(served)
    assert any("households personal data" in e for e in audit)


def served_audit(served: Served) -> list[str]:
    client = connect(served.redis_url)
    return [str(f.get(b"detail", b"").decode()) for _, f in client.xrange(CountyKeys("TC").audit)]


def test_the_html_lists_a_long_table_up_to_its_ceiling_and_the_xlsx_all_of_it(
    county: County, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(html_writer, "HTML_MAX_ROWS", 5)
    html = render_report(county, OP, "html", "zh-CN").decode()
    listed = html[html.index('data-table="hh_never"'):]
    listed = listed[:listed.index("</table>")]
    assert listed.count("<tr>") == 1 + 5  # the header and the first five, vulnerable first
    assert "王*兰" in listed
    assert "此处仅列前 5 行，共 12 行；完整表格见 XLSX" in html
    english = render_report(county, OP, "html", "en").decode()
    assert "This file lists the first 5 of 12 rows; the XLSX carries them all." in english
    wb = openpyxl.load_workbook(io.BytesIO(render_report(county, OP, "xlsx", "zh-CN")))
    assert len(list(wb["未覆盖住户"].iter_rows(values_only=True))) == 1 + 12
