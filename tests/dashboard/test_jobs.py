"""The scheduler: 08:00 briefing, once per cluster, caught up after a restart; the issue-7 API routes."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
import requests
import xmlschema
from apscheduler.triggers.cron import CronTrigger

from command.access import Actor, Role
from command.alerts import MINUTE
from command.briefing import briefing_id, local_date
from command.cap import CAP_NS
from command.events import AlertRaised, BriefingIssued, UserLoggedIn
from command.localtime import LOCAL as TZ
from command.modes import SwitchRequest
from command.operations import ReportRequest
from dashboard.jobs import HISTORY_EVERY_S, Jobs, job_lock, previous_fire, runs_key
from streams.county import County
from streams.keys import TownKeys
from streams.server import connect
from tests.conftest import Served, make_tree, start_server

BOSS = Actor("boss", Role.COMMANDER, "TC")
SCHEMA = Path(__file__).resolve().parent.parent / "data" / "cap12.xsd"
DAY = 1440 * MINUTE


def _county(redis_url: str) -> County:
    county = County(connect(redis_url), "TC")
    county.load_registry(make_tree(), None, BOSS)
    return county


def _next_eight() -> int:
    """The next 08:00 Asia/Shanghai after the real now, in epoch ms (launches happen before it)."""
    t = CronTrigger(hour=8, minute=0, timezone=TZ).get_next_fire_time(None, datetime.now(TZ))
    assert t is not None
    return int(t.timestamp() * 1000)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def _briefings(county: County) -> list[BriefingIssued]:
    return [r.event for r in county.log.read(county.keys.log) if isinstance(r.event, BriefingIssued)]


# -- the trigger ---------------------------------------------------------------------


def test_the_briefing_fires_at_eight_shanghai_time(redis_url: str) -> None:
    trigger = Jobs(connect(redis_url)).specs["briefing"].trigger
    before = datetime(2025, 3, 14, 7, 59, 30, tzinfo=TZ)
    fire = trigger.get_next_fire_time(None, before)
    assert fire == datetime(2025, 3, 14, 8, 0, tzinfo=TZ)
    assert fire.astimezone(UTC) == datetime(2025, 3, 14, 0, 0, tzinfo=UTC)
    after = datetime(2025, 3, 14, 8, 0, 1, tzinfo=TZ)
    assert trigger.get_next_fire_time(fire, after) == datetime(2025, 3, 15, 8, 0, tzinfo=TZ)
    assert previous_fire(trigger, after) == fire
    assert previous_fire(trigger, before) == datetime(2025, 3, 13, 8, 0, tzinfo=TZ)


# -- the briefing job with an injected clock ----------------------------------------


def test_the_briefing_appears_at_eight_local_once_per_open_operation(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC", "wartime"))
    county.launch(BOSS, "mass_testing", "TC", "检测", operation="op1")
    county.launch(BOSS, "fire_hazard_check", "TC02", "排查", operation="op2")
    county.launch(BOSS, "flood_evacuation", "TC01", "转移", operation="op3")
    county.close(BOSS, "op3")
    eight = _next_eight()
    clock = Clock(eight - MINUTE)
    jobs = Jobs(county.client, clock=clock)
    jobs.run("briefing")  # 07:59: stands for yesterday's 08:00, before the launches
    assert _briefings(county) == []
    clock.ms = eight
    assert jobs.run("briefing") is True
    day = local_date(eight)
    assert sorted(b.briefing for b in _briefings(county)) == [briefing_id("op1", day), briefing_id("op2", day)]
    assert all(b.date == day for b in _briefings(county))
    clock.ms = eight + 30 * MINUTE
    assert jobs.run("briefing") is False
    assert len(_briefings(county)) == 2


def test_a_restart_neither_loses_nor_repeats_a_briefing(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC", "wartime"))
    county.launch(BOSS, "mass_testing", "TC", "检测", operation="op1")
    eight = _next_eight()
    Jobs(county.client, clock=Clock(eight)).run("briefing")
    assert len(_briefings(county)) == 1
    # Restarted an hour later: today's 08:00 is done, nothing is repeated.
    assert "briefing" not in Jobs(county.client, clock=Clock(eight + 60 * MINUTE)).catch_up()
    assert len(_briefings(county)) == 1
    # Down over the next 08:00, back at 11:00: the missed run happens once, under its own date.
    late = Jobs(county.client, clock=Clock(eight + DAY + 180 * MINUTE))
    assert "briefing" in late.catch_up()
    assert "briefing" not in late.catch_up()
    assert Jobs(county.client, clock=Clock(eight + DAY + 181 * MINUTE)).run("briefing") is False
    dates = sorted(b.date for b in _briefings(county))
    assert dates == [local_date(eight), local_date(eight + DAY)]


def test_two_workers_racing_at_eight_run_the_briefing_once(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC", "wartime"))
    county.launch(BOSS, "mass_testing", "TC", "检测", operation="op1")
    eight = _next_eight()
    workers = [Jobs(connect(redis_url), clock=Clock(eight), worker=f"w{i}") for i in range(2)]
    ran: list[bool] = []
    barrier = threading.Barrier(len(workers))

    def fire(j: Jobs) -> None:
        barrier.wait()
        for _ in range(5):
            ran.append(j.run("briefing"))
            ran.append(j.run("contact"))

    threads = [threading.Thread(target=fire, args=(j,)) for j in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ran.count(True) == 2  # one briefing run, one contact run
    assert len(_briefings(county)) == 1
    assert len(workers[0].runs("briefing")) == 1 and len(workers[0].runs("contact")) == 1


def test_the_alert_job_runs_once_per_slot(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC", "wartime"))
    now = county.clock()
    a, b = (Jobs(connect(redis_url), clock=Clock(now), alert_every_s=5) for _ in range(2))
    slot = now - now % 5000
    ran = [a.run("alerts", slot + 100), b.run("alerts", slot + 200), a.run("alerts", slot + 4999)]
    assert ran == [True, False, False]
    assert b.run("alerts", slot + 5000) is True
    raised = [r.event for r in county.log.read(county.keys.log) if isinstance(r.event, AlertRaised)]
    assert sorted(e.alert for e in raised) == ["vacancy:TC01", "vacancy:TC02"]


def test_the_lock_is_released_only_by_its_holder(redis_url: str) -> None:
    client = connect(redis_url)
    lock = job_lock(client, "TC")
    token = lock.acquire("x", 200)
    assert token and lock.acquire("x", 200) is None
    assert lock.release("x", "not-the-token") is False
    time.sleep(0.3)  # the holder outlived its lease; someone else takes the lock
    other = lock.acquire("x", 10_000)
    assert other is not None
    assert lock.release("x", token) is False  # the late holder does not free the new one's lock
    assert lock.acquire("x", 200) is None
    assert lock.release("x", other) is True


def test_no_county_yet_means_no_run(redis_url: str) -> None:
    jobs = Jobs(connect(redis_url), clock=Clock(_next_eight()))
    assert jobs.run("alerts") is False and jobs.catch_up() == []


# -- two `wartime serve` processes on one Redis --------------------------------------


@pytest.fixture
def two_servers(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from tests.conftest import seed_county

    seed_county(redis_url)
    monkeypatch.setenv("WARTIME_ALERT_EVERY_S", "1")
    dirs = [tmp_path / f"data{i}" for i in range(2)]
    for d in dirs:
        d.mkdir()
    with ThreadPoolExecutor(2) as pool:  # start both at once: they race for every job from the first second
        futures = [pool.submit(start_server, redis_url, d) for d in dirs]
    servers = [f.result() for f in futures if f.exception() is None]
    try:
        for f in futures:
            f.result()
        yield servers
    finally:
        for s in servers:
            s.stop()


def _wait(pred, timeout: float = 40.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_two_server_workers_run_each_job_once_and_serve_alerts_cap_briefings_and_rounds(
    two_servers: list[Served], redis_url: str
) -> None:
    a, b = two_servers
    client = connect(redis_url)
    jobs = Jobs(client)
    # Both schedulers caught up at start: one contact run (peacetime reminders), one briefing run.
    _wait(lambda: len(jobs.runs("contact")) >= 1 and len(jobs.runs("briefing")) >= 1)
    boss = a.headers("commander")
    r = requests.post(f"{a.url}/api/v1/modes", json={"scope": "TC01", "mode": "wartime"}, headers=boss, timeout=10)
    assert r.status_code == 200, r.text

    def vacancy_open() -> bool:
        items = requests.get(f"{b.url}/api/v1/alerts?open=1", headers=boss, timeout=10).json()["alerts"]
        return any(i["id"] == "vacancy:TC01" for i in items)

    _wait(vacancy_open)
    time.sleep(3)  # a few more alert slots, fired by both schedulers
    slots = [s for s, _ in jobs.runs("alerts")]
    assert len(slots) >= 2 and len(slots) == len(set(slots))
    assert len(jobs.runs("contact")) == 1 and len(jobs.runs("briefing")) == 1
    county = County(client, "TC")
    raised = [r.event for r in county.log.read(county.keys.log) if isinstance(r.event, AlertRaised)]
    assert [e.alert for e in raised] == ["vacancy:TC01"]
    assert client.llen(runs_key("TC", "alerts")) == len(slots)

    # One alert: its detail and its CAP export.
    one = requests.get(f"{a.url}/api/v1/alerts/vacancy:TC01", headers=boss, timeout=10).json()
    assert one["detail"]["count"] == 4
    cap = requests.get(f"{a.url}/api/v1/alerts/vacancy:TC01/cap", headers=boss, timeout=10)
    assert cap.status_code == 200 and cap.headers["Content-Type"].startswith("application/cap+xml")
    xmlschema.XMLSchema(SCHEMA).validate(cap.content.decode())
    root = ET.fromstring(cap.content)
    codes = [v.text for v in root.iter(f"{{{CAP_NS}}}value")]
    assert set(one["detail"]["grids"]) <= set(codes)  # the area is the affected grids, not the whole town
    viewer = a.headers("viewer")
    assert requests.get(f"{a.url}/api/v1/alerts/nope/cap", headers=viewer, timeout=10).status_code == 404
    leader = a.headers("leader")
    assert requests.get(f"{a.url}/api/v1/alerts/vacancy:TC01/cap", headers=leader, timeout=10).status_code == 403
    acked = requests.post(f"{b.url}/api/v1/alerts/vacancy:TC01/ack", headers=a.headers("town1"), timeout=10)
    assert acked.status_code == 200 and acked.json()["acked_by"] == "town1"

    # A briefing, stored in the log and downloadable.
    requests.post(f"{a.url}/api/v1/operations", json={"kind": "mass_testing", "scope": "TC01", "name": "检测"},
                  headers=boss, timeout=10).raise_for_status()
    from streams.alerting import issue_briefings

    (bid,) = issue_briefings(county, county.clock())
    listed = requests.get(f"{a.url}/api/v1/briefings", headers=viewer, timeout=10).json()["briefings"]
    assert [i["id"] for i in listed] == [bid]
    body = requests.get(f"{a.url}/api/v1/briefings/{bid}", headers=viewer, timeout=10).json()
    assert body["content"]["operation"]["scope"] == "TC01"
    page = requests.get(f"{a.url}/api/v1/briefings/{bid}?format=html&lang=en", headers=viewer, timeout=10)
    assert page.status_code == 200 and "Daily wartime briefing" in page.text
    assert "attachment" in page.headers["Content-Disposition"]
    table = requests.get(f"{a.url}/api/v1/briefings/{bid}?format=csv", headers=viewer, timeout=10)
    assert table.text.lstrip("\ufeff").splitlines()[0].startswith("grid,name,sampled")
    assert requests.get(f"{a.url}/api/v1/briefings/{bid}?format=pdf", headers=viewer, timeout=10).status_code == 422
    assert requests.get(f"{a.url}/api/v1/briefings/none", headers=viewer, timeout=10).status_code == 404

    # Contact rounds: the peacetime town's leader records the round held; once.
    rounds = requests.get(f"{a.url}/api/v1/contact-rounds", headers=viewer, timeout=10).json()
    assert rounds["due"] == 8 and rounds["completed"] == 0
    grid = next(e["grid"] for e in rounds["entries"] if e["grid"].startswith("TC01"))
    path = f"{a.url}/api/v1/contact-rounds/{rounds['round']}/completions"
    assert requests.post(path, json={"grid": grid}, headers=viewer, timeout=10).status_code == 403
    done = requests.post(path, json={"grid": grid, "note": "走访 <12> 户", "concerns": 3}, headers=boss, timeout=10)
    assert done.status_code == 201 and done.json()["completed_by"] == "commander"
    assert requests.post(path, json={"grid": grid}, headers=boss, timeout=10).status_code == 409
    assert requests.post(path, json={"grid": grid, "concerns": -1}, headers=boss, timeout=10).status_code in (409, 422)
    after = requests.get(f"{b.url}/api/v1/contact-rounds?scope=TC01", headers=boss, timeout=10).json()
    assert after["completed"] == 1 and after["due"] == 4

    # Logins are in the log (the silent-secretary rule reads them).
    logins = {r.event.username for r in county.log.read(county.keys.log) if isinstance(r.event, UserLoggedIn)}
    assert {"commander", "viewer", "leader", "town1"} <= logins


def test_the_history_job_keeps_the_report_index_up_to_the_log_once_per_slot(redis_url: str) -> None:
    county = _county(redis_url)
    county.switch(BOSS, SwitchRequest("TC", "wartime"))
    county.launch(BOSS, "mass_testing", "TC", "全员核酸检测", operation="op-h")
    leaves = sorted(g for g in county.tree.grids if not county.tree.children[g] and county.tree.town_of(g))
    for i in range(30):
        county.report(BOSS, ReportRequest("op-h", f"r{i}", leaves[i % len(leaves)], {"sampled": 2}))
    time.sleep(0.01)  # the index folds up to a millisecond before the server's clock
    index_key = county.keys.report_index
    now = county.clock()
    a, b = (Jobs(connect(redis_url), clock=Clock(now)) for _ in range(2))
    slot = now - now % (HISTORY_EVERY_S * 1000)
    assert [a.run("history", slot + 1), b.run("history", slot + 2)] == [True, False]
    index = msgspec.json.decode(county.client.get(index_key))
    towns = {_town_log(county, g) for g in leaves}
    assert {s: index["positions"].get(s) for s in towns} == {s: county.log.last_id(s) for s in towns}

    county.report(BOSS, ReportRequest("op-h", "r-late", leaves[0], {"sampled": 5}))
    time.sleep(0.01)
    late = county.log.last_id(_town_log(county, leaves[0]))
    assert b.run("history", slot + HISTORY_EVERY_S * 1000) is True
    assert msgspec.json.decode(county.client.get(index_key))["positions"][_town_log(county, leaves[0])] == late


def _town_log(county: County, grid: str) -> str:
    town = county.tree.town_of(grid)
    assert town is not None
    return TownKeys(town).log
