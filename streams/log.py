"""The event log: append (idempotent, one Lua script), read, replay up to an instant.

Which stream an event goes to: progress reports to their town's stream
(``wt:{PN07}:log``), everything else to the county's control stream
(``wt:{PN}:log``). Appending runs one Lua script per stream and call that, for
each event, looks up its idempotency key, refuses a report on an operation
closed for that town, XADDs and records the key — atomically, so a retried or
concurrent request with the same key gets the first entry's id and writes
nothing. Several events to the same stream go in one call (batched append).

Replay merges every stream of the county by entry id, which is the server's
millisecond clock plus a sequence: a total, deterministic order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.cluster

from command.errors import LogUnavailable, OperationClosed
from command.events import Event, ProgressReported, Recorded, decode, encode
from streams.keys import CountyKeys, TownKeys
from streams.server import Client

__all__ = ["APPEND_LUA", "FIELDS", "Appended", "EventLog", "Pending", "id_tuple"]


FIELDS = ("t", "v", "a", "at", "k", "d")
"""The fields of every entry, in the order `command.events.encode` gives them and APPEND_LUA writes them."""

APPEND_LUA = """
local n = tonumber(ARGV[1])
local keys = {}
for e = 1, n do keys[e] = ARGV[7 * e] end
local prior = {}
for c = 1, n, 1000 do  -- every key looked up at once: one call, not one per event
  local got = redis.call('HMGET', KEYS[2], unpack(keys, c, math.min(c + 999, n)))
  for j = 1, #got do prior[c + j - 1] = got[j] end
