"""Residents' matters (民情事项) in peacetime: one matter, five lists; one network, one process.

A grid worker records a resident's matter on a small or micro grid. It then
moves through the five lists of "one matter, five lists" (一事五单), in order:

    collected 集单 → deliberated 议单 → handled 办单 → published 晒单 → evaluated 评单

(`MatterRecorded` is the collected list; each later list is one `MatterAdvanced`;
the evaluation carries the resident's satisfaction, 1–5). Beside the lists runs
the platform flow of "one network" (一网协同): entry 录入 → report 上报 →
dispatch 分派 → transfer 流转 → dispose 处置. Entry is the recording, dispose is
the handled list, and in between the matter may change hands any number of
times, each a `MatterHandedOver` with its actor (in the envelope) and reason:

* **report** (上报) — passed up to the village (the medium grid above, or an
  explicit medium/large ancestor), the town, or a county department;
* **dispatch** (分派) — the holder hands it down inside its subtree, or to a
  named department at its own level (镇综治办, 派出所 …);
* **transfer** (流转) — sideways: another department or another grid of the
  same tier.

"Small matters stay in the grid, big matters stay in the village": every matter
has a *level* — where it sits now (`level`) and the highest tier it ever
reached (`top_level`): ``grid`` (small/micro), ``village`` (medium/large),
``town``, ``county``. A matter is **closed** when it is handled (办结, the
dispose step); publishing and evaluating close the loop after that.

Deadlines are per category, counted from when the resident reported it
(`reported_at`, which may be earlier than the entry: a backlog from paper);
the due time is fixed in the event, so a later change of the table leaves old
matters alone. A matter not handled by its due time is **overdue**:
`overdue_alerts(state, now)` raises exactly one ``matter_overdue`` alert per
such matter and clears it once the matter is handled (idempotency keys make a
repeated run write nothing).

Ids are stable: the client may send its own ``matter_id`` (made on the phone,
like a report id) or a ``request_id`` from which the id is derived; the log's
idempotency key ``matter:ID`` makes a resend change nothing. Each later list is
reached once, so ``matter:ID:STAGE`` makes a retried advance a duplicate too.

Matters live in the county's control stream (they are few), but are folded
here, in `MattersState`, beside — not inside — the `ControlState`: the same
records, a second fold. A wartime switch does not touch them: open matters stay
open, and are counted again after stand-down. Pure: `now` comes in.

Why one module: the five lists' vocabulary, the fold (`MattersState`),
the commands and the queries share one set of invariants (stages in order,
tiers, due times fixed in the event); the commands and queries read the fold's
fields directly and are short. Evaluations live apart (`command.evaluation`).
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from command import bounds
from command.access import Actor, require_report
from command.errors import CommandRejected, InvalidRequest, StateConflict, UnknownMatter
from command.events import (
    AlertCleared,
    AlertRaised,
    EvaluationPublished,
    EvaluationWeightsSet,
    Event,
    MatterAdvanced,
    MatterHandedOver,
    MatterRecorded,
    ModeSwitched,
    Recorded,
)
from command.grids import GridTree, Level
from command.localtime import day_bounds as local_day

__all__ = [
    "ALERT_KIND",
    "CATEGORIES",
    "CLOCK_SKEW",
    "DAY",
    "HANDOVER_STEPS",
    "HOUR",
    "ID_RE",
    "MAX_BACKDATE",
    "MAX_DESCRIPTION",
    "MAX_NAME",
    "MAX_NOTE",
    "MAX_PHOTO",
    "MAX_REASON",
    "RANK",
    "RESERVED_IDS",
    "STAGES",
    "TIERS",
    "Category",
    "Duty",
    "Entry",
    "EvaluationRecord",
    "Matter",
    "MatterRequest",
    "MattersState",
    "Stage",
    "Step",
    "Tier",
    "advance",
    "alert_id",
    "by_area",
    "check_id",
    "concerns",
    "event_key",
    "fold_matters",
    "handover",
    "matter_id_for",
    "next_actions",
    "overdue_alerts",
    "record",
    "select",
    "summary",
    "tier_of",
]


HOUR = 3_600_000
DAY = 24 * HOUR
MAX_DESCRIPTION = 2000
MAX_NOTE = 2000
MAX_REASON = 500
MAX_NAME = 100
MAX_PHOTO = 300
MAX_BACKDATE = 366 * DAY
CLOCK_SKEW = 5 * 60_000
ALERT_KIND = "matter_overdue"
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
RESERVED_IDS = frozenset({"summary", "map", "grids", "categories", "overdue"})
"""Names of the API's own routes under /matters/, never matter ids."""


