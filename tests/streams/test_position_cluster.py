"""Reads at one log position on Redis Cluster: each town's checkpoint and hashes come from its own shard."""

from __future__ import annotations

from bench.cluster import LocalCluster
from command.access import Actor, Role
from command.modes import SwitchRequest
from command.operations import ReportRequest
from dashboard.components.bands import band
from streams.county import County
from streams.keys import TownKeys
from streams.live import LiveHub
from streams.position import read_towns
from streams.projector import Projector
from streams.server import connect
from tests.conftest import make_tree
from tests.streams.test_cluster import cluster

__all__ = ["cluster"]  # the fixture

CMD = Actor("boss", Role.COMMANDER, "TC")


def test_the_mirror_and_the_snapshot_read_every_town_at_its_checkpoint_on_a_cluster(cluster: LocalCluster) -> None:
    tree = make_tree(towns=4)
    county = County(connect(cluster.url), "TC")
    county.load_registry(tree, None, CMD)
    county.switch(CMD, SwitchRequest("TC", "wartime", "epidemic", "II"))
    county.launch(CMD, "mass_testing", "TC", "t", operation="op1")
    leaves = sorted(tree.leaves("TC"))
    county.report_many(CMD, [ReportRequest("op1", f"r{i}", g, {"sampled": 2}) for i, g in enumerate(leaves)])
    Projector(county.client, "TC", consumer="t", publish=False).catch_up()
    checkpoints = {t: (county.client.get(TownKeys(t).checkpoint) or b"").decode() for t in tree.towns}
    read = read_towns(county.client, list(tree.towns), ["op1"], ["op1"])
    assert read.pos == checkpoints and all(v != "0-0" for v in checkpoints.values())
    want = {t: 2 * len(list(tree.leaves(t))) for t in tree.towns}
    assert {t: read.counts["op1"][t]["sampled"] for t in tree.towns} == want
    hub = LiveHub(cluster.url, lambda token: ("x", "viewer", "TC"), band=band)
    assert hub.load() and hub.mirror is not None
    hub.mirror.load(["op1"])
    assert hub.mirror.pos == checkpoints and hub.mirror.cell("op1", "TC")["sampled"] == 2 * len(leaves)
