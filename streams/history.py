"""History on Redis: the county at any past instant, and the report aggregates, from the log.

Both are folds of the merged log (`command.timetravel`, `command.report`); this
module reads the streams and keeps two kinds of derived data so that neither
fold starts from the beginning every time. Both are caches of the log — drop
them and they are rebuilt, to the same values — and neither is ever trusted
over it: every answer folds whatever the cache does not cover.

* **Snapshots** (time travel). Every `snapshot_every` report entries the
  progress counts are written per town (``wt:{PN07}:hist:snap:<ms>``, on the
  town's slot, with the last entry id of that town's stream it covers) and the
  instant is indexed in ``wt:{PN}:hist:snaps``. A snapshot at M holds every
  entry with ms ≤ M. The state at T is then the latest snapshot at or before T
  plus the entries after its positions up to T; the control state (small) is
  always folded from the start of the control stream.
* **Report index** (``wt:{PN}:hist:report``). `command.report.ReportFold`'s
  aggregates with the stream positions they stand at; a report folds the tail
  after them and writes the index back when the tail was long.

Consistency: folds stop at a *cutoff*, one millisecond before the server's
clock when the read began. Redis gives every later entry an id at or after that
clock, so everything at or before the cutoff is already in the streams: a fold
up to the cutoff is a stable prefix of the log, and resuming it later gives the
same result as folding in one go.
"""

from __future__ import annotations

import hashlib
import heapq
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from command.bounds import Increment
from command.events import ProgressReported, Recorded, RegistryLoaded, decode
from command.fold import ControlState, Counts
from command.grids import GridTree
from command.report import Report, ReportFold, TimelineItem, build_report, timeline
from command.timetravel import Instant, restore_counts, town_part
from streams.keys import CountyKeys, TownKeys, current_world
from streams.server import Client

__all__ = [
    "PAGE",
    "ControlEntry",
    "History",
    "apply_control",
    "decode_control",
    "history_for",
    "is_report",
]


PAGE = 10_000
_REPORT = b"progress_reported"


class _Rep(msgspec.Struct):
    operation: str
    grid: str
    counts: dict[str, Increment]
    report_id: str = ""
    reason: str = ""


class _Reg(msgspec.Struct):
    county: str
    geometry: str | None = None
    source: str = ""


_decode_typed_rep = msgspec.json.Decoder(_Rep).decode
_NO_REPORT = _Rep("", "", {})
"""What an unreadable old report folds as: nothing (no grid is ""), as every reader skips it."""


