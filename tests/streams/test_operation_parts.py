"""A town's part of a county-wide operation closes in the log and in that town's append script (real Redis).

The town's script refuses reports on the operation (``wt:{TOWN}:closed``) even for a
report validated before the part closed; the other towns append. Same on a cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bench.cluster import LocalCluster
from command.access import Actor, Role
from command.errors import OperationClosed, OperationClosedForTown
from command.events import OperationPartClosed
from command.grids import GridTree
from command.modes import SwitchRequest
from command.operations import ReportRequest
from streams.county import County
from streams.keys import TownKeys
from streams.projector import Projector
from streams.server import connect
from tests.conftest import make_tree

CMD = Actor("boss", Role.COMMANDER, "TC")
TOWN1 = Actor("town1", Role.COMMANDER, "TC01")
LEAF1 = "TC01-L1-M1-S1-W1"
LEAF2 = "TC02-L1-M1-S1-W1"


def _county(url: str, tree: GridTree) -> County:
    county = County(connect(url), "TC")
    county.load_registry(tree, None, CMD)
    county.switch(CMD, SwitchRequest("TC", "wartime", "epidemic", "II"))
    county.launch(CMD, "mass_testing", "TC", "全员核酸", operation="op1")
    return county


def _flow(county: County) -> None:
    """Reports in both towns; TC01's part closes; a report planned before it is refused by TC01's script."""
    county.report(CMD, ReportRequest("op1", "a", LEAF1, {"sampled": 4}))
    county.report(CMD, ReportRequest("op1", "b", LEAF2, {"sampled": 6}))
    planned = county.plan_report(CMD, ReportRequest("op1", "late", LEAF1, {"sampled": 50}))
    out = county.close_part(TOWN1, "op1", "TC01", "镇内完成")
    assert isinstance(out.event, OperationPartClosed)
    with pytest.raises(OperationClosed) as err:
        county.append_report(planned, CMD)  # validated before: the town's own script refuses it
    assert err.value.code == "operation_closed"
    with pytest.raises(OperationClosedForTown):
        county.report(CMD, ReportRequest("op1", "c", LEAF1, {"sampled": 1}))
    assert not county.report(CMD, ReportRequest("op1", "d", LEAF2, {"sampled": 3})).duplicate
    Projector(county.client, "TC", publish=False).catch_up()
    totals = county.progress.totals("op1", ["TC01", "TC02", "TC"])
    assert totals["TC01"] == {"sampled": 4} and totals["TC02"] == {"sampled": 9}
    assert totals["TC"] == {"sampled": 13}
    assert county.refresh().operations["op1"].state == "open"


def test_a_part_close_makes_only_that_towns_script_refuse(redis_url: str) -> None:
    tree = make_tree()
    county = _county(redis_url, tree)
    _flow(county)
    client = redis.Redis.from_url(redis_url)
    assert client.smembers(TownKeys("TC01").closed) == {b"op1"}
    assert client.smembers(TownKeys("TC02").closed) == set()


def test_a_retried_part_close_is_refused_and_changes_nothing(redis_url: str) -> None:
    county = _county(redis_url, make_tree())
    county.close_part(CMD, "op1", "TC01")
    length = county.client.xlen(county.keys.log)
    with pytest.raises(OperationClosedForTown):
        county.close_part(CMD, "op1", "TC01")
    assert county.client.xlen(county.keys.log) == length


def test_the_projector_marks_a_part_close_whose_writer_died_before_marking(redis_url: str) -> None:
    county = _county(redis_url, make_tree())
    county.close_part(CMD, "op1", "TC01")
    client = redis.Redis.from_url(redis_url)
    client.delete(TownKeys("TC01").closed)  # as if the process died between the event and the mark
    Projector(county.client, "TC", publish=False).catch_up()
    assert client.smembers(TownKeys("TC01").closed) == {b"op1"}
    assert client.smembers(TownKeys("TC02").closed) == set()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path).start()
    yield c
    c.stop()


def test_a_part_close_on_a_cluster_refuses_in_that_town_only(cluster: LocalCluster) -> None:
    _flow(_county(cluster.url, make_tree()))
