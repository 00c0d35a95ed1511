"""Many appends sent as one: the group commit of every write path, threads and coroutines alike.

A caller's append waits in a `GroupCommit` while one caller sends the batch that
has gathered (`send_batch`: one pipeline of append-script calls, one per town;
on a Redis Cluster `send_batch_spread`, one pipeline per master). Each waiting
caller gets its own answer — the entry id, duplicate, or the refusal of its own
event — so a batch never mixes one caller's outcome into another's.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from redis.cluster import RedisCluster

from command.events import encode
from streams.log import Appended, ClaimMode, EventLog, LogUnavailable, Pending

__all__ = ["GROUP_MAX", "SPREAD_IN_PARALLEL", "GroupCommit", "send_batch", "send_batch_spread"]


class _Slot:
    """One append waiting in a group commit: its item, then its answer (or error).

    A thread waits on `done`; a coroutine awaits `future`, settled on its own loop.
    """

    __slots__ = ("done", "error", "future", "item", "lead", "loop", "result")

    def __init__(self, item: Pending, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.item = item
        self.loop = loop
        self.future: asyncio.Future[Appended] | None = loop.create_future() if loop is not None else None
        self.done = threading.Event()
        self.lead = False  # woken to send the next batch rather than with an answer
        self.result: Appended | None = None
        self.error: BaseException | None = None

    def answer(self) -> Appended:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    def finish(self) -> None:
        """Wake the caller with its answer."""
        if self.loop is None:
            self.done.set()
        else:
            self.loop.call_soon_threadsafe(self._settle)

    def _settle(self) -> None:
        fut = self.future
        if fut is None or fut.done():  # the client went away
            return
        if self.error is not None:
            fut.set_exception(self.error)
        else:
            fut.set_result(self.answer())


GROUP_MAX = 256
"""Appends sent in one group commit at most."""


class GroupCommit:
    """Appends from many threads and coroutines, sent together: one `append_each` for all that wait.

    The first caller's append goes at once (a thread sends it itself; a coroutine
    hands it to the commit's own appender thread, so the event loop never waits on
    Redis). Callers arriving while a batch is in flight queue up; when the batch
    returns, the sender hands over to the first of them (its thread, or the
    appender thread for a coroutine), which sends everything queued in one call,
    and so on. Alone, a caller pays nothing but a lock; under load, one round trip
    (and one fsync) serves a whole batch. Every caller gets its own answer: its id,
    duplicate or not, or its own refusal — a report on a just-closed operation or
    one that would overdraw a grid refuses only itself.
    """

    def __init__(self, log: Callable[[], EventLog]) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._busy = False
        self._pool: ThreadPoolExecutor | None = None

    def append(self, item: Pending) -> Appended:
        """Append one event from a thread (with the others waiting now); its own answer."""
        slot = _Slot(item)
        if self._enqueue(slot):
            self._lead()
            return slot.answer()
        slot.done.wait()
        if slot.lead:
            self._lead()
        return slot.answer()

    async def append_async(self, item: Pending) -> Appended:
        """Append one event from a coroutine without blocking its loop; its own answer."""
        slot = _Slot(item, asyncio.get_running_loop())
        if self._enqueue(slot):
            self._appender().submit(self._lead)
        assert slot.future is not None
        return await slot.future

    def _enqueue(self, slot: _Slot) -> bool:
        """Queue a slot; True when its caller is to send the next batch."""
        with self._lock:
            self._queue.append(slot)
            lead = not self._busy
            self._busy = True
        return lead

    def _appender(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="appender")
        return self._pool

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[:GROUP_MAX], self._queue[GROUP_MAX:]
        handoff: _Slot | None = None
        try:
            self._send(batch)
        finally:
            with self._lock:
                if self._queue:
                    handoff = self._queue[0]
                else:
                    self._busy = False
            for s in batch:
                if s.result is None and s.error is None:
                    s.error = RuntimeError("append not answered")
                s.finish()
            if handoff is not None:
                if handoff.loop is None:
                    handoff.lead = True
                    handoff.done.set()
                else:
                    self._appender().submit(self._lead)

    def _send(self, batch: list[_Slot]) -> None:
        for s, r in zip(batch, send_batch_spread(self._log(), [s.item for s in batch]), strict=True):
            if isinstance(r, BaseException):
                s.error = r
            else:
                s.result = r


def send_batch(log: EventLog, items: list[Pending]) -> list[Appended | BaseException]:
    """`log.append_each(items)`, and when the batch fails as a whole, item by item.

    In the retry, a 'duplicate' whose stored entry is exactly this item (same
    event, actor, instant and key) was written by the failed batch: it is ours.
    """
    try:
        return list(log.append_each(items))
    except BaseException as exc:
        if len(items) == 1:
            return [exc]
    out: list[Appended | BaseException] = []
    for item in items:
        try:
            one = log.append_each([item])[0]
            if isinstance(one, Appended) and one.duplicate and _written_as(log, item, one.id):
                one = Appended(one.id, False)
            out.append(one)
        except BaseException as exc:
            out.append(exc)
    return out


SPREAD_IN_PARALLEL = os.environ.get("WARTIME_SPREAD_PARALLEL", "0") == "1"
"""Send the masters' shares of a batch from parallel threads (lower latency) or one after the other
(less CPU: no thread hand-offs; measured the better choice on 2 cores, see bench/bench_cluster)."""
_FANOUT: ThreadPoolExecutor | None = None
_FANOUT_LOCK = threading.Lock()
_NODE_LOGS: dict[tuple[int, str], EventLog] = {}


def send_batch_spread(log: EventLog, items: list[Pending]) -> list[Appended | BaseException]:
    """`send_batch`, but on a Redis Cluster: one pipeline per master, the masters side by side.

    redis-py's cluster client refuses scripts in pipelines, so `append_many` there
    calls one town after another: a batch over 20 towns waits for 20 fsyncs in a
    row and pays the cluster client's per-call cost 20 times. Instead, each
    master's share goes through an `EventLog` on that master's own (plain)
    client — one pipelined round trip and one fsync per master — all masters at
    once. A share that fails there (a slot moved, a node down) is sent again
    through the cluster client, which follows redirections; `send_batch` makes
    that retry exact. On a single Redis this is `send_batch` (one pipeline already).
    """
    if not isinstance(log.client, RedisCluster):
        return send_batch(log, items)
    out: list[Appended | BaseException | None] = [None] * len(items)
    try:  # claims first, on each operation's slot; the masters' shares then append what was not refused
        for i, refused in enumerate(log.claim(items)):
            out[i] = refused
    except BaseException as exc:
        return [exc] * len(items)
    groups: dict[str, list[int]] = {}
    logs: dict[str, EventLog] = {}
    for i, item in enumerate(items):
        if out[i] is not None:
            continue
        try:
            node = log.client.get_node_from_key(log.keys_for(item.event).log)
            name = node.name
            if name not in logs:
                logs[name] = _node_log(log, node)
        except Exception:  # no town, no node known: the cluster client answers (or refuses) it
            name = ""
        groups.setdefault(name, []).append(i)
    parts = list(groups.items())

    def share(part: tuple[str, list[int]]) -> list[Appended | BaseException]:
        name, idxs = part
        mine = [items[i] for i in idxs]
        if not name:
            return send_batch(log, mine)
        got = send_batch(logs[name], mine)
        again = [k for k, r in enumerate(got) if isinstance(r, LogUnavailable)]
        if again:
            for k, r in zip(again, send_batch(log, [mine[k] for k in again]), strict=True):
                got[k] = r
        return got

    if len(parts) == 1 or not SPREAD_IN_PARALLEL:
        answers = [share(part) for part in parts]
    else:
        global _FANOUT
        if _FANOUT is None:
            with _FANOUT_LOCK:
                if _FANOUT is None:
                    _FANOUT = ThreadPoolExecutor(8, thread_name_prefix="append-fanout")
        answers = list(_FANOUT.map(share, parts))
    for (_, idxs), got in zip(parts, answers, strict=True):
        for i, r in zip(idxs, got, strict=True):
            out[i] = r
    return [r if r is not None else RuntimeError("append not answered") for r in out]


def _node_log(log: EventLog, node: Any) -> EventLog:
    """An `EventLog` like `log` on one cluster master's own client (made once per log and master)."""
    key = (id(log), node.name)
    got = _NODE_LOGS.get(key)
    if got is None or got.towns != log.towns:
        got = _NODE_LOGS[key] = EventLog(node.redis_connection, log.county.county, log.towns, log.town_of,
                                         claims=ClaimMode.DONE)
    return got


def _written_as(log: EventLog, item: Pending, entry_id: str) -> bool:
    """Whether the entry `entry_id` is exactly what `item` writes (same event, actor, instant, key)."""
    page = log.client.xrange(log.keys_for(item.event).log, entry_id, entry_id, count=1)
    if not page:
        return False
    stored = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
              for k, v in page[0][1].items()}
    want = {k: (v.decode() if isinstance(v, bytes) else v)
            for k, v in encode(item.event, actor=item.actor, at=item.at, key=item.key).items()}
    return stored == want
