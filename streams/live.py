"""Live push: the projector's change feed → every open board, over WebSocket.

The projector publishes, after each applied batch, the new totals of every grid
the batch touched (``wt:{PN}:changes``). This hub subscribes once and keeps a
mirror of the totals and last-report times of every grid for the operations
somebody watches (loaded from the read-model hashes on first use, then kept by
the feed, and re-read every minute so that it can never drift for long). Each
browser watches one *board view* (`BoardView`: a scope and the operations on
view); the hub folds every change into a per-client pending set and flushes
it at once after a quiet spell, then at most `flush_hz` times a second while
changes keep coming, with only what that view shows:

* ``at`` — the log position the message's figures reflect (DESIGN §7.6): the
  control stream's last id under ``"~"``, each town stream's under its code (the
  whole view's in a state, what moved in a delta); every figure of one message is
  of that one position, because the mirror moves all its operations together;
* ``k`` — totals of each operation on view at the grid the view reads it at;
* ``c`` — the headline total of the map's operation for each child of the scope
  (the bars of the board), with ``cb`` their colour bands;
* ``b`` — map cells whose colour band changed (``"index:band,…"``; ``more`` when
  the rest follow in the next message), ``u`` (or
  ``ub``, a base64 bitmap when shorter) — cells that just got a report (the
  map's freshness), as indexes into the view's leaf list;
* ``f`` — the newest increments on leaf grids (the live feed).

Colour bands are a presentation rule: the dashboard passes its `Band` function in
(`dashboard.components.bands`); nothing here knows the palette or the deciles.

So 1,000 reports a second over a 5,000-cell county become a few messages of a
couple of kilobytes, and the map never receives geometry: the browser draws
the static polygons once and recolours cells by index.

Messages (JSON): ``{"t": "state", …}`` on connect and after control changes that
alter the view (everything the live parts of the board show, so a reconnect is
a complete catch-up); ``{"t": "d", …}`` deltas; ``{"t": "control"}`` when the
control state changed (modes, operations, alerts, secretaries: the page
refetches its snapshot); ``{"t": "ping"}`` when nothing else was sent for a few
seconds, so that a client can tell a dead link from a quiet one. Every message
carries ``ts``, the server's clock, for the freshness marks.

Authentication: ``?token=`` (session or kiosk), checked by the `verify` callable
the dashboard passes in (streams/ does not know accounts); the requested
``scope`` must lie inside the token's scope. A token is not trusted for the life
of its socket: every `recheck_s` the hub asks `recheck` about the distinct tokens
behind every open socket at once (one round trip for all, whatever the number of
sockets) and closes the sockets of a token revoked, expired, or whose account
changed (4401), and of a kiosk link narrowed away from the socket's scope (4403),
so a logout, a withdrawn link or a demotion reaches the wall within a second.

Why one module: the mirror of totals, the per-client pending sets and the
flush timing are the state of one event loop; the socket handler, the feed
reader and the flusher share it without locks because they run on that loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection, serve

from command.access import overlaps
from command.drills import Drill
from command.fold import ControlState
from command.grids import GridTree
from command.operations import COUNTERS, Operation, OperationState
from streams.keys import CountyKeys, current_world, drill_index, in_world
from streams.position import CONTROL, ORIGIN, Position, later, read_towns, towns_of
from streams.readmodel import ControlView, current_county
from streams.server import Client as RedisClient
from streams.server import connect

log = logging.getLogger(__name__)

_DRILL_ID = re.compile(r"drill-[0-9a-f]{8}")
"""A drill id as streams.drills makes them (a socket naming another is closed, 4404)."""

Verify = Callable[[str], tuple[str, str, str]]
"""token → (username, role, scope); raises on a bad token."""
Recheck = Callable[[Sequence[str]], Sequence[tuple[str, str, str] | None]]
"""tokens → for each, (username, role, scope) now, or None when refused now; one round trip for all."""

Band = Callable[[bool, bool, int, int | None], str]
"""(in wartime, in the map's operation, done, target) → the cell's colour band, one character.

A presentation rule: the dashboard defines it (`dashboard.components.bands`) and hands it to the hub."""


# -- what one board shows ------------------------------------------------------------------


@dataclass(frozen=True)
class BoardView:
    """A board's scope and the operations on it: shared by the hub and the page's snapshot."""

    scope: str
    ops: tuple[str, ...]
    """Operations on view: the chosen one, else every open one overlapping the scope."""
    kpi_grid: Mapping[str, str]
    """Per operation, the grid whose totals the board shows (the scope, or the
    operation's own scope when that lies inside the board's)."""
    map_op: str | None
    """The operation that colours the map, the bars and the curve."""
    counter: str | None
    """Headline counter of the map's operation."""
    cells: tuple[str, ...]
    """Leaf grids of the scope in tree order: the map's polygons, addressed by index."""
    children: tuple[str, ...]

    @property
    def index(self) -> dict[str, int]:
        """Cell code → index."""
        return {c: i for i, c in enumerate(self.cells)}


def board_view(state: ControlState, scope: str, op: str | None = None) -> BoardView:
    """Which operations a board over `scope` shows, and which one colours its map.

    An explicit `op` (open or closed) overlapping the scope is the only one on
    view; otherwise every open operation overlapping the scope is, and the map
    follows the one covering most of it: an operation over the whole scope
    first, then the one launched over the widest grid, then the earliest.
    """
    tree = state.tree
    if tree is None:
        raise LookupError("no registry loaded")
    tree[scope]
    chosen = state.operations.get(op) if op else None
    ops: list[Operation]
    if chosen is not None and overlaps(tree, chosen.scope, scope):
        ops = [chosen]
    else:
        ops = sorted(
            (o for o in state.operations.values()
             if o.state == OperationState.OPEN and overlaps(tree, o.scope, scope)),
            key=lambda o: (o.launched_at, o.id),
        )
    kpi = {o.id: scope if tree.is_within(scope, o.scope) else o.scope for o in ops}
    map_op = None
    if ops:
        best = min(
            ops,
            key=lambda o: (not tree.is_within(scope, o.scope), tree[o.scope].level.depth, o.launched_at, o.id),
        )
        map_op = best.id
    return BoardView(
        scope=scope,
        ops=tuple(o.id for o in ops),
        kpi_grid=kpi,
        map_op=map_op,
        counter=COUNTERS[state.operations[map_op].kind][0] if map_op else None,
        cells=tuple(tree.leaves(scope)),
        children=tuple(tree.children[scope]),
    )


def cell_band(band: Band, state: ControlState, view: BoardView, cell: str, totals: Mapping[str, int]) -> str:
    """The band of one cell (or bar) of a view, given its totals for the map's operation."""
    op = state.operations.get(view.map_op) if view.map_op else None
    tree = state.tree
    in_op = op is not None and tree is not None and tree.is_within(cell, op.scope)
    target = op.targets.get(cell, {}).get(view.counter or "") if op is not None else None
    return band(cell in state.wartime, in_op, totals.get(view.counter or "", 0), target)


def encode_cells(indexes: Iterable[int], n: int) -> dict[str, Any]:
    """A set of cell indexes as a list, or as a base64 bitmap when that is shorter."""
    idx = sorted(set(indexes))
    as_list = len(idx) * (len(str(n)) + 1)
    as_bits = (n + 7) // 8 * 4 // 3 + 4
    if as_list <= as_bits:
        return {"u": idx}
    bits = bytearray((n + 7) // 8)
    for i in idx:
        bits[i >> 3] |= 1 << (i & 7)
    return {"ub": base64.b64encode(bytes(bits)).decode()}


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if n <= 0:
        return "0"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out


# -- the hub's copy of the read models -----------------------------------------------------


def cell_of(totals: Mapping[str, Mapping[str, int]], grid: str, tree: GridTree) -> dict[str, int]:
    """Totals of one grid from per-grid totals; the county's is the sum of its towns (as in the read model)."""
    if grid == tree.root:
        out: dict[str, int] = {}
        for t in tree.towns:
            for c, n in totals.get(t, {}).items():
                out[c] = out.get(c, 0) + n
        return out
    return dict(totals.get(grid, {}))


class Mirror:
    """Totals and last-report times per operation and grid, as the read models hold them.

    Every operation the mirror holds is at one position per town (`pos`): they are read
    together, each town atomically with its checkpoint (`streams.position.read_towns`), and a
    published change moves them all past the page it carries. A change at or before a town's
    position (one that was in flight while the hashes were read) is already reflected.
    """

    def __init__(self, client: RedisClient, tree: GridTree) -> None:
        self.client = client
        self.tree = tree
        self.totals: dict[str, dict[str, dict[str, int]]] = {}
        self.last: dict[str, dict[str, int]] = {}
        self.pos: Position = {t: ORIGIN for t in tree.towns}

    def load(self, ops: Iterable[str]) -> None:
        """(Re)read exactly these operations (others are dropped) in every town, each town at one position."""
        wanted = list(dict.fromkeys(ops))
        read = read_towns(self.client, list(self.tree.towns), wanted, wanted)
        self.totals, self.last = read.counts, read.last
        self.pos.update(read.pos)

    def advance(self, town: str, at: str | None) -> bool:
        """Whether a change of `town` as of stream id `at` is news; if so the town's position moves to it."""
        if at is None:  # from a projector that does not say: take it as it comes
            return True
        if not later(at, self.pos.get(town, ORIGIN)):
            return False
        self.pos[town] = at
        return True

    def cell(self, op: str, grid: str) -> dict[str, int]:
        """Totals of one grid of an operation."""
        return cell_of(self.totals.get(op, {}), grid, self.tree)

    def last_of(self, op: str, grid: str) -> int | None:
        """When a report last touched a grid."""
        last = self.last.get(op, {})
        if grid == self.tree.root:
            return max((last[t] for t in self.tree.towns if t in last), default=None)
        return last.get(grid)


# -- one browser ---------------------------------------------------------------------------


@dataclass(eq=False)
class Watch:
    """One browser: its view, what it was last told, and what waits to be sent."""

    ws: Any
    scope: str
    op: str | None
    token: str = ""
    view: BoardView | None = None
    index: dict[str, int] = field(default_factory=dict)
    bands: list[str] = field(default_factory=list)
    kpi: set[str] = field(default_factory=set)
    kids: set[str] = field(default_factory=set)
    touched: set[int] = field(default_factory=set)
    changed: dict[int, str] = field(default_factory=dict)
    feed: list[list[Any]] = field(default_factory=list)
    control: bool = False
    state_due: bool = True
    sent_at: Position = field(default_factory=dict)
    """The position this board was last told (deltas carry only what moved)."""
    sent_bytes: int = 0
    messages: int = 0
    last_sent: float = 0.0


FEED_KEEP = 200
"""Newest leaf increments the hub remembers, for a new board's feed."""
FEED_PER_MESSAGE = 6
FEED_IN_STATE = 12
MAX_BANDS = 400
"""Band changes per message: with the touched-cell bitmap (≤ n/6 bytes), the children and the
feed, this keeps every update under 5 KB however many cells change at once."""


RECHECK_S = 0.5
FLUSH_HZ = 8.0
"""Most flushes a second while changes keep coming: a report waits at most 125 ms for its frame
(4 Hz gave report → wall p99 261 ms; bench/RESULTS.md, issue 13), each frame a few KB."""
"""How often the tokens behind open sockets are asked about again (a refusal closes within a second)."""


R = TypeVar("R")


def _live_world(fn: Callable[[Any], R]) -> Callable[[Any], R]:
    """`fn` run in the live world: tokens and accounts are the live ones, whatever world a hub serves."""

    def live(arg: Any) -> R:
        with in_world(""):
            return fn(arg)

    return live


class LiveHub:
    """Fan-out of one county's change feed to many boards."""

    def __init__(
        self,
        redis_url: str,
        verify: Verify,
        flush_hz: float = FLUSH_HZ,
        ping_s: float = 5.0,
        resync_s: float = 60.0,
        recheck: Recheck | None = None,
        recheck_s: float = RECHECK_S,
        *,
        band: Band,
    ) -> None:
        self.redis_url = redis_url
        self.verify = verify
        self.recheck = recheck or self._one_by_one
        self.recheck_s = recheck_s
        self.band = band
        self.flush_interval = 1.0 / flush_hz
        self.ping_s = ping_s
        self.resync_s = resync_s
        self.clients: set[Watch] = set()
        self.county: str | None = None
        self.control: ControlView | None = None
        self.mirror: Mirror | None = None
        self.recent: deque[tuple[int, str, str, dict[str, int]]] = deque(maxlen=FEED_KEEP)
        self._sync: RedisClient | None = None
        self._tree: GridTree | None = None
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        """Set while the hub listens to the change feed (tests wait for it)."""
        self.wake = asyncio.Event()
        """Set when something is waiting to be sent (the flush loop sleeps on it)."""
        self.world = current_world()
        """"" live; a drill's id for the hub of a drill's world (`drill_hub`)."""
        self._drills: dict[str, LiveHub] = {}
        self._drill: Drill | None = None
        """A drill's hub: the drill's record as last read (`follow_drill`), for its clock."""
        self._tasks: list[asyncio.Task[None]] = []
        """A drill's hub: its loops, held here so that they are not collected while they run."""

    def clock(self) -> int:
        """Epoch ms now in the hub's world: a drill's hub stamps its messages on the drill's clock."""
        wall = int(time.time() * 1000)
        return self._drill.clock(wall) if self._drill is not None else wall

    def _drill_record(self, drill: str) -> bytes | None:
        """A drill's record (JSON) from the county's drill index; None when there is no such drill."""
        if self._sync is None:
            self._sync = connect(self.redis_url)
        code = self.county or current_county(self._sync)
        return self._sync.hget(drill_index(code), drill) if code else None  # type: ignore[return-value]

    def _read_drill(self) -> None:
        raw = self._drill_record(self.world)
        if raw is not None:
            self._drill = Drill.from_json(json.loads(raw))

    async def follow_drill(self) -> None:
        """Re-read the drill's record every second (paused, resumed, stopped: its clock follows)."""
        while True:
            with contextlib.suppress(Exception):  # Redis away: the clock runs on from the last record
                await asyncio.to_thread(self._read_drill)
            await asyncio.sleep(1.0)

    def _drill_exists(self, drill: str) -> bool:
        return self._drill_record(drill) is not None

    # -- control state -----------------------------------------------------------------

    @property
    def state(self) -> ControlState | None:
        """The control state as of the last refresh."""
        return self.control.state if self.control is not None else None

    def load(self) -> bool:
        """Catch up with the control stream (first time: find the county); True if it changed."""
        with self._lock:
            return self._load()

    def _load(self) -> bool:
        if self._sync is None:
            self._sync = connect(self.redis_url)
        if self.control is None:
            code = current_county(self._sync)
            if code is None:
                return False
            self.county = code
            self.control = ControlView(self._sync, code)
        changed = self.control.refresh() > 0
        tree = self.control.tree
        if tree is not None and tree is not self._tree:
            self._tree = tree
            self.mirror = Mirror(self._sync, tree)
            self.recent.clear()
        return changed

    def _watch_view(self, w: Watch) -> None:
        """(Re)compute a client's view and bands; queue a full state if the view changed."""
        st = self.state
        if st is None or st.tree is None or self.mirror is None:
            return
        if w.scope not in st.tree:
            w.scope = st.tree.root
        view = board_view(st, w.scope, w.op)
        missing = [op for op in view.ops if op not in self.mirror.totals]
        if missing:
            self._reread([*self.mirror.totals, *missing])
        if view != w.view:
            w.view = view
            w.index = view.index
            w.state_due = True
        self._rebands(w)

    def _rebands(self, w: Watch) -> None:
        """Recompute a client's bands, queueing those that changed."""
        if w.view is None:
            return
        bands = self._bands(w.view)
        if not w.state_due:
            for i, (old, new) in enumerate(zip(w.bands, bands, strict=True)):
                if old != new:
                    w.changed[i] = new
        w.bands = bands

    def _reread(self, ops: Iterable[str]) -> None:
        """Read the mirror's operations afresh (all at one position) and queue for every board what differs."""
        mirror = self.mirror
        assert mirror is not None
        before = {op: {g: dict(c) for g, c in mirror.totals[op].items()} for op in mirror.totals}
        mirror.load(ops)
        for w in self.clients:
            view = w.view
            if view is None or w.state_due:
                continue
            for op in view.ops:
                old, new = before.get(op, {}), mirror.totals.get(op, {})
                kg = view.kpi_grid[op]
                if cell_of(new, kg, mirror.tree) != cell_of(old, kg, mirror.tree):
                    w.kpi.add(op)
                if op == view.map_op:
                    w.kids.update(c for c in view.children
                                  if cell_of(new, c, mirror.tree) != cell_of(old, c, mirror.tree))
            if all(op in mirror.totals for op in view.ops):
                self._rebands(w)

    def _bands(self, view: BoardView) -> list[str]:
        st = self.state
        assert st is not None and self.mirror is not None
        op = view.map_op
        return [cell_band(self.band, st, view, c, self.mirror.cell(op, c) if op else {}) for c in view.cells]

    def position(self, view: BoardView) -> Position:
        """The log position a view's live figures reflect: the control stream's and its towns'."""
        st, mirror = self.state, self.mirror
        assert st is not None and st.tree is not None and mirror is not None
        pos = {CONTROL: st.last_id or ORIGIN}
        for t in towns_of(st.tree, view.scope):
            pos[t] = mirror.pos.get(t, ORIGIN)
        return pos

    def _kid_bands(self, view: BoardView, kids: Iterable[str]) -> dict[str, str]:
        """Bands of the bars (the scope's children), computed here like the map's."""
        st, mirror = self.state, self.mirror
        assert st is not None and mirror is not None
        op = view.map_op
        return {c: cell_band(self.band, st, view, c, mirror.cell(op, c) if op else {}) for c in kids}

    # -- feed --------------------------------------------------------------------------

    def on_control(self) -> None:
        """The control state changed: refresh it, recompute every view, tell every client."""
        self.load()
        for w in self.clients:
            self._watch_view(w)
            w.control = True
        self.wake.set()

    def on_change(self, msg: Mapping[str, Any]) -> None:
        """Fold one published change into the mirror and into every client's pending set."""
        if "control" in msg:
            self.on_control()
            return
        if self.mirror is None or self.state is None:
            self.load()
        mirror, st = self.mirror, self.state
        if mirror is None or st is None or st.tree is None:
            return
        tree = st.tree
        town = msg.get("town")
        if town is not None and not mirror.advance(town, msg.get("at")):
            return  # in flight while the hashes were read: already in the mirror
        last = msg.get("last", {})
        fresh: list[tuple[int, str, str, dict[str, int]]] = []
        for op, grids in msg.get("totals", {}).items():
            if op not in mirror.totals:
                continue  # nobody watches it yet; loaded from Redis on first use
            totals = mirror.totals[op]
            times = mirror.last[op]
            for g, cell in grids.items():
                old = totals.setdefault(g, {})
                if g in tree and not tree.children[g]:
                    delta = {c: n - old.get(c, 0) for c, n in cell.items() if n != old.get(c, 0)}
                    if delta:
                        fresh.append((int(last.get(f"{op}|{g}", 0)), g, op, delta))
                old.update(cell)
            for key, ms in last.items():
                o, _, g = key.partition("|")
                if o == op:
                    times[g] = int(ms)
        fresh.sort(key=lambda r: r[0])
        self.recent.extend(fresh)
        for w in self.clients:
            self._fold_into(w, msg, town, fresh)
        self.wake.set()

    def _fold_into(
        self, w: Watch, msg: Mapping[str, Any], town: str | None,
        fresh: list[tuple[int, str, str, dict[str, int]]],
    ) -> None:
        view, st, mirror = w.view, self.state, self.mirror
        if view is None or st is None or mirror is None or st.tree is None:
            return
        root = st.tree.root
        for op, grids in msg.get("totals", {}).items():
            if op not in view.ops:
                continue
            kg = view.kpi_grid[op]
            if kg in grids or (kg == root and town in grids):
                w.kpi.add(op)
            if op != view.map_op:
                continue
            for c in view.children:
                if c in grids:
                    w.kids.add(c)
            for g, cell in grids.items():
                i = w.index.get(g)
                if i is None:
                    continue
                w.touched.add(i)
                b = cell_band(self.band, st, view, g, mirror.totals[op].get(g, cell))
                if b != w.bands[i]:
                    w.bands[i] = b
                    w.changed[i] = b
        for ms, g, op, delta in fresh:
            i = w.index.get(g)
            if i is not None and op in view.ops:
                w.feed.append([ms, i, op, delta])
        if len(w.feed) > FEED_PER_MESSAGE:
            del w.feed[:-FEED_PER_MESSAGE]

    # -- messages ----------------------------------------------------------------------

    def state_message(self, w: Watch, now_ms: int) -> dict[str, Any]:
        """Everything live a board shows: its catch-up after (re)connecting."""
        view, mirror = w.view, self.mirror
        assert view is not None and mirror is not None
        op = view.map_op
        ages = []
        for c in view.cells:
            t = mirror.last_of(op, c) if op else None
            ages.append("" if t is None else _b36(max(0, now_ms - t) // 1000))
        feed = []
        for ms, g, o, delta in reversed(self.recent):
            i = w.index.get(g)
            if i is not None and o in view.ops:
                feed.append([ms, i, o, delta])
                if len(feed) >= FEED_IN_STATE:
                    break
        feed.reverse()
        w.sent_at = self.position(view)
        return {
            "t": "state",
            "ts": now_ms,
            "at": w.sent_at,
            "scope": view.scope,
            "ops": list(view.ops),
            "map_op": op,
            "counter": view.counter,
            "n": len(view.cells),
            "k": {o: mirror.cell(o, view.kpi_grid[o]) for o in view.ops},
            "c": {c: mirror.cell(op, c).get(view.counter or "", 0) for c in view.children} if op else {},
            "cb": self._kid_bands(view, view.children),
            "bands": "".join(w.bands),
            "ages": ",".join(ages),
            "f": feed,
        }

    def delta_message(self, w: Watch, now_ms: int) -> dict[str, Any] | None:
        """What changed for one board since its last flush (None: nothing)."""
        view, mirror = w.view, self.mirror
        if view is None or mirror is None:
            return None
        out: dict[str, Any] = {}
        if w.kpi:
            out["k"] = {o: mirror.cell(o, view.kpi_grid[o]) for o in sorted(w.kpi)}
        if w.kids and view.map_op:
            out["c"] = {c: mirror.cell(view.map_op, c).get(view.counter or "", 0) for c in sorted(w.kids)}
            out["cb"] = self._kid_bands(view, sorted(w.kids))
        rest: dict[int, str] = {}
        if w.changed:
            # "index:band,…"; beyond MAX_BANDS the rest waits for the next flush, and the message says
            # so ("more"): until then the map is not yet at this message's position.
            items = sorted(w.changed.items())
            out["b"] = ",".join(f"{i}:{b}" for i, b in items[:MAX_BANDS])
            rest = dict(items[MAX_BANDS:])
            if rest:
                out["more"] = 1
        if w.touched:
            out.update(encode_cells(w.touched, len(view.cells)))
        if w.feed:
            out["f"] = w.feed
        w.kpi, w.kids, w.touched, w.changed, w.feed = set(), set(), set(), rest, []
        at = self.position(view)
        moved = {k: v for k, v in at.items() if w.sent_at.get(k) != v}
        if not out and not moved:
            return None
        w.sent_at = at
        return {"t": "d", "ts": now_ms, "at": moved, **out}

    def pending(self, w: Watch, now_ms: int) -> list[str]:
        """The texts due to one client now, in order."""
        out: list[dict[str, Any]] = []
        if w.control:
            out.append({"t": "control", "ts": now_ms})
            w.control = False
        if w.state_due and w.view is not None:
            out.append(self.state_message(w, now_ms))
            w.state_due = False
            w.kpi, w.kids, w.touched, w.changed, w.feed = set(), set(), set(), {}, []
        else:
            d = self.delta_message(w, now_ms)
            if d is not None:
                out.append(d)
        return [json.dumps(m, separators=(",", ":"), ensure_ascii=False) for m in out]

    # -- loops -------------------------------------------------------------------------

    async def feed(self) -> None:
        """Subscribe to the change channel for ever (reconnecting after Redis restarts)."""
        while True:
            try:
                await asyncio.to_thread(self.load)
                while self.county is None:
                    await asyncio.sleep(1)
                    await asyncio.to_thread(self.load)
                # A cluster broadcasts PUBLISH to every node: subscribe through the one named.
                r = aioredis.from_url(without_cluster_flag(self.redis_url))
                pubsub = r.pubsub()
                await pubsub.subscribe(CountyKeys(self.county, self.world).changes)
                # Whatever happened while we were not subscribed: start again from Redis.
                self.resync()
                self.subscribed.set()
                async for m in pubsub.listen():
                    if m.get("type") != "message":
                        continue
                    try:
                        self.on_change(json.loads(m["data"]))
                    except (KeyError, ValueError, TypeError) as exc:
                        log.warning("live: bad change message: %s", exc)
            except (OSError, aioredis.ConnectionError) as exc:
                self.subscribed.clear()
                log.warning("live: redis feed lost (%s); reconnecting", exc)
                await self.drop_clients()
                await asyncio.sleep(1)

    async def drop_clients(self) -> None:
        """Close every browser's socket: with no feed its numbers would freeze while looking live.

        Their pages say "connection lost" and reconnect; the handshake fails softly (1013) while
        Redis is down, and the first message after it is back is a complete state: the catch-up.
        """
        for w in list(self.clients):
            self.clients.discard(w)
            with contextlib.suppress(Exception):  # already closed: nothing to tell
                await w.ws.close(1013, "live feed lost")

    def resync(self) -> None:
        """Re-read the control state and every watched operation's hashes; queue what differs."""
        try:
            control_changed = self.load()
        except OSError as exc:  # pragma: no cover - Redis down: the feed loop reconnects
            log.warning("live: resync failed: %s", exc)
            return
        mirror = self.mirror
        if mirror is None:
            return
        watched = {op for w in self.clients if w.view is not None for op in w.view.ops}
        self._reread(op for op in mirror.totals if op in watched)
        for w in self.clients:
            self._watch_view(w)
            w.control = w.control or control_changed

    async def flush(self) -> None:
        """Send every client what piled up: at once after a quiet spell, then at most `flush_hz` times a second.

        The first change after a pause goes out immediately (latency), a stream of changes is
        coalesced into one message per interval (size and rate); quiet clients get a ping.
        """
        next_resync = time.monotonic() + self.resync_s
        last = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=0.5)
            self.wake.clear()
            wait = last + self.flush_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.monotonic()
            last = now
            if now >= next_resync:
                next_resync = now + self.resync_s
                self.resync()
            now_ms = self.clock()
            for w in list(self.clients):
                texts = self.pending(w, now_ms)
                if not texts and now - w.last_sent >= self.ping_s:
                    texts = [f'{{"t":"ping","ts":{now_ms}}}']
                for text in texts:
                    try:
                        await w.ws.send(text)
                    except Exception:  # a closed socket is the client's business
                        self.clients.discard(w)
                        break
                    w.sent_bytes += len(text.encode())
                    w.messages += 1
                    w.last_sent = now

    def _one_by_one(self, tokens: Sequence[str]) -> list[tuple[str, str, str] | None]:
        """`recheck` from `verify` when the dashboard gives no batch check (a round trip per token)."""
        out: list[tuple[str, str, str] | None] = []
        for token in tokens:
            try:
                out.append(self.verify(token))
            except aioredis.RedisError:
                raise
            except Exception:  # any refusal
                out.append(None)
        return out

    async def guard(self) -> None:
        """Every `recheck_s`, ask about the tokens behind the open sockets; close what is refused now."""
        while True:
            await asyncio.sleep(self.recheck_s)
            with contextlib.suppress(Exception):  # Redis down: the feed loop drops the clients
                await self.recheck_once()

    async def recheck_once(self) -> int:
        """Ask once about every distinct token behind an open socket; close the refused ones (how many)."""
        watching = list(self.clients)
        tokens = sorted({w.token for w in watching})
        if not tokens:
            return 0
        answers = dict(zip(tokens, await asyncio.to_thread(self.recheck, tokens), strict=True))
        tree = self.state.tree if self.state is not None else None
        closed = 0
        for w in watching:
            got = answers.get(w.token)
            if got is None:
                code, why = 4401, "token refused"
            elif got[2] and tree is not None and not (w.scope in tree and tree.is_within(w.scope, got[2])):
                code, why = 4403, "scope outside the token's"
            else:
                continue
            self.clients.discard(w)
            closed += 1
            with contextlib.suppress(Exception):  # already closed
                await w.ws.close(code, why)
        return closed

    async def run(self) -> None:
        """The hub's loops: the change feed, the flushes and the token re-check."""
        await asyncio.gather(self.feed(), self.flush(), self.guard())

    def drill_hub(self, drill: str) -> LiveHub:
        """The hub of a drill's world (``&drill=ID``): its own mirror and change feed, on this loop."""
        hub = self._drills.get(drill)
        if hub is None:
            with in_world(drill):  # its tasks (and their to_thread calls) build the drill's keys
                hub = self._drills[drill] = LiveHub(
                    self.redis_url, _live_world(self.verify), 1.0 / self.flush_interval, self.ping_s,
                    self.resync_s, _live_world(self.recheck), self.recheck_s, band=self.band,
                )
                hub.world = drill
                loop = asyncio.get_running_loop()
                hub._tasks = [loop.create_task(hub.run()), loop.create_task(hub.follow_drill())]
        return hub

    async def handler(self, ws: ServerConnection) -> None:
        """One browser: authenticate, register its view, then keep the socket open."""
        query = parse_qs(urlparse(ws.request.path).query) if ws.request else {}
        drill = (query.get("drill") or [""])[0]
        if drill and not self.world:
            if not _DRILL_ID.fullmatch(drill) or not await asyncio.to_thread(self._drill_exists, drill):
                await ws.close(4404, "no such drill")
                return
            hub = self.drill_hub(drill)
            with in_world(drill):
                await hub.handler(ws)
            return
        token = (query.get("token") or [""])[0]
        try:
            _, _, allowed = await asyncio.to_thread(self.verify, token)
        except aioredis.RedisError:  # Redis down, not a refusal: the page retries soon
            await ws.close(1013, "try again later")
            return
        except Exception:  # any refusal closes the socket the same way
            await ws.close(4401, "unauthorised")
            return
        if self.state is None or self.state.tree is None:
            await asyncio.to_thread(self.load)
        st = self.state
        if st is None or st.tree is None:
            await ws.close(4409, "no county loaded")
            return
        tree = st.tree
        want = (query.get("scope") or [""])[0] or allowed or tree.root
        if want not in tree or (allowed and not tree.is_within(want, allowed)):
            await ws.close(4403, "scope outside the token's")
            return
        w = Watch(ws, want, (query.get("op") or [""])[0] or None, token)
        self._watch_view(w)
        self.clients.add(w)
        self.wake.set()
        try:
            hello = {"t": "hello", "scope": want, "ts": self.clock()}
            await ws.send(json.dumps(hello, separators=(",", ":")))
            async for _ in ws:
                pass  # clients only listen; anything they send is ignored
        finally:
            self.clients.discard(w)


async def run_live(redis_url: str, host: str, port: int, verify: Verify, ready: Any = None,
                   recheck: Recheck | None = None, *, band: Band) -> None:
    """Serve the live push until cancelled (`band`: the dashboard's colour bands)."""
    hub = LiveHub(redis_url, verify, recheck=recheck, band=band)
    async with serve(hub.handler, host, port, ping_interval=20, max_size=2**16):
        if ready is not None:
            ready.set()
        await hub.run()


def without_cluster_flag(url: str) -> str:
    """The URL of the node itself (redis.asyncio's plain client has no `cluster` option)."""
    base, _, query = url.partition("?")
    kept = [p for p in query.split("&") if p and not p.startswith("cluster=")]
    return base + ("?" + "&".join(kept) if kept else "")
