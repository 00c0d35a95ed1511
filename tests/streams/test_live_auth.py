"""Open live sockets follow their token: logout, withdrawal, demotion and expiry close them (streams.live).

A real `wartime serve` (its live server on its own port) and real WebSocket clients.
Each socket has a reader that records when and how it closed; the test waits for the
closure with generous polling and prints how long it took (no assertion on speed).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from typing import Any

import requests
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from command.access import Actor, Role
from dashboard.auth import Accounts
from streams.county import County
from streams.server import connect
from tests.conftest import PASSWORD, Served

SETUP = Actor("test-setup", Role.COMMANDER, "TC")
WAIT_S = 15.0


def arun(coro: Any) -> Any:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Socket:
    """One live socket and a reader that notes when and with which code it closed."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.code: int | None = None
        self.closed_at: float | None = None
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                await self.ws.recv()
        except ConnectionClosed as exc:
            self.code = exc.rcvd.code if exc.rcvd else None
        self.closed_at = time.monotonic()

    async def closed_since(self, t0: float) -> tuple[int | None, float]:
        deadline = time.monotonic() + WAIT_S
        while self.closed_at is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert self.closed_at is not None, "the socket stayed open"
        return self.code, self.closed_at - t0


async def _open(served: Served, token: str, scope: str = "") -> Socket:
    url = f"ws://127.0.0.1:{served.live_port}/live?token={token}" + (f"&scope={scope}" if scope else "")
    ws = await ws_connect(url)
    hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert hello["t"] == "hello", hello
    return Socket(ws)


def _login(served: Served, user: str) -> str:
    return served.token(user)


def test_revocation_logout_demotion_and_expiry_close_open_sockets(served: Served) -> None:
    accounts = Accounts(County(connect(served.redis_url), "TC"))
    accounts.add("demoted", PASSWORD, "commander", "TC", SETUP)
    accounts.add("wall-maker", PASSWORD, "commander", "TC", SETUP)
    boss = _login(served, "commander")
    h = {"Authorization": f"Bearer {boss}"}
    made = requests.post(f"{served.url}/api/v1/kiosk", json={"scope": "TC02"}, headers=h, timeout=10).json()
    maker = {"Authorization": f"Bearer {_login(served, 'wall-maker')}"}
    wide = requests.post(f"{served.url}/api/v1/kiosk", json={"scope": "TC"}, headers=maker, timeout=10).json()
    tokens = {
        "logout": _login(served, "town1"),
        "demoted": _login(served, "demoted"),
        "expiring": accounts.issue(Actor("viewer", Role.VIEWER, "TC"), ttl_s=4),
        "kiosk": made["token"],
        "stays": _login(served, "viewer"),
    }
    took: dict[str, float] = {}

    async def run() -> None:
        socks = {name: await _open(served, tok) for name, tok in tokens.items()}
        socks["wide-county"] = await _open(served, wide["token"], "TC")
        socks["wide-town"] = await _open(served, wide["token"], "TC01")

        async def check(name: str, action: Any, want: int) -> None:
            await asyncio.to_thread(action)
            done = time.monotonic()  # the change is in Redis (a demotion hashes a password first)
            code, dt = await socks[name].closed_since(done)
            assert code == want, (name, code)
            took[name] = max(0.0, dt)
            assert socks["stays"].closed_at is None  # the others are untouched

        await check("logout", lambda: requests.delete(
            f"{served.url}/api/v1/session", headers={"Authorization": f"Bearer {tokens['logout']}"},
            timeout=10).raise_for_status(), 4401)
        await check("kiosk", lambda: requests.delete(
            f"{served.url}/api/v1/kiosk/{made['link']['id']}", headers=h, timeout=10).raise_for_status(), 4401)
        await check("demoted", lambda: accounts.add("demoted", PASSWORD, "viewer", "TC", SETUP), 4401)
        # the maker of a county-wide link moved to one town: the county wall closes, the town's stays
        await check("wide-county", lambda: accounts.add("wall-maker", PASSWORD, "commander", "TC01", SETUP), 4403)
        await asyncio.sleep(1.5)
        assert socks["wide-town"].closed_at is None
        code, _ = await socks["expiring"].closed_since(time.monotonic())
        assert code == 4401
        assert socks["stays"].closed_at is None and socks["wide-town"].closed_at is None
        for s in socks.values():
            await s.ws.close()

    arun(run())
    print("closed after (s):", {k: round(v, 3) for k, v in took.items()})
