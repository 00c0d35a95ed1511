"""The report intake over real HTTP (`wartime serve`, two workers): exactly-once per operation, on one
Redis and on a three-master cluster, and corrections from 2 workers × 16 threads never below zero."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.cluster import LocalCluster
from command.events import ProgressReported
from streams.county import County
from streams.server import connect
from tests.conftest import Served, make_tree, seed_county, start_server, town_elsewhere, wartime_operation

TREE = make_tree(towns=4, larges=1, mediums=1, smalls=2, micros=2)


@pytest.fixture(params=["single", "cluster"])
def served2(request: pytest.FixtureRequest, redis_url: str, tmp_path: Path) -> Iterator[Served]:
    cluster = LocalCluster(tmp_path / "cluster").start() if request.param == "cluster" else None
    url = cluster.url if cluster is not None else redis_url
    data = tmp_path / "data"
    data.mkdir()
    seed_county(url, TREE)
    s = start_server(url, data, workers=2)
    try:
        yield s
    finally:
        s.stop()
        if cluster is not None:
            cluster.stop()


@pytest.fixture
def served_single(redis_url: str, tmp_path: Path) -> Iterator[Served]:
    seed_county(redis_url, TREE)
    s = start_server(redis_url, tmp_path, workers=2)
    yield s
    s.stop()


def _logged(s: Served, op: str) -> dict[str, int]:
    """Grid → sampled of `op`, folded from the log itself."""
    county = County(connect(s.redis_url), "TC")
    out: dict[str, int] = {}
    for rec in county.log.replay():
        ev = rec.event
        if isinstance(ev, ProgressReported) and ev.operation == op:
            out[ev.grid] = out.get(ev.grid, 0) + ev.counts.get("sampled", 0)
    return out


def _served_total(s: Served, h: dict[str, str], op: str, want: int) -> int:
    """The county total the API serves, once the projector has caught up with `want` (or after 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        got = int(requests.get(f"{s.url}/api/v1/operations/{op}/progress", headers=h, timeout=30)
                  .json()["counts"].get("sampled", 0))
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def _at_once(n: int, fn: Any) -> list[Any]:
    gate = threading.Barrier(n)
    out: list[Any] = [None] * n

    def run(i: int) -> None:
        gate.wait()
        out[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_one_report_id_in_two_towns_is_201_then_409_and_the_same_body_from_16_threads_counts_once(
    served2: Served,
) -> None:
    h = served2.headers("commander")
    op = wartime_operation(served2, h)
    url = f"{served2.url}/api/v1/operations/{op}/reports"
    a = next(TREE.leaves("TC01"))
    b = next(TREE.leaves(town_elsewhere(connect(served2.redis_url), TREE.towns, "TC01")))  # another master
    r = requests.post(url, json={"report_id": "twice", "grid": a, "counts": {"sampled": 7}}, headers=h, timeout=30)
    assert r.status_code == 201, r.text
    first = r.json()["event_id"]
    r = requests.post(url, json={"report_id": "twice", "grid": b, "counts": {"sampled": 700}}, headers=h, timeout=30)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "report_id_reused" and r.json()["error"]["field"] == "report_id"
    r = requests.post(url, json={"report_id": "twice", "grid": a, "counts": {"sampled": 7}}, headers=h, timeout=30)
    assert r.status_code == 200 and r.json() == {"event_id": first, "duplicate": True}

    body = {"report_id": "burst", "grid": b, "counts": {"sampled": 3}, "note": "一次"}

    def post(_: int) -> tuple[int, dict[str, Any]]:
        resp = requests.post(url, json=body, headers=h, timeout=30)
        return resp.status_code, resp.json()

    answers = _at_once(16, post)
    assert sorted(st for st, _ in answers) == [200] * 15 + [201], answers
    assert len({b["event_id"] for _, b in answers}) == 1
    assert _logged(served2, op) == {a: 7, b: 3}
    assert _served_total(served2, h, op, 10) == 10


def test_corrections_from_2_workers_x_16_threads_never_take_a_grid_below_zero(served_single: Served) -> None:
    s = served_single
    h = s.headers("commander")
    op = wartime_operation(s, h)
    url = f"{s.url}/api/v1/operations/{op}/reports"
    grids = sorted(TREE.leaves("TC01"))[:4]
    for i, g in enumerate(grids):
        r = requests.post(url, json={"report_id": f"base-{i}", "grid": g, "counts": {"sampled": 5}}, headers=h,
                          timeout=30)
        assert r.status_code == 201, r.text
    local = threading.local()

    def correct(i: int) -> list[tuple[int, dict[str, Any]]]:
        if not hasattr(local, "s"):
            local.s = requests.Session()  # keep-alive: the threads' connections spread over both workers
            local.s.headers.update(h)
        out = []
        for k in range(4):
            grid = grids[(i + k) % len(grids)]
            resp = local.s.post(url, json={"report_id": f"fix-{i}-{k}", "grid": grid, "counts": {"sampled": -2},
                                           "reason": "counted twice"}, timeout=30)
            out.append((resp.status_code, resp.json()))
        return out

    answers = [a for per in _at_once(32, correct) for a in per]
    accepted = [b for st, b in answers if st == 201]
    refused = [b for st, b in answers if st != 201]
    assert len(accepted) == 4 * 2  # each grid at 5 takes two corrections of 2, never a third
    assert all(b["error"]["code"] == "invalid_report" and b["error"]["field"] == "counts.sampled" for b in refused)
    logged = _logged(s, op)
    assert logged == dict.fromkeys(grids, 1)
    assert _served_total(s, h, op, 4) == 4
    for g in [*grids, *TREE.path(grids[0])]:
        got = requests.get(f"{s.url}/api/v1/operations/{op}/progress", params={"grid": g}, headers=h, timeout=30)
        assert got.json()["counts"]["sampled"] >= 0
