"""The one fold of the log: (state, event) → state. Projector, replay and review share it.

Two states, because the log has two kinds of stream:

* `ControlState` — the county's control stream: the registry, modes,
  secretaries, vacancies, operations, alerts, users. Small (thousands of events),
  folded whole by every reader.
* `Counts` — progress of operations, fed by the per-town report streams. Only
  leaf grids receive reports; `Counts.add` adds an increment to the leaf and every
  ancestor in one step, so every grid's total is the sum of its children.

Both folds are deterministic and take time only from the events, never from a
clock, so the same log always gives the same state.

A registry (`RegistryLoaded`, megabytes for a real county) is the one costly
event to fold, and every process that starts folds the whole control stream.
So its tree is built **when first asked for**, not when the event is folded: a
registry superseded by a later one before anything read its tree is never
built, however many re-imports the log holds. `ControlState.apply_entry` folds
a raw stream entry and keeps a registry's grids undecoded until then, decodes
them straight into `Grid` structs, and memoises the built tree per content
digest in the process, so the same registry is built once per process.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from command import bounds
from command.access import overlaps
from command.events import (
    AlertAcknowledged,
    AlertCleared,
    AlertRaised,
    AlertUpdated,
    BriefingIssued,
    ContactRoundCompleted,
    ContactRoundDue,
    LevelChanged,
    ModeSwitched,
    OperationClosed,
    OperationLaunched,
    OperationPartClosed,
    ProgressReported,
    Recorded,
    RegistryLoaded,
    SecretaryAppointed,
    TargetRaised,
    Unreadable,
    UserAdded,
    UserLoggedIn,
    decode,
)
from command.grids import CentralHousehold, Grid, GridTree
from command.mobilisation_state import Mobilisation
from command.vocabulary import Mode, Operation, OperationState, Wartime, default_targets

__all__ = [
    "TREE_CACHE_SIZE",
    "Alert",
    "Briefing",
    "ContactEntry",
    "ControlState",
    "Counts",
    "Secretary",
    "aggregate_reports",
    "fold_control",
    "forget_trees",
    "registry_digest",
    "tree_from_json",
    "tree_from_rows",
]


def _damaged_launch(ev: OperationLaunched, deadline: int | None) -> tuple[str, ...]:
    """Fields of an old launch that a reader cannot take as logged (clamped or dropped by the fold)."""
    out = []
    if deadline != ev.deadline:
        out.append("deadline")
    if not isinstance(ev.targets, Mapping) or any(
        bounds.readable_count(n) != n
        for v in ev.targets.values()
        for n in (v.values() if isinstance(v, Mapping) else (v,))
    ):
        out.append("targets")
    return tuple(out)


@dataclass(slots=True)
class Secretary:
    """Temporary branch secretary (临时党支部书记) of a small grid in wartime."""

    name: str
    acting: bool
    since: int


@dataclass(slots=True)
class Alert:
    """An alert as the console lists it."""

    id: str
    kind: str
    grid: str
    operation: str | None
    raised_at: int
    detail: Mapping[str, Any]
    acked_by: str | None = None
    acked_at: int | None = None
    cleared_at: int | None = None
    updated_at: int | None = None
    updates: int = 0

    @property
    def open(self) -> bool:
        """Open until its condition clears."""
        return self.cleared_at is None

    def to_json(self) -> dict[str, Any]:
        """The API's shape of an alert."""
        return {
            "id": self.id,
            "kind": self.kind,
            "grid": self.grid,
            "operation": self.operation,
            "raised_at": self.raised_at,
            "detail": dict(self.detail),
            "acked_by": self.acked_by,
            "acked_at": self.acked_at,
            "cleared_at": self.cleared_at,
            "updated_at": self.updated_at,
        }


@dataclass(slots=True)
class Briefing:
    """A daily wartime briefing as issued (its content is in the BriefingIssued event)."""

    id: str
    operation: str
    date: str
    issued_at: int
    content: Mapping[str, Any]


@dataclass(slots=True)
class ContactEntry:
    """One first small-grid leader's quarterly contact round: reminded, then completed."""

    grid: str
    leader: str
    due: int
    reminded_at: int
    completed_at: int | None = None
    completed_by: str | None = None
    note: str = ""
    concerns: int = 0


