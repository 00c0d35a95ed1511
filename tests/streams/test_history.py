"""Time travel and report aggregates on the real Redis: snapshots and index never change an answer."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from command.access import Actor, Role
from command.alerts import acknowledge
from command.errors import ReportIdReused
from command.events import AlertCleared, AlertRaised
from command.modes import SwitchRequest
from command.operations import ReportRequest
from command.report import build_report, fold_records
from command.timetravel import fold_until, normal_form
from streams.county import County
from streams.history import History
from streams.projector import Projector
from streams.server import connect
from tests.conftest import seed_county

OP = "op-review"


@dataclass
class Scenario:
    """A little county through a whole operation, as the review sees it."""

    client: redis.Redis
    county: County
    first_ms: int
    last_ms: int


def build_scenario(redis_url: str, *, close: bool = True, reports: int = 120, seed: bool = True) -> Scenario:
    """Wartime switch, launch, reports by several people, vacancies filled, alerts, a correction, close."""
    if seed:
        seed_county(redis_url)
    client = connect(redis_url)
    county = County(client, "TC")
    tree = county.tree
    boss = Actor("commander", Role.COMMANDER, "TC")
    county.switch(boss, SwitchRequest("TC", "wartime", "epidemic", "II", "演练"))
    deadline = county.clock() + 60_000
    county.launch(boss, "mass_testing", "TC", "全员核酸检测", deadline=deadline, operation=OP)
    time.sleep(0.002)  # the launch is an instant of its own (a review jumping to it finds nothing counted yet)
    leaves = sorted(g for g in tree.grids if not tree.children[g] and tree.town_of(g))
    vacancies = sorted(county.refresh().vacancies)
    leaders = [Actor(f"leader-{i}", Role.COMMANDER, "TC") for i in range(4)]
    for i in range(reports):
        grid = leaves[(i * 7) % len(leaves)] if i % 5 else leaves[0]
        size = 3 + (i * 13) % 9
        county.report(leaders[i % 4], ReportRequest(OP, f"r{i}", grid, {"sampled": size}))
        if i % 15 == 0:
            time.sleep(0.004)
        if i == 20:
            for g in vacancies[: len(vacancies) - 2]:
                county.appoint(boss, g, f"代理{g[-6:]}")
        if i == 30:
            county.record(AlertRaised(alert="al-1", kind="stall", grid=vacancies[-1], operation=OP), boss)
            county.record(AlertRaised(alert="al-2", kind="pace", grid="TC", operation=OP), boss)
        if i == 45:
            county.refresh()
            county.record(acknowledge(county.state, boss, "al-1"), boss)
        if i == 60:
            Projector(client, "TC", consumer="t", publish=False).catch_up()  # corrections check live totals
            county.report(boss, ReportRequest(OP, "fix-1", leaves[0], {"sampled": -2}, reason="重复上报"))
            county.change_level(boss, "TC", "I", "升级")
        if i == 80:
            county.record(AlertCleared(alert="al-1"), boss)
    # a duplicate (same report id, same body) changes nothing; the id with another body is refused
    assert county.report(leaders[1], ReportRequest(OP, "r1", leaves[7 % len(leaves)], {"sampled": 7})).duplicate
    with pytest.raises(ReportIdReused):
        county.report(leaders[0], ReportRequest(OP, "r1", leaves[7], {"sampled": 5}))
    if close:
        county.close(boss, OP, "完成")
    Projector(client, "TC", consumer="t", publish=False).catch_up()
    recs = list(county.log.replay())
    return Scenario(client, county, recs[0].ms, recs[-1].ms)


def test_state_at_any_instant_equals_a_replay_of_the_log_up_to_it(redis_url: str) -> None:
    sc = build_scenario(redis_url)
    hist = History(sc.client, "TC", snapshot_every=17)
    assert hist.ensure_snapshots(force=True) > 3
    records = list(sc.county.log.replay())

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(min_value=sc.first_ms - 5, max_value=sc.last_ms + 5))
    def check(at: int) -> None:
        got = hist.state_at(at)
        want = fold_until(sc.county.log.replay(until=at), at)
        assert got.control == want.control
        assert normal_form(got.counts) == normal_form(want.counts)
        # and the same as folding the whole log's prefix in memory
        assert normal_form(got.counts) == normal_form(fold_until(records, at).counts)

    check()


def test_snapshots_do_not_change_the_state_at_an_instant(redis_url: str) -> None:
    sc = build_scenario(redis_url)
    plain = History(sc.client, "TC")
    mid = (sc.first_ms + sc.last_ms) // 2
    before = normal_form(plain.state_at(mid).counts)
    fast = History(sc.client, "TC", snapshot_every=10)
    assert fast.ensure_snapshots(force=True) > 0
    assert normal_form(fast.state_at(mid).counts) == before
    assert fast.drop() > 0
    assert normal_form(fast.state_at(mid).counts) == before


def test_state_at_the_end_matches_the_read_models(redis_url: str) -> None:
    sc = build_scenario(redis_url)
    hist = History(sc.client, "TC", snapshot_every=25)
    hist.ensure_snapshots()
    inst = hist.state_at(sc.last_ms)
    tree = sc.county.tree
    grids = list(tree.grids)
    live = sc.county.progress.totals(OP, grids)
    for g in grids:
        assert inst.totals(OP, g).get("sampled", 0) == live[g]["sampled"], g


def test_report_town_totals_equal_the_read_models(redis_url: str) -> None:
    sc = build_scenario(redis_url)
    report = History(sc.client, "TC").report(OP)
    tree = sc.county.tree
    live = sc.county.progress.totals(OP, [*tree.towns, tree.root])
    by_town = {row["grid"]: row["sampled"] for row in report.towns.to_dict("records")}
    assert set(by_town) == set(tree.towns)
    for town in tree.towns:
        assert by_town[town] == live[town]["sampled"], town
    assert int(report.summary.loc[0, "total"]) == live[tree.root]["sampled"]
    for row in report.grids.to_dict("records"):
        assert row["sampled"] == sc.county.progress.totals(OP, [row["grid"]])[row["grid"]]["sampled"]


def test_report_index_folded_in_pieces_gives_the_same_report(redis_url: str) -> None:
    sc = build_scenario(redis_url, close=False)
    hist = History(sc.client, "TC", index_every=1)
    hist.report(OP)  # writes the index
    assert sc.client.exists(hist.keys.report_index)
    boss = Actor("commander", Role.COMMANDER, "TC")
    leaves = sorted(g for g in sc.county.tree.grids if not sc.county.tree.children[g])
    for i in range(30):
        sc.county.report(boss, ReportRequest(OP, f"late{i}", leaves[i % len(leaves)], {"sampled": 2}))
    time.sleep(0.01)
    pieces = hist.report(OP)
    whole_fold = fold_records(sc.county.log.replay())
    control = [r for r in sc.county.log.replay() if r.stream == sc.county.keys.log]
    whole = build_report(whole_fold, control, OP, pieces.as_of)
    for name in ("summary", "towns", "grids", "tenures", "pace", "activity", "silences", "slowest"):
        a, b = getattr(pieces, name), getattr(whole, name)
        assert a.equals(b), name
    assert pieces.timeline == whole.timeline


def test_report_describes_the_operation(redis_url: str) -> None:
    sc = build_scenario(redis_url)
    r = History(sc.client, "TC").report(OP)
    assert r.state == "closed" and r.closed_at is not None
    assert r.incident == "epidemic" and r.level_at_launch == "II" and r.level_at_end == "I"
    assert r.secretaries["installed_at_switch"] == 8
    assert r.secretaries["vacancies_at_switch"] == 8
    assert r.secretaries["still_vacant"] == 2
    assert r.reports == 121  # 120 + the correction; the duplicate is not in the log
    assert list(r.corrections["reason"]) == ["重复上报"]
    kinds = dict(zip(r.alerts_by_kind["kind"], r.alerts_by_kind["acknowledged"], strict=True))
    assert kinds == {"pace": 0, "stall": 1}
    assert r.ack_worst_ms is not None and r.ack_worst_ms >= 0
    acts = set(r.activity["activity"])
    assert {"installed", "appointed", "first_report", "daily", "last_report"} <= acts
    kinds_tl = [it.kind for it in r.timeline]
    assert kinds_tl[0] == "switch_wartime" and "launched" in kinds_tl and kinds_tl[-1] == "closed"
    assert "appointed" in kinds_tl and "alert_raised" in kinds_tl and "alert_acked" in kinds_tl
