"""The console at county scale (issue 18), real headless Chromium against a real `wartime serve`.

One server for the module: a county of 3 towns and 216 vacancies (more than one
listing holds), all in wartime, with one county-wide mass-testing operation. The
tests that only read come first; the last one stands a town down inside the
county operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from streams.server import EmbeddedRedis
from tests.conftest import PASSWORD, Served, make_tree, seed_county, start_server
from tests.dashboard.test_console import DESKTOP, api, last
from tests.dashboard.test_console import eventually as _eventually

TREE = make_tree(towns=3, larges=8, mediums=9, smalls=2, micros=1)
VACANCIES = sorted(g for g in TREE.small_grids("TC") if not TREE[g].first_leader)
PANELS = {"head", "mode", "people", "ops", "alerts", "mob"}


@pytest.fixture(scope="module")
def county_server(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`wartime serve` over the county, switched to wartime, one county-wide operation open."""
    client = redis.Redis(unix_socket_path=str(redis_server.socket))
    client.flushall()
    client.script_flush()
    seed_county(redis_server.url, TREE)
    served = start_server(redis_server.url, tmp_path_factory.mktemp("console-county"))
    assert api(served, "POST", "/modes", json={"scope": "TC", "mode": "wartime", "incident": "epidemic"}).ok
    r = api(served, "POST", "/operations", json={"kind": "mass_testing", "scope": "TC", "name": "全县核酸"})
    assert r.status_code == 201
    served.operation = r.json()["operation_id"]  # type: ignore[attr-defined]
    yield served
    served.stop()


def eventually(check: Any, timeout: float = 45.0) -> None:
    """Longer than the console module's: a county's panels take a few seconds on a loaded machine."""
    _eventually(check, timeout)


def login(browser: Any, served: Served, user: str) -> tuple[Any, Any]:
    """A desktop browser logged in through the console's form (patient: a county's first panels are heavy)."""
    ctx = browser.new_context(viewport=DESKTOP)
    ctx.set_default_timeout(60_000)
    page = ctx.new_page()
    page.goto(f"{served.url}/console")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-action=login]")
    page.wait_for_selector("[data-scope]")
    return ctx, page


def result(page: Any, before: str) -> str:
    """The newest action result once it differs from `before`."""
    loc = page.locator("[data-result]")
    eventually(lambda: loc.count() > 0 and loc.inner_text() != before)
    return str(loc.inner_text())


def _op(s: Served) -> str:
    return str(s.operation)  # type: ignore[attr-defined]


def _report(s: Served, rid: str, grid: str, n: int) -> Any:
    return api(s, "POST", f"/operations/{_op(s)}/reports", json={"report_id": rid, "grid": grid,
                                                                 "counts": {"sampled": n}})


def _panels_of(page: Any) -> dict[str, str]:
    return dict(page.eval_on_selector_all(
        "[data-panel]", "els => els.map(e => [e.dataset.panel, e.dataset.panelScope])"))


@pytest.mark.browser
def test_a_vacancy_beyond_the_first_two_hundred_is_found_and_paged_to(
        county_server: Served, browser: Any, artifacts: Path) -> None:
    assert len(VACANCIES) == 216
    ctx, page = login(browser, county_server, "commander")
    rng = page.locator("[data-vac-range]")
    rng.wait_for()
    assert (rng.get_attribute("data-vac-range"), rng.get_attribute("data-total")) == ("1-50", "216")
    far = VACANCIES[-1]  # sorted: the 216th, beyond any first 200
    page.fill("input[name=vacancy-search]", far)
    page.press("input[name=vacancy-search]", "Enter")
    page.wait_for_selector(f"[data-vacancy='{far}']")
    assert rng.get_attribute("data-matched") == "1" and page.locator("[data-vacancy]").count() == 1
    page.fill(f"[data-vacancy='{far}'] input[name=person]", "赵代理")
    page.screenshot(path=str(artifacts / "console-vacancy-search-1440x900.png"))
    page.fill("input[name=vacancy-search]", "第3镇")  # a town's name finds its vacancies
    page.press("input[name=vacancy-search]", "Enter")
    eventually(lambda: rng.get_attribute("data-matched") == "72")
    page.fill("input[name=vacancy-search]", "")
    page.press("input[name=vacancy-search]", "Enter")
    eventually(lambda: rng.get_attribute("data-matched") == "216")
    for want in ("51-100", "101-150", "151-200", "201-216"):
        page.click("[data-action=vacancies-next]")
        eventually(lambda w=want: rng.get_attribute("data-vac-range") == w)  # type: ignore[misc]
    page.wait_for_selector(f"[data-vacancy='{far}']")
    ctx.close()


@pytest.mark.browser
def test_a_scope_change_leaves_no_panel_showing_the_old_scope(
        county_server: Served, browser: Any, artifacts: Path) -> None:
    ctx, page = login(browser, county_server, "commander")
    eventually(lambda: _panels_of(page) == dict.fromkeys(PANELS, "TC"))
    for code in ("TC01", "TC03", "TC"):
        page.fill("#console-goto-code", code)
        page.click("[data-action=goto]")
        page.wait_for_selector(f"h1[data-scope={code}]")
        # The header is there: every panel came in the same answer, so each shows the new scope now.
        assert _panels_of(page) == dict.fromkeys(PANELS, code)
        assert page.locator(".console-stale").count() == 0
    page.screenshot(path=str(artifacts / "console-county-1440x900.png"), full_page=True)
    ctx.close()


