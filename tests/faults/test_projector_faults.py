"""A projector whose write is refused in the middle of a round applies what it was given before anything newer.

Found by the kill suite: Redis refused the projector's writes (min-replicas)
just after one XREADGROUP had delivered entries of two town streams. The first
stream's apply failed; the second stream's entries stayed pending, unapplied,
and the next round read *newer* entries of that stream — so its checkpoint
passed over the pending ones and their reports were never counted. Here the
same round is made to fail deterministically (the first town's counts hash has
the wrong type, so its apply script is refused), then repaired; every report
of both towns must count exactly once.
"""

from __future__ import annotations

import threading
import time

from command.access import Actor, Role
from command.grids import GridTree
from command.modes import SwitchRequest
from command.operations import ReportRequest
from streams.county import County
from streams.keys import TownKeys
from streams.projector import Projector
from streams.server import connect

BOSS = Actor("boss", Role.COMMANDER, "TC")


def _report(county: County, town: str, i: int, n: int) -> None:
    leaf = sorted(county.tree.leaves(town))[i % 4]
    county.report(BOSS, ReportRequest("op1", f"{town}-{i}", leaf, {"sampled": n}))


def _poisoned_county(redis_url: str, tree: GridTree) -> tuple[County, str]:
    """A county in wartime with 10 reports in each town, and TC01's apply script refused (WRONGTYPE) until repaired.

    TC01 sorts first, so a projector tries it before TC02 every round.
    """
    county = County(connect(redis_url), "TC")
    county.load_registry(tree, None, BOSS)
    county.switch(BOSS, SwitchRequest("TC", "wartime", "epidemic", "II"))
    county.launch(BOSS, "mass_testing", "TC", "t", operation="op1")
    Projector(county.client, "TC", consumer="p", publish=False).catch_up()
    poisoned = TownKeys("TC01").counts("op1")
    county.client.set(poisoned, "not a hash")
    for i in range(10):
        _report(county, "TC01", i, 1)
        _report(county, "TC02", i, 10)
    return county, poisoned


def test_a_refused_apply_mid_round_loses_no_delivered_entry(redis_url: str, tree: GridTree) -> None:
    county, poisoned = _poisoned_county(redis_url, tree)
    stop = threading.Event()
    p = Projector(county.client, "TC", consumer="p", publish=False)
    worker = threading.Thread(target=p.run, args=(stop,), kwargs={"block_ms": 50}, daemon=True)
    worker.start()
    try:
        time.sleep(1.0)  # several refused rounds: TC02's first entries are delivered but not applied
        for i in range(10, 20):
            _report(county, "TC02", i, 10)  # newer entries in the stream whose older ones are pending
        county.client.delete(poisoned)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and p.lag_entries():
            time.sleep(0.05)
        assert p.lag_entries() == 0
    finally:
        stop.set()
        worker.join(10)
    totals = county.progress.totals("op1", ["TC01", "TC02", "TC"])
    assert totals == {"TC01": {"sampled": 10}, "TC02": {"sampled": 200}, "TC": {"sampled": 210}}


def test_a_town_whose_writes_keep_being_refused_does_not_hold_the_other_towns_up(
    redis_url: str, tree: GridTree
) -> None:
    county, poisoned = _poisoned_county(redis_url, tree)
    stop = threading.Event()
    p = Projector(county.client, "TC", consumer="p", publish=False)
    worker = threading.Thread(target=p.run, args=(stop,), kwargs={"block_ms": 50}, daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and county.progress.totals("op1", ["TC02"])["TC02"].get("sampled") != 100:
            time.sleep(0.05)
        assert county.progress.totals("op1", ["TC02"]) == {"TC02": {"sampled": 100}}
        assert county.client.type(poisoned) == b"string"  # TC01 is still refused, and still behind
        county.client.delete(poisoned)
        while time.monotonic() < deadline and p.lag_entries():
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(10)
    assert county.progress.totals("op1", ["TC01", "TC02", "TC"]) == {
        "TC01": {"sampled": 10}, "TC02": {"sampled": 100}, "TC": {"sampled": 110}
    }
