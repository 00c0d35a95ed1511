"""Projector: the consumer-group workers that fold the log into read models.

Each stream (the county's control stream, one per town) is applied **in order by
one worker at a time**: a worker owns a stream through a lease (``rm:lease``,
SET NX PX, renewed every round) and projectors share the streams between them
by a quota of ceil(streams / live members). The owner reads its own pending
entries first (after taking over a stream it XAUTOCLAIMs every entry the
previous owner read but never acknowledged), then new ones with XREADGROUP;
folds a batch in Python (`command.fold.aggregate_reports`: one delta per
touched grid, ancestors included) and writes it with its checkpoint in one Lua
call that checks, atomically, that the worker still owns the lease (fencing)
and that the checkpoint is the one the batch was planned against. Then XACK.

* a batch applied twice changes nothing — entries at or before the checkpoint
  are skipped, and because a stream is applied in order, "at or before the
  checkpoint" means "applied";
* a worker killed anywhere loses nothing — its lease runs out, another member
  takes the stream over and reclaims its pending entries;
* a worker that stalls and loses its lease cannot write any more (fencing);
* each write touches one town's slot only, so it is atomic in Redis Cluster too.

The control stream is folded whole in memory (`ControlView`); its read model is
a JSON snapshot written the same way. After each applied batch the new totals
of the touched grids are published on the county's change channel.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import redis

from command.fold import aggregate_reports
from streams.keys import GROUP, CountyKeys, TownKeys, field
from streams.log import EventLog, id_tuple
from streams.readmodel import ControlView
from streams.server import Client

log = logging.getLogger(__name__)

LEASE_LUA = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not owner and ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""

RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LeaseLost(RuntimeError):
    """This worker no longer owns the stream it was applying (another took it over)."""

APPLY_LUA = """
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return {-1} end
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return {0} end
local out = {1}
local i = 4
for k = 3, #KEYS do
  local mode = ARGV[i]
  local n = tonumber(ARGV[i + 1])
  i = i + 2
  if mode == 'i' then
    for j = 0, n - 1 do
      out[#out + 1] = redis.call('HINCRBY', KEYS[k], ARGV[i + 2 * j], ARGV[i + 2 * j + 1])
    end
    i = i + 2 * n
  elseif mode == 'h' then
    local s = i
    local e = i + 2 * n - 1
    while s <= e do
      local stop = math.min(s + 999, e)
      redis.call('HSET', KEYS[k], unpack(ARGV, s, stop))
      s = stop + 1
    end
    i = i + 2 * n
  elseif mode == 'a' then
    redis.call('SADD', KEYS[k], unpack(ARGV, i, i + n - 1))
    i = i + n
  elseif mode == 's' then
    redis.call('SET', KEYS[k], ARGV[i])
    i = i + 1
  elseif mode == 'x' then
    local s = i
    local e = i + n - 1
    while s <= e do
      local stop = math.min(s + 999, e)
      redis.call('XACK', KEYS[k], 'projector', unpack(ARGV, s, stop))
      s = stop + 1
    end
    i = i + n
  end
end
redis.call('SET', KEYS[1], ARGV[2])
return out
"""


class _Report(msgspec.Struct):
    operation: str
    grid: str
    counts: dict[str, int]


_decode_report = msgspec.json.Decoder(_Report).decode
_REPORT = b"progress_reported"


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _lease_key(stream: str) -> str:
    return stream.rsplit(":log", 1)[0] + ":rm:lease"


def _ckpt_key(stream: str) -> str:
    return stream.rsplit(":log", 1)[0] + ":rm:ckpt"


class Projector:
    """One member of the consumer group; run several for more throughput."""

    def __init__(
        self,
        client: Client,
        county: str,
        *,
        consumer: str = "projector-1",
        batch: int = 5000,
        lease_ms: int = 10_000,
        publish: bool = True,
    ) -> None:
        self.client = client
        self.keys = CountyKeys(county)
        self.consumer = consumer
        self.batch = batch
        self.lease_ms = lease_ms
        self.publish = publish
        self.view = ControlView(client, county)
        self._apply = client.register_script(APPLY_LUA)
        self._lease = client.register_script(LEASE_LUA)
        self._release = client.register_script(RELEASE_LUA)
        self._groups: set[str] = set()
        self.owned: set[str] = set()
        self._next_claim = 0.0
        self._claimed_for: tuple[str, ...] = ()
        self._drained: set[str] = set()
        self.applied = 0
        self.cluster = client.__class__.__name__ == "RedisCluster"

    # -- setup ---------------------------------------------------------------------

    def streams(self) -> list[str]:
        """Control stream and one per town of the current registry."""
        tree = self.view.state.tree
        towns = tree.towns if tree is not None else ()
        return [self.keys.log, *(TownKeys(t).log for t in towns)]

    def _ensure_group(self, stream: str) -> None:
        if stream in self._groups:
            return
        try:
            self.client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add(stream)

    # -- ownership -----------------------------------------------------------------

    def _members(self) -> int:
        """Live projectors of the county (heartbeats within three leases)."""
        now = time.time()
        key = self.keys.projectors
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(key, {self.consumer: now})
        pipe.zremrangebyscore(key, "-inf", now - 3 * self.lease_ms / 1000)
        pipe.zcard(key)
        return max(1, int(pipe.execute()[-1]))

    def claim_streams(self) -> set[str]:
        """Renew the leases we hold and take free ones up to our share."""
        streams = self.streams()
        quota = -(-len(streams) // self._members())
        start = sum(map(ord, self.consumer)) % max(1, len(streams))
        order = streams[start:] + streams[:start]
        owned: set[str] = set()
        for s in order:
            want = "1" if len(owned) < quota else "0"
            got = int(self._lease(keys=[_lease_key(s)], args=[self.consumer, self.lease_ms, want]))
            if got:
                if got == 2 or s not in self.owned:
                    self._drained.discard(s)  # new to us: take over what the last owner left
                owned.add(s)
        # Hand back what is beyond our share (a new member joined).
        for s in list(owned)[quota:] if len(owned) > quota else []:
            self._release(keys=[_lease_key(s)], args=[self.consumer])
            owned.discard(s)
        self.owned = owned
        return owned

    def release(self) -> None:
        """Give every stream back (clean shutdown): another member takes over at once."""
        for s in self.owned:
            self._release(keys=[_lease_key(s)], args=[self.consumer])
        self.owned = set()
        self.client.zrem(self.keys.projectors, self.consumer)

    # -- one round -----------------------------------------------------------------

    def step(self, block_ms: int = 0) -> int:
        """Apply one batch from every stream we own; returns entries applied."""
        self.view.refresh()
        streams = tuple(self.streams())
        if time.monotonic() >= self._next_claim or streams != self._claimed_for:
            # Leases are renewed a few times per lease period, not every round: each renewal is a write.
            self.claim_streams()
            self._claimed_for = streams
            self._next_claim = time.monotonic() + self.lease_ms / 4000
        owned = self.owned
        total = 0
        for s in sorted(owned):
            self._ensure_group(s)
            if s not in self._drained:
                total += self._drain_pending(s)
        if not owned:
            if block_ms:
                time.sleep(block_ms / 1000)
            return 0
        if not self.cluster and block_ms and not total:
            resp = self.client.xreadgroup(
                GROUP, self.consumer, dict.fromkeys(sorted(owned), ">"), count=self.batch, block=block_ms
            )
            for stream, entries in resp or []:
                total += self._apply_safely(_s(stream), entries)
            return total
        for s in sorted(owned):
            resp = self.client.xreadgroup(GROUP, self.consumer, {s: ">"}, count=self.batch)
            total += self._apply_safely(s, resp[0][1] if resp else [])
        if not total and block_ms:
            time.sleep(min(block_ms, 50) / 1000)
        return total

    def _drain_pending(self, stream: str) -> int:
        """Take over entries read but never acknowledged (a dead owner's), then apply ours in order."""
        start = "0-0"
        while True:
            resp = self.client.xautoclaim(stream, GROUP, self.consumer, 0, start_id=start, count=self.batch)
            start = _s(resp[0])
            if start == "0-0":
                break
        total = 0
        after = "0"
        while True:
            resp = self.client.xreadgroup(GROUP, self.consumer, {stream: after}, count=self.batch)
            entries = [e for e in (resp[0][1] if resp else []) if e[1] is not None]
            if not entries:
                break
            total += self._apply_safely(stream, entries)
            after = _s(entries[-1][0])
        self._drained.add(stream)
        return total

    def _apply_safely(self, stream: str, entries: Sequence[Any]) -> int:
        try:
            return self._apply_entries(stream, entries)
        except LeaseLost:
            log.info("projector %s: lost %s to another member", self.consumer, stream)
            self.owned.discard(stream)
            self._drained.discard(stream)
            return 0

    def run(self, stop: threading.Event, *, block_ms: int = 200) -> None:
        """Loop until `stop` is set; never dies of a transient Redis error."""
        try:
            while not stop.is_set():
                try:
                    self.step(block_ms=block_ms)
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    log.warning("projector: redis unavailable (%s); retrying", exc)
                    self._groups.clear()
                    self._drained.clear()
                    stop.wait(0.5)
                except redis.ResponseError as exc:
                    if "NOGROUP" in str(exc):
                        self._groups.clear()
                        self._drained.clear()
                        continue
                    log.exception("projector: redis refused a write")
                    # Entries delivered in this step but not applied (another stream's share of the same
                    # XREADGROUP, or this batch) are pending now: apply them before reading anything newer,
                    # or the checkpoint would pass over them.
                    self._drained.clear()
                    stop.wait(0.5)
        finally:
            try:
                self.release()
            except redis.RedisError:
                pass

    def catch_up(self, timeout_s: float = 60.0) -> int:
        """Apply until every stream is drained (tests, `wartime import`); needs the leases free."""
        deadline = time.monotonic() + timeout_s
        total = 0
        try:
            while time.monotonic() < deadline:
                n = self.step()
                total += n
                if n == 0 and self.lag_entries() == 0:
                    return total
                if n == 0:
                    time.sleep(0.01)
            raise TimeoutError("projector did not catch up")
        finally:
            self.release()

    # -- apply ---------------------------------------------------------------------

    def _apply_entries(self, stream: str, entries: Sequence[Any]) -> int:
        if not entries:
            return 0
        if stream == self.keys.log:
            return self._apply_control(entries)
        return self._apply_town(stream, entries)

    def _ack(self, stream: str, ids: Sequence[Any]) -> None:
        for i in range(0, len(ids), 5000):
            self.client.xack(stream, GROUP, *ids[i : i + 5000])

    def _apply_control(self, entries: Sequence[Any]) -> int:
        last = _s(entries[-1][0])
        acked = False
        while True:
            if id_tuple(self.view.state.last_id) < id_tuple(last):
                self.view.refresh(until_id=last)
            ckpt = _s(self.client.get(self.keys.checkpoint) or "")
            if ckpt and id_tuple(ckpt) >= id_tuple(self.view.state.last_id):
                break
            snapshot = json.dumps(self.view.snapshot(), ensure_ascii=False, sort_keys=True)
            ids = [e[0] for e in entries]
            res = self._apply(
                keys=[self.keys.checkpoint, _lease_key(self.keys.log), self.keys.control, self.keys.log],
                args=[ckpt, self.view.state.last_id, self.consumer, "s", 1, snapshot, "x", len(ids), *ids],
            )
            if int(res[0]) == -1:
                raise LeaseLost(self.keys.log)
            if int(res[0]) == 1:
                if self.publish:
                    self.client.publish(
                        self.keys.changes, json.dumps({"control": self.view.state.last_id})
                    )
                acked = True
                break
        if not acked:  # a redelivery of what was applied before
            self._ack(self.keys.log, [e[0] for e in entries])
        self.applied += len(entries)
        return len(entries)

    def _apply_town(self, stream: str, entries: Sequence[Any]) -> int:
        tree = self.view.state.tree
        town = stream.split("{", 1)[1].split("}", 1)[0]
        tk = TownKeys(town)
        root = tree.root if tree is not None else ""
        acked = False
        while True:
            ckpt = _s(self.client.get(tk.checkpoint) or "")
            floor = id_tuple(ckpt) if ckpt else (-1, -1)
            reports = []
            last_id = ckpt
            for entry_id, fields in entries:
                eid = _s(entry_id)
                if id_tuple(eid) <= floor:
                    continue
                last_id = eid
                if fields.get(b"t", fields.get("t")) not in (_REPORT, "progress_reported"):
                    continue
                r = _decode_report(fields.get(b"d") or fields.get("d"))
                reports.append((r.operation, r.grid, r.counts, int(eid.split("-", 1)[0])))
            if last_id == ckpt:
                break  # everything here was applied before (a redelivery)
            if tree is None:
                raise RuntimeError("reports before any registry")
            deltas, touched = aggregate_reports(tree, reports)
            by_op: dict[str, tuple[list[Any], list[Any]]] = {}
            order: list[tuple[str, str, str]] = []
            for (op, grid), counts in deltas.items():
                if grid == root:
                    continue
                incs = by_op.setdefault(op, ([], []))[0]
                for counter, n in counts.items():
                    incs.extend((field(grid, counter), n))
                    order.append((op, grid, counter))
            for (op, grid), ms in touched.items():
                if grid != root:
                    by_op.setdefault(op, ([], []))[1].extend((grid, ms))
            keys = [tk.checkpoint, _lease_key(stream)]
            args: list[Any] = [ckpt, last_id, self.consumer]
            for op, (incs, lasts) in by_op.items():
                keys.append(tk.counts(op))
                args.extend(("i", len(incs) // 2, *incs))
                keys.append(tk.last(op))
                args.extend(("h", len(lasts) // 2, *lasts))
            if by_op:
                keys.append(tk.operations)
                args.extend(("a", len(by_op), *by_op))
            ids = [e[0] for e in entries]
            keys.append(stream)
            args.extend(("x", len(ids), *ids))  # acknowledged in the same atomic write
            res = self._apply(keys=keys, args=args)
            if int(res[0]) == -1:
                raise LeaseLost(stream)
            if int(res[0]) == 1:
                if self.publish and order:
                    self._publish_totals(town, order, res[1:], touched)
                acked = True
                break
            # Another worker moved the checkpoint: re-plan against the new one.
        if not acked:  # a redelivery of what was applied before
            self._ack(stream, [e[0] for e in entries])
        self.applied += len(entries)
        return len(entries)

    def _publish_totals(
        self,
        town: str,
        order: Iterable[tuple[str, str, str]],
        values: Sequence[Any],
        touched: dict[tuple[str, str], int],
    ) -> None:
        ops: dict[str, dict[str, dict[str, int]]] = {}
        for (op, grid, counter), v in zip(order, values, strict=True):
            ops.setdefault(op, {}).setdefault(grid, {})[counter] = int(v)
        last = {f"{op}|{g}": ms for (op, g), ms in touched.items()}
        self.client.publish(
            self.keys.changes,
            json.dumps({"town": town, "totals": ops, "last": last}, separators=(",", ":")),
        )

    # -- health --------------------------------------------------------------------

    def lag_entries(self) -> int:
        """Entries appended but not yet applied, over every stream."""
        return sum(lag_of(self.client, s)[0] for s in self.streams())


def lag_of(client: Client, stream: str) -> tuple[int, int]:
    """(entries behind, ms behind) of one stream against its checkpoint."""
    ckpt = _s(client.get(_ckpt_key(stream)) or "")
    start = "(" + ckpt if ckpt else "-"
    first = client.xrange(stream, start, "+", count=1)
    if not first:
        return 0, 0
    behind = client.xlen(stream) if not ckpt else len(client.xrange(stream, start, "+", count=10_000))
    now_s, now_us = client.time()
    now_ms = int(now_s) * 1000 + int(now_us) // 1000
    return behind, max(0, now_ms - int(_s(first[0][0]).split("-", 1)[0]))


def projector_lag_ms(client: Client, log: EventLog) -> int:
    """Worst lag in ms over the county's streams (age of the oldest unapplied entry): /health.

    Two pipelined round trips whatever the number of towns: health is polled often.
    """
    streams = log.streams()
    pipe = client.pipeline(transaction=False)
    for s in streams:
        pipe.get(_ckpt_key(s))
    ckpts = [_s(c or "") for c in pipe.execute()]
    pipe = client.pipeline(transaction=False)
    for s, ckpt in zip(streams, ckpts, strict=True):
        pipe.xrange(s, "(" + ckpt if ckpt else "-", "+", count=1)
    firsts = pipe.execute()
    oldest = [int(_s(f[0][0]).split("-", 1)[0]) for f in firsts if f]
    if not oldest:
        return 0
    now_s, now_us = client.time()
    return max(0, int(now_s) * 1000 + int(now_us) // 1000 - min(oldest))


def wait_applied(client: Client, log: EventLog, timeout_s: float = 10.0) -> bool:
    """Block until every entry appended so far is applied (close, tests); False on timeout."""
    targets = {s: log.last_id(s) for s in log.streams()}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        behind = False
        for s, last in targets.items():
            if last is None:
                continue
            ckpt = _s(client.get(_ckpt_key(s)) or "")
            if not ckpt or id_tuple(ckpt) < id_tuple(last):
                behind = True
                break
        if not behind:
            return True
        time.sleep(0.02)
    return False
