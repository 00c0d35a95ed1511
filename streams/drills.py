"""Drills on Redis: the drill's world, its record, and the runner that replays into it.

A drill (`command.drills.Drill`) lives in a world of its own: every key under
``wt:drill:ID:`` with the live keys' hash tags (`streams.keys.in_world`), so
the very same `County`, append script, projector, read models, alert rules and
live push work on it, and nothing of a drill is ever written to a live key.
The live log is only read: `DrillRunner` reads the recorded operation's events
(`command.drills.replays`) and appends each, with its recorded time, when the
drill's clock reaches it; in the drill's world the append script gives entries
ids on that clock, so "last report", stall and pace are judged on drill time.
Each step then folds the drill's streams into its read models (a `Projector`
of the drill's world) and runs an alert round at the drill's clock.

Records: ``wt:drill:{PN}:index`` (id → JSON), the one key outside the worlds;
the runner's read position rides in the record (``cursor``), so a runner that
restarts goes on where it was (and every replayed event keeps an idempotency
key, so an overlap is taken once).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import redis

from command import drill_report as dr
from command import drills
from command.access import Actor, Role
from command.drills import Drill, DrillState, Inject, InjectKind, Scenario
from command.errors import InvalidRequest, NotAuthorised, NotFound, StateConflict, UnknownOperation
from command.events import (
    Event,
    NotificationFailed,
    OperationLaunched,
    Recorded,
    RegistryLoaded,
    TargetRaised,
)
from command.fold import ControlState
from command.mobilisation_state import NotificationState
from streams.alerting import AlertEvaluator
from streams.county import County, clocked
from streams.history import History
from streams.keys import CountyKeys, TownKeys, drill_index, drill_runner, in_world
from streams.log import Appended, EventLog, Pending
from streams.projector import Projector
from streams.server import Client

__all__ = [
    "ACTOR",
    "DrillRunner",
    "Drills",
    "drill_report",
    "ensure_running",
    "in_drill",
    "launch_at",
    "stop_runners",
    "wall_ms",
]

log = logging.getLogger(__name__)

ACTOR = "drill"
"""Who the envelope names for events a drill's injects add."""
BATCH = 2_000
"""Recorded events appended per script call."""