# -- the registry's tree, built lazily and once per content ----------------------------


class _RegistryHead(msgspec.Struct):
    """A RegistryLoaded payload with its two big arrays left as raw JSON (skipped, not parsed)."""

    county: str
    grids: msgspec.Raw
    central_households: msgspec.Raw = msgspec.Raw(b"[]")
    geometry: str | None = None
    source: str = ""


_decode_head = msgspec.json.Decoder(_RegistryHead).decode
_decode_grids = msgspec.json.Decoder(list[Grid]).decode
_decode_households = msgspec.json.Decoder(list[CentralHousehold]).decode
_decode_any = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder(order="deterministic").encode

TREE_CACHE_SIZE = 4
"""Built trees kept per process (each a few MB for a real county), by registry digest."""

_trees: OrderedDict[str, GridTree] = OrderedDict()
_trees_lock = threading.Lock()


def registry_digest(grids: bytes | memoryview | msgspec.Raw, households: bytes | memoryview | msgspec.Raw) -> str:
    """Content address of a registry's grids and central households (their JSON as logged)."""
    h = hashlib.sha256(memoryview(grids))
    h.update(b"\0")
    h.update(memoryview(households))
    return h.hexdigest()


def _cached_tree(digest: str) -> GridTree | None:
    with _trees_lock:
        tree = _trees.get(digest)
        if tree is not None:
            _trees.move_to_end(digest)
        return tree


def _keep_tree(digest: str, tree: GridTree) -> None:
    with _trees_lock:
        _trees[digest] = tree
        _trees.move_to_end(digest)
        while len(_trees) > TREE_CACHE_SIZE:
            _trees.popitem(last=False)


def forget_trees() -> None:
    """Empty the process's tree memo (benchmarks: time a fold as a fresh process pays it)."""
    with _trees_lock:
        _trees.clear()


def _is_plain(grids: list[Grid]) -> bool:
    """Whether typed decoding gave what `Grid.from_row` would: no empty optional text."""
    return all(g.parent != "" and g.first_leader != "" and g.leader != "" and g.phone != "" for g in grids)


def tree_from_rows(rows: Iterable[Mapping[str, Any]], households: Iterable[Mapping[str, Any]] = ()) -> GridTree:
    """A registry's rows (the RegistryLoaded payload) as a tree."""
    return GridTree.build(
        [Grid.from_row(r) for r in rows], [CentralHousehold.from_row(r) for r in households]
    )


def tree_from_json(grids: bytes | msgspec.Raw, households: bytes | msgspec.Raw = b"[]") -> GridTree:
    """A registry's rows as logged (JSON arrays) as a tree, memoised per content digest.

    Typed decoding builds the `Grid` structs in C; rows it cannot take as they are
    (missing or mistyped values, empty strings for None) go through `Grid.from_row`,
    so the tree is the one `tree_from_rows` gives either way.
    """
    digest = registry_digest(grids, households)
    tree = _cached_tree(digest)
    if tree is not None:
        return tree
    try:
        built = _decode_grids(grids)
        homes = _decode_households(households)
        tree = GridTree.build(built, homes) if _is_plain(built) else None
    except msgspec.ValidationError:
        tree = None
    if tree is None:
        tree = tree_from_rows(_decode_any(grids), _decode_any(households))
    _keep_tree(digest, tree)
    return tree


class _Registry:
    """A folded registry whose tree is not built yet: its rows, decoded or as raw JSON."""

    __slots__ = ("grids", "households", "rows")

    def __init__(
        self,
        rows: tuple[tuple[Mapping[str, Any], ...], tuple[Mapping[str, Any], ...]] | None = None,
        grids: msgspec.Raw | None = None,
        households: msgspec.Raw | None = None,
    ) -> None:
        self.rows = rows
        self.grids = grids
        self.households = households

    def build(self) -> GridTree:
        """The tree, from whichever form the rows came in."""
        if self.grids is not None:
            return tree_from_json(self.grids, self.households if self.households is not None else b"[]")
        assert self.rows is not None
        return tree_from_rows(*self.rows)


