"""The event log: append (idempotent, one Lua script), read, replay up to an instant.

Which stream an event goes to: progress reports to their town's stream
(``wt:{PN07}:log``), everything else to the county's control stream
(``wt:{PN}:log``). Appending runs one Lua script per stream and call that, for
each event, looks up its idempotency key, refuses a report on an operation
closed for that town or one that would take a grid's running total below zero,
XADDs and records the key and the new totals — atomically, so a retried or
concurrent request with the same key gets the first entry's id and writes
nothing, and concurrent corrections cannot overdraw a grid. Several events to
the same stream go in one call (batched append).

Exactly-once holds per operation (DESIGN §7.1): a report's ``report_id`` is
claimed in the operation's own key (``wt:{PN:op}:claims``) with the digest of
its body. On one Redis the claim is made inside the town's script; on a
cluster, where that key sits on another slot, by a script of its own first
(`CLAIM_LUA`) — and the town's idempotency key, not the claim, says whether the
report is in the log, so a crash between the two is safe on retry.

Replay merges every stream of the county by entry id, which is the server's
millisecond clock plus a sequence: a total, deterministic order.
"""

from __future__ import annotations

import enum
import hashlib
import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.cluster

from command.errors import CommandRejected, InvalidReport, LogUnavailable, OperationClosed, ReportIdReused
from command.events import Event, HouseholdsRegistered, HouseholdStatusSet, ProgressReported, Recorded, decode, encode
from streams.keys import CountyKeys, TownKeys
from streams.scripts import Call, run_each
from streams.server import Client

__all__ = ["APPEND_LUA", "FIELDS", "Appended", "EventLog", "Pending", "id_tuple"]


FIELDS = ("t", "v", "a", "at", "k", "d")
"""The fields of every entry, in the order `command.events.encode` gives them and APPEND_LUA writes them."""

