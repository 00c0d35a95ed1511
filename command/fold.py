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
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
    ProgressReported,
    Recorded,
    RegistryLoaded,
    SecretaryAppointed,
    UserAdded,
    UserLoggedIn,
)
from command.grids import CentralHousehold, Grid, GridTree
from command.modes import Mode, Wartime
from command.operations import Operation, OperationState, default_targets


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


@dataclass
class ControlState:
    """Everything but progress counts, as of `last_id`."""

    tree: GridTree | None = None
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
        return [o for o in ops if tree.is_within(o.scope, scope) or tree.is_within(scope, o.scope)]

    def apply(self, rec: Recorded) -> None:
        """Fold one recorded event into the state."""
        ev = rec.event
        at = rec.ms
        if isinstance(ev, RegistryLoaded):
            self.tree = GridTree.build(
                (Grid.from_row(r) for r in ev.grids),
                (CentralHousehold.from_row(r) for r in ev.central_households),
            )
            self.geometry = ev.geometry
        elif isinstance(ev, ModeSwitched):
            self._apply_switch(ev, at)
        elif isinstance(ev, LevelChanged):
            for g in ev.grids:
                w = self.wartime.get(g)
                if w is not None:
                    self.wartime[g] = Wartime(w.incident, ev.level, w.since, w.scope)
        elif isinstance(ev, SecretaryAppointed):
            self.secretaries[ev.grid] = Secretary(ev.person, True, at)
            self.vacancies.pop(ev.grid, None)
        elif isinstance(ev, OperationLaunched):
            assert self.tree is not None
            targets = default_targets(self.tree, ev.kind, ev.scope, ev.targets)
            self.operations[ev.operation] = Operation(
                id=ev.operation,
                kind=ev.kind,
                scope=ev.scope,
                name=ev.name,
                deadline=ev.deadline,
                targets=targets,
                launched_at=at,
                launched_by=rec.actor,
            )
        elif isinstance(ev, OperationClosed):
            op = self.operations.get(ev.operation)
            if op is not None:
                op.state = OperationState.CLOSED
                op.closed_at = at
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
        elif isinstance(ev, BriefingIssued):
            self.briefings[ev.briefing] = Briefing(ev.briefing, ev.operation, ev.date, at, ev.content)
        elif isinstance(ev, ContactRoundDue):
            self.contact.setdefault(ev.round, {})[ev.grid] = ContactEntry(ev.grid, ev.leader, ev.due, at)
        elif isinstance(ev, ContactRoundCompleted):
            entry = self.contact.get(ev.round, {}).get(ev.grid)
            if entry is not None and entry.completed_at is None:
                entry.completed_at, entry.completed_by = at, rec.actor
                entry.note, entry.concerns = ev.note, ev.concerns
        self.last_id = rec.id
        self.last_at = at

    def _apply_switch(self, ev: ModeSwitched, at: int) -> None:
        if ev.mode == Mode.WARTIME:
            for g in ev.grids:
                self.wartime[g] = Wartime(ev.incident or "other", ev.level or "IV", at, ev.scope)
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
        if isinstance(ev, ProgressReported):
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
