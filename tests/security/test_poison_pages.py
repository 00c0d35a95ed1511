"""Issue 14 item 2 on the pages: a poisoned event already in the log leaves the console and review working.

Real `wartime serve`, real headless Chromium. The poisoned launch (deadline 2**63,
a target of 10**30) is appended straight to the log, as an old version of the
code accepted it; the town commander's console must still show its panels, and
the review page its report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from command.events import OperationLaunched, encode
from streams.keys import CountyKeys
from streams.server import EmbeddedRedis
from tests.conftest import Served, log_in, seed_county, start_server

POISON = "op-poison"


@pytest.fixture(scope="module")
def poisoned(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    client = redis.Redis(unix_socket_path=str(redis_server.socket))
    client.flushall()
    client.script_flush()
    seed_county(redis_server.url)
    served = start_server(redis_server.url, tmp_path_factory.mktemp("poison-serve"))
    h = served.headers("commander")
    r = requests.post(f"{served.url}/api/v1/modes", json={"scope": "TC01", "mode": "wartime", "incident": "flood"},
                      headers=h, timeout=30)
    assert r.status_code == 200, r.text
    ev = OperationLaunched(operation=POISON, kind="mass_testing", scope="TC01", name="旧版本任务", deadline=2**63,
                           targets={"sampled": 10**30})
    client.xadd(CountyKeys("TC").log, encode(ev, actor="old-version", at=int(time.time() * 1000)))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ops = requests.get(f"{served.url}/api/v1/operations", headers=h, timeout=10).json()["operations"]
        if any(o["id"] == POISON for o in ops):
            break
        time.sleep(0.2)
    yield served
    served.stop()


def login(browser: Any, served: Served, path: str, user: str) -> tuple[Any, Any]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    errors: list[int] = []
    page.on("response", lambda r: errors.append(r.status) if r.status >= 500 else None)
    log_in(page, f"{served.url}{path}", user)
    page.errors = errors  # type: ignore[attr-defined]
    return ctx, page


@pytest.mark.browser
def test_the_town_commanders_console_shows_its_panels_over_a_poisoned_log(
    poisoned: Served, browser: Any, artifacts: Path
) -> None:
    ctx, page = login(browser, poisoned, "/console", "town1")
    page.wait_for_selector(f"[data-operation={POISON}]", timeout=30_000)
    assert "旧版本任务" in page.inner_text("#console-ops")
    page.wait_for_selector("#console-alerts >> text=/./", timeout=30_000)
    page.screenshot(path=str(artifacts / "console-poisoned-log-1440x900.png"))
    assert page.errors == []  # type: ignore[attr-defined]
    ctx.close()


def test_every_report_format_of_the_poisoned_operation_answers(poisoned: Served) -> None:
    h = poisoned.headers("town1")
    for fmt in ("html", "csv", "xlsx", "pdf"):
        r = requests.get(f"{poisoned.url}/api/v1/operations/{POISON}/report", params={"format": fmt}, headers=h,
                         timeout=120)
        assert r.status_code == 200, (fmt, r.status_code, r.text[:300])
    ops = requests.get(f"{poisoned.url}/api/v1/operations", headers=h, timeout=10).json()["operations"]
    op = next(o for o in ops if o["id"] == POISON)
    assert op["deadline"] is None and op["damaged"] == ["deadline", "targets"]