end
local closed = {}
local seen = {}
local fresh = {}
local out = {}
for e = 1, n do
  local i = 7 * e - 5
  local guard = ARGV[i]
  local key = keys[e]
  local first = key ~= '' and (prior[e] or seen[key])
  if first then
    out[e] = {first, 1}
  else
    if guard ~= '' and closed[guard] == nil then
      closed[guard] = redis.call('SISMEMBER', KEYS[3], guard) == 1
    end
    if guard ~= '' and closed[guard] then
      out[e] = {'', 2}
    else
      local id = redis.call('XADD', KEYS[1], '*', 't', ARGV[i + 1], 'v', ARGV[i + 2], 'a', ARGV[i + 3],
        'at', ARGV[i + 4], 'k', key, 'd', ARGV[i + 6])
      if key ~= '' then
        seen[key] = id
        fresh[#fresh + 1] = key
        fresh[#fresh + 1] = id
      end
      out[e] = {id, 0}
    end
  end
end
for c = 1, #fresh, 1000 do
  redis.call('HSET', KEYS[2], unpack(fresh, c, math.min(c + 999, #fresh)))
end
return out
"""
"""Per event: the closed-operation guard, then the values of FIELDS; `k` is the idempotency key."""


@dataclass(frozen=True, slots=True)
class Appended:
    """Result of one append: the entry id and whether the key had been seen before."""

    id: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class Pending:
    """One event waiting to be appended, with its envelope."""

    event: Event
    actor: str
    at: int
    key: str = ""


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def id_tuple(entry_id: str) -> tuple[int, int]:
    """Stream ids compare as (ms, seq)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def close_for_reports(client: Client, towns: Sequence[str], operations: Iterable[str]) -> None:
    """Make every town's append script refuse reports on `operations`: once their OperationClosed is
    in the log, never before (a refused or failed close must change nothing). Idempotent."""
    ops = sorted(operations)
    if not ops or not towns:
        return
    pipe = client.pipeline(transaction=False)
    for town in towns:
        pipe.sadd(TownKeys(town).closed, *ops)
    pipe.execute()


class EventLog:
    """One county's log over its control stream and one stream per town."""

    def __init__(
        self,
        client: Client,
        county: str,
        towns: Sequence[str] = (),
        town_of: Callable[[str], str | None] | None = None,
    ) -> None:
        self.client = client
        self.county = CountyKeys(county)
        self.towns = tuple(towns)
        self.town_of = town_of
        self._append = client.register_script(APPEND_LUA)

    # -- where events go ---------------------------------------------------------

    def keys_for(self, event: Event) -> CountyKeys | TownKeys:
        """Town shard for reports, control shard for everything else."""
        if isinstance(event, ProgressReported):
            town = self.town_of(event.grid) if self.town_of else None
            if town is None:
                raise ValueError(f"no town for grid {event.grid}")
            return TownKeys(town)
        return self.county

    def streams(self) -> list[str]:
        """Every stream of the county: control first, then towns."""
        return [self.county.log, *(TownKeys(t).log for t in self.towns)]

    # -- append ------------------------------------------------------------------

    def append(self, event: Event, *, actor: str, at: int, key: str = "") -> Appended:
        """Append one event; a key seen before returns the first id with duplicate=True."""
        return self.append_many([Pending(event, actor, at, key)])[0]

    def append_many(self, items: Sequence[Pending]) -> list[Appended]:
        """Append events in order: one script call per stream touched, all in one round trip."""
        groups: dict[str, tuple[CountyKeys | TownKeys, list[int]]] = {}
        for i, item in enumerate(items):
            keys = self.keys_for(item.event)
            groups.setdefault(keys.log, (keys, []))[1].append(i)
        calls: list[tuple[list[str], list[Any]]] = []
        for keys, idxs in groups.values():
            argv: list[Any] = [len(idxs)]
            for i in idxs:
                item = items[i]
                fields = encode(item.event, actor=item.actor, at=item.at, key=item.key)
                guard = item.event.operation if isinstance(item.event, ProgressReported) else ""
                argv.append(guard)
                argv.extend(fields.values())
            calls.append(([keys.log, keys.idem, keys.closed], argv))
        try:
            outs = self._run_scripts(calls)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise LogUnavailable(f"event log unreachable: {exc}") from exc
        except redis.ResponseError as exc:
            raise LogUnavailable(f"event log refused the write: {exc}") from exc
        results: list[Appended | None] = [None] * len(items)
        for (_, idxs), out in zip(groups.values(), outs, strict=True):
            for i, (entry_id, flag) in zip(idxs, out, strict=True):
                if int(flag) == 2:
                    ev = items[i].event
                    op = getattr(ev, "operation", "")
                    raise OperationClosed(f"operation {op} is closed", field="operation")
                results[i] = Appended(_s(entry_id), int(flag) == 1)
        return [r for r in results if r is not None]

    def _run_scripts(self, calls: Sequence[tuple[list[str], list[Any]]]) -> list[Any]:
        """The append script once per stream; several streams go in one pipeline (one fsync for all)."""
        if len(calls) == 1 or isinstance(self.client, redis.cluster.RedisCluster):
            # A cluster client refuses scripts in pipelines; there each town's shard takes its own call.
            return [self._append(keys=keys, args=argv) for keys, argv in calls]
        pipe = self.client.pipeline(transaction=False)
        for keys, argv in calls:
            pipe.evalsha(self._append.sha, len(keys), *keys, *argv)
        outs = list(pipe.execute(raise_on_error=False))
        for n, out in enumerate(outs):
            if isinstance(out, redis.exceptions.NoScriptError):  # a restarted Redis forgot the script
                keys, argv = calls[n]
                outs[n] = self._append(keys=keys, args=argv)  # loads it; this call never ran
            elif isinstance(out, Exception):
                raise out
        return outs

    def close_for_reports(self, *operations: str) -> None:
        """Refuse further reports on operations in every town (see `close_for_reports`)."""
        close_for_reports(self.client, self.towns, operations)

    # -- read --------------------------------------------------------------------

    def read(
        self, stream: str, start: str = "-", end: str = "+", count: int = 10_000
    ) -> Iterator[Recorded]:
        """Entries of one stream from `start` to `end` inclusive, in pages of `count`."""
        lo = start
        while True:
            page = self.client.xrange(stream, lo, end, count=count)
            if not page:
                return
            for entry_id, fields in page:
                yield decode(entry_id, fields, stream)
            if len(page) < count:
                return
            lo = "(" + _s(page[-1][0])

    def read_raw(
        self, stream: str, start: str = "-", end: str = "+", count: int = 10_000
    ) -> Iterator[list[tuple[Any, dict[Any, Any]]]]:
        """Pages of undecoded entries, for hot loops that decode only what they need."""
        lo = start
        while True:
            page = self.client.xrange(stream, lo, end, count=count)
            if not page:
                return
            yield page
            if len(page) < count:
                return
            lo = "(" + _s(page[-1][0])

    def replay(self, until: int | None = None, streams: Iterable[str] | None = None) -> Iterator[Recorded]:
        """Every event of the county in id order, up to and including ms `until`."""
        end = "+" if until is None else f"{until}-18446744073709551615"
        sources = [self.read(s, "-", end) for s in (streams or self.streams())]
        keyed = (
            ((id_tuple(r.id), n, r) for r in src) for n, src in enumerate(sources)
        )
        for _, _, rec in heapq.merge(*keyed, key=lambda t: (t[0], t[1])):
            yield rec

    def last_id(self, stream: str) -> str | None:
        """Newest entry id of a stream, None when empty."""
        page = self.client.xrevrange(stream, "+", "-", count=1)
        return _s(page[0][0]) if page else None
