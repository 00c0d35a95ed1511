"""Exactly-once per operation and never below zero, on one Redis and on a three-master cluster.

A report_id names one report of its operation whichever town its grid lies in
(DESIGN §7.1); a correction is checked against the grid's running total as the
log defines it, in the same atomic step as the append (issue 14 item 1).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cluster import LocalCluster
from command.access import Actor, Role
from command.errors import InvalidReport, ReportIdReused
from command.events import ProgressReported
from command.modes import SwitchRequest
from command.operations import ReportRequest
from streams.county import County
from streams.keys import CountyKeys, TownKeys
from streams.log import Appended
from streams.server import connect
from tests.conftest import make_tree, town_elsewhere

CMD = Actor("boss", Role.COMMANDER, "TC")


@pytest.fixture(params=["single", "cluster"])
def url(request: pytest.FixtureRequest, redis_url: str, tmp_path: Path) -> Iterator[str]:
    if request.param == "single":
        yield redis_url
        return
    c = LocalCluster(tmp_path).start()
    try:
        yield c.url
    finally:
        c.stop()


def _county(url: str, towns: int = 4) -> County:
    county = County(connect(url), "TC")
    county.load_registry(make_tree(towns=towns, larges=1, mediums=1, smalls=2, micros=1), None, CMD)
    county.switch(CMD, SwitchRequest("TC", "wartime", "epidemic", "II"))
    county.launch(CMD, "mass_testing", "TC", "t", operation="op1")
    return county


def _logged(county: County) -> dict[str, int]:
    """Grid → sampled, folded from the log itself."""
    out: dict[str, int] = {}
    for rec in county.log.replay():
        if isinstance(rec.event, ProgressReported):
            out[rec.event.grid] = out.get(rec.event.grid, 0) + rec.event.counts.get("sampled", 0)
    return out


def test_one_report_id_in_two_towns_counts_once_and_the_second_body_is_refused(url: str) -> None:
    county = _county(url)
    a = next(county.tree.leaves("TC01"))
    b = next(county.tree.leaves(town_elsewhere(county.client, county.tree.towns, "TC01")))
    first = county.report(CMD, ReportRequest("op1", "same-id", a, {"sampled": 7}))
    assert not first.duplicate
    with pytest.raises(ReportIdReused) as err:
        county.report(CMD, ReportRequest("op1", "same-id", b, {"sampled": 700}))
    assert err.value.field == "report_id"
    with pytest.raises(ReportIdReused):  # same town, same grid, another count: refused too
        county.report(CMD, ReportRequest("op1", "same-id", a, {"sampled": 8}))
    again = county.report(CMD, ReportRequest("op1", "same-id", a, {"sampled": 7}))
    assert again.duplicate and again.event_id == first.event_id
    assert _logged(county) == {a: 7}
    # Another operation may use the same id: ids are per operation.
    county.launch(CMD, "mass_testing", "TC", "t2", operation="op2")
    assert not county.report(CMD, ReportRequest("op2", "same-id", b, {"sampled": 1})).duplicate


def test_the_same_body_from_sixteen_threads_at_once_is_counted_once(url: str) -> None:
    county = _county(url)
    grid = next(county.tree.leaves("TC02"))
    gate = threading.Barrier(16)
    got: list[Appended | BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        mine = County(connect(url), "TC")  # its own connections and group commit, like another worker
        req = ReportRequest("op1", "burst", grid, {"sampled": 3})
        gate.wait()
        try:
            out: Appended | BaseException = mine.report(CMD, req).appended
        except BaseException as exc:
            out = exc
        with lock:
            got.append(out)

    threads = [threading.Thread(target=send) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, Appended) for r in got), got
    answers = [r for r in got if isinstance(r, Appended)]
    assert sum(not r.duplicate for r in answers) == 1 and len({r.id for r in answers}) == 1
    assert _logged(county) == {grid: 3}


def test_a_claim_left_by_a_crash_before_the_append_appends_on_retry(url: str) -> None:
    county = _county(url)
    grid = next(county.tree.leaves("TC04"))
    event = county.plan_report(CMD, ReportRequest("op1", "crashed", grid, {"sampled": 4}))
    # The claim is made, then the writer dies before the town's script runs.
    county.client.hset(CountyKeys("TC").claims("op1"), "crashed", county.log.claim_value(event))
    retry = county.report(CMD, ReportRequest("op1", "crashed", grid, {"sampled": 4}))
    assert not retry.duplicate  # in the log now, and only now
    assert _logged(county) == {grid: 4}
    with pytest.raises(ReportIdReused):
        county.report(CMD, ReportRequest("op1", "crashed", next(county.tree.leaves("TC01")), {"sampled": 4}))


def test_concurrent_corrections_never_take_a_grid_below_zero(url: str) -> None:
    county = _county(url)
    grid = next(county.tree.leaves("TC01"))
    county.report(CMD, ReportRequest("op1", "base", grid, {"sampled": 5}))
    gate = threading.Barrier(10)
    got: list[Appended | BaseException] = []
    lock = threading.Lock()

    def correct(i: int) -> None:
        mine = County(connect(url), "TC")
        req = ReportRequest("op1", f"fix-{i}", grid, {"sampled": -5}, reason="counted twice")
        gate.wait()
        try:
            out: Appended | BaseException = mine.report(CMD, req).appended
        except BaseException as exc:
            out = exc
        with lock:
            got.append(out)

    threads = [threading.Thread(target=correct, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = [r for r in got if isinstance(r, Appended)]
    refused = [r for r in got if isinstance(r, InvalidReport)]
    assert len(accepted) == 1 and len(refused) == 9, got
    assert all(r.field == "counts.sampled" and "below zero" in r.message for r in refused)
    assert _logged(county) == {grid: 0}


def test_running_totals_are_folded_from_a_log_written_before_they_were_kept(redis_url: str) -> None:
    county = _county(redis_url)
    grid = next(county.tree.leaves("TC02"))
    for i in range(3):
        county.report(CMD, ReportRequest("op1", f"old-{i}", grid, {"sampled": 4}))
    town = TownKeys(county.tree.town_of(grid) or "")
    county.client.delete(town.totals)  # as a log from before this version left it
    with pytest.raises(InvalidReport):
        county.report(CMD, ReportRequest("op1", "fix-1", grid, {"sampled": -13}, reason="typo"))
    county.report(CMD, ReportRequest("op1", "fix-2", grid, {"sampled": -12}, reason="typo"))
    assert _logged(county) == {grid: 0}
    assert int(county.client.hget(town.totals, f"op1|{grid}|sampled") or -1) == 0


def test_on_one_redis_a_report_s_claim_holds_its_entry_and_answers_the_retry(redis_url: str) -> None:
    county = _county(redis_url)
    grid = next(county.tree.leaves("TC02"))
    first = county.report(CMD, ReportRequest("op1", "held", grid, {"sampled": 2}))
    town = TownKeys(str(county.tree.town_of(grid)))
    claim = county.client.hget(CountyKeys("TC").claims("op1"), "held").decode()
    assert claim.endswith(f" {first.event_id}")  # one write besides the XADD: the claim, with the id
    assert county.client.hget(town.idem, "op1:held") is None
    again = county.report(CMD, ReportRequest("op1", "held", grid, {"sampled": 2}))
    assert again.duplicate and again.event_id == first.event_id
    assert _logged(county) == {grid: 2}


def test_a_claim_written_before_claims_held_their_entry_still_answers_from_the_towns_key(redis_url: str) -> None:
    county = _county(redis_url)
    grid = next(county.tree.leaves("TC03"))
    first = county.report(CMD, ReportRequest("op1", "older", grid, {"sampled": 6}))
    # As an older version left it: the claim without the id, the report's key in the town.
    event = county.plan_report(CMD, ReportRequest("op1", "older", grid, {"sampled": 6}))
    county.client.hset(CountyKeys("TC").claims("op1"), "older", county.log.claim_value(event))
    county.client.hset(TownKeys(str(county.tree.town_of(grid))).idem, "op1:older", first.event_id)
    again = county.report(CMD, ReportRequest("op1", "older", grid, {"sampled": 6}))
    assert again.duplicate and again.event_id == first.event_id
    assert _logged(county) == {grid: 6}
    with pytest.raises(ReportIdReused):
        county.report(CMD, ReportRequest("op1", "older", grid, {"sampled": 7}))