_tree_lock = threading.Lock()
"""Guards the one slot that holds a state's tree or its pending registry (builds are rare)."""


class _TreeField:
    """`ControlState.tree`: the latest registry's tree, built on first read (see the module doc).

    One slot holds either the tree or the registry still to build, so a reader in
    another thread sees the old tree or the new one, never none in between.
    """

    def __get__(self, obj: ControlState | None, objtype: type | None = None) -> GridTree | None:
        if obj is None:
            return None  # the dataclass default
        v = obj.__dict__.get("_tree")
        if type(v) is not _Registry:
            return v  # type: ignore[no-any-return]
        with _tree_lock:
            v = obj.__dict__["_tree"]
            if type(v) is _Registry:
                v = obj.__dict__["_tree"] = v.build()
            return v  # type: ignore[no-any-return]

    def __set__(self, obj: ControlState, value: GridTree | None) -> None:
        with _tree_lock:
            obj.__dict__["_tree"] = value


@dataclass
class ControlState:
    """Everything but progress counts, as of `last_id`."""

    tree: _TreeField = _TreeField()
    geometry: str | None = None
    wartime: dict[str, Wartime] = field(default_factory=dict)
    secretaries: dict[str, Secretary] = field(default_factory=dict)
    vacancies: dict[str, int] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    alerts: dict[str, Alert] = field(default_factory=dict)
    users: dict[str, tuple[str, str]] = field(default_factory=dict)
    logins: dict[str, int] = field(default_factory=dict)
    briefings: dict[str, Briefing] = field(default_factory=dict)
    contact: dict[str, dict[str, ContactEntry]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    """Ids of control entries no event type takes (skipped; see command.events.Unreadable)."""
    mobilisation: Mobilisation = field(default_factory=Mobilisation)
    last_id: str = "0-0"
    last_at: int = 0

    def mode_of(self, grid: str) -> Mode:
        """Peacetime unless the grid is recorded in wartime."""
        return Mode.WARTIME if grid in self.wartime else Mode.PEACETIME

    def open_operations(self, scope: str | None = None) -> list[Operation]:
        """Open operations, optionally those whose scope overlaps `scope`."""
        ops = [o for o in self.operations.values() if o.state == OperationState.OPEN]
        if scope is None or self.tree is None:
            return ops
        tree = self.tree
        return [o for o in ops if overlaps(tree, o.scope, scope)]

    def apply(self, rec: Recorded) -> None:
        """Fold one recorded event into the state."""
        self._apply(rec)

    def _raise_target(self, ev: TargetRaised) -> None:
        """A target set at one grid of an open operation; its ancestors within the scope move as much."""
        op = self.operations.get(ev.operation)
        tree = self.tree
        target = bounds.readable_count(ev.target)
        if op is None or tree is None or target is None or ev.grid not in tree or not isinstance(ev.counter, str):
            return
        if op.state != OperationState.OPEN or not tree.is_within(ev.grid, op.scope):
            return
        delta = target - op.targets.get(ev.grid, {}).get(ev.counter, 0)
        for g in tree.path(ev.grid):
            if tree.is_within(g, op.scope):
                cell = op.targets.setdefault(g, {})
                cell[ev.counter] = max(0, cell.get(ev.counter, 0) + delta)

    def _apply(self, rec: Recorded, registry: _Registry | None = None) -> None:
        """`apply`; `registry` stands in for a RegistryLoaded event's rows (see `apply_entry`)."""
        ev = rec.event
        at = rec.ms
        if isinstance(ev, RegistryLoaded):
            pending = registry if registry is not None else _Registry(rows=(ev.grids, ev.central_households))
            with _tree_lock:  # one store: readers see the old tree or the new registry
                self.__dict__["_tree"] = pending
            self.geometry = ev.geometry
        elif isinstance(ev, ModeSwitched):
            self._apply_switch(ev, at)
        elif isinstance(ev, LevelChanged):
            raised: dict[Wartime, Wartime] = {}  # grids switched together share their new state too
            for g in ev.grids:
                w = self.wartime.get(g)
                if w is not None:
                    nw = raised.get(w)
                    if nw is None:
                        nw = raised[w] = Wartime(w.incident, ev.level, w.since, w.scope)
                    self.wartime[g] = nw
        elif isinstance(ev, SecretaryAppointed):
            self.secretaries[ev.grid] = Secretary(ev.person, True, at)
            self.vacancies.pop(ev.grid, None)
        elif isinstance(ev, OperationLaunched):
            assert self.tree is not None
            overrides = ev.targets if isinstance(ev.targets, Mapping) else {}
            targets = default_targets(self.tree, ev.kind, ev.scope, overrides)
            deadline = bounds.readable_time(ev.deadline)
            self.operations[ev.operation] = Operation(
                id=ev.operation,
                kind=ev.kind,
                scope=ev.scope,
                name=ev.name if isinstance(ev.name, str) else str(ev.name),
                deadline=deadline,
                targets=targets,
                launched_at=at,
                launched_by=rec.actor,
                damaged=_damaged_launch(ev, deadline),
            )
        elif isinstance(ev, OperationClosed):
            op = self.operations.get(ev.operation)
            if op is not None:
                op.state = OperationState.CLOSED
                op.closed_at = at
        elif isinstance(ev, TargetRaised):
            self._raise_target(ev)
        elif isinstance(ev, OperationPartClosed):
            op = self.operations.get(ev.operation)
            if op is not None and op.state == OperationState.OPEN:
                op.closed_parts.setdefault(ev.town, at)
        elif isinstance(ev, AlertRaised):
            self.alerts[ev.alert] = Alert(ev.alert, ev.kind, ev.grid, ev.operation, at, ev.detail)
        elif isinstance(ev, AlertAcknowledged):
            a = self.alerts.get(ev.alert)
            if a is not None and a.acked_by is None:
                a.acked_by, a.acked_at = rec.actor, at
        elif isinstance(ev, AlertCleared):
            a = self.alerts.get(ev.alert)
            if a is not None and a.cleared_at is None:
                a.cleared_at = at
        elif isinstance(ev, UserAdded):
            self.users[ev.username] = (ev.role, ev.scope)
        elif isinstance(ev, AlertUpdated):
            a = self.alerts.get(ev.alert)
            if a is not None and a.cleared_at is None:
                a.detail, a.updated_at, a.updates = ev.detail, at, a.updates + 1
        elif isinstance(ev, UserLoggedIn):
            self.logins[ev.username] = at
        elif isinstance(ev, Unreadable):
            self.unreadable.append(rec.id)
        elif isinstance(ev, BriefingIssued):
            self.briefings[ev.briefing] = Briefing(ev.briefing, ev.operation, ev.date, at, ev.content)
        elif isinstance(ev, ContactRoundDue):
            self.contact.setdefault(ev.round, {})[ev.grid] = ContactEntry(ev.grid, ev.leader, ev.due, at)
        elif isinstance(ev, ContactRoundCompleted):
            entry = self.contact.get(ev.round, {}).get(ev.grid)
            if entry is not None and entry.completed_at is None:
                entry.completed_at, entry.completed_by = at, rec.actor
                entry.note, entry.concerns = ev.note, ev.concerns
        self.mobilisation.apply(rec)
        self.last_id = rec.id
        self.last_at = at

    def apply_entry(self, entry_id: bytes | str, fields: Mapping[Any, Any], stream: str = "") -> None:
        """Fold one raw stream entry: `apply(decode(...))`, but a registry's rows stay raw JSON.

        The registry's small fields are decoded now (its geometry digest is state);
        its grids only when its tree is first read, and then once per process per
        content (`tree_from_json`).
        """
        wire = fields.get(b"t", fields.get("t"))
        if wire not in (RegistryLoaded.wire, RegistryLoaded.wire.encode()):
            self.apply(decode(entry_id, fields, stream))
            return
        dkey: Any = b"d" if b"d" in fields else "d"
        raw = fields.get(dkey)
        try:
            head = _decode_head(raw.encode() if isinstance(raw, str) else bytes(raw or b""))
        except (msgspec.ValidationError, msgspec.DecodeError):
            self.apply(decode(entry_id, fields, stream))  # let the full decode say what is wrong
            return
        light: dict[str, Any] = {"county": head.county, "grids": [], "geometry": head.geometry, "source": head.source}
        rec = decode(entry_id, {**fields, dkey: _encode(light)}, stream)
        self._apply(rec, _Registry(grids=head.grids, households=head.central_households))

    def _apply_switch(self, ev: ModeSwitched, at: int) -> None:
        if ev.mode == Mode.WARTIME:
            # One frozen Wartime for the whole switch: a county switch covers thousands of grids.
            self.wartime.update(
                dict.fromkeys(ev.grids, Wartime(ev.incident or "other", ev.level or "IV", at, ev.scope))
            )
            for grid, person in ev.installed:
                self.secretaries[grid] = Secretary(person, False, at)
                self.vacancies.pop(grid, None)
            for grid in ev.vacancies:
                self.vacancies[grid] = at
        else:
            for g in ev.grids:
                self.wartime.pop(g, None)
            for grid in ev.released:
                self.secretaries.pop(grid, None)
                self.vacancies.pop(grid, None)


def fold_control(records: Iterable[Recorded], state: ControlState | None = None) -> ControlState:
    """Fold a run of control events, from scratch or onto `state`."""
    st = state if state is not None else ControlState()
    for rec in records:
        st.apply(rec)
    return st


class Counts:
    """Progress of every operation: op → grid → counter → total, ancestors included.

    `last` keeps, per op and grid, the time of the last report that touched it
    (the freshness mark of the big screen and the input of stall alerts).
    """

    __slots__ = ("last", "reports", "totals", "tree")

    def __init__(self, tree: GridTree) -> None:
        self.tree = tree
        self.totals: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )
        self.last: dict[str, dict[str, int]] = defaultdict(dict)
        self.reports = 0

    def add(self, operation: str, grid: str, counts: Mapping[str, int], at: int) -> None:
        """One report: its increments on the grid and on every ancestor."""
        op = self.totals[operation]
        last = self.last[operation]
        for g in self.tree.path(grid):
            cell = op[g]
            for counter, n in counts.items():
                cell[counter] += n
            last[g] = at
        self.reports += 1

    def apply(self, rec: Recorded) -> None:
        """Fold one report event (other events are ignored here)."""
        ev = rec.event
        if isinstance(ev, ProgressReported) and bounds.readable_counts(ev.counts) is not None:
            self.add(ev.operation, ev.grid, ev.counts, rec.ms)

    def of(self, operation: str, grid: str) -> dict[str, int]:
        """Totals of one grid, zero-free."""
        cell = self.totals.get(operation, {}).get(grid, {})
        return {c: n for c, n in cell.items() if n}