APPEND_LUA = """
local n = tonumber(ARGV[1])
local at, keys, cs, tot, want, crids, cevs, cseen = {}, {}, {}, {}, {}, {}, {}, {}
local reports = false
local i = 2
for e = 1, n do  -- where each event starts; the totals and claims the batch touches
  at[e] = i
  keys[e] = ARGV[i + 4]
  local m = tonumber(ARGV[i + 10])
  if m > 0 then
    if not reports then reports = true; tot['@'] = false; want[1] = '@' end
    for j = 1, m do
      local f = ARGV[i + 9 + 2 * j]
      if tot[f] == nil then tot[f] = false; want[#want + 1] = f end
    end
  end
  local c = tonumber(ARGV[i + 7])
  cs[e] = c
  if c > 0 then
    if crids[c] == nil then crids[c] = {}; cevs[c] = {}; cseen[c] = {} end
    crids[c][#crids[c] + 1] = ARGV[i + 8]
    cevs[c][#cevs[c] + 1] = e
  end
  i = i + 11 + 2 * m
end
local function load()  -- the batch's totals, '@' (kept since) among them: one call per 1,000
  for c = 1, #want, 1000 do
    local got = redis.call('HMGET', KEYS[4], unpack(want, c, math.min(c + 999, #want)))
    for j = 1, #got do tot[want[c + j - 1]] = tonumber(got[j]) or 0 end
  end
end
load()
if reports and tot['@'] == 0 then
  -- First report since totals are kept: fold the town's stream once, in this same atomic step.
  local acc, order, lo = {}, {}, '-'
  while true do
    local page = redis.call('XRANGE', KEYS[1], lo, '+', 'COUNT', 1000)
    for _, entry in ipairs(page) do
      local f, t, d = entry[2], nil, nil
      for j = 1, #f, 2 do
        if f[j] == 't' then t = f[j + 1] elseif f[j] == 'd' then d = f[j + 1] end
      end
      if t == 'progress_reported' and d then
        local r = cjson.decode(d)
        local base = r.operation .. '|' .. r.grid .. '|'
        for c, v in pairs(r.counts) do
          local k = base .. c
          if acc[k] == nil then order[#order + 1] = k; acc[k] = 0 end
          acc[k] = acc[k] + v
        end
      end
    end
    if #page < 1000 then break end
    lo = '(' .. page[#page][1]
  end
  local args = {'@', '1'}
  for _, k in ipairs(order) do args[#args + 1] = k; args[#args + 1] = string.format('%d', acc[k]) end
  for c = 1, #args, 1000 do redis.call('HSET', KEYS[4], unpack(args, c, math.min(c + 999, #args))) end
  load()
end
local claimed = {}
for c, rids in pairs(crids) do
  for s = 1, #rids, 1000 do
    local got = redis.call('HMGET', KEYS[4 + c], unpack(rids, s, math.min(s + 999, #rids)))
    for j = 1, #got do claimed[cevs[c][s + j - 1]] = got[j] end
  end
end
local prior, need = {}, {}
for e = 1, n do  -- a claim that holds its entry's id answers a retry itself; the others ask the town's keys
  local cl = claimed[e]
  if keys[e] ~= '' and not (cl and string.find(cl, ' ', 1, true)) then need[#need + 1] = e end
end
for c = 1, #need, 1000 do  -- every idempotency key looked up at once: one call, not one per event
  local ask = {}
  for j = c, math.min(c + 999, #need) do ask[#ask + 1] = keys[need[j]] end
  local got = redis.call('HMGET', KEYS[2], unpack(ask))
  for j = 1, #got do prior[need[c + j - 1]] = got[j] end
end
local clocked, lms, lseq = string.sub(KEYS[1], 1, 9) == 'wt:drill:', 0, -1
if clocked then  -- a drill's world (streams.keys.DRILL_PREFIX): entry ids on the drill's clock, the `at` given
  local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if top[1] then
    local a, b = string.match(top[1][1], '(%d+)-(%d+)')
    lms, lseq = tonumber(a), tonumber(b)
  end
end
local closed, seen, fresh, cfresh, dirty, dirtyl, out = {}, {}, {}, {}, {}, {}, {}
for e = 1, n do
  local i = at[e]
  local key, c = keys[e], cs[e]
  local rid, mine = ARGV[i + 8], ARGV[i + 9]
  local held = c > 0 and (cseen[c][rid] or claimed[e])
  local hid = nil
  if held then  -- 'digest@town ID' (an older claim, or one made apart on a cluster: no ID)
    local sp = string.find(held, ' ', 1, true)
    if sp then hid = string.sub(held, sp + 1); held = string.sub(held, 1, sp - 1) end
  end
  local first = key ~= '' and (prior[e] or seen[key] or hid)
  if held and held ~= mine then
    out[e] = '!4'
  elseif first then
    out[e] = '=' .. first
  else
    local op, m = ARGV[i + 6], tonumber(ARGV[i + 10])
    if op ~= '' and closed[op] == nil then
      closed[op] = redis.call('SISMEMBER', KEYS[3], op) == 1
    end
    local low = nil
    for j = 1, m do
      if tot[ARGV[i + 9 + 2 * j]] + tonumber(ARGV[i + 10 + 2 * j]) < 0 then low = j; break end
    end
    if op ~= '' and closed[op] then
      out[e] = '!2'
    elseif low then
      local f = ARGV[i + 9 + 2 * low]
      out[e] = '!3 ' .. string.format('%d', tot[f]) .. ' ' .. f
    else
      local xid = '*'
      if clocked then
        local ms = tonumber(ARGV[i + 3])
        if ms > lms then lms, lseq = ms, 0 else lseq = lseq + 1 end
        xid = string.format('%d-%d', lms, lseq)
      end
      local id = redis.call('XADD', KEYS[1], xid, 't', ARGV[i], 'v', ARGV[i + 1], 'a', ARGV[i + 2],
        'at', ARGV[i + 3], 'k', key, 'd', ARGV[i + 5])
      for j = 1, m do
        local f = ARGV[i + 9 + 2 * j]
        tot[f] = tot[f] + tonumber(ARGV[i + 10 + 2 * j])
        if not dirty[f] then dirty[f] = true; dirtyl[#dirtyl + 1] = f end
      end
      if key ~= '' then
        seen[key] = id
        if c == 0 then  -- a claimed report's key is its claim, which holds the id (one write, not two)
          fresh[#fresh + 1] = key
          fresh[#fresh + 1] = id
        end
      end
      if c > 0 then
        local val = mine .. ' ' .. id
        cseen[c][rid] = val
        if cfresh[c] == nil then cfresh[c] = {} end
        local q = cfresh[c]
        q[#q + 1] = rid
        q[#q + 1] = val
      end
      out[e] = id
    end
  end
end
for c = 1, #fresh, 1000 do
  redis.call('HSET', KEYS[2], unpack(fresh, c, math.min(c + 999, #fresh)))
end
local vals = {}
for _, f in ipairs(dirtyl) do vals[#vals + 1] = f; vals[#vals + 1] = string.format('%d', tot[f]) end
for c = 1, #vals, 1000 do
  redis.call('HSET', KEYS[4], unpack(vals, c, math.min(c + 999, #vals)))
end
for c, pairs_ in pairs(cfresh) do
  for s = 1, #pairs_, 1000 do
    redis.call('HSET', KEYS[4 + c], unpack(pairs_, s, math.min(s + 999, #pairs_)))
  end
end
return out
"""
"""Per event, atomically: a report_id claimed with another body is refused (``!4``); a key seen
before answers the first id (``=ID``); a report on an operation closed for the town (``!2``) or
taking a grid's running total below zero (``!3 TOTAL FIELD``) is refused; else XADD, record the
key, the new totals and the claim, and answer the new id. Every refusal changes nothing. In a
drill's world (keys under ``wt:drill:``) the entry id is the event's ``at`` (the drill's clock),
or just after the stream's last id, so the log's own clock is the drill's.

A report claimed here (one Redis) keeps no idempotency key of its own in the town: its claim
``report_id → digest@town ID`` says both that the id is taken and which entry answers a retry, so
each report costs one hash write besides its XADD rather than two. A claim without an ID (made
apart by CLAIM_LUA on a cluster, or by an older version) falls back to the town's key, and is
completed with the ID when the report is appended.

Arguments per event: the values of FIELDS, then operation (the closed guard), claim (index into
KEYS of the operation's claims hash after the first four, 0 for none), report_id, claim value and
the number of counters; then, per counter, its running-total field ``operation|grid|counter`` and
the increment."""

