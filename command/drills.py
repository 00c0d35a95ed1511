"""Drills (演练, DESIGN §7.4): a recorded operation replayed on a clock of its own, with injects.

Pure domain, no I/O: what a drill is (`Drill`, its state and clock), what a
scenario file says (`parse_scenario`: objectives and injects at minutes), and
which recorded events a drill replays (`replays`). streams.drills runs it: it
reads the recorded operation from the live log (read-only) and appends into
the drill's own world (keys under ``wt:drill:ID:``), so the same intake, append
script, projector, read models and alert rules work on it unchanged.

The drill's clock: ``origin`` is the drill-time instant it starts at (the
recorded operation's launch, so that replayed events keep their times and the
drill's totals at each replayed minute are the original's), running at
``speed`` × the wall clock from ``started`` (wall ms), stopped while paused.

Scenario file (JSON; docs/drills.md)::

    {"name": "城关镇停报演练", "from_operation": "op-…", "speed": 60,
     "objectives": ["发现停报的镇并在 10 分钟内处置"],
     "injects": [
       {"minute": 20, "kind": "town_silent", "town": "PN07", "minutes": 60},
       {"minute": 30, "kind": "secretaries_unreachable", "grids": ["PN0701010101"]},
       {"minute": 45, "kind": "target_raised", "grid": "PN", "counter": "sampled", "by": 5000},
       {"minute": 60, "kind": "operation_ordered", "operation_kind": "flood_evacuation",
        "scope": "PN03", "name": "转移群众"}]}
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from command import bounds
from command.errors import InvalidRequest, StateConflict
from command.events import (
    Event,
    LevelChanged,
    ModeSwitched,
    NotificationDelivered,
    NotificationFailed,
    NotificationQueued,
    OperationClosed,
    OperationLaunched,
    ProgressReported,
    Recorded,
    RegistryLoaded,
    SecretaryAcknowledged,
    SecretaryAppointed,
    SecretaryOnPost,
)

__all__ = [
    "BANNER",
    "MAX_INJECTS",
    "MAX_SPEED",
    "MINUTE",
    "MIN_SPEED",
    "Drill",
    "DrillState",
    "Inject",
    "InjectKind",
    "Scenario",
    "due",
    "held_back",
    "parse_scenario",
    "parse_speed",
    "replays",
    "scenario_from_text",
    "silenced",
    "unreachable",
]

MINUTE = 60_000
MIN_SPEED = 1
MAX_SPEED = 600
MAX_INJECTS = 500
BANNER = "演练 · DRILL"
"""What marks a drill everywhere (wall banner, console, field page, notifications)."""


class DrillState(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"


class InjectKind(enum.StrEnum):
    TOWN_SILENT = "town_silent"
    """A town's reports stop (for `minutes`, or to the end): its recorded reports are held back."""
    SECRETARIES_UNREACHABLE = "secretaries_unreachable"
    """The secretaries of `grids` (or of every small grid of `town`) cannot be reached: their
    notifications fail and their confirmations never come."""
    TARGET_RAISED = "target_raised"
    """The target of `counter` at `grid` raised `by` N (or `to` N)."""
    OPERATION_ORDERED = "operation_ordered"
    """A new operation ordered: `operation_kind`, `scope`, `name` (launched inside the drill)."""


_REQUIRED: dict[InjectKind, tuple[str, ...]] = {
    InjectKind.TOWN_SILENT: ("town",),
    InjectKind.SECRETARIES_UNREACHABLE: (),
    InjectKind.TARGET_RAISED: ("grid", "counter"),
    InjectKind.OPERATION_ORDERED: ("operation_kind", "scope", "name"),
}


@dataclass(frozen=True, slots=True)
class Inject:
    """One scripted event of a scenario, at `minute` minutes of drill time after its start."""

    minute: float
    kind: InjectKind
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"minute": self.minute, "kind": self.kind.value, **self.params}