SWAP_LUA = """
local now = redis.call('HGET', KEYS[1], ARGV[1])
if now ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""
"""Write a record only if it is still what was read (a check and its write in one step)."""


def wall_ms() -> int:
    return int(time.time() * 1000)


def _key(rec: Recorded) -> str:
    """The idempotency key a replayed event goes under: its own, else one from its recorded id."""
    return rec.key or f"replay:{rec.id}"


class Drills:
    """The county's drills: their records, each drill's `County` (its world on its clock)."""

    def __init__(self, client: Client, county: str, wall: Callable[[], int] = wall_ms) -> None:
        self.client = client
        self.county = county
        self.wall = wall
        self.index = drill_index(county)
        self._lock = threading.Lock()
        self._swap = client.register_script(SWAP_LUA)
        self._counties: dict[str, County] = {}
        self._cache: dict[str, tuple[float, Drill]] = {}

    # -- records -------------------------------------------------------------------------

    def get(self, drill_id: str) -> Drill:
        raw = self.client.hget(self.index, drill_id) if isinstance(drill_id, str) and drill_id else None
        if raw is None:
            raise NotFound(f"no drill {drill_id!r}", field="drill")
        return Drill.from_json(json.loads(raw))

    def cached(self, drill_id: str, max_age_s: float = 0.2) -> Drill:
        """The record, re-read at most every `max_age_s` (what a drill's clock reads)."""
        hit = self._cache.get(drill_id)
        now = time.monotonic()
        if hit is None or now - hit[0] > max_age_s:
            hit = self._cache[drill_id] = (now, self.get(drill_id))
        return hit[1]

    def put(self, drill: Drill, cursor: str | None = None) -> None:
        data = drill.to_json()
        if cursor is None:
            raw = self.client.hget(self.index, drill.drill_id)
            cursor = json.loads(raw).get("cursor", "") if raw else ""
        data["cursor"] = cursor
        self.client.hset(self.index, drill.drill_id, json.dumps(data, ensure_ascii=False))
        self._cache[drill.drill_id] = (time.monotonic(), drill)

    def update(self, drill_id: str, change: Callable[[Drill], Drill], cursor: str | None = None) -> Drill:
        """Apply `change` to the record as it stands and write it, atomically against every other writer.

        A commander's pause and the runner's step both write the record; read-modify-write
        without this lets the runner put back the state it read before a pause (or a resume).
        """
        while True:
            raw = self.client.hget(self.index, drill_id) if isinstance(drill_id, str) and drill_id else None
            if raw is None:
                raise NotFound(f"no drill {drill_id!r}", field="drill")
            data = json.loads(raw)
            drill = change(Drill.from_json(data))
            new = drill.to_json()
            new["cursor"] = data.get("cursor", "") if cursor is None else cursor
            if self._swap(keys=[self.index], args=[drill_id, raw, json.dumps(new, ensure_ascii=False)]):
                self._cache[drill_id] = (time.monotonic(), drill)
                return drill

    def cursor(self, drill_id: str) -> str:
        raw = self.client.hget(self.index, drill_id)
        return str(json.loads(raw).get("cursor", "")) if raw else ""

    def all(self) -> list[Drill]:
        return sorted((Drill.from_json(json.loads(v)) for v in self.client.hvals(self.index)),
                      key=lambda d: d.started)

    def clock(self, drill_id: str) -> Callable[[], int]:
        """The drill's clock: drill-time ms now."""
        return lambda: self.cached(drill_id).clock(self.wall())

    # -- the world -----------------------------------------------------------------------

    def county_of(self, drill_id: str) -> County:
        """The drill's `County`: keys of its world, its clock (one per drill and process)."""
        with self._lock:
            c = self._counties.get(drill_id)
            if c is None:
                self.get(drill_id)  # 404 for a drill that does not exist
                with in_world(drill_id):
                    c = self._counties[drill_id] = County(self.client, self.county, self.clock(drill_id))
            return c

    # -- commands ------------------------------------------------------------------------

    def create(self, live: County, actor: Actor, from_operation: str, speed: Any, name: Any = "",
               scenario: Scenario | None = None) -> Drill:
        """A new drill of a recorded operation (or of a scenario alone), set up and running; nothing live changes."""
        if actor.role != Role.COMMANDER:
            raise NotAuthorised("only a commander starts a drill", field="role")
        scenario = scenario or Scenario()
        n = drills.parse_speed(speed)
        if not isinstance(name, str) or len(name) > 200:
            raise InvalidRequest("name must be a string of at most 200 characters", field="name")
        source = from_operation or scenario.from_operation
        if source and not isinstance(source, str):
            raise InvalidRequest("from_operation must be an operation id", field="from_operation")
        state = live.refresh()
        if state.tree is None:
            raise StateConflict("no registry loaded", field="from_operation")
        if source:
            op = state.operations.get(source)
            if op is None:
                raise UnknownOperation(f"no operation {source!r}", field="from_operation")
            if not live.tree.is_within(op.scope, actor.scope) and not live.tree.is_within(actor.scope, op.scope):
                    raise NotAuthorised("the operation lies outside your scope", field="from_operation")
            origin = launch_at(self.client, self.county, source)
            label = name or scenario.name or op.name
        else:
            origin = self.wall()
            label = name or scenario.name or "演练"
        drill = Drill(
            drill_id="drill-" + secrets.token_hex(4), county=self.county, name=label, from_operation=source,
            speed=n, origin=origin, started=self.wall(), created_by=actor.username, scenario=scenario,
        )
        self.put(drill, cursor="")
        self._seed(live, drill)
        return drill

    def _seed(self, live: County, drill: Drill) -> None:
        """The drill's world before its first step: the registry's geometry (content-addressed)."""
        digest = live.state.geometry
        if digest:
            raw = self.client.get(live.keys.geometry(digest))
            if raw is not None:
                self.client.set(CountyKeys(self.county, drill.drill_id).geometry(digest), raw)

    def pause(self, drill_id: str) -> Drill:
        return self.update(drill_id, lambda d: d.pause(self.wall()))

    def resume(self, drill_id: str) -> Drill:
        return self.update(drill_id, lambda d: d.resume(self.wall()))

    def stop(self, drill_id: str) -> Drill:
        return self.update(drill_id, lambda d: d.end(self.wall(), DrillState.STOPPED))

    def operation_of(self, drill: Drill) -> str | None:
        """The drill's operation (the recorded one, replayed under its own id inside the world)."""
        return drill.from_operation or None

    def answer(self, drill_id: str) -> dict[str, Any]:
        d = self.get(drill_id)
        return d.answer(self.wall(), self.operation_of(d))


@contextmanager
def in_drill(drills_: Drills, drill_id: str) -> Iterator[County]:
    """Inside the block: keys of the drill's world and `now_ms` on its clock; yields its `County`."""
    county = drills_.county_of(drill_id)
    with in_world(drill_id), clocked(county.clock):
        yield county


class DrillRunner:
    """Replays one drill: recorded events on its clock, injects at their minutes, projector and alert rules.

    `step()` does what is due at the drill's clock now (tests call it with a clock of their
    own); `run()` steps until the drill ends or `stop` is set.
    """

    def __init__(self, drills_: Drills, drill_id: str, *, consumer: str = "") -> None:
        self.drills = drills_
        self.drill_id = drill_id
        self.client = drills_.client
        self.live = EventLog(drills_.client, drills_.county, world="")
        self.county = drills_.county_of(drill_id)
        with in_world(drill_id):
            self.projector = Projector(self.client, drills_.county, consumer=consumer or f"{drill_id}-runner")
            self.alerts = AlertEvaluator(self.county)
        self._source: Iterator[Recorded] | None = None
        self._next: Recorded | None = None
        self.replayed = 0
        self.finished = False

    # -- the recorded operation -----------------------------------------------------------

    def _recorded(self) -> Iterator[Recorded]:
        """The live log's events the drill replays (`command.drills.replays`), in log order, from the cursor.

        The event at the cursor comes again: its idempotency key makes the log take it once.
        """
        state = ControlState()
        drill = self.drills.get(self.drill_id)
        launch = (1 << 62, 0)  # a scenario alone: all of the log is how the county stands
        for rec in self.live.read(self.live.county.log):
            state.apply(rec)
            ev = rec.event
            if isinstance(ev, OperationLaunched) and ev.operation == drill.from_operation and drill.from_operation:
                launch = _id(rec.id)
        tree = state.tree
        towns = tree.towns if tree is not None else ()
        streams = [self.live.county.log, *(TownKeys(t, "").log for t in towns)]
        after = _id(self.drills.cursor(self.drill_id) or "0-0")
        for rec in self.live.replay(streams=streams):
            pos = _id(rec.id)
            prelude = pos < launch
            if pos >= after and drills.replays(rec, drill.from_operation, prelude):
                # the county as it stood is there from the drill's first instant
                yield replace(rec, at=min(rec.at, drill.origin)) if prelude else rec

    def _peek(self) -> Recorded | None:
        if self._next is None:
            if self._source is None:
                self._source = self._recorded()
            self._next = next(self._source, None)
        return self._next

    # -- one step -------------------------------------------------------------------------

    def step(self, wall: int | None = None) -> int:
        """Append whatever is due at the drill's clock, apply injects, project, run the alert rules.

        Returns how many recorded events were appended. A paused drill only projects.
        """
        drill = self.drills.get(self.drill_id)
        wall = self.drills.wall() if wall is None else wall
        now = drill.clock(wall)
        minute = drill.minute(wall)
        appended = 0
        if drill.live:
            with in_world(self.drill_id), clocked(lambda: now):
                appended, cursor = self._replay_until(drill, now, minute)
                drill = self._inject(self.drills.get(self.drill_id), minute, now)
                self._project()
                self.alerts.run(now)
                finished = self._peek() is None and not self._pending(drill)
                done = drill.done

                def progressed(cur: Drill) -> Drill:
                    # only the runner's own fields: a pause or stop given meanwhile stands
                    cur = replace(cur, done=max(cur.done, done))
                    return cur.end(wall, DrillState.FINISHED) if finished else cur

                drill = self.drills.update(self.drill_id, progressed, cursor=cursor)
                self.finished = finished
        else:
            with in_world(self.drill_id):
                self._project()
            self.finished = not drill.live and drill.state is not DrillState.PAUSED
        return appended

    def _project(self) -> None:
        """Fold the drill's streams into its read models, up to what is in its log now (the lease kept)."""
        while self.projector.step():
            pass

    def _pending(self, drill: Drill) -> bool:
        return drill.done < len(drill.scenario.injects)

    def _replay_until(self, drill: Drill, now: int, minute: float) -> tuple[int, str]:
        tree = self.county.state.tree
        town_of = tree.town_of if tree is not None else (lambda _g: None)
        batch: list[Pending] = []
        cursor = self.drills.cursor(self.drill_id)
        n = 0
        while (rec := self._peek()) is not None and rec.at <= now:
            self._next = None
            cursor = rec.id
            if isinstance(rec.event, RegistryLoaded):
                if batch:
                    n += self._append(batch)
                    batch = []
                self.county.log.append(rec.event, actor=rec.actor, at=rec.at, key=_key(rec))
                self.county.refresh()
                tree = self.county.state.tree
                town_of = tree.town_of if tree is not None else town_of
                n += 1
                continue
            if drills.held_back(rec, drill.scenario, town_of, minute):
                continue
            batch.append(Pending(rec.event, rec.actor, rec.at, _key(rec)))
            if len(batch) >= BATCH:
                n += self._append(batch)
                batch = []
        if batch:
            n += self._append(batch)
        self.replayed += n
        return n, cursor

    def _append(self, batch: list[Pending]) -> int:
        """Append recorded events into the drill's world; what its log refuses (a report on an operation
        the drill closed, say) stays out, as it would have live."""
        out = self.county.log.append_each(batch)
        self.county.refresh()
        return sum(1 for r in out if isinstance(r, Appended) and not r.duplicate)

    # -- injects ---------------------------------------------------------------------------

    def _inject(self, drill: Drill, minute: float, now: int) -> Drill:
        due = drills.due(drill.scenario, drill.done, minute)
        for i in due:
            self._apply_inject(drill, i, drill.done, now)
            drill = replace(drill, done=drill.done + 1)
        return drill

    def _apply_inject(self, drill: Drill, inject: Inject, n: int, now: int) -> None:
        county = self.county
        state = county.refresh()
        tree = state.tree
        if tree is None:
            return
        actor = Actor(ACTOR, Role.COMMANDER, tree.root)
        key = f"inject:{drill.drill_id}:{n}"
        events: list[Event] = []
        if inject.kind is InjectKind.SECRETARIES_UNREACHABLE:
            grids = set(inject.params.get("grids", ()))
            town = inject.params.get("town")
            for nid, note in state.mobilisation.notifications.items():
                g = note.grid
                if note.state == NotificationState.PENDING and (
                    g in grids or (town and g in tree and tree.town_of(g) == town)
                ):
                    events.append(NotificationFailed(nid, "drill", 1, "演练 · unreachable"))
        elif inject.kind is InjectKind.TARGET_RAISED:
            op_id = inject.params.get("operation") or drill.from_operation
            op = state.operations.get(op_id)
            grid, counter = inject.params["grid"], inject.params["counter"]
            if op is not None and grid in tree:
                have = op.target_of(grid).get(counter, 0)
                target = int(inject.params["to"]) if "to" in inject.params else have + int(inject.params["by"])
                events.append(TargetRaised(op.id, grid, counter, target))
        elif inject.kind is InjectKind.OPERATION_ORDERED:
            # An order the drill's world cannot take (its scope not in wartime) is simply not given.
            with contextlib.suppress(InvalidRequest, StateConflict, NotFound):
                county.launch(actor, inject.params["operation_kind"], inject.params["scope"], inject.params["name"],
                              targets=inject.params.get("targets") or {}, operation=f"op-{drill.drill_id[6:]}-{n}")
            return
        # town_silent: the runner holds the town's reports back (command.drills.held_back)
        if events:
            county.log.append_many([Pending(e, ACTOR, now, f"{key}:{k}") for k, e in enumerate(events)])
            county.refresh()

    def close(self) -> None:
        """The last fold of the drill's streams, and its projector's leases handed back."""
        with in_world(self.drill_id):
            self._project()
            self.projector.release()

    # -- running ---------------------------------------------------------------------------

    def run(self, stop: threading.Event, interval_s: float = 0.25) -> None:
        """Step every `interval_s` until the drill is stopped or finished, or `stop` is set."""
        while not stop.is_set():
            self.step()
            d = self.drills.get(self.drill_id)
            if not d.live:
                break
            stop.wait(interval_s)
        self.close()


def launch_at(client: Client, county: str, operation: str) -> int:
    """When an operation was launched, as its envelope says (``at``: the clock the drill replays on)."""
    for rec in EventLog(client, county, world="").read(CountyKeys(county, "").log):
        if isinstance(rec.event, OperationLaunched) and rec.event.operation == operation:
            return rec.at
    raise UnknownOperation(f"no operation {operation!r}", field="from_operation")


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)




