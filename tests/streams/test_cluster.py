"""The wartime flow on a local three-master Redis Cluster: exact roll-ups, keys on every shard."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cluster import LocalCluster
from command.access import Actor, Role
from command.events import ProgressReported
from command.fold import Counts
from command.modes import SwitchRequest
from command.operations import ReportRequest
from streams.county import County
from streams.keys import CountyKeys, TownKeys
from streams.projector import Projector
from streams.server import connect
from tests.conftest import make_tree

ROOT = Path(__file__).resolve().parents[2]
CMD = Actor("boss", Role.COMMANDER, "TC")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path).start()
    yield c
    c.stop()


def test_county_keys_spread_over_all_three_masters(cluster: LocalCluster) -> None:
    tree = make_tree(towns=9, larges=1, mediums=1, smalls=2, micros=1)
    county = County(connect(cluster.url), "TC")
    county.load_registry(tree, None, CMD)
    county.switch(CMD, SwitchRequest("TC", "wartime", "epidemic", "II"))
    county.launch(CMD, "mass_testing", "TC", "t", operation="op1")
    county.report_many(CMD, [ReportRequest("op1", f"r{i}", leaf, {"sampled": 1})
                             for i, leaf in enumerate(sorted(tree.leaves("TC")))])
    Projector(county.client, "TC").catch_up()
    nodes = {cluster.node_of(TownKeys(t).log) for t in tree.towns}
    assert nodes == {0, 1, 2}
    assert all(n > 0 for n in cluster.dbsizes())
    # Each town's stream and read models share its slot.
    for t in tree.towns:
        tk = TownKeys(t)
        assert len({cluster.node_of(k) for k in (tk.log, tk.idem, tk.checkpoint, tk.counts("op1"))}) == 1
    ck = CountyKeys("TC")
    assert len({cluster.node_of(k) for k in (ck.log, ck.idem, ck.checkpoint, ck.control, ck.users)}) == 1


SCRIPT = """
import sys, threading
from streams.projector import Projector
from streams.server import connect
p = Projector(connect(sys.argv[1]), "TC", consumer=sys.argv[2], batch=128, lease_ms=1000)
p.run(threading.Event(), block_ms=50)
"""


def test_wartime_flow_on_a_cluster_with_a_killed_projector_keeps_roll_ups_exact(cluster: LocalCluster) -> None:
    tree = make_tree(towns=6, larges=2, mediums=2, smalls=2, micros=2)
    county = County(connect(cluster.url), "TC")
    county.load_registry(tree, None, CMD)
    county.switch(CMD, SwitchRequest("TC", "wartime", "epidemic", "II"))
    county.launch(CMD, "mass_testing", "TC", "t", operation="op1")
    leaves = sorted(tree.leaves("TC"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    victim = subprocess.Popen([sys.executable, "-c", SCRIPT, cluster.url, "victim"], cwd=ROOT, env=env)
    errors: list[BaseException] = []

    def client_thread(w: int) -> None:
        try:
            c = County(connect(cluster.url), "TC")
            rng = random.Random(w)
            for i in range(0, 600, 20):
                reqs = [ReportRequest("op1", f"w{w}-{i + j}", rng.choice(leaves), {"sampled": rng.randint(1, 9)})
                        for j in range(20)]
                c.report_many(CMD, reqs)
                # Retries of what was already sent are duplicates and change nothing.
                c.report_many(CMD, reqs[:5])
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=client_thread, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    for t in threads:
        t.join()
    assert not errors, errors
    survivor = subprocess.Popen([sys.executable, "-c", SCRIPT, cluster.url, "survivor"], cwd=ROOT, env=env)
    try:
        probe = Projector(county.client, "TC", consumer="probe")
        probe.view.refresh()
        deadline = time.monotonic() + 60
        while probe.lag_entries() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert probe.lag_entries() == 0
    finally:
        survivor.terminate()
        survivor.wait()
    counts = Counts(tree)
    for rec in county.log.replay():
        if isinstance(rec.event, ProgressReported):
            counts.apply(rec)
    assert counts.reports == 8 * 600
    grids = list(tree.subtree("TC"))
    got = county.progress.totals("op1", grids)
    for g in grids:
        assert got[g]["sampled"] == counts.totals["op1"][g]["sampled"], g
        kids = tree.children[g]
        if kids:
            assert got[g]["sampled"] == sum(got[k]["sampled"] for k in kids)
