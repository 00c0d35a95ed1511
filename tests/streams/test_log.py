"""The event log: idempotent append under concurrency, closed guard, replay order."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from command.errors import OperationClosed, ReportIdReused
from command.events import ModeSwitched, ProgressReported
from command.grids import GridTree
from streams.keys import CountyKeys
from streams.log import Appended, EventLog, Pending, id_tuple
from streams.server import connect


def _log(url: str, tree: GridTree) -> EventLog:
    return EventLog(connect(url), "TC", tree.towns, tree.town_of)


def _rep(grid: str, rid: str, n: int = 1) -> ProgressReported:
    return ProgressReported(operation="op1", grid=grid, counts={"sampled": n}, report_id=rid)


def test_retried_append_returns_the_first_id_and_writes_nothing(redis_url: str, tree: GridTree) -> None:
    log = _log(redis_url, tree)
    leaf = next(tree.leaves("TC"))
    first = log.append(_rep(leaf, "r1"), actor="a", at=1, key="op1:r1")
    again = log.append(_rep(leaf, "r1"), actor="a", at=2, key="op1:r1")
    assert not first.duplicate and again.duplicate and again.id == first.id
    with pytest.raises(ReportIdReused):  # the same id with another body (DESIGN §7.1)
        log.append(_rep(leaf, "r1", 99), actor="a", at=3, key="op1:r1")
    assert sum(log.client.xlen(s) for s in log.streams()) == 1


def test_sixteen_concurrent_writers_with_overlapping_keys_count_each_key_once(
    redis_url: str, tree: GridTree
) -> None:
    leaves = sorted(tree.leaves("TC"))
    keys = [f"r{i}" for i in range(400)]
    acked: dict[str, set[str]] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def writer(w: int) -> None:
        log = _log(redis_url, tree)
        barrier.wait()
        # Each writer sends an overlapping window of keys, in its own order, some in batches.
        mine = keys[w * 20: w * 20 + 100] + keys[:10]
        for i in range(0, len(mine), 1 + w % 5):
            chunk = mine[i:i + 1 + w % 5]
            items = [Pending(_rep(leaves[hash(k) % len(leaves)], k), f"w{w}", 1, f"op1:{k}") for k in chunk]
            for k, res in zip(chunk, log.append_many(items), strict=True):
                with lock:
                    acked.setdefault(k, set()).add(res.id)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log = _log(redis_url, tree)
    entries = [r for r in log.replay() if isinstance(r.event, ProgressReported)]
    per_key = Counter(r.event.report_id for r in entries)  # type: ignore[attr-defined]
    assert set(per_key) == set(acked)  # none lost
    assert all(n == 1 for n in per_key.values())  # none twice
    assert all(len(ids) == 1 for ids in acked.values())  # every writer got the same id per key


def test_reports_go_to_their_town_stream_and_control_to_the_county(redis_url: str, tree: GridTree) -> None:
    log = _log(redis_url, tree)
    leaf = next(tree.leaves("TC02"))
    log.append(_rep(leaf, "r1"), actor="a", at=1, key="op1:r1")
    log.append(ModeSwitched(scope="TC", mode="wartime"), actor="a", at=1)
    assert log.client.xlen("wt:{TC02}:log") == 1
    assert log.client.xlen(CountyKeys("TC").log) == 1
    assert log.client.xlen("wt:{TC01}:log") == 0


def test_report_on_an_operation_closed_for_the_town_is_refused(redis_url: str, tree: GridTree) -> None:
    log = _log(redis_url, tree)
    leaf = next(tree.leaves("TC01"))
    log.close_for_reports("op1")
    with pytest.raises(OperationClosed):
        log.append(_rep(leaf, "r1"), actor="a", at=1, key="op1:r1")
    assert log.client.xlen("wt:{TC01}:log") == 0


def test_duplicate_of_an_acknowledged_report_stays_a_duplicate_after_close(redis_url: str, tree: GridTree) -> None:
    log = _log(redis_url, tree)
    leaf = next(tree.leaves("TC01"))
    first = log.append(_rep(leaf, "r1"), actor="a", at=1, key="op1:r1")
    log.close_for_reports("op1")
    again = log.append(_rep(leaf, "r1"), actor="a", at=1, key="op1:r1")
    assert again.duplicate and again.id == first.id


def test_replay_merges_every_stream_in_id_order_and_stops_at_the_instant(redis_url: str, tree: GridTree) -> None:
    log = _log(redis_url, tree)
    leaves = sorted(tree.leaves("TC"))
    appended = [(log.keys_for(ev).log, log.append(ev, actor="a", at=i, key=f"op1:r{i}").id)
                for i, ev in enumerate(_rep(leaves[i % len(leaves)], f"r{i}") for i in range(50))]
    recs = list(log.replay())
    # Every entry once, in (ms, seq) order; within a stream, in the order appended. Two towns'
    # streams may give the same id in one millisecond: between those, the order is the streams'.
    assert sorted(r.id for r in recs) == sorted(i for _, i in appended)
    assert [id_tuple(r.id) for r in recs] == sorted(id_tuple(r.id) for r in recs)
    for stream in {s for s, _ in appended}:
        assert [r.id for r in recs if r.stream == stream] == [i for s, i in appended if s == stream]
    ids = [i for _, i in appended]
    cut = int(ids[25].split("-")[0])
    assert all(int(i.split("-")[0]) <= cut for i in (r.id for r in log.replay(until=cut)))


def test_a_redis_that_refuses_writes_raises_log_unavailable(redis_url: str, tree: GridTree) -> None:
    from streams.log import LogUnavailable

    log = _log(redis_url, tree)
    client = log.client
    client.config_set("min-replicas-to-write", 1)
    try:
        with pytest.raises(LogUnavailable):
            log.append(_rep(next(tree.leaves("TC")), "r1"), actor="a", at=1, key="op1:r1")
    finally:
        client.config_set("min-replicas-to-write", 0)
    assert client.xlen("wt:{TC01}:log") == 0


def test_the_append_script_writes_the_fields_that_encode_gives_in_their_order() -> None:
    from command.events import OperationClosed as Closed
    from command.events import encode
    from streams.log import FIELDS

    assert tuple(encode(Closed("op1"), actor="a", at=1, key="k")) == FIELDS


def test_a_key_twice_in_one_batch_over_two_towns_is_written_once(redis_url: str, tree: GridTree) -> None:
    log = _log(redis_url, tree)
    a, b = next(tree.leaves("TC01")), next(tree.leaves("TC02"))
    items = [
        Pending(_rep(a, "r1"), "x", 1, "op1:r1"),
        Pending(_rep(b, "r2"), "x", 1, "op1:r2"),
        Pending(_rep(a, "r1"), "x", 2, "op1:r1"),
        Pending(_rep(a, "r3"), "x", 3, ""),  # no key: always written
        Pending(_rep(a, "r3"), "x", 3, ""),
        Pending(_rep(b, "r1"), "x", 4, "op1:r1"),  # the id again, another body in another town
    ]
    out = log.append_each(items)
    assert isinstance(out[5], ReportIdReused)
    got = [r for r in out if isinstance(r, Appended)]
    assert [r.duplicate for r in got] == [False, False, True, False, False]
    assert got[2].id == got[0].id and got[3].id != got[4].id
    assert sum(log.client.xlen(s) for s in log.streams()) == 4