@pytest.mark.browser
def test_alerts_are_acknowledged_in_bulk_one_command_each(county_server: Served, browser: Any) -> None:
    s = county_server

    def unacked() -> list[dict[str, Any]]:
        return [a for a in api(s, "GET", "/alerts", params={"open": "1"}).json()["alerts"] if not a["acked_by"]]

    eventually(lambda: len(unacked()) >= 3, timeout=40)  # one vacancy alert per town, by the scheduler
    ctx, page = login(browser, s, "commander")
    button = page.locator("[data-action=ack-all]")
    button.wait_for()
    eventually(lambda: int(button.get_attribute("data-count") or 0) >= 3)
    n = int(button.get_attribute("data-count") or 0)
    button.click()
    lines = page.locator(".console-confirm-lines")
    lines.wait_for()
    assert lines.get_attribute("data-alerts") == str(n) and "测试县" in lines.inner_text()
    before = last(page)
    page.click("[data-action=confirm]")
    assert f"已确认 {n} 条预警" in result(page, before)
    assert unacked() == []  # each listed alert got its own acknowledgement
    ctx.close()


@pytest.mark.browser
def test_closing_the_county_operation_names_its_scope_and_people(county_server: Served, browser: Any) -> None:
    ctx, page = login(browser, county_server, "commander")
    page.click(f"[data-operation='{_op(county_server)}'] [data-action=close-operation]")
    lines = page.locator(".console-confirm-lines")
    lines.wait_for()
    people = TREE["TC"].population
    assert lines.get_attribute("data-people") == str(people)
    assert f"测试县（{people:,} 人）" in lines.inner_text() and "全员核酸检测" in lines.inner_text()
    page.click("[data-action=cancel]")
    assert "未做任何更改" in result(page, "")
    assert api(county_server, "GET", f"/operations/{_op(county_server)}/progress").json()["state"] == "open"
    ctx.close()


@pytest.mark.browser
def test_a_town_stands_down_inside_the_county_operation_and_the_others_go_on(
        county_server: Served, browser: Any, artifacts: Path) -> None:
    s, op = county_server, _op(county_server)
    assert _report(s, "a1", "TC01-L1-M1-S1-W1", 40).status_code == 201
    assert _report(s, "a2", "TC02-L1-M1-S1-W1", 25).status_code == 201
    vacancy = next(g for g in VACANCIES if g.startswith("TC01"))
    assert api(s, "POST", "/secretaries", json={"grid": vacancy, "person": "钱代理"}).status_code == 201
    ctx, page = login(browser, s, "town1")  # the town's own commander
    page.wait_for_selector("h1[data-scope=TC01]")
    op_row = page.locator(f"[data-operation='{op}']")
    op_row.wait_for()
    assert op_row.locator("[data-action=close-operation]").count() == 0  # the county's operation: not theirs

    # standing down is refused, says what blocks, and offers to end the operation in this town
    before = last(page)
    page.click("[data-action=stand-down]")
    assert "请先结束任务" in result(page, before)
    lines = page.locator(".console-confirm-lines")
    lines.wait_for()
    text = lines.inner_text()
    people = TREE["TC01"].population
    assert "全县核酸" in text and f"第1镇（{people:,} 人）" in text and "其余各镇继续" in text
    assert lines.get_attribute("data-town") == "TC01" and lines.get_attribute("data-people") == str(people)
    page.screenshot(path=str(artifacts / "console-part-close-offer-1440x900.png"))
    before = last(page)
    page.click("[data-action=confirm]")
    assert "已在第1镇结束" in result(page, before)
    page.wait_for_selector(f"[data-operation='{op}'][data-state=part_closed]")

    # reports to the closed town are refused, the others still count; the county is frozen town + live others
    late = _report(s, "b1", "TC01-L2-M1-S1-W1", 7)
    assert late.status_code == 409 and late.json()["error"]["code"] == "operation_closed_for_town"
    assert _report(s, "b2", "TC03-L1-M1-S1-W1", 9).status_code == 201
    assert _report(s, "b3", "TC02-L2-M1-S1-W1", 6).status_code == 201

    def totals() -> dict[str, int]:
        prog = api(s, "GET", f"/operations/{op}/progress").json()
        kids = {c["grid"]: c["counts"].get("sampled", 0) for c in prog["children"]}
        return {"TC": prog["counts"].get("sampled", 0), **kids}

    eventually(lambda: totals() == {"TC": 40 + 25 + 9 + 6, "TC01": 40, "TC02": 31, "TC03": 9})
    prog = api(s, "GET", f"/operations/{op}/progress").json()
    assert prog["state"] == "open" and list(prog["closed_parts"]) == ["TC01"]

    # now the town stands down; the confirmation names the acting secretary it releases
    page.click("[data-action=stand-down]")
    lines.wait_for()
    eventually(lambda: "钱代理" in lines.inner_text())
    assert lines.get_attribute("data-acting") == "1"
    page.screenshot(path=str(artifacts / "console-town-standdown-1440x900.png"))
    page.click("[data-action=confirm]")
    page.wait_for_selector("[data-scope=TC01] ~ [data-mode=peacetime]")
    assert api(s, "GET", "/grids/TC01").json()["mode"] == "peacetime"
    assert api(s, "GET", "/grids/TC02").json()["mode"] == "wartime"
    assert _report(s, "b4", "TC02-L3-M1-S1-W1", 2).status_code == 201
    page.screenshot(path=str(artifacts / "console-town-stood-down-1440x900.png"), full_page=True)
    ctx.close()