@dataclass(frozen=True, slots=True)
class Scenario:
    """What a scenario file says; every part optional but the injects' shape."""

    name: str = ""
    from_operation: str = ""
    speed: int | None = None
    objectives: tuple[str, ...] = ()
    injects: tuple[Inject, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "from_operation": self.from_operation, "speed": self.speed,
            "objectives": list(self.objectives), "injects": [i.to_json() for i in self.injects],
        }


def parse_speed(value: Any, name: str = "speed") -> int:
    """A drill's speed: an integer from 1 to 600 (× the wall clock)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InvalidRequest(f"{name} must be a whole number from {MIN_SPEED} to {MAX_SPEED}", field=name)
    n = int(value)
    if not MIN_SPEED <= n <= MAX_SPEED:
        raise InvalidRequest(f"{name} must be from {MIN_SPEED} to {MAX_SPEED}, not {n}", field=name)
    return n


def _text(data: Mapping[str, Any], key: str, where: str, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidRequest(f"{where}{key} must be a {'non-empty ' if required else ''}string", field=where + key)
    if len(value) > bounds.MAX_LINE:
        raise InvalidRequest(f"{where}{key} is longer than {bounds.MAX_LINE} characters", field=where + key)
    return value


def _number(data: Mapping[str, Any], key: str, where: str, *, required: bool = False,
            lo: float = 0, hi: float = 100_000_000) -> float | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidRequest(f"{where}{key} is required", field=where + key)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InvalidRequest(f"{where}{key} must be a number from {lo:g} to {hi:g}", field=where + key)
    return float(value)


def _inject(raw: Any, n: int) -> Inject:
    where = f"injects[{n}]."
    if not isinstance(raw, Mapping):
        raise InvalidRequest(f"injects[{n}] must be an object", field=f"injects[{n}]")
    kind_raw = raw.get("kind")
    try:
        kind = InjectKind(str(kind_raw))
    except ValueError:
        names = ", ".join(k.value for k in InjectKind)
        raise InvalidRequest(f"{where}kind must be one of {names}", field=where + "kind") from None
    minute = _number(raw, "minute", where, required=True, hi=60 * 24 * 60)
    assert minute is not None
    params: dict[str, Any] = {}
    for key in _REQUIRED[kind]:
        params[key] = _text(raw, key, where, required=True)
    if kind is InjectKind.TOWN_SILENT:
        span = _number(raw, "minutes", where, lo=0.01, hi=60 * 24 * 60)
        if span is not None:
            params["minutes"] = span
    elif kind is InjectKind.SECRETARIES_UNREACHABLE:
        grids = raw.get("grids")
        town = raw.get("town")
        if grids is None and town is None:
            raise InvalidRequest(f"{where}grids (or town) is required", field=where + "grids")
        if grids is not None:
            if not isinstance(grids, list) or not grids or len(grids) > bounds.MAX_ITEMS or not all(
                isinstance(g, str) and 0 < len(g) <= bounds.MAX_LINE for g in grids
            ):
                raise InvalidRequest(f"{where}grids must be a list of grid codes", field=where + "grids")
            params["grids"] = list(grids)
        if town is not None:
            params["town"] = _text(raw, "town", where, required=True)
    elif kind is InjectKind.TARGET_RAISED:
        by = _number(raw, "by", where, lo=1, hi=bounds.MAX_TARGET)
        to = _number(raw, "to", where, lo=0, hi=bounds.MAX_TARGET)
        if (by is None) == (to is None):
            raise InvalidRequest(f"{where}by or to (one of them) is required", field=where + "by")
        params["by" if by is not None else "to"] = int(by if by is not None else to or 0)
        params["operation"] = _text(raw, "operation", where)
    elif kind is InjectKind.OPERATION_ORDERED:
        targets = raw.get("targets")
        if targets is not None:
            if not isinstance(targets, Mapping):
                raise InvalidRequest(f"{where}targets must be an object", field=where + "targets")
            params["targets"] = dict(targets)
    return Inject(minute, kind, params)


def parse_scenario(data: Any) -> Scenario:
    """A scenario from its JSON data; a bad part is a 422 naming it (``injects[2].minute``)."""
    if not isinstance(data, Mapping):
        raise InvalidRequest("a scenario is a JSON object", field="scenario")
    name = _text(data, "name", "")
    source = _text(data, "from_operation", "")
    speed = parse_speed(data["speed"]) if data.get("speed") is not None else None
    objectives = data.get("objectives", [])
    if not isinstance(objectives, list) or len(objectives) > 50 or not all(
        isinstance(o, str) and 0 < len(o) <= bounds.MAX_TEXT for o in objectives
    ):
        raise InvalidRequest("objectives must be a list of sentences", field="objectives")
    raw = data.get("injects", [])
    if not isinstance(raw, list) or len(raw) > MAX_INJECTS:
        raise InvalidRequest(f"injects must be a list of at most {MAX_INJECTS}", field="injects")
    injects = tuple(sorted((_inject(r, n) for n, r in enumerate(raw)), key=lambda i: i.minute))
    return Scenario(name, source, speed, tuple(objectives), injects)


def scenario_from_text(text: str) -> Scenario:
    """A scenario file's text (JSON) parsed and checked."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"the scenario is not JSON: {exc.msg} (line {exc.lineno})", field="scenario") from exc
    return parse_scenario(data)