# --------------------------------------------------------------------------- vocabulary


class Stage(enum.StrEnum):
    """The five lists of 一事五单, in order."""

    COLLECTED = "collected"
    DELIBERATED = "deliberated"
    HANDLED = "handled"
    PUBLISHED = "published"
    EVALUATED = "evaluated"


STAGES: tuple[Stage, ...] = tuple(Stage)


class Step(enum.StrEnum):
    """The platform flow of 一网协同; entry and dispose coincide with collected and handled."""

    ENTRY = "entry"
    REPORT = "report"
    DISPATCH = "dispatch"
    TRANSFER = "transfer"
    DISPOSE = "dispose"


HANDOVER_STEPS = (Step.REPORT, Step.DISPATCH, Step.TRANSFER)


class Tier(enum.StrEnum):
    """Where a matter sits: in the grid, the village, the town or a county department."""

    GRID = "grid"
    VILLAGE = "village"
    TOWN = "town"
    COUNTY = "county"


TIERS: tuple[Tier, ...] = tuple(Tier)
RANK = {t: i for i, t in enumerate(TIERS)}


def tier_of(tree: GridTree, code: str) -> Tier:
    """The tier a grid belongs to: small/micro → grid, medium/large → village, then town, county."""
    level = tree[code].level
    if level in (Level.SMALL, Level.MICRO):
        return Tier.GRID
    if level in (Level.MEDIUM, Level.LARGE):
        return Tier.VILLAGE
    return Tier.TOWN if level == Level.TOWN else Tier.COUNTY


@dataclass(frozen=True, slots=True)
class Category:
    """A kind of matter and the hours allowed from the resident's report to its disposal."""

    code: str
    hours: int


CATEGORIES: dict[str, Category] = {
    c.code: c
    for c in (
        Category("urgent", 24),
        Category("safety", 72),
        Category("policy", 72),
        Category("environment", 120),
        Category("dispute", 168),
        Category("property", 168),
        Category("livelihood", 240),
        Category("infrastructure", 360),
        Category("other", 240),
    )
}
"""Categories in display order: 紧急求助, 安全隐患, 政策咨询, 环境卫生, 矛盾纠纷, 物业管理, 民生服务, 基础设施, 其他."""


