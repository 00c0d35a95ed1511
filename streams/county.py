"""One county's command surface over Redis: command → events → log, and its views.

`County` is what the HTTP API, the CLI, the scheduler and the demo call. Each
command refreshes the control view (so it decides on the latest log), runs the
pure command from `command/`, and appends the resulting event under an
idempotency key. Nothing here decides anything the domain has not decided.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import msgspec

from command import households, mobilisation, modes, operations
from command.access import Actor
from command.errors import ModeConflict, UnknownGrid, UnknownOperation
from command.events import Event, HouseholdStatusSet, OperationPartClosed, ProgressReported, RegistryLoaded
from command.fold import ControlState
from command.geoindex import GeoIndex
from command.grids import GridTree
from command.modes import SwitchRequest
from command.operations import LaunchRequest, ReportRequest
from streams.group_commit import GroupCommit
from streams.households import HouseholdView, find_household, store_roster
from streams.keys import CURRENT_COUNTY, CountyKeys
from streams.log import Appended, EventLog, Pending, close_for_reports
from streams.readmodel import ControlView, ProgressView, current_county, geometry_digest, store_geometry_index
from streams.server import Client

__all__ = [
    "County",
    "Outcome",
    "clocked",
    "now_ms",
]


_CLOCK: ContextVar[Callable[[], int] | None] = ContextVar("wartime_clock", default=None)


def now_ms() -> int:
    """Wall clock in epoch milliseconds; the one clock read of the write path (in a drill: its clock)."""
    clock = _CLOCK.get()
    return clock() if clock is not None else int(time.time() * 1000)


@contextmanager
def clocked(clock: Callable[[], int] | None) -> Iterator[None]:
    """`now_ms` reads `clock` inside the block (a drill's world, streams.drills); None: the wall clock."""
    token = _CLOCK.set(clock)
    try:
        yield
    finally:
        _CLOCK.reset(token)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command appended: the event, its id and whether it was a retry."""

    event: Event
    appended: Appended

    @property
    def event_id(self) -> str:
        return self.appended.id

    @property
    def duplicate(self) -> bool:
        return self.appended.duplicate


class County:
    """A county's log, control view and progress view on one Redis."""

    def __init__(self, client: Client, county: str, clock: Callable[[], int] = now_ms) -> None:
        self.client = client
        self.code = county
        self.keys = CountyKeys(county)
        self.clock = clock
        self.view = ControlView(client, county)
        self.progress = ProgressView(client, self.view)
        self.households = HouseholdView(client)
        self.log = EventLog(client, county, world=self.keys.world)
        self._refreshed = 0.0
        self._commit = GroupCommit(lambda: self.log)
        self._bind_tree()

    @classmethod
    def current(cls, client: Client, clock: Callable[[], int] = now_ms) -> County:
        """The county this Redis serves (the last one whose registry was loaded)."""
        code = current_county(client)
        if code is None:
            raise LookupError("no county loaded yet: run `wartime import` or `wartime demo`")
        return cls(client, code, clock)

    def _bind_tree(self) -> None:
        self.view.refresh()
        tree = self.view.tree
        if tree is not None and self.log.towns != tree.towns:
            self.log = EventLog(self.client, self.code, tree.towns, tree.town_of, world=self.keys.world)

    @property
    def state(self) -> ControlState:
        """The control state as of the last refresh."""
        return self.view.state

    @property
    def tree(self) -> GridTree:
        """The registry's tree (refuses politely before any registry)."""
        tree = self.view.tree
        if tree is None:
            raise ModeConflict("no registry loaded", field="scope")
        return tree

    def refresh(self, max_age_ms: int = 0) -> ControlState:
        """Catch up with the log (one round trip), unless done less than `max_age_ms` ago."""
        now = time.monotonic()
        if max_age_ms and (now - self._refreshed) * 1000 < max_age_ms:
            return self.view.state
        self._bind_tree()
        self._refreshed = now
        return self.view.state

    def record(self, event: Event, actor: Actor, key: str = "") -> Outcome:
        """Append an event decided elsewhere (alerts, accounts) under this county."""
        appended = self.log.append(event, actor=actor.username, at=self.clock(), key=key)
        self._bind_tree()
        return Outcome(event, appended)

    def record_many(self, items: Sequence[tuple[Event, str]], actor: Actor) -> list[Outcome]:
        """Append control events (each with its idempotency key) in one atomic script call."""
        if not items:
            return []
        at = self.clock()
        appended = self.log.append_many([Pending(e, actor.username, at, k) for e, k in items])
        self._bind_tree()
        return [Outcome(e, a) for (e, _), a in zip(items, appended, strict=True)]

    def _with_notices(self, event: Event, actor: Actor, key: str) -> Outcome:
        """A switch or an appointment and the notifications it queues, appended together."""
        seed = key or f"{self.code}:{self.clock()}:{self.state.last_id}"
        notes = mobilisation.notices(self.state, event, seed)
        items = [(event, key), *((n, mobilisation.notification_key(n)) for n in notes)]
        return self.record_many(items, actor)[0]

    # -- registry ------------------------------------------------------------------

    def load_registry(
        self, tree: GridTree, geometry: Mapping[str, Any] | None, actor: Actor, source: str = ""
    ) -> Outcome:
        """Make `tree` the county's registry: geometry stored by digest, then one event."""
        digest = None
        if geometry:
            digest = geometry_digest(geometry)
            self.client.set(self.keys.geometry(digest), msgspec.json.encode(geometry))
            store_geometry_index(self.client, self.keys, digest, GeoIndex.build(geometry))
        # Phone numbers stay out of the log (kept forever, replayed, exported with reports): they go
        # to a hash of their own that only a personal-data export reads (dashboard.privacy).
        rows = [{k: v for k, v in r.items() if k != "phone"} for r in tree.rows()]
        phones = {g.code: g.phone for g in tree.grids.values() if g.phone}
        event = RegistryLoaded(
            county=tree.root,
            grids=tuple(rows),
            central_households=tuple(c.to_row() for c in tree.central_households),
            geometry=digest,
            source=source,
        )
        out = self.record(event, actor)
        if phones:
            staging = self.keys.personal + ":new"
            self.client.delete(staging)
            self.client.hset(staging, mapping=phones)
            self.client.rename(staging, self.keys.personal)
        else:
            self.client.delete(self.keys.personal)
        self.client.set(CURRENT_COUNTY, self.code)
        return out

    # -- modes ---------------------------------------------------------------------

    def switch(self, actor: Actor, req: SwitchRequest, key: str = "") -> Outcome:
        """Peacetime ↔ wartime over a subtree (see command.modes.switch)."""
        self.refresh()
        return self._with_notices(modes.switch(self.state, actor, req), actor, key)

    def change_level(self, actor: Actor, scope: str, level: str, reason: str = "") -> Outcome:
        """Raise or lower the response level."""
        self.refresh()
        return self.record(modes.change_level(self.state, actor, scope, level, reason), actor)

    def appoint(self, actor: Actor, grid: str, person: str) -> Outcome:
        """Fill a vacancy with an acting secretary."""
        self.refresh()
        return self._with_notices(modes.appoint(self.state, actor, grid, person), actor, "")

    # -- mobilisation (DESIGN §7.2) -------------------------------------------------

    def renotify(self, actor: Actor, grid: str, key: str = "") -> Outcome:
        """Queue the grid's secretary a fresh notification (a commander's re-send)."""
        self.refresh()
        ev = mobilisation.renotify(self.state, actor, grid, key or f"{self.clock()}:{self.state.last_id}")
        return self.record_many([(ev, mobilisation.notification_key(ev))], actor)[0]

    def acknowledge_order(self, actor: Actor, grid: str, notification: str = "") -> Outcome:
        """The secretary opened the order: acknowledged, and what waited for them counts as delivered."""
        self.refresh()
        ev, key = mobilisation.acknowledge(self.state, actor, grid, notification)
        mob = self.state.mobilisation
        person = mob.posts[grid].person
        seen = [(mobilisation.delivered(n.id, mobilisation.FIELD_CHANNEL, 1), mobilisation.delivered_key(n.id))
                for n in mob.pending() if n.grid == grid and n.person == person]
        return self.record_many([(ev, key), *seen], actor)[0]

    def confirm_on_post(self, actor: Actor, grid: str, report_id: object, location: object = None) -> Outcome:
        """The secretary confirmed arrival; a repeat is a duplicate (one confirmation per installation)."""
        self.refresh()
        ev, key = mobilisation.confirm_on_post(self.state, actor, grid, report_id, location)
        return self.record_many([(ev, key)], actor)[0]

    # -- operations ----------------------------------------------------------------

    def launch(
        self,
        actor: Actor,
        kind: str,
        scope: str,
        name: str,
        deadline: int | None = None,
        targets: Mapping[str, Any] | None = None,
        operation: str | None = None,
    ) -> Outcome:
        """Start an operation; its id is made here unless given."""
        self.refresh()
        op_id = operation or f"op-{secrets.token_hex(4)}"
        req = LaunchRequest(op_id, kind, scope, name, deadline, targets or {})
        return self.record(operations.launch(self.state, actor, req), actor)

    def plan_report(self, actor: Actor, req: ReportRequest, max_age_ms: int = 0) -> ProgressReported:
        """Validate a report against a control state at most `max_age_ms` old.

        A slightly old state is safe for reports: an operation closed since is
        refused by the append script, and an operation too new to be known makes
        us look again before refusing. A correction's overdraft is refused by the
        append script too, against the log's own running totals, atomically.
        """
        self._state_knowing(req.operation, max_age_ms)
        return operations.report(self.state, actor, req)

    def _state_knowing(self, operation: str, max_age_ms: int) -> None:
        """A control state at most `max_age_ms` old, or the latest when that one does not know `operation`."""
        self.refresh(max_age_ms)
        try:
            operations.operation_of(self.state, operation)
        except UnknownOperation:
            if not max_age_ms:
                raise
            self.refresh()

    def pending_report(self, event: ProgressReported, actor: Actor) -> Pending:
        """A validated report with its envelope and idempotency key, ready for `append_many`."""
        return Pending(event, actor.username, self.clock(), f"{event.operation}:{event.report_id}")

    def append_report(self, event: ProgressReported, actor: Actor) -> Outcome:
        """Append a validated report under its idempotency key, grouped with concurrent ones (GroupCommit)."""
        return Outcome(event, self._commit.append(self.pending_report(event, actor)))

    async def append_report_async(self, event: ProgressReported, actor: Actor) -> Outcome:
        """`append_report` from an event loop: the same group commit, the loop never waiting on Redis."""
        return Outcome(event, await self._commit.append_async(self.pending_report(event, actor)))

    def report(self, actor: Actor, req: ReportRequest) -> Outcome:
        """Validate and append one progress report; a repeated report_id is a duplicate."""
        return self.append_report(self.plan_report(actor, req), actor)

    def report_many(self, actor: Actor, reqs: list[ReportRequest]) -> list[Outcome]:
        """Many reports in as few script calls as possible (simulator, bulk import)."""
        self.refresh()
        events: list[ProgressReported] = [operations.report(self.state, actor, r) for r in reqs]
        at = self.clock()
        pend = [Pending(e, actor.username, at, f"{e.operation}:{e.report_id}") for e in events]
        return [Outcome(e, a) for e, a in zip(events, self.log.append_many(pend), strict=True)]

    # -- households (DESIGN §7.3) ---------------------------------------------------------

    def load_households(self, roster: Sequence[households.Household], actor: Actor) -> int:
        """Make `roster` the county's households (checked against the tree already); events appended."""
        self.refresh()
        return store_roster(self.client, self.log, self.tree, roster, actor.username, self.clock())

    def plan_household_status(
        self, actor: Actor, req: households.HouseholdStatusRequest, max_age_ms: int = 0
    ) -> HouseholdStatusSet:
        """Validate a household's status (as `plan_report`: a slightly old control state is safe)."""
        self._state_knowing(req.operation, max_age_ms)
        households.refuse_readers(actor)
        household = find_household(self.client, self.tree, req.household)
        return households.status_event(self.state, actor, household, req)

    def append_household_status(self, event: HouseholdStatusSet, actor: Actor) -> Outcome:
        """Append a validated status under ``operation:report_id``, in the reports' group commit."""
        key = f"{event.operation}:{event.report_id}"
        return Outcome(event, self._commit.append(Pending(event, actor.username, self.clock(), key)))

    def close(self, actor: Actor, operation: str, reason: str = "") -> Outcome:
        """Close an operation: the event first, then the towns refuse its reports.

        Nothing changes before the event is in the log: a refused close (or a
        failed append) leaves the towns accepting reports. Should this process
        die between the two steps, the projector marks the towns when it applies
        the event (`Projector._apply_control`). A report that races the close
        within that one round trip is counted: it was acknowledged.
        """
        self.refresh()
        event = operations.close(self.state, actor, operation, reason)
        out = self.record(event, actor, f"close:{operation}")
        self.log.close_for_reports(operation)
        return out

    def close_part(self, actor: Actor, operation: str, town: object, reason: str = "") -> Outcome:
        """End an operation in one town (see command.operations.close_part): the event, then that town refuses.

        Only the town's append script learns of it (`wt:{TOWN}:closed`); the other
        towns go on taking reports. Closing the last open part closes the operation,
        and every town refuses then, as with `close`. Retried, the same part close is
        the same entry (its idempotency key names operation and town).
        """
        self.refresh()
        event = operations.close_part(self.state, actor, operation, town, reason)
        if isinstance(event, OperationPartClosed):
            out = self.record(event, actor, f"close:{operation}:{event.town}")
            close_for_reports(self.client, [event.town], [operation])
        else:
            out = self.record(event, actor, f"close:{operation}")
            self.log.close_for_reports(operation)
        return out

    def grid(self, code: str) -> dict[str, Any]:
        """The API's view of one grid: mode, incident, level, secretary, children."""
        tree = self.tree
        if code not in tree:
            raise UnknownGrid(code)
        g = tree[code]
        st = self.state
        w = st.wartime.get(code)
        sec = st.secretaries.get(code)
        return {
            "code": g.code,
            "name": g.name,
            "grid_level": g.level.value,
            "kind": g.kind.value,
            "parent": g.parent,
            "households": g.households,
            "population": g.population,
            "first_leader": g.first_leader,
            "leader": g.leader,
            "mode": st.mode_of(code).value,
            "incident": w.incident if w else None,
            "level": w.level if w else None,
            "since": w.since if w else None,
            "secretary": (
                {"name": sec.name, "acting": sec.acting, "since": sec.since} if sec else None
            ),
            "vacancy": code in st.vacancies,
            "children": list(tree.children[code]),
        }