CLAIM_LUA = """
local n = #ARGV / 2
local rids = {}
for e = 1, n do rids[e] = ARGV[2 * e - 1] end
local prior = {}
for c = 1, n, 1000 do
  local got = redis.call('HMGET', KEYS[1], unpack(rids, c, math.min(c + 999, n)))
  for j = 1, #got do prior[c + j - 1] = got[j] end
end
local seen, fresh, out = {}, {}, {}
for e = 1, n do
  local rid, val = ARGV[2 * e - 1], ARGV[2 * e]
  local held = seen[rid] or prior[e]
  if not held then
    seen[rid] = val
    fresh[#fresh + 1] = rid
    fresh[#fresh + 1] = val
    out[e] = 0
  elseif held == val then
    out[e] = 1
  else
    out[e] = 2
  end
end
for c = 1, #fresh, 1000 do
  redis.call('HSET', KEYS[1], unpack(fresh, c, math.min(c + 999, #fresh)))
end
return out
"""
"""Claims on Redis Cluster, where an operation's claims and a town's stream sit on different slots:
report_id → digest@town, set if free; 0 claimed now, 1 held with this body, 2 held with another.
A claim never says "appended": after it the town's script decides (its idempotency key), so a
crash between the two is safe — the retry claims again (1) and appends what was never appended.
A report the town's script then refuses (closed, overdraft) keeps its claim: its id stays bound to
that body (sent again, it is judged again; another body is 409). On one Redis the claim is made in
the town's script itself, so a refused report claims nothing."""


class ClaimMode(enum.StrEnum):
    """Where a report's report_id is claimed for its operation."""

    INLINE = "inline"  # in the town's append script (one Redis: every key on one server)
    SEPARATE = "separate"  # CLAIM_LUA on the operation's slot first, then the town's script (cluster)
    DONE = "done"  # the caller claimed already (a cluster master's own client: bench, spread)


def report_digest(event: ProgressReported | HouseholdStatusSet) -> str:
    """What identifies a report's body for its report_id: grid, counts, note and reason.

    The digest of its payload as logged (`encode`: keys sorted, so the same report is
    the same bytes); operation and report_id in it are those of the claim itself.
    """
    return _digest(encode(event, actor="", at=0)["d"])


