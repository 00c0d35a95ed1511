"""Projector: the consumer-group worker that folds the log into read models.

For each stream of a county the projector reads a batch through the consumer
group ``projector``, folds it in Python (`command.fold.aggregate_reports`, one
delta per touched grid, ancestors included), and writes the result with its
checkpoint in one Lua call that first compares the checkpoint with the one the
batch was planned against (compare-and-set). Only then does it XACK. So:

* a batch applied twice changes nothing — entries at or before the checkpoint
  are skipped, and a concurrent apply fails the compare and is re-planned;
* a worker killed anywhere loses nothing — unacknowledged entries stay pending
  and are reclaimed by a live worker with XAUTOCLAIM after `claim_idle_ms`;
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

APPLY_LUA = """
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return {0} end
local out = {1}
local i = 3
for k = 2, #KEYS do
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


class Projector:
    """One member of the consumer group; run several for more throughput."""

    def __init__(
        self,
        client: Client,
        county: str,
        *,
        consumer: str = "projector-1",
        batch: int = 5000,
        claim_idle_ms: int = 30_000,
        publish: bool = True,
    ) -> None:
        self.client = client
        self.keys = CountyKeys(county)
        self.consumer = consumer
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.publish = publish
        self.view = ControlView(client, county)
        self._apply = client.register_script(APPLY_LUA)
        self._groups: set[str] = set()
        self._pending_checked: set[str] = set()
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

    # -- one round -----------------------------------------------------------------

    def step(self, block_ms: int = 0) -> int:
        """Read and apply one batch from every stream that has one; returns entries applied."""
        self.view.refresh()
        streams = self.streams()
        for s in streams:
            self._ensure_group(s)
        total = 0
        # First our own pending entries (a restart after a crash), then new ones.
        todo: dict[str, str] = {}
        for s in streams:
            todo[s] = ">" if s in self._pending_checked else "0"
        if not self.cluster and block_ms and all(v == ">" for v in todo.values()):
            resp = self.client.xreadgroup(
                GROUP, self.consumer, todo, count=self.batch, block=block_ms
            )
            for stream, entries in resp or []:
                total += self._apply_entries(_s(stream), entries)
            return total
        for s, start in todo.items():
            resp = self.client.xreadgroup(GROUP, self.consumer, {s: start}, count=self.batch)
            entries = resp[0][1] if resp else []
            if start == "0" and len(entries) < self.batch:
                self._pending_checked.add(s)
            total += self._apply_entries(s, entries)
        if not total and block_ms:
            time.sleep(min(block_ms, 50) / 1000)
        return total

    def reclaim(self) -> int:
        """Take over entries another worker read but never acknowledged (it died)."""
        total = 0
        for s in self.streams():
            self._ensure_group(s)
            start = "0-0"
            while True:
                resp = self.client.xautoclaim(
                    s, GROUP, self.consumer, self.claim_idle_ms, start_id=start, count=self.batch
                )
                start, entries = _s(resp[0]), resp[1]
                entries = [e for e in entries if e and e[1] is not None]
                total += self._apply_entries(s, entries)
                if start == "0-0":
                    break
        return total

    def run(self, stop: threading.Event, *, block_ms: int = 200, reclaim_every_s: float = 10.0) -> None:
        """Loop until `stop` is set; never dies of a transient Redis error."""
        next_reclaim = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_reclaim:
                    self.reclaim()
                    next_reclaim = time.monotonic() + reclaim_every_s
                self.step(block_ms=block_ms)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("projector: redis unavailable (%s); retrying", exc)
                self._groups.clear()
                stop.wait(0.5)
            except redis.ResponseError as exc:
                if "NOGROUP" in str(exc):
                    self._groups.clear()
                    self._pending_checked.clear()
                    continue
                log.exception("projector: redis refused a write")
                stop.wait(0.5)

    def catch_up(self, timeout_s: float = 60.0) -> int:
        """Apply until every stream is drained (tests, replay, `wartime import`)."""
        deadline = time.monotonic() + timeout_s
        total = 0
        while time.monotonic() < deadline:
            n = self.step()
            total += n
            if n == 0 and all(s in self._pending_checked for s in self.streams()):
                if self.lag_entries() == 0:
                    return total
        raise TimeoutError("projector did not catch up")

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
        while True:
            if id_tuple(self.view.state.last_id) < id_tuple(last):
                self.view.refresh(until_id=last)
            ckpt = _s(self.client.get(self.keys.checkpoint) or "")
            if ckpt and id_tuple(ckpt) >= id_tuple(self.view.state.last_id):
                break
            snapshot = json.dumps(self.view.snapshot(), ensure_ascii=False, sort_keys=True)
            res = self._apply(
                keys=[self.keys.checkpoint, self.keys.control],
                args=[ckpt, self.view.state.last_id, "s", 1, snapshot],
            )
            if int(res[0]) == 1:
                if self.publish:
                    self.client.publish(
                        self.keys.changes, json.dumps({"control": self.view.state.last_id})
                    )
                break
        self._ack(self.keys.log, [e[0] for e in entries])
        self.applied += len(entries)
        return len(entries)

    def _apply_town(self, stream: str, entries: Sequence[Any]) -> int:
        tree = self.view.state.tree
        town = stream.split("{", 1)[1].split("}", 1)[0]
        tk = TownKeys(town)
        root = tree.root if tree is not None else ""
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
            keys = [tk.checkpoint]
            args: list[Any] = [ckpt, last_id]
            for op, (incs, lasts) in by_op.items():
                keys.append(tk.counts(op))
                args.extend(("i", len(incs) // 2, *incs))
                keys.append(tk.last(op))
                args.extend(("h", len(lasts) // 2, *lasts))
            if by_op:
                keys.append(tk.operations)
                args.extend(("a", len(by_op), *by_op))
            res = self._apply(keys=keys, args=args)
            if int(res[0]) == 1:
                if self.publish and order:
                    self._publish_totals(town, order, res[1:], touched)
                break
            # Another worker moved the checkpoint: re-plan against the new one.
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
    ckpt_key = stream.rsplit(":log", 1)[0] + ":rm:ckpt"
    ckpt = _s(client.get(ckpt_key) or "")
    start = "(" + ckpt if ckpt else "-"
    first = client.xrange(stream, start, "+", count=1)
    if not first:
        return 0, 0
    behind = client.xlen(stream) if not ckpt else len(client.xrange(stream, start, "+", count=10_000))
    now_s, now_us = client.time()
    now_ms = int(now_s) * 1000 + int(now_us) // 1000
    return behind, max(0, now_ms - int(_s(first[0][0]).split("-", 1)[0]))


def projector_lag_ms(client: Client, log: EventLog) -> int:
    """Worst lag in ms over the county's streams: what /health reports."""
    return max((lag_of(client, s)[1] for s in log.streams()), default=0)


def wait_applied(client: Client, log: EventLog, timeout_s: float = 10.0) -> bool:
    """Block until every entry appended so far is applied (close, tests); False on timeout."""
    targets = {s: log.last_id(s) for s in log.streams()}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        behind = False
        for s, last in targets.items():
            if last is None:
                continue
            ckpt = _s(client.get(s.rsplit(":log", 1)[0] + ":rm:ckpt") or "")
            if not ckpt or id_tuple(ckpt) < id_tuple(last):
                behind = True
                break
        if not behind:
            return True
        time.sleep(0.02)
    return False
