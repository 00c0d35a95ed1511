"""Drills against a real Redis: replay on the drill's clock, injects, players' commands, live untouched."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from command.access import Actor, Role
from command.drills import MINUTE, DrillState, parse_scenario
from command.events import AlertRaised, ProgressReported
from command.modes import SwitchRequest
from command.operations import ReportRequest
from streams.county import County
from streams.drills import DrillRunner, Drills, drill_report, in_drill
from streams.keys import DRILL_PREFIX, TownKeys
from streams.projector import Projector
from streams.server import connect
from tests.conftest import make_tree

BOSS = Actor("boss", Role.COMMANDER, "TC")
MINUTES = 40


class Clock:
    """A clock the test moves by hand (epoch ms)."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def recorded_operation(client: redis.Redis, minutes: int = MINUTES, close: bool = True) -> tuple[County, str]:
    """A closed mass-testing operation of `minutes` minutes recorded two hours ago: every leaf reports
    every minute (a grid's counts vary with the minute)."""
    start = (int(time.time() * 1000) - 3 * 3600_000) // MINUTE * MINUTE
    clock = Clock(start)
    county = County(client, "TC", clock)
    county.load_registry(make_tree(), None, BOSS)
    county.switch(BOSS, SwitchRequest("TC", "wartime", incident="epidemic", level="II"))
    clock.ms += 1000
    op = county.launch(BOSS, "mass_testing", "TC", "recorded", operation="op-rec").event.operation  # type: ignore[attr-defined]
    leaves = sorted(county.tree.leaves("TC"))
    for m in range(minutes):
        clock.ms = start + 1000 + m * MINUTE + 30_000
        county.report_many(BOSS, [ReportRequest(op, f"r{m}-{i}", g, {"sampled": 1 + (i + m) % 3})
                                  for i, g in enumerate(leaves)])
    if close:
        clock.ms = start + 1000 + minutes * MINUTE
        county.close(BOSS, op)
    Projector(client, "TC", consumer="live", publish=False).catch_up()
    return county, op


def live_dump(client: redis.Redis) -> dict[bytes, Any]:
    """Every live key with its serialized value (DUMP): what "byte-identical" compares."""
    out = {}
    for k in sorted(client.scan_iter(count=1000)):
        if not k.startswith(DRILL_PREFIX.encode()):
            out[k] = client.dump(k)
    return out


def recorded_totals_at(county: County, op: str, until: int) -> dict[str, int]:
    """The recorded operation's county total of each counter as of `until` (its log folded)."""
    out: dict[str, int] = {}
    for t in county.tree.towns:
        for rec in county.log.read(TownKeys(t, "").log):
            ev = rec.event
            if isinstance(ev, ProgressReported) and ev.operation == op and rec.at <= until:
                for c, n in ev.counts.items():
                    out[c] = out.get(c, 0) + n
    return out


def drill_totals(drills: Drills, drill_id: str, op: str) -> dict[str, int]:
    with in_drill(drills, drill_id) as c:
        c.refresh()
        return {k: v for k, v in c.progress.totals(op, [c.tree.root])[c.tree.root].items() if v}


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return connect(redis_url)  # type: ignore[return-value]


def test_a_drill_at_60x_reproduces_the_recorded_totals_at_every_replayed_minute(client: redis.Redis) -> None:
    live, op = recorded_operation(client)
    before = live_dump(client)
    wall = Clock(int(time.time() * 1000))
    drills = Drills(client, "TC", wall)
    d = drills.create(live, BOSS, op, 60, "rehearsal")
    runner = DrillRunner(drills, d.drill_id)
    launched = d.origin  # the launch as the recorded envelope says (its `at`)
    for m in range(MINUTES + 2):
        wall.ms = d.started + m * 1000  # one wall second is one drill minute at 60×
        runner.step()
        now = drills.get(d.drill_id).clock(wall.ms)
        assert now == launched + min(m, MINUTES) * MINUTE  # it stands still once all is replayed
        assert drill_totals(drills, d.drill_id, op) == {k: v for k, v in recorded_totals_at(live, op, now).items()
                                                         if v}, f"minute {m}"
    assert drills.get(d.drill_id).state == DrillState.FINISHED
    with in_drill(drills, d.drill_id) as c:
        assert c.refresh().operations[op].state.value == "closed"
    # nothing live moved: every live key byte for byte, and the drill's keys all under its prefix
    assert live_dump(client) == before
    assert any(k.startswith(f"{DRILL_PREFIX}{d.drill_id}:".encode()) for k in client.scan_iter())


def test_a_drill_stamps_its_log_with_its_own_clock(client: redis.Redis) -> None:
    live, op = recorded_operation(client, minutes=5)
    wall = Clock(int(time.time() * 1000))
    drills = Drills(client, "TC", wall)
    d = drills.create(live, BOSS, op, 60, "")
    wall.ms += 3_000
    DrillRunner(drills, d.drill_id).step()
    now = drills.get(d.drill_id).clock(wall.ms)
    town = live.tree.towns[0]
    last = client.xrevrange(TownKeys(town, d.drill_id).log, count=1)[0][0].decode()
    assert int(last.split("-")[0]) <= now < int(time.time() * 1000) - 3600_000  # drill time, not the wall's