def _digest(payload: bytes | str) -> str:
    return hashlib.blake2b(payload if isinstance(payload, bytes) else payload.encode(), digest_size=8).hexdigest()


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


def close_for_reports(
    client: Client, towns: Sequence[str], operations: Iterable[str], world: str | None = None
) -> None:
    """Make every town's append script refuse reports on `operations`: once their OperationClosed is
    in the log, never before (a refused or failed close must change nothing). Idempotent."""
    ops = sorted(operations)
    if not ops or not towns:
        return
    pipe = client.pipeline(transaction=False)
    for town in towns:
        pipe.sadd((TownKeys(town) if world is None else TownKeys(town, world)).closed, *ops)
    pipe.execute()


_NOT_A_REPORT = ("", 0, "", "", 0)
"""The report arguments of any other event: no operation, claim or counts."""


def _reused(event: Event) -> ReportIdReused:
    rid = getattr(event, "report_id", "")
    op = getattr(event, "operation", "")
    return ReportIdReused(f"report_id {rid!r} of operation {op} names another report already", field="report_id")


def _answer(event: Event, got: bytes | str) -> Appended | CommandRejected:
    """One event's answer from the append script's reply (see APPEND_LUA)."""
    text = _s(got)
    head = text[:1]
    if head.isdigit():
        return Appended(text, False)
    if head == "=":
        return Appended(text[1:], True)
    op = getattr(event, "operation", "")
    if text == "!2":
        return OperationClosed(f"operation {op} is closed", field="operation")
    if text.startswith("!3 "):
        _, now, total = text.split(" ", 2)
        counter = total.rsplit("|", 1)[-1]
        return InvalidReport(f"correction would take {counter} below zero (now {now})", field=f"counts.{counter}")
    return _reused(event)