# -- the drill ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drill:
    """One drill as its record holds it (streams.drills keeps it, JSON)."""

    drill_id: str
    county: str
    name: str
    from_operation: str
    speed: int
    origin: int
    """Drill-time ms at which the drill starts (the recorded operation's launch)."""
    started: int
    """Wall ms at which it started."""
    created_by: str
    state: DrillState = DrillState.RUNNING
    paused_at: int | None = None
    """Wall ms since which it is paused (or stopped, finished): its clock stands there."""
    paused_ms: int = 0
    """Wall ms spent paused before `paused_at`."""
    scenario: Scenario = field(default_factory=Scenario)
    done: int = 0
    """Injects applied so far (they are applied in order)."""

    def clock(self, wall: int) -> int:
        """Drill time (epoch ms) at wall time `wall`."""
        w = self.paused_at if self.paused_at is not None else wall
        return self.origin + max(0, w - self.started - self.paused_ms) * self.speed

    def minute(self, wall: int) -> float:
        """Minutes of drill time since its start."""
        return (self.clock(wall) - self.origin) / MINUTE

    @property
    def live(self) -> bool:
        """Still running or paused (not stopped or finished)."""
        return self.state in (DrillState.RUNNING, DrillState.PAUSED)

    def pause(self, wall: int) -> Drill:
        if self.state is DrillState.PAUSED:
            return self
        if self.state is not DrillState.RUNNING:
            raise StateConflict(f"drill {self.drill_id} is {self.state}", field="drill")
        return replace(self, state=DrillState.PAUSED, paused_at=wall)

    def resume(self, wall: int) -> Drill:
        if self.state is DrillState.RUNNING:
            return self
        if self.state is not DrillState.PAUSED or self.paused_at is None:
            raise StateConflict(f"drill {self.drill_id} is {self.state}", field="drill")
        return replace(self, state=DrillState.RUNNING, paused_ms=self.paused_ms + wall - self.paused_at,
                       paused_at=None)

    def end(self, wall: int, state: DrillState) -> Drill:
        """Stopped (by a commander) or finished (everything replayed): the clock stands still."""
        if not self.live:
            return self
        at = self.paused_at if self.paused_at is not None else wall
        return replace(self, state=state, paused_at=at)

    def to_json(self) -> dict[str, Any]:
        return {
            "drill_id": self.drill_id, "county": self.county, "name": self.name,
            "from_operation": self.from_operation, "speed": self.speed, "origin": self.origin,
            "started": self.started, "created_by": self.created_by, "state": self.state.value,
            "paused_at": self.paused_at, "paused_ms": self.paused_ms, "scenario": self.scenario.to_json(),
            "done": self.done,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Drill:
        return cls(
            drill_id=str(data["drill_id"]), county=str(data["county"]), name=str(data.get("name", "")),
            from_operation=str(data.get("from_operation", "")), speed=int(data["speed"]),
            origin=int(data["origin"]), started=int(data["started"]), created_by=str(data.get("created_by", "")),
            state=DrillState(data.get("state", "running")), paused_at=data.get("paused_at"),
            paused_ms=int(data.get("paused_ms", 0)), scenario=parse_scenario(data.get("scenario") or {}),
            done=int(data.get("done", 0)),
        )

    def answer(self, wall: int, operation: str | None) -> dict[str, Any]:
        """The API's answer (DESIGN §7.4): ``{drill_id, state, speed, clock, operation}`` and more."""
        return {
            "drill_id": self.drill_id, "state": self.state.value, "speed": self.speed,
            "clock": self.clock(wall), "operation": operation, "name": self.name,
            "from_operation": self.from_operation, "minute": round(self.minute(wall), 2),
            "objectives": list(self.scenario.objectives), "injects": [i.to_json() for i in self.scenario.injects],
            "injects_done": self.done, "drill": True,
        }


# -- what a drill replays -----------------------------------------------------------------

_PRELUDE = (RegistryLoaded, ModeSwitched, LevelChanged, SecretaryAppointed, NotificationQueued,
            NotificationDelivered, NotificationFailed, SecretaryAcknowledged, SecretaryOnPost)
"""Before the launch: how the county stood (registry, modes, who held which grid)."""
_DURING = (ModeSwitched, LevelChanged, NotificationQueued, NotificationDelivered, NotificationFailed,
           SecretaryAcknowledged, SecretaryOnPost)
"""After the launch: what the field and the switches did. Appointments, acknowledgements and every
alert are the players' (or the drill's own rules') to make again, so they are not replayed."""


def replays(rec: Recorded, operation: str, prelude: bool) -> bool:
    """Whether a drill of `operation` replays this recorded event; `prelude`: it stands before the
    operation's launch in the log (how the county stood), else after it (what happened during it)."""
    ev = rec.event
    if isinstance(ev, ProgressReported):
        return ev.operation == operation and not prelude
    if isinstance(ev, OperationLaunched | OperationClosed):
        return ev.operation == operation
    return isinstance(ev, _PRELUDE if prelude else _DURING)


def silenced(scenario: Scenario, town: str | None, minute: float) -> bool:
    """Whether a town's reports are held back at `minute` of the drill (a town_silent inject)."""
    if town is None:
        return False
    for i in scenario.injects:
        if i.kind is InjectKind.TOWN_SILENT and i.params.get("town") == town and i.minute <= minute:
            span = i.params.get("minutes")
            if span is None or minute < i.minute + float(span):
                return True
    return False


def unreachable(scenario: Scenario, grid: str, town: str | None, minute: float) -> bool:
    """Whether a secretary's grid is unreachable at `minute` (a secretaries_unreachable inject)."""
    for i in scenario.injects:
        if i.kind is InjectKind.SECRETARIES_UNREACHABLE and i.minute <= minute and (
            grid in i.params.get("grids", ()) or (town is not None and i.params.get("town") == town)
        ):
            return True
    return False


def held_back(rec: Recorded, scenario: Scenario, town_of: Any, minute: float) -> bool:
    """Whether an inject holds a recorded event back: a silent town's report, an unreachable one's answer."""
    ev: Event = rec.event
    if isinstance(ev, ProgressReported):
        return silenced(scenario, town_of(ev.grid), minute)
    if isinstance(ev, SecretaryAcknowledged | SecretaryOnPost):
        return unreachable(scenario, ev.grid, town_of(ev.grid), minute)
    return False


def due(scenario: Scenario, done: int, minute: float) -> Sequence[Inject]:
    """The injects due at `minute` that are not applied yet (they are applied in order)."""
    out = []
    for i in scenario.injects[done:]:
        if i.minute > minute:
            break
        out.append(i)
    return out
