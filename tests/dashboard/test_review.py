"""The after-action report files and the /review page: deterministic, offline, Chinese, replayable."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from command.grids import GridTree
from dashboard.reports import render_report
from tests.conftest import Served, make_tree, seed_county, start_server
from tests.streams.test_history import OP, Scenario, build_scenario

FORMATS = ("html", "pdf", "xlsx", "csv")


def squares(tree: GridTree) -> dict[str, Any]:
    """A square polygon per leaf grid, laid out on a lattice (enough for the review map)."""
    leaves = sorted(g for g in tree.grids if not tree.children[g])
    out: dict[str, Any] = {}
    for i, g in enumerate(leaves):
        x, y = 110.0 + (i % 8) * 0.02, 23.0 + (i // 8) * 0.02
        out[g] = {"type": "Polygon", "coordinates": [[[x, y], [x + 0.019, y], [x + 0.019, y + 0.019],
                                                      [x, y + 0.019], [x, y]]]}
    return out


@pytest.fixture
def scenario(redis_url: str) -> Scenario:
    return build_scenario(redis_url)


def test_two_generations_give_identical_bytes_in_every_format(scenario: Scenario) -> None:
    for fmt in FORMATS:
        for lang in ("zh-CN", "en"):
            first = render_report(scenario.county, OP, fmt, lang)
            again = render_report(scenario.county, OP, fmt, lang)
            assert first == again, (fmt, lang)
            assert len(first) > 500


def test_xlsx_has_one_sheet_per_table_and_no_save_time(scenario: Scenario) -> None:
    data = render_report(scenario.county, OP, "xlsx", "en")
    z = zipfile.ZipFile(io.BytesIO(data))
    assert {i.date_time for i in z.infolist()} == {z.infolist()[0].date_time}
    core = z.read("docProps/core.xml").decode()
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True)
    for sheet in ("Overview", "Summary", "Secretaries", "Vacancies", "By unit", "Slowest grids", "Alerts by kind",
                  "Corrections", "Activity log ICS 214", "Improvement plan", "Grids"):
        assert sheet in wb.sheetnames
    assert "2000" not in core or "dcterms:created" in core


def test_csv_is_the_per_grid_table_with_read_model_totals(scenario: Scenario) -> None:
    text = render_report(scenario.county, OP, "csv", "en").decode("utf-8-sig")
    lines = text.strip().splitlines()
    tree = scenario.county.tree
    assert len(lines) == 1 + len(tree.grids)
    head = lines[0].split(",")
    col = head.index("sampled")
    totals = scenario.county.progress.totals(OP, list(tree.grids))
    for line in lines[1:]:
        cells = next(iter(__import__("csv").reader([line])))
        assert int(cells[col] or 0) == totals[cells[0]]["sampled"]


def test_csv_is_for_machines(scenario: Scenario) -> None:
    """pandas reads numbers as numbers (no "5,960"), English headers are the codes, zh-CN terms are Chinese."""
    import pandas as pd

    en = pd.read_csv(io.BytesIO(render_report(scenario.county, OP, "csv", "en")), encoding="utf-8-sig")
    assert list(en.columns[:8]) == ["grid", "name", "level", "kind", "parent", "town", "sampled_target", "sampled"]
    for col in ("sampled", "sampled_target", "reports"):
        assert pd.api.types.is_integer_dtype(en[col]), (col, en[col].dtype)
    assert pd.api.types.is_float_dtype(en["completion"])
    root = en[en["grid"] == scenario.county.tree.root].iloc[0]
    assert root["sampled"] == scenario.county.progress.totals(OP, [root["grid"]])[root["grid"]]["sampled"]
    assert set(en["kind"]) <= {"comprehensive", "dedicated"} and "county" in set(en["level"])
    assert str(root["first_report"]).endswith("+08:00")
    zh = pd.read_csv(io.BytesIO(render_report(scenario.county, OP, "csv", "zh-CN")), encoding="utf-8-sig")
    assert "类别" in zh.columns and set(zh["类别"]) <= {"综合网格", "专属网格"}
    assert pd.api.types.is_integer_dtype(zh["已采样人数"])


def test_xlsx_translates_the_kind_column(scenario: Scenario) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(render_report(scenario.county, OP, "xlsx", "zh-CN")), read_only=True)
    rows = list(wb["网格明细"].iter_rows(values_only=True))
    kind = rows[0].index("类别")
    assert {r[kind] for r in rows[1:]} <= {"综合网格", "专属网格"}
    sampled = rows[0].index("已采样人数")
    assert all(isinstance(r[sampled], int) for r in rows[1:])


def test_xlsx_is_written_by_openpyxl_stamped_with_the_log_time(scenario: Scenario) -> None:
    from openpyxl import load_workbook

    from command.localtime import local_datetime
    from streams.history import history_for

    data = render_report(scenario.county, OP, "xlsx", "en")
    wb = load_workbook(io.BytesIO(data))
    as_of = history_for(scenario.county.client, scenario.county.code).report(OP).as_of
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert "docProps/app.xml" in z.namelist()  # openpyxl's package, not a hand-made one
        stamp = z.infolist()[0].date_time
    assert wb.properties.created == wb.properties.modified
    created = wb.properties.created
    assert created is not None
    assert (*created.timetuple()[:5], created.second // 2 * 2) == stamp  # zip times count in 2 s steps
    assert wb.properties.created == local_datetime(as_of).replace(tzinfo=None, microsecond=0)


def test_pdf_renders_chinese(scenario: Scenario, artifacts: Path, tmp_path: Path) -> None:
    pdf = render_report(scenario.county, OP, "pdf", "zh-CN")
    assert b"WenQuanYi" in pdf
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    png = artifacts / "review-report-zh-page1.png"
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", str(path),
                        str(png.with_suffix(""))], check=True)
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    page = doc[0]
    text = page.get_textpage().get_text_range()
    assert "复盘报告" in text and "全员核酸检测" in text and "总体情况" in text
    if not png.exists():
        page.render(scale=80 / 72).to_pil().save(png)
    from PIL import Image

    img = Image.open(png).convert("L")
    dark = sum(img.histogram()[:128])
    assert dark > 2000  # the page carries text, not a blank


def test_html_report_makes_no_external_request(scenario: Scenario, browser: Any, tmp_path: Path,
                                                artifacts: Path) -> None:
    html_path = tmp_path / "report.html"
    html_path.write_bytes(render_report(scenario.county, OP, "html", "zh-CN"))
    page = browser.new_page(viewport={"width": 1200, "height": 1600})
    seen: list[str] = []
    page.on("request", lambda req: seen.append(req.url))
    page.goto(html_path.as_uri())
    page.wait_for_load_state("networkidle")
    assert page.locator("#chart-pace svg").count() == 1
    assert page.locator("table[data-table=towns] tbody tr").count() == 2
    page.screenshot(path=str(artifacts / "review-report-html.png"), full_page=False)
    page.close()
    assert seen and all(u.startswith(("file:", "data:", "about:")) for u in seen), seen


# -- through the served app -------------------------------------------------------------------


def wait_attr(page: Any, selector: str, attr: str, ok: Any, timeout_s: float = 30.0) -> str:
    """Poll an attribute until `ok(value)` (the page's CSP forbids eval, so no wait_for_function)."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        loc = page.locator(selector)
        if loc.count():
            value = loc.first.get_attribute(attr)
            if value is not None and ok(value):
                return str(value)
        page.wait_for_timeout(200)
    raise AssertionError(f"{selector}[{attr}] stayed {value!r}")


@pytest.fixture
def review_server(redis_url: str, tmp_data: Path) -> Iterator[tuple[Served, Scenario]]:
    tree = make_tree()
    seed_county(redis_url, tree, squares(tree))
    sc = build_scenario(redis_url, seed=False)
    s = start_server(redis_url, tmp_data)
    yield s, sc
    s.stop()


def test_report_endpoint_serves_every_format_to_a_viewer(review_server: tuple[Served, Scenario]) -> None:
    served, sc = review_server
    h = served.headers("viewer")
    for fmt, kind in (("csv", "text/csv"), ("pdf", "application/pdf"), ("html", "text/html")):
        # The served scheduler may append alerts meanwhile (the report then rightly changes):
        # compare only when the log stood still around the request.
        for _ in range(10):
            before = render_report(sc.county, OP, fmt, "en")
            r = requests.get(f"{served.url}/api/v1/operations/{OP}/report", params={"format": fmt, "lang": "en"},
                             headers=h, timeout=60)
            if render_report(sc.county, OP, fmt, "en") == before:
                break
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith(kind)
        assert "attachment" in r.headers["Content-Disposition"]
        assert r.content == before
    bad = requests.get(f"{served.url}/api/v1/operations/{OP}/report", params={"format": "doc"}, headers=h, timeout=10)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "format"
    unknown = requests.get(f"{served.url}/api/v1/operations/nope/report", headers=h, timeout=10)
    assert unknown.status_code == 404
    anon = requests.get(f"{served.url}/api/v1/operations/{OP}/report", timeout=10)
    assert anon.status_code == 401


def test_state_endpoint_answers_the_county_at_an_instant(review_server: tuple[Served, Scenario]) -> None:
    served, sc = review_server
    h = served.headers("viewer")
    end = requests.get(f"{served.url}/api/v1/operations/{OP}/state", params={"at": sc.last_ms}, headers=h,
                       timeout=30).json()
    live = sc.county.progress.totals(OP, ["TC"])["TC"]
    assert end["counts"] == live and end["launched"] is True and end["state"] == "closed"
    before = requests.get(f"{served.url}/api/v1/operations/{OP}/state", params={"at": sc.first_ms - 1},
                          headers=h, timeout=30).json()
    assert before["launched"] is False
    tl = requests.get(f"{served.url}/api/v1/operations/{OP}/timeline", params={"lang": "en"}, headers=h,
                      timeout=30).json()
    kinds = [i["kind"] for i in tl["items"]]
    assert kinds[0] == "switch_wartime" and kinds[-1] == "closed"
    assert tl["items"][0]["text"].startswith("测试县 to wartime")
    bad = requests.get(f"{served.url}/api/v1/operations/{OP}/state", params={"at": "soon"}, headers=h, timeout=10)
    assert bad.status_code == 422


def test_review_page_replays_and_jumps_to_a_decisive_event(
    review_server: tuple[Served, Scenario], browser: Any, artifacts: Path
) -> None:
    served, sc = review_server
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    external: list[str] = []
    page.on("request", lambda req: external.append(req.url) if not req.url.startswith(
        (served.url, "data:", "blob:", "about:")) else None)
    page.goto(f"{served.url}/review")
    page.fill("input[name=username]", "viewer")
    page.fill("input[name=password]", "test-password-1")
    page.click("[data-action=login]")
    kpi = page.locator("[data-review-kpi=sampled]")
    kpi.wait_for(timeout=30_000)
    total = sc.county.progress.totals(OP, ["TC"])["TC"]["sampled"]
    wait_attr(page, "[data-review-kpi=sampled]", "data-value", lambda v: v == str(total))
    page.locator(".rv-map .choroplethmap, .rv-map .js-plotly-plot").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts / "review-page-end.png"))
    # jump to the launch: the county stood at zero then
    launch = page.locator(".rv-ev[data-kind=launched]")
    ms = launch.get_attribute("data-ms")
    launch.click()
    wait_attr(page, ".rv-time", "data-at", lambda v: v == ms)
    wait_attr(page, "[data-review-kpi=sampled]", "data-value", lambda v: v == "0")
    page.screenshot(path=str(artifacts / "review-page-launch.png"))
    # play: time moves forward by itself
    page.click("[data-action=play]")
    wait_attr(page, ".rv-time", "data-at", lambda v: v.isdigit() and int(v) > int(str(ms)))
    page.click("[data-action=play]")
    page.close()
    assert not external, external