class EventLog:
    """One county's log over its control stream and one stream per town."""

    def __init__(
        self,
        client: Client,
        county: str,
        towns: Sequence[str] = (),
        town_of: Callable[[str], str | None] | None = None,
        claims: ClaimMode | None = None,
        world: str | None = None,
    ) -> None:
        self.client = client
        self.county = CountyKeys(county) if world is None else CountyKeys(county, world)
        self.towns = tuple(towns)
        self.town_of = town_of
        cluster = isinstance(client, redis.cluster.RedisCluster)
        self.claims = claims or (ClaimMode.SEPARATE if cluster else ClaimMode.INLINE)
        self._append = client.register_script(APPEND_LUA)
        self._claim = client.register_script(CLAIM_LUA)
        self._town_keys: dict[str, TownKeys] = {}

    # -- where events go ---------------------------------------------------------

    def keys_for(self, event: Event) -> CountyKeys | TownKeys:
        """Town shard for reports and households, control shard for everything else."""
        if isinstance(event, ProgressReported | HouseholdStatusSet | HouseholdsRegistered):
            if isinstance(event, HouseholdsRegistered):
                town: str | None = event.town
            else:
                town = self.town_of(event.grid) if self.town_of else None
            if town is None:
                raise ValueError(f"no town for grid {getattr(event, 'grid', '')}")
            keys = self._town_keys.get(town)
            if keys is None:
                keys = self._town_keys[town] = TownKeys(town, self.county.world)
            return keys
        return self.county

    def streams(self) -> list[str]:
        """Every stream of the county: control first, then towns."""
        return [self.county.log, *(TownKeys(t, self.county.world).log for t in self.towns)]

    # -- append ------------------------------------------------------------------

    def append(self, event: Event, *, actor: str, at: int, key: str = "") -> Appended:
        """Append one event; a key seen before returns the first id with duplicate=True."""
        return self.append_many([Pending(event, actor, at, key)])[0]

    def append_many(self, items: Sequence[Pending]) -> list[Appended]:
        """`append_each`, raising the first refusal (the items before it stay appended)."""
        out = self.append_each(items)
        for r in out:
            if isinstance(r, CommandRejected):
                raise r
        return out  # type: ignore[return-value]

    def claim_value(self, event: ProgressReported | HouseholdStatusSet) -> str:
        """What a report's claim holds: its body's digest and its town."""
        return f"{report_digest(event)}@{self.keys_for(event).tag[1:-1]}"

    def claim(self, items: Sequence[Pending]) -> list[ReportIdReused | None]:
        """Claim each report's report_id for its operation (CLAIM_LUA, one call per operation)."""
        by_op: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            if isinstance(item.event, ProgressReported | HouseholdStatusSet) and item.key:  # no key: not asked
                by_op.setdefault(item.event.operation, []).append(i)
        out: list[ReportIdReused | None] = [None] * len(items)
        try:
            for op, idxs in by_op.items():
                argv: list[str] = []
                for i in idxs:
                    ev = items[i].event
                    assert isinstance(ev, ProgressReported | HouseholdStatusSet)
                    argv += [ev.report_id, self.claim_value(ev)]
                for i, flag in zip(idxs, self._claim(keys=[self.county.claims(op)], args=argv), strict=True):
                    if int(flag) == 2:
                        out[i] = _reused(items[i].event)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise LogUnavailable(f"event log unreachable: {exc}") from exc
        except redis.ResponseError as exc:
            raise LogUnavailable(f"event log refused the write: {exc}") from exc
        return out

    def append_each(self, items: Sequence[Pending]) -> list[Appended | CommandRejected]:
        """Append events in order, one answer each: its entry (new or the first one), or its refusal.

        One script call per stream touched, all in one round trip; on a cluster the
        reports' ids are claimed first (`claim`). Transport failures raise LogUnavailable.
        """
        results: list[Appended | CommandRejected | None] = [None] * len(items)
        todo = range(len(items))
        if self.claims is ClaimMode.SEPARATE:
            refused = self.claim(items)
            for i, r in enumerate(refused):
                results[i] = r
            todo = [i for i in todo if refused[i] is None]  # type: ignore[assignment]
        groups: dict[CountyKeys | TownKeys, list[int]] = {}
        for i in todo:
            keys = self.keys_for(items[i].event)
            got = groups.get(keys)
            if got is None:
                groups[keys] = [i]
            else:
                got.append(i)
        try:
            outs = run_each(self.client, self._append, (self._call(keys, idxs, items) for keys, idxs in groups.items()))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise LogUnavailable(f"event log unreachable: {exc}") from exc
        for idxs, out in zip(groups.values(), outs, strict=True):
            if isinstance(out, redis.ResponseError):
                raise LogUnavailable(f"event log refused the write: {out}") from out
            for i, got in zip(idxs, out, strict=True):
                results[i] = _answer(items[i].event, got)
        if any(r is None for r in results):
            raise LogUnavailable("append not answered")
        return results  # type: ignore[return-value]

    def _call(self, keys: CountyKeys | TownKeys, idxs: list[int], items: Sequence[Pending]) -> Call:
        """One stream's script call: KEYS and ARGV as APPEND_LUA reads them."""
        inline = self.claims is ClaimMode.INLINE
        argv: list[Any] = [len(idxs)]
        script_keys = [keys.log, keys.idem, keys.closed, keys.totals]
        claim_at: dict[str, int] = {}
        town = keys.tag[1:-1]
        for i in idxs:
            item = items[i]
            ev = item.event
            f = encode(ev, actor=item.actor, at=item.at, key=item.key)
            argv.extend(f.values())  # in FIELDS order
            if type(ev) is ProgressReported or type(ev) is HouseholdStatusSet:
                # A household's status is claimed and keyed as a report is (one report_id space per
                # operation, DESIGN §7.1); it moves no running total.
                counts = ev.counts if type(ev) is ProgressReported else {}
                c = 0
                if inline and item.key:
                    c = claim_at.get(ev.operation, 0)
                    if not c:
                        script_keys.append(self.county.claims(ev.operation))
                        c = claim_at[ev.operation] = len(script_keys) - 4
                argv.extend((ev.operation, c, ev.report_id, f"{_digest(f['d'])}@{town}" if c else "",
                             len(counts)))
                base = f"{ev.operation}|{ev.grid}|"
                for counter, n in counts.items():
                    argv.extend((base + counter, n))
            else:
                argv.extend(_NOT_A_REPORT)
        return script_keys, argv

    def close_for_reports(self, *operations: str) -> None:
        """Refuse further reports on operations in every town (see `close_for_reports`)."""
        close_for_reports(self.client, self.towns, operations, self.county.world)

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
