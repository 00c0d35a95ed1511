"""Projector: atomic, idempotent application; survives SIGKILL; replay equals live."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from command.access import Actor, Role
from command.events import ProgressReported
from command.fold import Counts
from command.grids import GridTree
from command.modes import SwitchRequest
from command.operations import ReportRequest
from streams.county import County
from streams.keys import GROUP, TownKeys
from streams.projector import Projector
from streams.replay import rebuild
from streams.server import connect

CMD = Actor("boss", Role.COMMANDER, "TC")
ROOT = Path(__file__).resolve().parents[2]


def _county(url: str, tree: GridTree) -> County:
    county = County(connect(url), "TC")
    county.load_registry(tree, None, CMD)
    county.switch(CMD, SwitchRequest("TC", "wartime", "epidemic", "II"))
    county.launch(CMD, "mass_testing", "TC", "test", operation="op1")
    county.launch(CMD, "fire_hazard_check", "TC01", "fire", operation="op2")
    return county


def _flood(county: County, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    tree = county.tree
    leaves = sorted(tree.leaves("TC"))
    fire_leaves = sorted(tree.leaves("TC01"))
    reqs = []
    for i in range(n):
        if i % 7 == 0:
            reqs.append(ReportRequest("op2", f"f{seed}-{i}", rng.choice(fire_leaves),
                                      {"households_checked": rng.randint(1, 5), "hazards_found": rng.randint(0, 1)}))
        else:
            reqs.append(ReportRequest("op1", f"m{seed}-{i}", rng.choice(leaves), {"sampled": rng.randint(1, 30)}))
    for i in range(0, n, 500):
        county.report_many(CMD, reqs[i:i + 500])


def _pure_fold(county: County) -> dict[str, dict[str, dict[str, int]]]:
    counts = Counts(county.tree)
    for rec in county.log.replay():
        if isinstance(rec.event, ProgressReported):
            counts.apply(rec)
    root = county.tree.root
    return {op: {g: {c: n for c, n in cells.items() if n} for g, cells in grids.items() if g != root}
            for op, grids in counts.totals.items()}


def _read_models(county: County) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for town in county.tree.towns:
        for op in ("op1", "op2"):
            for name, key in (("counts", TownKeys(town).counts(op)), ("last", TownKeys(town).last(op))):
                out[f"{town}:{op}:{name}"] = {k.decode(): v.decode() for k, v in county.client.hgetall(key).items()}
    out["control"] = county.client.get(county.keys.control)
    return out


def _projected(county: County) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for town in county.tree.towns:
        for op in ("op1", "op2"):
            for grid, cell in county.progress.town_totals(op, town).items():
                cell = {c: n for c, n in cell.items() if n}
                if cell:
                    out.setdefault(op, {})[grid] = cell
    return out


def test_projection_equals_a_pure_fold_of_the_log(redis_url: str, tree: GridTree) -> None:
    county = _county(redis_url, tree)
    _flood(county, 3000)
    Projector(county.client, "TC", batch=256).catch_up()
    assert _projected(county) == {op: {g: c for g, c in v.items() if c} for op, v in _pure_fold(county).items()}


def test_applying_the_same_batch_twice_changes_nothing(redis_url: str, tree: GridTree) -> None:
    county = _county(redis_url, tree)
    _flood(county, 500)
    p = Projector(county.client, "TC")
    p.view.refresh()
    p.claim_streams()
    pages = {s: p.read_page(s, "") for s in (county.keys.log, TownKeys("TC01").log)}
    for stream, page in pages.items():
        assert page is not None and page.entries > 0
        assert p.apply_page(stream, "", page) == page.entries
    before = _read_models(county)
    assert before["TC01:op1:counts"]
    for stream, page in pages.items():
        assert page is not None
        assert p.apply_page(stream, "", page) == 0  # planned against a checkpoint that has moved on
    assert _read_models(county) == before


def test_county_total_is_the_sum_of_town_totals(redis_url: str, tree: GridTree) -> None:
    county = _county(redis_url, tree)
    _flood(county, 800)
    Projector(county.client, "TC").catch_up()
    totals = county.progress.totals("op1", ["TC", "TC01", "TC02"])
    assert totals["TC"]["sampled"] == totals["TC01"]["sampled"] + totals["TC02"]["sampled"] > 0


PROJECTOR_SCRIPT = """
import sys, threading
from streams.projector import Projector
from streams.server import connect
p = Projector(connect(sys.argv[1]), "TC", consumer=sys.argv[2], batch=int(sys.argv[3]), lease_ms=int(sys.argv[4]))
p.run(threading.Event(), block_ms=50)
"""


def _spawn(url: str, consumer: str, batch: int = 64, lease_ms: int = 1000) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", PROJECTOR_SCRIPT, url, consumer, str(batch), str(lease_ms)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _wait_caught_up(county: County, timeout: float = 60) -> None:
    p = Projector(county.client, "TC", consumer="observer")
    p.view.refresh()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.lag_entries() == 0:
            return
        time.sleep(0.1)
    raise AssertionError("projector did not catch up")


@pytest.mark.parametrize("same_consumer", [True, False], ids=["restart", "other-worker-reclaims"])
def test_projector_killed_mid_batch_and_restarted_matches_the_pure_fold(
    redis_url: str, tree: GridTree, same_consumer: bool
) -> None:
    county = _county(redis_url, tree)
    _flood(county, 20_000, seed=3)
    victim = _spawn(redis_url, "victim", batch=64)
    # Let it get going, then kill it without warning, in the middle of its work.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ck = county.client.get(TownKeys("TC01").checkpoint)
        if ck is not None:
            break
        time.sleep(0.01)
    time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    pending = sum(county.client.xpending(TownKeys(t).log, GROUP)["pending"] for t in county.tree.towns)
    lag = Projector(county.client, "TC", consumer="observer")
    lag.view.refresh()
    assert lag.lag_entries() > 0, "the victim finished before it was killed; nothing was tested"
    # More reports arrive while no projector runs.
    _flood(county, 2_000, seed=4)
    survivor = _spawn(redis_url, "victim" if same_consumer else "survivor", batch=512)
    try:
        _wait_caught_up(county)
    finally:
        survivor.terminate()
        survivor.wait()
    assert pending >= 0
    assert _projected(county) == {op: {g: c for g, c in v.items() if c} for op, v in _pure_fold(county).items()}
    for t in county.tree.towns:
        assert county.client.xpending(TownKeys(t).log, GROUP)["pending"] == 0


def test_replay_rebuilds_read_models_to_identical_content(redis_url: str, tree: GridTree) -> None:
    county = _county(redis_url, tree)
    _flood(county, 2000)
    Projector(county.client, "TC", batch=100).catch_up()
    live = _read_models(county)
    n = rebuild(county.client, "TC")
    assert n == sum(county.client.xlen(s) for s in county.log.streams())
    assert _read_models(county) == live
    # A projector started afterwards has nothing left to do.
    assert Projector(county.client, "TC").catch_up() == 0


def test_replay_until_an_instant_equals_the_fold_up_to_it(redis_url: str, tree: GridTree) -> None:
    county = _county(redis_url, tree)
    _flood(county, 600, seed=5)
    time.sleep(0.01)
    cut = int(time.time() * 1000)
    time.sleep(0.01)
    _flood(county, 600, seed=6)
    rebuild(county.client, "TC", until=cut)
    counts = Counts(county.tree)
    for rec in county.log.replay(until=cut):
        counts.apply(rec)
    got = county.progress.totals("op1", ["TC01", "TC02"])
    assert got["TC01"] == {"sampled": counts.totals["op1"]["TC01"]["sampled"]}
    assert got["TC02"] == {"sampled": counts.totals["op1"]["TC02"]["sampled"]}


@given(st.lists(st.tuples(st.integers(0, 31), st.integers(-3, 40)), min_size=1, max_size=80), st.integers(1, 64))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_projected_parents_always_equal_the_sum_of_their_leaves(
    redis_url: str, tree: GridTree, reports: list[tuple[int, int]], batch: int
) -> None:
    client = connect(redis_url)
    client.flushall()
    county = _county(redis_url, tree)
    leaves = sorted(tree.leaves("TC"))
    for i, (leaf_i, n) in enumerate(reports):
        if n == 0:
            continue
        grid = leaves[leaf_i]
        have = county.progress.totals("op1", [grid])[grid]["sampled"] if n < 0 else 0
        Projector(county.client, "TC", batch=batch).catch_up()
        if n < 0 and have + n < 0:
            continue
        county.report(CMD, ReportRequest("op1", f"h{i}", grid, {"sampled": n}, reason="fix" if n < 0 else ""))
    Projector(county.client, "TC", batch=batch).catch_up()
    all_grids = list(tree.subtree("TC"))
    totals = county.progress.totals("op1", all_grids)
    for g in all_grids:
        if tree.children[g]:
            assert totals[g]["sampled"] == sum(totals[leaf]["sampled"] for leaf in tree.leaves(g))
            assert totals[g]["sampled"] == sum(totals[k]["sampled"] for k in tree.children[g])