_RUNNING: dict[str, tuple[threading.Thread, threading.Event]] = {}
_RUN_LOCK = threading.Lock()
LEASE_MS = 3_000
"""A runner renews its lease every step; a dead one's drill is taken over within this."""


def ensure_running(drills_: Drills, drill_id: str, interval_s: float = 0.25) -> bool:
    """Run the drill in a thread of this process unless one (here or elsewhere) runs it; True if here."""
    with _RUN_LOCK:
        running = _RUNNING.get(drill_id)
        if running is not None and running[0].is_alive():
            return True
        if not drills_.get(drill_id).live:
            return False
        token = f"{os.getpid()}:{secrets.token_hex(4)}"
        if not drills_.client.set(drill_runner(drills_.county, drill_id), token, nx=True, px=LEASE_MS):
            return False
        stop = threading.Event()
        t = threading.Thread(target=_run, args=(drills_, drill_id, token, interval_s, stop), daemon=True,
                             name=f"wartime-{drill_id}")
        _RUNNING[drill_id] = (t, stop)
        t.start()
        return True


def stop_runners(timeout_s: float = 10.0) -> None:
    """Let this process's runners finish their step and hand their drills back (shutdown; another takes over)."""
    with _RUN_LOCK:
        running = list(_RUNNING.values())
    for _, stop in running:
        stop.set()
    for t, _ in running:
        t.join(timeout_s)