def matter_id_for(request_id: str) -> str:
    """A stable matter id derived from a client's request id (same request → same matter)."""
    return "m-" + hashlib.sha256(request_id.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- the fold


@dataclass(slots=True)
class Entry:
    """One line of a matter's history: a list reached or a hand-over, by whom and why."""

    step: str
    at: int
    actor: str
    stage: str | None = None
    from_grid: str | None = None
    to_grid: str | None = None
    tier: str | None = None
    department: str = ""
    text: str = ""
    event_id: str = ""

    def to_json(self) -> dict[str, Any]:
        """The API's shape of a history line."""
        return {
            "step": self.step, "stage": self.stage, "at": self.at, "actor": self.actor,
            "from": self.from_grid, "to": self.to_grid, "level": self.tier,
            "department": self.department, "text": self.text, "event_id": self.event_id,
        }


@dataclass(slots=True)
class Matter:
    """A resident's matter as the log tells it."""

    id: str
    grid: str
    category: str
    description: str
    reporter: str
    photo: str
    reported_at: int
    due: int
    recorded_at: int
    recorded_by: str
    stage: Stage = Stage.COLLECTED
    stages: dict[str, int] = field(default_factory=dict)
    holder: str = ""
    department: str = ""
    tier: Tier = Tier.GRID
    top_tier: Tier = Tier.GRID
    handled_at: int | None = None
    handled_by: str | None = None
    handled_tier: Tier | None = None
    satisfaction: int | None = None
    alert: str | None = None
    alert_open: bool = False
    history: list[Entry] = field(default_factory=list)
    location: tuple[float, float, float] | None = None
    photo_digest: str = ""
    """sha256 of the photo taken with the matter ("" none: old matters, or none taken)."""

    @property
    def closed(self) -> bool:
        """Closed (办结) once handled; publishing and evaluating follow."""
        return self.handled_at is not None

    def overdue(self, now: int) -> bool:
        """Not handled and past its due time."""
        return self.handled_at is None and now > self.due

    @property
    def in_time(self) -> bool:
        """Handled no later than its due time."""
        return self.handled_at is not None and self.handled_at <= self.due

    def stage_entry(self, stage: str) -> Entry | None:
        """The history line of a list reached (None when not reached)."""
        return next((e for e in self.history if e.stage == stage), None)

    def to_json(self, now: int | None = None, names: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The API's shape of a matter (`now` adds the overdue flag, `names` the grid names)."""
        out: dict[str, Any] = {
            "matter_id": self.id,
            "grid": self.grid,
            "category": self.category,
            "description": self.description,
            "reporter": self.reporter,
            "photo": self.photo or None,
            "photo_digest": self.photo_digest or None,
            "location": ({"lat": self.location[0], "lon": self.location[1], "accuracy": self.location[2]}
                         if self.location else None),
            "reported_at": self.reported_at,
            "recorded_at": self.recorded_at,
            "recorded_by": self.recorded_by,
            "due": self.due,
            "stage": self.stage.value,
            "stages": {s.value: self.stages.get(s.value) for s in STAGES},
            "holder": self.holder,
            "department": self.department or None,
            "level": self.tier.value,
            "top_level": self.top_tier.value,
            "closed": self.closed,
            "closed_at": self.handled_at,
            "closed_by": self.handled_by,
            "closed_level": self.handled_tier.value if self.handled_tier else None,
            "in_time": self.in_time if self.closed else None,
            "satisfaction": self.satisfaction,
            "alert": self.alert,
            "history": [e.to_json() for e in self.history],
        }
        if now is not None:
            out["overdue"] = self.overdue(now)
        if names is not None:
            out["grid_name"] = names.get(self.grid)
            out["holder_name"] = names.get(self.holder)
        return out


@dataclass(slots=True)
class Duty:
    """A small grid at a wartime switch: was its first leader installed, or was it a vacancy?"""

    at: int
    installed: bool


@dataclass(slots=True)
class EvaluationRecord:
    """A published quarterly evaluation as the log holds it (the table is kept aside by digest)."""

    id: str
    quarter: str
    scope: str
    now: int
    weights: Mapping[str, float]
    adjustments: Mapping[str, Mapping[str, float]]
    positions: Mapping[str, str]
    digest: str
    summary: Mapping[str, Any]
    at: int
    actor: str
    as_of: str

    def to_json(self) -> dict[str, Any]:
        """The API's listing shape."""
        return {
            "evaluation_id": self.id, "quarter": self.quarter, "scope": self.scope, "now": self.now,
            "computed_at": self.at, "computed_by": self.actor, "digest": self.digest,
            "summary": dict(self.summary), "weights": dict(self.weights),
        }


@dataclass
class MattersState:
    """Matters, evaluation weights and published evaluations, folded from the control stream."""

    matters: dict[str, Matter] = field(default_factory=dict)
    alerts: dict[str, str] = field(default_factory=dict)
    duty: dict[str, list[Duty]] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    evaluations: dict[str, EvaluationRecord] = field(default_factory=dict)
    last_id: str = "0-0"
    last_at: int = 0

    def get(self, matter: str) -> Matter:
        """A matter by id, or UnknownMatter (404)."""
        m = self.matters.get(matter) if isinstance(matter, str) else None
        if m is None:
            raise UnknownMatter(f"unknown matter {matter!r}", field="matter_id")
        return m

    def apply(self, rec: Recorded) -> None:
        """Fold one recorded event (events of other kinds only move the position)."""
        ev = rec.event
        at = rec.ms
        m: Matter | None
        if isinstance(ev, MatterRecorded):
            if ev.matter not in self.matters:
                m = Matter(
                    id=ev.matter, grid=ev.grid, category=ev.category, description=ev.description,
                    reporter=ev.reporter, photo=ev.photo, reported_at=ev.reported_at or at,
                    due=ev.due, recorded_at=at, recorded_by=rec.actor, holder=ev.grid,
                    location=_where(ev.location), photo_digest=_digest(ev.photo_digest),
                )
                m.stages[Stage.COLLECTED.value] = at
                m.history.append(Entry(Step.ENTRY.value, at, rec.actor, Stage.COLLECTED.value, None, ev.grid,
                                       Tier.GRID.value, "", ev.description, rec.id))
                self.matters[ev.matter] = m
        elif isinstance(ev, MatterAdvanced):
            m = self.matters.get(ev.matter)
            if m is not None and ev.stage in Stage.__members__.values() and ev.stage not in m.stages:
                stage = Stage(ev.stage)
                m.stage = stage
                m.stages[stage.value] = at
                step = Step.DISPOSE.value if stage == Stage.HANDLED else "stage"
                m.history.append(Entry(step, at, rec.actor, stage.value, m.holder, None, m.tier.value,
                                       m.department, ev.note, rec.id))
                if stage == Stage.HANDLED:
                    m.handled_at, m.handled_by, m.handled_tier = at, rec.actor, m.tier
                elif stage == Stage.EVALUATED:
                    m.satisfaction = ev.satisfaction
        elif isinstance(ev, MatterHandedOver):
            m = self.matters.get(ev.matter)
            if m is not None:
                tier = Tier(ev.to_level) if ev.to_level in RANK else m.tier
                m.history.append(Entry(ev.step, at, rec.actor, None, ev.from_grid, ev.to_grid, tier.value,
                                       ev.department, ev.reason, rec.id))
                m.holder, m.department, m.tier = ev.to_grid, ev.department, tier
                if RANK[tier] > RANK[m.top_tier]:
                    m.top_tier = tier
        elif isinstance(ev, AlertRaised):
            if ev.kind == ALERT_KIND:
                matter = str(ev.detail.get("matter") or "")
                self.alerts[ev.alert] = matter
                m = self.matters.get(matter)
                if m is not None:
                    m.alert, m.alert_open = ev.alert, True
        elif isinstance(ev, AlertCleared):
            cleared = self.alerts.get(ev.alert)
            m = self.matters.get(cleared) if cleared else None
            if m is not None and m.alert == ev.alert:
                m.alert_open = False
        elif isinstance(ev, ModeSwitched):
            if ev.mode == "wartime":
                for grid, _person in ev.installed:
                    self.duty.setdefault(grid, []).append(Duty(at, True))
                for grid in ev.vacancies:
                    self.duty.setdefault(grid, []).append(Duty(at, False))
        elif isinstance(ev, EvaluationWeightsSet):
            self.weights = {str(k): float(v) for k, v in ev.weights.items()}
        elif isinstance(ev, EvaluationPublished):
            self.evaluations[ev.evaluation] = EvaluationRecord(
                ev.evaluation, ev.quarter, ev.scope, ev.now, dict(ev.weights),
                {k: dict(v) for k, v in ev.adjustments.items()}, dict(ev.positions), ev.digest,
                dict(ev.summary), at, rec.actor, str(ev.positions.get("control", "")),
            )
        self.last_id = rec.id
        self.last_at = at


def fold_matters(records: Iterable[Recorded], state: MattersState | None = None) -> MattersState:
    """Fold a run of control events, from scratch or onto `state`."""
    st = state if state is not None else MattersState()
    for rec in records:
        st.apply(rec)
    return st


# --------------------------------------------------------------------------- commands


def _text(value: object, name: str, limit: int, *, required: bool = False) -> str:
    if isinstance(value, str):
        value = value.strip()
    value = bounds.text(value, name, limit, multiline=limit > MAX_NAME)
    if required and not value:
        raise InvalidRequest(f"{name} is required", field=name)
    return value


@dataclass(frozen=True, slots=True)
class MatterRequest:
    """What a grid worker sends to record a matter (values unchecked until `record`)."""

    matter: str
    grid: object
    category: object
    description: object
    reporter: object = ""
    photo: object = ""
    reported_at: object = None
    location: object = None
    photo_digest: object = None
    """sha256 of a photo stored with the matter (the API stores the image, then appends)."""


def _digest(value: object) -> str:
    """A recorded photo digest as readers take it: an odd value reads as none, never an error."""
    try:
        return bounds.photo_digest(value) or ""
    except InvalidRequest:
        return ""


def _where(value: object) -> tuple[float, float, float] | None:
    """A recorded location as readers take it: an old or odd value reads as none, never an error."""
    if not isinstance(value, tuple | list) or len(value) != 3:
        return None
    try:
        return bounds.location({"lat": value[0], "lon": value[1], "accuracy": value[2]})
    except InvalidRequest:
        return None


def check_id(matter: object) -> str:
    """A client-made matter id: 1–64 letters, digits and ``._:-``."""
    if not isinstance(matter, str) or not ID_RE.match(matter) or matter in RESERVED_IDS:
        raise InvalidRequest("matter_id must be 1–64 letters, digits or ._:- characters", field="matter_id")
    return matter


def record(state: MattersState, tree: GridTree, actor: Actor, req: MatterRequest, now: int) -> MatterRecorded:
    """Record a new matter on a small or micro grid of the actor's scope (录入 · 集单)."""
    matter = check_id(req.matter)
    if matter in state.matters:
        raise StateConflict(f"matter {matter} exists already", field="matter_id")
    grid = req.grid
    if not isinstance(grid, str) or not grid:
        raise InvalidRequest("grid is required", field="grid")
    require_report(actor, tree, grid)
    if tier_of(tree, grid) != Tier.GRID:
        raise InvalidRequest("matters are recorded on a small or micro grid", field="grid")
    category = CATEGORIES.get(req.category) if isinstance(req.category, str) else None
    if category is None:
        raise InvalidRequest(f"category must be one of: {', '.join(CATEGORIES)}", field="category")
    description = _text(req.description, "description", MAX_DESCRIPTION, required=True)
    reporter = _text(req.reporter, "reporter", MAX_NAME)
    photo = _text(req.photo, "photo", MAX_PHOTO)
    reported_at = now
    if req.reported_at is not None:
        when = bounds.time_ms(req.reported_at, "reported_at")
        if when > now + CLOCK_SKEW:
            raise InvalidRequest("reported_at is in the future", field="reported_at")
        if when < now - MAX_BACKDATE:
            raise InvalidRequest("reported_at is more than a year ago", field="reported_at")
        reported_at = when
    return MatterRecorded(
        matter=matter, grid=grid, category=category.code, description=description, reporter=reporter,
        photo=photo, reported_at=reported_at, due=reported_at + category.hours * HOUR,
        location=bounds.location(req.location), photo_digest=bounds.photo_digest(req.photo_digest, "photo_image"),
    )


def _may_act(actor: Actor, tree: GridTree, grids: Iterable[str], field_name: str) -> None:
    """Allowed when any of `grids` is inside the actor's writing scope (the first refusal is raised)."""
    first: CommandRejected | None = None
    for g in grids:
        try:
            require_report(actor, tree, g, field=field_name)
            return
        except CommandRejected as exc:
            first = first or exc
    if first is not None:
        raise first


def advance(
    state: MattersState, tree: GridTree, actor: Actor, matter: str, stage: object,
    note: object = "", satisfaction: object = None,
) -> MatterAdvanced:
    """Move a matter to its next list; deliberating and handling belong to its holder.

    Publishing (晒单) and recording the resident's evaluation (评单) are also open
    to the grid it came from: the grid worker goes back to the resident.
    """
    m = state.get(matter)
    if not isinstance(stage, str) or stage not in Stage.__members__.values() or stage == Stage.COLLECTED:
        raise InvalidRequest("stage must be one of: deliberated, handled, published, evaluated", field="stage")
    target = Stage(stage)
    # Scope before state: someone outside the matter's grids learns nothing of where it stands.
    if target in (Stage.DELIBERATED, Stage.HANDLED):
        _may_act(actor, tree, [m.holder], "matter_id")
    else:
        _may_act(actor, tree, [m.grid, m.holder], "matter_id")
    if target.value in m.stages:
        raise StateConflict(f"matter {m.id} is {target.value} already", field="stage")
    nxt = STAGES[STAGES.index(m.stage) + 1] if m.stage != Stage.EVALUATED else None
    if target != nxt:
        raise StateConflict(
            f"matter {m.id} is {m.stage.value}: the next list is {nxt.value if nxt else 'none'}", field="stage"
        )
    text = _text(note, "note", MAX_NOTE)
    score: int | None = None
    if target == Stage.EVALUATED:
        if isinstance(satisfaction, bool) or not isinstance(satisfaction, int) or not 1 <= satisfaction <= 5:
            raise InvalidRequest("satisfaction must be an integer from 1 to 5", field="satisfaction")
        score = satisfaction
    elif satisfaction is not None:
        raise InvalidRequest("satisfaction is given at evaluation (评单) only", field="satisfaction")
    return MatterAdvanced(matter=m.id, stage=target.value, note=text, satisfaction=score)


def _nearest(tree: GridTree, code: str, levels: tuple[Level, ...]) -> str | None:
    for g in tree.ancestors(code):
        if tree[g].level in levels:
            return g
    return None


def handover(
    state: MattersState, tree: GridTree, actor: Actor, matter: str, step: object, *,
    to: object = None, grid: object = None, department: object = "", reason: object = "",
) -> MatterHandedOver:
    """Pass a matter on — up (report), down (dispatch) or sideways (transfer) — with a reason.

    * report: `to` is ``village`` (default target: the medium grid above the
      matter's grid), ``town`` or ``county``, higher than where it sits; an
      explicit `grid` must be an ancestor of the matter's grid on that tier;
    * dispatch: to a grid inside the holder's subtree, or (same grid) to a
      named `department`;
    * transfer: to a `department` or another grid of the same tier.

    Only its holder's scope may pass a matter on, and only before it is handled.
    """
    m = state.get(matter)
    if not isinstance(step, str) or step not in {s.value for s in HANDOVER_STEPS}:
        raise InvalidRequest("step must be one of: report, dispatch, transfer", field="step")
    _may_act(actor, tree, [m.holder], "matter_id")  # scope before state (see advance)
    if m.closed:
        raise StateConflict(f"matter {m.id} is handled already; it cannot change hands", field="matter_id")
    why = _text(reason, "reason", MAX_REASON, required=True)
    dept = _text(department, "department", MAX_NAME)
    if grid is not None and (not isinstance(grid, str) or not grid):
        raise InvalidRequest("grid must be a grid code", field="grid")
    target: str
    if step == Step.REPORT:
        if not isinstance(to, str) or to not in RANK or to == Tier.GRID:
            raise InvalidRequest("to must be one of: village, town, county", field="to")
        tier = Tier(to)
        if RANK[tier] <= RANK[m.tier]:
            raise StateConflict(f"matter {m.id} is at the {m.tier.value} already; report goes up", field="to")
        if isinstance(grid, str):
            if grid not in tree.ancestors(m.grid) or tier_of(tree, grid) != tier:
                raise InvalidRequest(f"{grid} is not a {tier.value} above {m.grid}", field="grid")
            target = grid
        elif tier == Tier.VILLAGE:
            found = _nearest(tree, m.grid, (Level.MEDIUM,)) or _nearest(tree, m.grid, (Level.LARGE,))
            if found is None:
                raise InvalidRequest(f"no village grid above {m.grid}", field="to")
            target = found
        elif tier == Tier.TOWN:
            town = tree.town_of(m.grid)
            if town is None:
                raise InvalidRequest(f"no town above {m.grid}", field="to")
            target = town
        else:
            target = tree.root
    elif step == Step.DISPATCH:
        target = grid if isinstance(grid, str) else m.holder
        tree[target]
        if target == m.holder:
            if not dept:
                raise InvalidRequest("dispatch names a grid below the holder or a department", field="department")
        elif not tree.is_within(target, m.holder):
            raise InvalidRequest(f"{target} is not inside {m.holder}", field="grid")
        tier = tier_of(tree, target)
    else:
        target = grid if isinstance(grid, str) else m.holder
        tree[target]
        tier = tier_of(tree, target)
        if target == m.holder and (not dept or dept == m.department):
            raise InvalidRequest("transfer names another department or grid", field="department")
        if tier != m.tier:
            raise InvalidRequest(f"transfer stays on the {m.tier.value} tier; use report or dispatch", field="grid")
        if tree[target].parent != tree[m.holder].parent:
            require_report(actor, tree, target)
    return MatterHandedOver(
        matter=m.id, step=step, from_grid=m.holder, to_grid=target, to_level=tier.value, department=dept,
        reason=why,
    )


def event_key(event: Event) -> str:
    """Idempotency key of a matter event: one entry per id, one of each list per matter."""
    if isinstance(event, MatterRecorded):
        return f"matter:{event.matter}"
    if isinstance(event, MatterAdvanced):
        return f"matter:{event.matter}:{event.stage}"
    if isinstance(event, AlertRaised):
        return f"alert:{event.alert}:raised"
    if isinstance(event, AlertCleared):
        return f"alert:{event.alert}:cleared"
    return ""


# --------------------------------------------------------------------------- overdue alerts


def alert_id(matter: str) -> str:
    """The one alert an overdue matter can have."""
    return f"{ALERT_KIND}:{matter}"


def overdue_alerts(state: MattersState, now: int) -> list[Event]:
    """Raise one alert per matter overdue at `now`; clear the alerts of matters handled since.

    The scheduler calls this every alert round with the state folded up to the
    present and appends each event under `event_key(event)`: a matter raises at
    most one alert in its life, cleared once.
    """
    out: list[Event] = []
    for m in state.matters.values():
        if m.alert is None and m.overdue(now):
            out.append(AlertRaised(
                alert=alert_id(m.id), kind=ALERT_KIND, grid=m.grid,
                detail={"matter": m.id, "category": m.category, "due": m.due, "holder": m.holder,
                        "level": m.tier.value, "description": m.description[:80]},
            ))
        elif m.alert is not None and m.alert_open and m.closed:
            out.append(AlertCleared(alert=m.alert))
    return out


# --------------------------------------------------------------------------- queries


def concerns(tree: GridTree, m: Matter, scope: str) -> bool:
    """A matter belongs to a scope when it came from there or is held there."""
    return (m.grid in tree and tree.is_within(m.grid, scope)) or (m.holder in tree and tree.is_within(m.holder, scope))


def select(
    state: MattersState, tree: GridTree, scope: str, now: int, *,
    grid: str | None = None, stage: str | None = None, category: str | None = None, level: str | None = None,
    open_only: bool = False, overdue_only: bool = False, since: int | None = None, until: int | None = None,
    unfinished: bool = False,
) -> Iterator[Matter]:
    """Matters of a scope matching the filters, newest first (`unfinished`: the loop is not closed by 评单)."""
    if grid is not None:
        tree[grid]
    if stage is not None and stage not in Stage.__members__.values():
        raise InvalidRequest("stage must be one of: " + ", ".join(STAGES), field="stage")
    if category is not None and category not in CATEGORIES:
        raise InvalidRequest("category must be one of: " + ", ".join(CATEGORIES), field="category")
    if level is not None and level not in RANK:
        raise InvalidRequest("level must be one of: " + ", ".join(TIERS), field="level")
    items = sorted(state.matters.values(), key=lambda m: (m.recorded_at, m.id), reverse=True)
    for m in items:
        if not concerns(tree, m, scope):
            continue
        if grid is not None and not concerns(tree, m, grid):
            continue
        if stage is not None and m.stage != stage:
            continue
        if category is not None and m.category != category:
            continue
        if level is not None and m.top_tier != level:
            continue
        if open_only and m.closed:
            continue
        if overdue_only and not m.overdue(now):
            continue
        if unfinished and m.stage == Stage.EVALUATED:
            continue
        if since is not None and m.reported_at < since:
            continue
        if until is not None and m.reported_at >= until:
            continue
        yield m


def summary(state: MattersState, tree: GridTree, scope: str, now: int) -> dict[str, Any]:
    """The peacetime board's figures for a scope at `now` (today = the Asia/Shanghai day).

    ``in_grid`` counts matters closed without leaving the grid (Qingcao: 102 of 144);
    ``village``/``town``/``county`` count matters by the highest tier they were
    passed to, closed or not; ``completion_rate`` is closed / all.
    """
    start, end = local_day(now)
    total = closed = opened_today = closed_today = in_grid = in_time = 0
    sat_sum = sat_n = 0
    by_tier = dict.fromkeys((t.value for t in TIERS), 0)
    by_stage = dict.fromkeys((s.value for s in STAGES), 0)
    by_category: dict[str, dict[str, int]] = {c: {"total": 0, "open": 0, "closed": 0, "today": 0} for c in CATEGORIES}
    overdue: list[dict[str, Any]] = []
    for m in state.matters.values():
        if not concerns(tree, m, scope):
            continue
        total += 1
        by_tier[m.top_tier.value] += 1
        for s in STAGES:
            if s.value in m.stages:
                by_stage[s.value] += 1
        cat = by_category.setdefault(m.category, {"total": 0, "open": 0, "closed": 0, "today": 0})
        cat["total"] += 1
        if start <= m.recorded_at < end:
            opened_today += 1
            cat["today"] += 1
        if m.closed:
            closed += 1
            cat["closed"] += 1
            assert m.handled_at is not None
            if start <= m.handled_at < end:
                closed_today += 1
            if m.top_tier == Tier.GRID:
                in_grid += 1
            if m.in_time:
                in_time += 1
        else:
            cat["open"] += 1
            if m.overdue(now):
                overdue.append({
                    "matter_id": m.id, "grid": m.grid, "grid_name": tree[m.grid].name if m.grid in tree else m.grid,
                    "holder": m.holder, "category": m.category, "due": m.due, "level": m.tier.value,
                    "stage": m.stage.value, "hours_over": (now - m.due) // HOUR,
                    "description": m.description[:60],
                })
        if m.satisfaction is not None:
            sat_sum += m.satisfaction
            sat_n += 1
    overdue.sort(key=lambda o: (o["due"], o["matter_id"]))
    return {
        "scope": scope,
        "now": now,
        "day": [start, end],
        "total": total,
        "open": total - closed,
        "closed": closed,
        "opened_today": opened_today,
        "closed_today": closed_today,
        "in_grid": in_grid,
        "in_grid_share": in_grid / total if total else None,
        "by_level": by_tier,
        "by_stage": by_stage,
        "by_category": by_category,
        "completion_rate": closed / total if total else None,
        "in_time_rate": in_time / closed if closed else None,
        "satisfaction": sat_sum / sat_n if sat_n else None,
        "evaluated": sat_n,
        "overdue": overdue,
        "overdue_count": len(overdue),
    }


def by_area(state: MattersState, tree: GridTree, scope: str, level: Level, now: int) -> dict[str, list[int]]:
    """Per grid of `level` inside `scope`: [matters, open, overdue] of the matters recorded under it."""
    out: dict[str, list[int]] = {}
    for m in state.matters.values():
        if m.grid not in tree or not tree.is_within(m.grid, scope):
            continue
        area = next((g for g in tree.path(m.grid) if tree[g].level == level), None)
        if area is None:
            continue
        cell = out.setdefault(area, [0, 0, 0])
        cell[0] += 1
        if not m.closed:
            cell[1] += 1
            if m.overdue(now):
                cell[2] += 1
    return out


def next_actions(m: Matter, tree: GridTree, actor: Actor) -> list[str]:
    """What the actor may do to a matter now: the next list, and ``report`` while it is open (for pages)."""
    if m.stage == Stage.EVALUATED:
        return []
    nxt = STAGES[STAGES.index(m.stage) + 1]
    grids = [m.holder] if nxt in (Stage.DELIBERATED, Stage.HANDLED) else [m.grid, m.holder]
    try:
        _may_act(actor, tree, grids, "matter_id")
    except CommandRejected:
        return []
    out = [nxt.value]
    if not m.closed and m.tier != Tier.COUNTY:
        out.append(Step.REPORT.value)
    return out
