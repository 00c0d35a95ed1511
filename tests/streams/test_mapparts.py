"""Map parts and the geometry's index over a real Redis: made once across processes and threads, read by all."""

from __future__ import annotations

import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from command.access import Actor, Role
from command.generate import generate
from command.geoindex import GeoIndex
from streams.county import County
from streams.keys import CountyKeys
from streams.mapparts import MapParts
from streams.readmodel import ControlView
from streams.server import connect

BOSS = Actor("boss", Role.COMMANDER, "QC")


def _make_counted(redis_url: str) -> bytes:
    """A slow part whose every making is counted in Redis (seen by every process)."""
    connect(redis_url).incr("test:makings")
    time.sleep(0.3)
    return b"part-bytes"


def _get_in_threads(redis_url: str, threads: int) -> list[bytes]:
    """One process's readers: `threads` at once, each asking for the same part."""
    client = connect(redis_url)
    parts = MapParts(client, CountyKeys("QC"))
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _: parts.get("d1", "QC", "packed", lambda: _make_counted(redis_url)),
                             range(threads)))


def test_a_part_asked_for_by_three_processes_of_four_threads_is_made_once_and_the_same_for_all(
    redis_url: str,
) -> None:
    with ProcessPoolExecutor(3, mp_context=mp.get_context("spawn")) as procs:
        answers = [b for got in procs.map(_get_in_threads, [redis_url] * 3, [4] * 3) for b in got]
    assert answers == [b"part-bytes"] * 12
    client = connect(redis_url)
    assert int(client.get("test:makings") or 0) == 1
    # Another process later: read from Redis, not made again.
    assert _get_in_threads(redis_url, 2) == [b"part-bytes"] * 2
    assert int(client.get("test:makings") or 0) == 1
    assert MapParts(client, CountyKeys("QC")).has("d1", "QC", "packed")
    assert not MapParts(client, CountyKeys("QC")).has("d1", "QC", "outline")


def test_a_loaded_registry_keeps_its_geometrys_index_and_an_older_one_gets_it_on_first_read(redis_url: str) -> None:
    tree, geometry = generate("qingcao")
    client = connect(redis_url)
    county = County(client, tree.root)
    county.load_registry(tree, geometry, BOSS)
    county.refresh()
    digest = county.state.geometry
    assert digest is not None
    key = county.keys.geometry_index(digest)
    expected = GeoIndex.build(geometry).entries
    assert client.exists(key)
    assert ControlView(client, tree.root).geometry_index().entries == {}  # not refreshed: no registry yet
    view = ControlView(client, tree.root)
    view.refresh()
    assert view.geometry_index().entries == expected
    client.delete(key)  # a registry loaded before indexes were kept
    older = ControlView(client, tree.root)
    older.refresh()
    assert older.geometry_index().entries == expected
    assert client.exists(key)