def test_a_town_silent_inject_raises_its_stall_alert_on_the_drills_clock(client: redis.Redis) -> None:
    live, op = recorded_operation(client, minutes=MINUTES + 20, close=False)
    silent = live.tree.towns[0]
    scenario = parse_scenario({"objectives": ["spot the silent town"],
                               "injects": [{"minute": 5, "kind": "town_silent", "town": silent}]})
    wall = Clock(int(time.time() * 1000))
    drills = Drills(client, "TC", wall)
    d = drills.create(live, BOSS, op, 600, "", scenario)
    runner = DrillRunner(drills, d.drill_id)
    stalls: dict[str, int] = {}
    for s in range(0, 5000, 100):  # wall tenths of a second: one drill minute each at 600×
        wall.ms = d.started + s
        runner.step()
        with in_drill(drills, d.drill_id) as c:
            for a in c.refresh().alerts.values():
                if a.kind == "stall":
                    stalls.setdefault(a.grid, a.raised_at)
    launched = d.origin
    assert silent in stalls, stalls
    # raised once the town was 30 drill-minutes without a report (its last one in minute 4), on drill time
    assert 34 * MINUTE <= stalls[silent] - launched <= 37 * MINUTE
    assert all(live.tree.town_of(g) == silent or g == silent for g in stalls)
    assert not [r for r in live.log.read(live.keys.log) if isinstance(r.event, AlertRaised)]


def test_a_command_inside_a_drill_leaves_live_state_unchanged(client: redis.Redis) -> None:
    live, op = recorded_operation(client, minutes=5)
    wall = Clock(int(time.time() * 1000))
    drills = Drills(client, "TC", wall)
    d = drills.create(live, BOSS, op, 60, "")
    runner = DrillRunner(drills, d.drill_id)
    wall.ms += 2_000
    runner.step()
    before = live_dump(client)
    with in_drill(drills, d.drill_id) as c:
        vacancy = sorted(c.refresh().vacancies)[0]
        c.appoint(BOSS, vacancy, "演练代理")
        st = c.refresh()
        assert st.secretaries[vacancy].name == "演练代理" and vacancy not in st.vacancies
        assert st.last_at == drills.get(d.drill_id).clock(wall.ms)  # stamped on the drill's clock
    wall.ms += 2_000
    runner.step()
    assert live_dump(client) == before
    assert vacancy in live.refresh().vacancies and vacancy not in live.state.secretaries


def test_pause_holds_the_clock_and_stop_ends_the_drill(client: redis.Redis) -> None:
    live, op = recorded_operation(client, minutes=5)
    wall = Clock(int(time.time() * 1000))
    drills = Drills(client, "TC", wall)
    d = drills.create(live, BOSS, op, 10, "")
    wall.ms += 6_000
    drills.pause(d.drill_id)
    held = drills.get(d.drill_id).clock(wall.ms)
    wall.ms += 60_000
    assert drills.get(d.drill_id).clock(wall.ms) == held == d.origin + 60_000
    drills.resume(d.drill_id)
    wall.ms += 1_000
    assert drills.get(d.drill_id).clock(wall.ms) == held + 10_000
    stopped = drills.stop(d.drill_id)
    assert stopped.state == DrillState.STOPPED
    wall.ms += 5_000
    assert drills.get(d.drill_id).clock(wall.ms) == held + 10_000


def test_the_drill_report_sets_the_drill_beside_the_recording(client: redis.Redis) -> None:
    live, op = recorded_operation(client, minutes=10)
    scenario = parse_scenario({"objectives": ["全部小网格 10 分钟内到岗"], "injects": []})
    wall = Clock(int(time.time() * 1000))
    drills = Drills(client, "TC", wall)
    d = drills.create(live, BOSS, op, 60, "", scenario)
    runner = DrillRunner(drills, d.drill_id)
    wall.ms += 3_000
    runner.step()
    with in_drill(drills, d.drill_id) as c:
        vacancy = sorted(c.refresh().vacancies)[0]
        c.appoint(BOSS, vacancy, "演练代理")
    wall.ms += 20_000
    runner.step()
    report = drill_report(drills, d.drill_id)
    assert report["objectives"] == ["全部小网格 10 分钟内到岗"]
    assert report["recorded"]["total"] == report["drill"]["total"] > 0
    assert report["recorded"]["reports"] == report["drill"]["reports"]
    players = report["decisions"]["drill"]
    assert [(x["decision"], x["grid"], x["minute"]) for x in players] == [("secretary_appointed", vacancy, 3.0)]
    assert all(x["decision"] != "secretary_appointed" for x in report["decisions"]["recorded"])
    assert set(report["strengths"]) == {"recorded", "drill"}
    assert set(report["drill"]["time_to"]) == {"50", "90", "100"}