def _run(drills_: Drills, drill_id: str, token: str, interval_s: float, stop: threading.Event) -> None:
    key = drill_runner(drills_.county, drill_id)
    client = drills_.client
    runner = DrillRunner(drills_, drill_id)
    try:
        while not stop.is_set():
            held = client.get(key)
            if held is not None and (held.decode() if isinstance(held, bytes) else held) != token:
                return  # another process took the drill over
            client.set(key, token, px=LEASE_MS)
            try:
                runner.step()
            except (InvalidRequest, StateConflict) as exc:  # pragma: no cover - logged, the drill goes on
                log.warning("drill %s: step refused: %s", drill_id, exc)
            if not drills_.get(drill_id).live:
                break
            stop.wait(interval_s)
        runner.close()
    except redis.ConnectionError as exc:  # pragma: no cover - Redis gone: another process takes over later
        log.warning("drill %s: runner lost redis (%s)", drill_id, exc)
    except Exception:  # pragma: no cover - a runner must not die silently
        log.exception("drill %s: runner failed", drill_id)
    finally:
        with contextlib.suppress(redis.RedisError):
            client.delete(key)
        with _RUN_LOCK:
            _RUNNING.pop(drill_id, None)


def drill_report(drills_: Drills, drill_id: str) -> dict[str, Any]:
    """The drill's after-action report beside the recorded operation's (command.drill_report)."""
    drill = drills_.get(drill_id)
    op = drill.from_operation
    if not op:
        raise NotFound(f"drill {drill_id} replays no recorded operation: nothing to compare", field="drill")
    with in_world(""):
        live = History(drills_.client, drills_.county)
        recorded = live.report(op)
        live_control = live.control_records()
    with in_world(drill_id):
        world = History(drills_.client, drills_.county)
        try:
            drilled = world.report(op)
        except KeyError as exc:
            raise StateConflict(f"drill {drill_id} has not replayed the launch yet", field="drill") from exc
        drill_control = world.control_records()
    out = dr.compare(
        recorded, drilled, drill.scenario.objectives,
        dr.decisions(live_control, recorded.launched_at),
        dr.decisions(drill_control, drilled.launched_at, replayed=live_control),
    )
    return {"drill_id": drill_id, "name": drill.name, "state": drill.state.value, "speed": drill.speed,
            "drill": True, **out}
