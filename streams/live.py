"""Live push: the projector's change feed → every open browser, over WebSocket.

The projector publishes, after each applied batch, the new totals of every
grid it touched (``wt:{PN}:changes``). This server subscribes once, keeps the
latest value per (operation, grid) in a pending map per client, and flushes
each client at most `flush_hz` times a second — so 1,000 reports a second
become a few small messages, each holding only the grids the client's scope
shows and the county roll-up (the sum of the town totals, kept here).

Messages (JSON): ``{"t": "hello"}`` once; ``{"t": "totals", "op": OP,
"grids": {code: {counter: total}}, "last": {code: ms}}``; ``{"t": "control"}``
when the control state changed (modes, operations, alerts: the page refetches);
``{"t": "ping"}`` every few seconds so a client can tell a dead link from a
quiet one. Authentication: ``?token=`` (session or kiosk), checked by the
`verify` callable the dashboard passes in (streams/ does not know accounts).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection, serve

from command.grids import GridTree
from streams.keys import CountyKeys, TownKeys, field as hfield
from streams.readmodel import ControlView, current_county
from streams.server import connect

log = logging.getLogger(__name__)

Verify = Callable[[str], tuple[str, str, str]]
"""token → (username, role, scope); raises on a bad token."""


@dataclass
class Client:
    """One browser: what it may see and what is waiting to be sent to it."""

    ws: ServerConnection
    scope: str
    operation: str | None
    pending: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    control: bool = False
    sent_bytes: int = 0
    messages: int = 0


class LiveHub:
    """Fan-out of one county's change feed to many clients."""

    def __init__(self, redis_url: str, verify: Verify, flush_hz: float = 4.0) -> None:
        self.redis_url = redis_url
        self.verify = verify
        self.flush_interval = 1.0 / flush_hz
        self.clients: set[Client] = set()
        self.tree: GridTree | None = None
        self.county: str | None = None
        self.town_totals: dict[str, dict[str, dict[str, int]]] = {}

    # -- feed ----------------------------------------------------------------------

    def _load_tree(self) -> None:
        sync = connect(self.redis_url)
        code = current_county(sync)
        if code is None:
            return
        view = ControlView(sync, code)
        view.refresh()
        self.county, self.tree = code, view.tree
        self._sync = sync

    def _town_totals(self, op: str) -> dict[str, dict[str, int]]:
        """Each town's own total for an operation, loaded once then kept by the feed."""
        cached = self.town_totals.get(op)
        if cached is None and self.tree is not None:
            cached = {}
            for t in self.tree.towns:
                raw = self._sync.hgetall(TownKeys(t).counts(op))
                cell: dict[str, int] = {}
                for k, v in raw.items():
                    g, _, c = (k.decode() if isinstance(k, bytes) else k).partition("|")
                    if g == t:
                        cell[c] = int(v)
                cached[t] = cell
            self.town_totals[op] = cached
        return cached or {}

    def on_change(self, msg: dict[str, Any]) -> None:
        """Fold one published change into every client's pending map."""
        if "control" in msg:
            self._load_tree()
            self.town_totals.clear()
            for c in self.clients:
                c.control = True
            return
        if self.tree is None:
            self._load_tree()
        tree = self.tree
        if tree is None:
            return
        town = msg["town"]
        for op, grids in msg["totals"].items():
            towns = self._town_totals(op)
            if town in grids:
                towns.setdefault(town, {}).update(grids[town])
            county_cell: dict[str, int] = {}
            for cell in towns.values():
                for c, n in cell.items():
                    county_cell[c] = county_cell.get(c, 0) + n
            for client in self.clients:
                if client.operation not in (None, op):
                    continue
                pend = client.pending.setdefault(op, {})
                for g, cell in grids.items():
                    if tree.is_within(g, client.scope):
                        pend.setdefault(g, {}).update(cell)
                if tree.root and tree.is_within(tree.root, client.scope):
                    pend[tree.root] = dict(county_cell)
                elif client.scope in grids:
                    pend[client.scope] = dict(grids[client.scope])
        for key, ms in msg.get("last", {}).items():
            op, _, g = key.partition("|")
            for client in self.clients:
                if client.operation in (None, op) and tree.is_within(g, client.scope):
                    client.last[key] = ms

    async def feed(self) -> None:
        """Subscribe to the change channel for ever (reconnecting after Redis restarts)."""
        while True:
            try:
                await asyncio.to_thread(self._load_tree)
                while self.county is None:
                    await asyncio.sleep(1)
                    await asyncio.to_thread(self._load_tree)
                r = aioredis.from_url(self.redis_url)
                pubsub = r.pubsub()
                await pubsub.subscribe(CountyKeys(self.county).changes)
                async for m in pubsub.listen():
                    if m.get("type") != "message":
                        continue
                    try:
                        self.on_change(json.loads(m["data"]))
                    except (KeyError, ValueError) as exc:
                        log.warning("live: bad change message: %s", exc)
            except (OSError, aioredis.ConnectionError) as exc:
                log.warning("live: redis feed lost (%s); reconnecting", exc)
                await asyncio.sleep(1)

    # -- clients -------------------------------------------------------------------

    async def flush(self) -> None:
        """Send every client what piled up since the last flush; ping the quiet ones."""
        last_ping = time.monotonic()
        while True:
            await asyncio.sleep(self.flush_interval)
            ping = time.monotonic() - last_ping > 5
            if ping:
                last_ping = time.monotonic()
            for c in list(self.clients):
                out: list[str] = []
                if c.control:
                    out.append(json.dumps({"t": "control"}))
                    c.control = False
                for op, grids in c.pending.items():
                    if grids:
                        last = {k.partition("|")[2]: v for k, v in c.last.items() if k.startswith(op + "|")}
                        out.append(json.dumps(
                            {"t": "totals", "op": op, "grids": grids, "last": last},
                            separators=(",", ":"), ensure_ascii=False,
                        ))
                c.pending = {}
                c.last = {}
                if not out and ping:
                    out.append('{"t":"ping"}')
                for text in out:
                    try:
                        await c.ws.send(text)
                        c.sent_bytes += len(text)
                        c.messages += 1
                    except Exception:  # noqa: BLE001 - a closed socket is the client's business
                        self.clients.discard(c)
                        break

    async def handler(self, ws: ServerConnection) -> None:
        """One browser connection: authenticate, register, then just keep it open."""
        query = parse_qs(urlparse(ws.request.path).query) if ws.request else {}
        token = (query.get("token") or [""])[0]
        try:
            _, _, scope = await asyncio.to_thread(self.verify, token)
        except Exception:  # noqa: BLE001 - any refusal closes the socket the same way
            await ws.close(4401, "unauthorised")
            return
        want = (query.get("scope") or [""])[0] or scope
        if self.tree is None:
            await asyncio.to_thread(self._load_tree)
        tree = self.tree
        if tree is not None and want in tree and (scope == "" or tree.is_within(want, scope)):
            scope = want
        elif tree is not None and not scope:
            scope = tree.root
        client = Client(ws, scope, (query.get("op") or [None])[0])
        self.clients.add(client)
        try:
            await ws.send(json.dumps({"t": "hello", "scope": scope}))
            async for _ in ws:
                pass  # clients only listen; anything they send is ignored
        finally:
            self.clients.discard(client)


async def run_live(redis_url: str, host: str, port: int, verify: Verify, ready: Any = None) -> None:
    """Serve /live until cancelled."""
    hub = LiveHub(redis_url, verify)
    async with serve(hub.handler, host, port, ping_interval=20, max_size=2**16):
        if ready is not None:
            ready.set()
        await asyncio.gather(hub.feed(), hub.flush())


def field_name(grid: str, counter: str) -> str:
    """Re-exported for pages that read the same hashes."""
    return hfield(grid, counter)