def _decode_rep(data: Any) -> _Rep:
    """A report's payload; one no command accepts (command.bounds.readable_counts) reads as no report."""
    try:
        return _decode_typed_rep(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _NO_REPORT
_decode_reg = msgspec.json.Decoder(_Reg).decode
_encode = msgspec.json.Encoder().encode
_decode_any = msgspec.json.Decoder().decode

_TREES: dict[str, GridTree] = {}
_TREES_LOCK = threading.Lock()


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _ms(entry_id: Any) -> int:
    s = entry_id if isinstance(entry_id, bytes) else str(entry_id).encode()
    return int(s[: s.index(b"-")])


def _idt(entry_id: Any) -> tuple[int, int]:
    a, _, b = _s(entry_id).partition("-")
    return int(a), int(b or 0)


def _get(fields: dict[Any, Any], name: bytes) -> Any:
    v = fields.get(name)
    return v if v is not None else fields.get(name.decode())


@dataclass
class ControlEntry:
    """A decoded control entry; `tree` is the (cached) tree when it loads a registry."""

    rec: Recorded
    tree: GridTree | None = None


def decode_control(entry_id: Any, fields: dict[Any, Any], stream: str) -> ControlEntry:
    """Decode a control entry; a registry seen before reuses its built tree (decoding it costs)."""
    if _s(_get(fields, b"t") or "") == RegistryLoaded.wire:
        raw = _get(fields, b"d") or b"{}"
        raw_b = raw if isinstance(raw, bytes) else str(raw).encode()
        digest = hashlib.sha256(raw_b).hexdigest()
        with _TREES_LOCK:
            tree = _TREES.get(digest)
        if tree is None:
            st = ControlState()
            st.apply(decode(entry_id, fields, stream))
            assert st.tree is not None
            tree = st.tree
            with _TREES_LOCK:
                if len(_TREES) > 8:
                    _TREES.clear()
                _TREES[digest] = tree
        reg = _decode_reg(raw_b)
        light = RegistryLoaded(county=reg.county, grids=(), geometry=reg.geometry, source=reg.source)
        rec = Recorded(
            id=_s(entry_id), event=light, actor=_s(_get(fields, b"a") or ""),
            at=int(_get(fields, b"at") or 0), key=_s(_get(fields, b"k") or ""), stream=stream,
        )
        return ControlEntry(rec, tree)
    return ControlEntry(decode(entry_id, fields, stream))


def apply_control(state: ControlState, entry: ControlEntry) -> None:
    """`ControlState.apply`, with the cached tree put in place of a registry's rebuilt one."""
    state.apply(entry.rec)
    if entry.tree is not None:
        state.tree = entry.tree


class History:
    """Time travel and report aggregates for one county."""

    def __init__(
        self, client: Client, county: str, *, snapshot_every: int = 20_000, index_every: int = 20_000
    ) -> None:
        self.client = client
        self.county = county
        self.keys = CountyKeys(county)
        self.snapshot_every = snapshot_every
        self.index_every = index_every
        self._control: list[ControlEntry] = []
        self._lock = threading.RLock()
        self._fold: tuple[ReportFold, str, dict[str, str], int] | None = None
        self._built: dict[tuple[str, int], Report] = {}

    # -- reading -------------------------------------------------------------------

    def cutoff(self) -> int:
        """One ms before the server's clock: every entry at or before it is already written."""
        sec, usec = self.client.time()
        return int(sec) * 1000 + int(usec) // 1000 - 1

    def control(self) -> list[ControlEntry]:
        """Every control entry so far, decoded once and kept (the stream only grows)."""
        with self._lock:
            last = self._control[-1].rec.id if self._control else None
            start = "(" + last if last else "-"
            while True:
                page = self.client.xrange(self.keys.log, start, "+", count=PAGE)
                for eid, fields in page:
                    self._control.append(decode_control(eid, fields, self.keys.log))
                if len(page) < PAGE:
                    break
                start = "(" + _s(page[-1][0])
            return list(self._control)

    def control_records(self, until: int | None = None) -> list[Recorded]:
        """Control events up to ms `until` (all when None)."""
        return [e.rec for e in self.control() if until is None or e.rec.ms <= until]

    def control_state(self, until: int | None = None) -> ControlState:
        """The control state as of ms `until`."""
        st = ControlState()
        for e in self.control():
            if until is not None and e.rec.ms > until:
                break
            apply_control(st, e)
        return st

    def tree(self) -> GridTree | None:
        """The registry's tree as of now."""
        return self.control_state().tree

    def town_streams(self, tree: GridTree | None) -> list[str]:
        """The report stream of every town of the tree."""
        return [TownKeys(t, self.keys.world).log for t in tree.towns] if tree is not None else []

    def _reports(self, stream: str, after: str, until: int) -> Iterator[tuple[tuple[int, int], Any, Any]]:
        """Raw report entries of one town stream after id `after`, up to ms `until`."""
        start = "(" + after if after and after != "0-0" else "-"
        end = f"{until}-18446744073709551615"
        while True:
            page = self.client.xrange(stream, start, end, count=PAGE)
            for eid, fields in page:
                yield _idt(eid), eid, fields
            if len(page) < PAGE:
                return
            start = "(" + _s(page[-1][0])

    def _tagged(
        self, stream: str, n: int, after: str, until: int
    ) -> Iterator[tuple[tuple[int, int], int, str, Any, Any]]:
        for k, i, f in self._reports(stream, after, until):
            yield k, n, stream, i, f

    def merged(
        self, positions: dict[str, str], control_after: str | None, until: int, streams: Sequence[str]
    ) -> Iterator[tuple[str, Any, Any]]:
        """Control entries after `control_after` (none if None) and town entries after their positions.

        In id order; yields (stream, entry id, ControlEntry | raw fields).
        """
        sources: list[Iterator[tuple[tuple[int, int], int, str, Any, Any]]] = []
        if control_after is not None:
            after = _idt(control_after)
            ctl = [(_idt(e.rec.id), e.rec.id, e) for e in self.control() if e.rec.ms <= until]
            sources.append((k, 0, self.keys.log, i, e) for k, i, e in ctl if k > after)
        for n, s in enumerate(streams, start=1):
            sources.append(self._tagged(s, n, positions.get(s, "0-0"), until))
        for _, _, s, i, payload in heapq.merge(*sources, key=lambda t: (t[0], t[1])):
            yield s, i, payload

    # -- report aggregates ------------------------------------------------------------

    def report_fold(self, *, save: bool = True) -> tuple[ReportFold, list[Recorded], int]:
        """The report aggregates up to the cutoff, the control events, and the last event's ms."""
        with self._lock:
            until = self.cutoff()
            entries = [e for e in self.control() if e.rec.ms <= until]
            control_pos = "0-0"
            positions: dict[str, str] = {}
            as_of = 0
            fold: ReportFold | None = None
            index = None
            if self._fold is not None:
                fold, control_pos, positions, as_of = self._fold
                positions = dict(positions)
            else:
                raw = self.client.get(self.keys.report_index)
                index = _decode_any(raw) if raw else None
            if index is not None and any(e.rec.id == index["control"] for e in entries):
                control_pos = index["control"]
                positions = dict(index["positions"])
                as_of = int(index["as_of"])
                st = ControlState()
                for e in entries:
                    if _idt(e.rec.id) > _idt(control_pos):
                        break
                    apply_control(st, e)
                fold = ReportFold.from_plain(index["fold"], st)
            if fold is None:
                fold = ReportFold()
                control_pos, positions, as_of = "0-0", {}, 0
            tree = self.control_state(until).tree
            streams = self.town_streams(tree)
            folded = 0
            for stream, eid, payload in self.merged(positions, control_pos, until, streams):
                if stream == self.keys.log:
                    fold.apply_control(payload.rec)
                    if payload.tree is not None:
                        fold.control.tree = payload.tree
                    control_pos = payload.rec.id
                    as_of = max(as_of, payload.rec.ms)
                    continue
                ms = _ms(eid)
                if _get(payload, b"t") in (_REPORT, "progress_reported"):
                    r = _decode_rep(_get(payload, b"d"))
                    fold.add_report(r.operation, r.grid, r.counts, ms, _s(_get(payload, b"a") or ""),
                                    r.reason, r.report_id)
                else:
                    rec = decode(eid, payload, stream)
                    fold.apply(rec)
                positions[stream] = _s(eid)
                as_of = max(as_of, ms)
                folded += 1
            self._fold = (fold, control_pos, dict(positions), as_of)
            if save and folded and folded >= self.index_every:
                self.client.set(self.keys.report_index, _encode({
                    "control": control_pos, "positions": positions, "as_of": as_of,
                    "fold": fold.to_plain(),
                }))
            return fold, [e.rec for e in entries], as_of

    def advance(self) -> None:
        """Bring the report index and the snapshots up to the log (a periodic job calls this)."""
        with self._lock:
            every = self.index_every
            self.index_every = 1
            try:
                self.report_fold()
            finally:
                self.index_every = every
            self.ensure_snapshots()

    def report(self, operation: str) -> Report:
        """The after-action report of one operation as the log stands (see command.report)."""
        with self._lock:
            fold, control, as_of = self.report_fold()
            key = (operation, as_of)
            r = self._built.get(key)
            if r is None:
                if len(self._built) > 8:
                    self._built.clear()
                r = self._built[key] = build_report(fold, control, operation, as_of)
            return r

    def timeline(self, operation: str) -> list[TimelineItem]:
        """Decisive events of an operation (the review page's list)."""
        fold, control, as_of = self.report_fold()
        return timeline(fold, control, operation, as_of)

    # -- time travel ------------------------------------------------------------------

    def _snapshot_names(self) -> list[tuple[str, int]]:
        return [(_s(m), int(sc)) for m, sc in self.client.zrange(self.keys.snapshots, 0, -1, withscores=True)]

    def _load_parts(self, name: str, tree: GridTree) -> dict[str, Any]:
        pipe = self.client.pipeline(transaction=False)
        for t in tree.towns:
            pipe.get(TownKeys(t, self.keys.world).snapshot(name))
        out: dict[str, Any] = {}
        for t, raw in zip(tree.towns, pipe.execute(), strict=True):
            out[t] = _decode_any(raw) if raw else {"reports": 0, "ops": {}, "pos": "0-0", "entries": 0}
        return out

    def _latest_snapshot(self, at: int | None) -> str | None:
        hi = "+inf" if at is None else at
        names = self.client.zrevrangebyscore(self.keys.snapshots, hi, "-inf", start=0, num=1)
        return _s(names[0]) if names else None

    def ensure_snapshots(self, *, force: bool = False) -> int:
        """Write snapshots for the log not yet covered (every `snapshot_every` reports); returns how many."""
        with self._lock:
            until = self.cutoff()
            st = self.control_state(until)
            tree = st.tree
            if tree is None:
                return 0
            streams = self.town_streams(tree)
            name = self._latest_snapshot(None)
            covered = int(name.split(":")[1]) if name else 0
            pipe = self.client.pipeline(transaction=False)
            for s in streams:
                pipe.xlen(s)
            if not force and sum(int(n) for n in pipe.execute()) - covered < self.snapshot_every:
                return 0
            parts: dict[str, Any] = self._load_parts(name, tree) if name else {
                t: {"reports": 0, "ops": {}, "pos": "0-0", "entries": 0} for t in tree.towns
            }
            positions = {TownKeys(t, self.keys.world).log: parts[t].get("pos", "0-0") for t in tree.towns}
            entries = {t: int(parts[t].get("entries", 0)) for t in tree.towns}
            reports = {t: int(parts[t].get("reports", 0)) for t in tree.towns}
            counts = restore_counts(tree, parts)
            town_of_stream = {TownKeys(t, self.keys.world).log: t for t in tree.towns}
            written = 0
            since = 0
            pending_ms: int | None = None
            for stream, eid, payload in self.merged(positions, None, until, streams):
                ms = _ms(eid)
                if pending_ms is not None and ms > pending_ms:
                    self._write_snapshot(tree, counts, pending_ms, positions, entries, reports)
                    written += 1
                    since = 0
                    pending_ms = None
                t = town_of_stream[stream]
                if _get(payload, b"t") in (_REPORT, "progress_reported"):
                    r = _decode_rep(_get(payload, b"d"))
                    if r.grid in tree:
                        counts.add(r.operation, r.grid, r.counts, ms)
                        reports[t] += 1
                positions[stream] = _s(eid)
                entries[t] += 1
                since += 1
                if since >= self.snapshot_every and pending_ms is None:
                    pending_ms = ms
            if pending_ms is not None and pending_ms < until:
                self._write_snapshot(tree, counts, pending_ms, positions, entries, reports)
                written += 1
            return written

    def _write_snapshot(
        self, tree: GridTree, counts: Counts, at: int, positions: dict[str, str],
        entries: dict[str, int], reports: dict[str, int],
    ) -> None:
        name = f"{at}:{sum(entries.values())}"
        pipe = self.client.pipeline(transaction=False)
        for t in tree.towns:
            part = town_part(counts, t, reports[t])
            part["pos"] = positions.get(TownKeys(t, self.keys.world).log, "0-0")
            part["entries"] = entries[t]
            pipe.set(TownKeys(t, self.keys.world).snapshot(name), _encode(part))
        pipe.execute()
        self.client.zadd(self.keys.snapshots, {name: at})

    def state_at(self, at: int) -> Instant:
        """The county as it stood at ms `at`: control and counts folded up to it (snapshots help)."""
        with self._lock:
            st = self.control_state(at)
            tree = st.tree
            if tree is None:
                return Instant(at, st, None)
            streams = self.town_streams(tree)
            name = self._latest_snapshot(at)
            if name is not None:
                parts = self._load_parts(name, tree)
                counts = restore_counts(tree, parts)
                positions = {TownKeys(t, self.keys.world).log: parts[t].get("pos", "0-0") for t in tree.towns}
            else:
                counts = Counts(tree)
                positions = {}
            # Town by town (no merge needed: a town's grids see only its own stream); the county's
            # last-report time, which `Counts.add` sets in call order, is then made the towns' maximum.
            touched = False
            for stream in streams:
                for _, eid, payload in self._reports(stream, positions.get(stream, "0-0"), at):
                    if _get(payload, b"t") in (_REPORT, "progress_reported"):
                        r = _decode_rep(_get(payload, b"d"))
                        if r.grid in tree:
                            counts.add(r.operation, r.grid, r.counts, _ms(eid))
                            touched = True
            if touched:
                for last in counts.last.values():
                    times = [last[t] for t in tree.towns if t in last]
                    if times:
                        last[tree.root] = max(times)
            return Instant(at, st, counts)

    def drop(self) -> int:
        """Delete every snapshot and the report index (they are rebuilt from the log on demand)."""
        with self._lock:
            tree = self.control_state().tree
            self._fold = None
            self._built.clear()
            keys = [self.keys.snapshots, self.keys.report_index]
            for name, _ in self._snapshot_names():
                keys += [TownKeys(t, self.keys.world).snapshot(name) for t in (tree.towns if tree else ())]
            return int(self.client.delete(*keys))


def is_report(rec: Recorded) -> bool:
    """Whether a record is a progress report (the town streams' kind of event)."""
    return isinstance(rec.event, ProgressReported)


_HISTORIES: dict[tuple[int, str, str], History] = {}
_HLOCK = threading.Lock()


def history_for(client: Client, county: str) -> History:
    """One `History` per client and county per process (it caches the decoded control stream)."""
    key = (id(client), county, current_world())  # a drill's world has its own (streams.drills)
    with _HLOCK:
        h = _HISTORIES.get(key)
        if h is None:
            h = _HISTORIES[key] = History(client, county)
        return h