def aggregate_reports(
    tree: GridTree, reports: Iterable[tuple[str, str, Mapping[str, int], int]]
) -> tuple[dict[tuple[str, str], dict[str, int]], dict[tuple[str, str], int]]:
    """Sum a batch of (operation, grid, counts, ms) into one delta per (operation, grid).

    The projector writes each touched key once per batch; the deltas include every
    ancestor so the write keeps parents equal to the sum of their children.
    """
    leaf: dict[tuple[str, str], dict[str, int]] = {}
    last: dict[tuple[str, str], int] = {}
    for op, grid, counts, ms in reports:
        key = (op, grid)
        cell = leaf.get(key)
        if cell is None:
            leaf[key] = dict(counts)
        else:
            for c, n in counts.items():
                cell[c] = cell.get(c, 0) + n
        if ms > last.get(key, 0):
            last[key] = ms
    deltas: dict[tuple[str, str], dict[str, int]] = {}
    touched: dict[tuple[str, str], int] = {}
    for (op, grid), counts in leaf.items():
        ms = last[(op, grid)]
        for g in tree.path(grid):
            key = (op, g)
            cell = deltas.get(key)
            if cell is None:
                deltas[key] = dict(counts)
            else:
                for c, n in counts.items():
                    cell[c] = cell.get(c, 0) + n
            if ms > touched.get(key, 0):
                touched[key] = ms
    return deltas, touched
