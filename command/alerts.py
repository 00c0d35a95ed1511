"""Alerts (预警): the rules that raise, update and clear them, and the commands on them.

The rules are pure: given the control state, a progress snapshot (totals and
last-report times per operation and grid), a configuration and `now` (passed
in, never read), `AlertRules.evaluate` returns the events that bring the
alerts in the state in line with the conditions of the world:

* ``vacancy`` — a small grid in wartime without a secretary;
* ``stall`` — a grid of an open operation, below target, with no report for N
  minutes (N per operation kind, `AlertConfig.stall_minutes`);
* ``pace`` — at the average rate since launch the scope (the operation's scope:
  county, town or grid; and each town under a county scope) misses the
  deadline; the detail carries the projected completion and the lagging
  children;
* ``over_target`` — totals beyond the target by more than a margin;
* ``silent_secretary`` — a secretary installed (or appointed) N minutes ago who
  has neither logged in nor had a report on the grid since;
* ``not_on_post`` — a secretary installed (or appointed) N minutes ago who has
  not confirmed on post (到岗, DESIGN §7.2).

Identity and roll-up. An alert's id is deterministic: ``kind:grid`` or
``kind:operation:grid``. Grid-level conditions (vacancy, stall, over_target,
silent_secretary) roll up to the town: a town with 40 stalled grids has one
alert ``stall:op-1:PN07`` whose detail holds the count and the grids under it
(the list capped at `max_listed`, the count exact). Pace alerts are per scope.

Once per condition. An open alert with the same id means the condition is
already raised: nothing is emitted. When the grids behind it change (their
count, which they are, which counters lag), one `AlertUpdated` replaces the
detail at the very round that sees it: a count shown on the wall or in a CAP
headline is the log's, never one held back (the live push and the boards
rate-limit what they send, not what is true). Only the drift of a pace
alert's projection, which moves with every report, is refreshed at most every
`update_every_minutes`. When the condition ends the alert is cleared. A condition that comes
back after a clear is a new alert: the id gets a sequence suffix, ``~2``,
``~3``… (the n-th raise of that base id). Each event has an idempotency key
(`event_key`) derived from the state, so two evaluators racing on the same
state append each event once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from command.access import Actor, require_command
from command.errors import ModeConflict, StateConflict, UnknownAlert
from command.events import AlertAcknowledged, AlertCleared, AlertRaised, AlertUpdated, Event
from command.grids import GridTree, Level
from command.operations import Operation

if TYPE_CHECKING:
    from command.fold import Alert, ControlState


__all__ = [
    "DEFAULT_STALL_MINUTES",
    "MINUTE",
    "RULE_KINDS",
    "AlertConfig",
    "AlertKind",
    "AlertRules",
    "Condition",
    "OperationPlan",
    "Progress",
    "acknowledge",
    "base_id",
    "base_of",
    "evaluate",
    "event_key",
    "open_alerts",
    "plan_operation",
    "signature",
]


class AlertKind:
    """Names of the alert kinds (DESIGN.md §2, issue 7)."""

    VACANCY = "vacancy"
    STALL = "stall"
    PACE = "pace"
    OVER_TARGET = "over_target"
    SILENT_SECRETARY = "silent_secretary"
    NOT_ON_POST = "not_on_post"


RULE_KINDS = frozenset(
    {AlertKind.VACANCY, AlertKind.STALL, AlertKind.PACE, AlertKind.OVER_TARGET, AlertKind.SILENT_SECRETARY,
     AlertKind.NOT_ON_POST}
)
"""Kinds the rules own: only alerts of these kinds are cleared by `evaluate`."""

MINUTE = 60_000

DEFAULT_STALL_MINUTES: Mapping[str, int] = {
    "mass_testing": 30,
    "flood_evacuation": 20,
    "fire_hazard_check": 60,
}


@dataclass(frozen=True)
class AlertConfig:
    """Thresholds of the rules; every one has a sensible default."""

    stall_minutes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_STALL_MINUTES))
    default_stall_minutes: int = 30
    over_target_margin: float = 0.10
    silent_minutes: int = 30
    on_post_minutes: int = 30
    pace_min_elapsed_minutes: int = 30
    pace_clear_margin: float = 0.05
    pace_bucket_minutes: int = 60
    update_every_minutes: int = 10
    """How often a pace alert's projection may be refreshed when nothing else of it changed."""
    max_listed: int = 200

    def stall_ms(self, kind: str) -> int:
        """Minutes without a report before a grid of this kind of operation counts as stalled."""
        return int(self.stall_minutes.get(kind, self.default_stall_minutes)) * MINUTE


@dataclass(frozen=True)
class Progress:
    """A snapshot of progress: op → grid → counter → total, and op → grid → last report ms.

    Every grid the rules look at is present when it has totals, the county
    root included (the reader sums it from its towns).
    """

    totals: Mapping[str, Mapping[str, Mapping[str, int]]] = field(default_factory=dict)
    last: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def of(self, operation: str, grid: str) -> Mapping[str, int]:
        """Totals of one grid (empty when nothing was reported)."""
        return self.totals.get(operation, {}).get(grid, {})

    def last_of(self, operation: str, grid: str) -> int | None:
        """Time of the last report under a grid, None when never."""
        return self.last.get(operation, {}).get(grid)


@dataclass(frozen=True)
class Condition:
    """A condition that holds now and deserves one open alert under `base`."""

    base: str
    kind: str
    grid: str
    operation: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class OperationPlan:
    """What the rules need of an operation, computed once (targets never change)."""

    units: tuple[tuple[str, str, tuple[tuple[str, int], ...]], ...]
    """(grid, town it rolls up to, its targets) for the finest grids that carry targets."""
    pace_scopes: tuple[str, ...]


def base_id(kind: str, grid: str, operation: str | None = None) -> str:
    """The deterministic id of a condition; the first alert of it carries exactly this id."""
    return f"{kind}:{operation}:{grid}" if operation else f"{kind}:{grid}"


def base_of(alert_id: str) -> str:
    """The condition id of an alert id (without the ``~n`` sequence suffix)."""
    return alert_id.split("~", 1)[0]


def signature(kind: str, detail: Mapping[str, Any]) -> tuple[Any, ...]:
    """The facts of a detail (which grids, how many, which counters lag): a change is written at once."""
    grids = tuple(detail.get("grids") or ())
    if kind == AlertKind.PACE:
        return (grids, detail.get("count"), tuple(detail.get("behind") or ()))
    return (grids, detail.get("count"))


def drift(kind: str, detail: Mapping[str, Any], bucket_ms: int = 60 * MINUTE) -> tuple[Any, ...]:
    """What moves with every report without changing the facts (a pace projection, by the bucket)."""
    if kind != AlertKind.PACE:
        return ()
    projected = detail.get("projected_at")
    return (None if projected is None else int(projected) // bucket_ms,)


def event_key(event: Event, state: ControlState) -> str:
    """Idempotency key of an alert event: two evaluators on the same state write it once."""
    if isinstance(event, AlertRaised):
        return f"alert:{event.alert}:raised"
    if isinstance(event, AlertCleared):
        return f"alert:{event.alert}:cleared"
    if isinstance(event, AlertUpdated):
        a = state.alerts.get(event.alert)
        return f"alert:{event.alert}:u{(a.updates if a else 0) + 1}"
    return ""


def _group(tree: GridTree, grid: str) -> str:
    return tree.town_of(grid) or grid


def plan_operation(tree: GridTree, op: Operation) -> OperationPlan:
    """Units (finest target-bearing grids) and pace scopes of an operation."""
    targets = op.targets
    units: list[tuple[str, str, tuple[tuple[str, int], ...]]] = []
    for g in tree.subtree(op.scope):
        cell = targets.get(g)
        if not cell:
            continue
        if any(targets.get(k) for k in tree.children[g]):
            continue
        units.append((g, _group(tree, g), tuple(sorted(cell.items()))))
    scopes = [op.scope]
    if tree[op.scope].level == Level.COUNTY:
        scopes.extend(tree.towns)
    return OperationPlan(tuple(units), tuple(scopes))


class AlertRules:
    """The alert rules with their configuration and a per-operation plan cache."""

    def __init__(self, config: AlertConfig | None = None) -> None:
        self.config = config or AlertConfig()
        self._plans: dict[tuple[int, str], OperationPlan] = {}

    def plan(self, tree: GridTree, op: Operation) -> OperationPlan:
        """The cached plan of an operation under a tree."""
        key = (id(tree), op.id)
        p = self._plans.get(key)
        if p is None:
            if len(self._plans) > 64:
                self._plans.clear()
            p = self._plans[key] = plan_operation(tree, op)
        return p

    # -- conditions ----------------------------------------------------------------

    def conditions(self, state: ControlState, progress: Progress, now: int) -> dict[str, Condition]:
        """Every condition that holds at `now`, by base id."""
        tree = state.tree
        if tree is None:
            return {}
        out: dict[str, Condition] = {}
        open_bases = {base_of(a.id) for a in state.alerts.values() if a.open and a.kind == AlertKind.PACE}
        self._vacancies(state, tree, out)
        self._silent(state, tree, progress, now, out)
        self._not_on_post(state, tree, now, out)
        for op in state.open_operations():
            if op.scope not in tree:
                continue
            plan = self.plan(tree, op)
            self._units(op, plan, progress, now, out)
            self._pace(open_bases, tree, op, plan, progress, now, out)
        return out

    def _rollup(
        self,
        out: dict[str, Condition],
        kind: str,
        groups: Mapping[str, list[str]],
        operation: str | None = None,
        extra: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        cap = self.config.max_listed
        for town, grids in groups.items():
            grids.sort()
            detail: dict[str, Any] = {"count": len(grids), "grids": grids[:cap]}
            if extra and town in extra:
                detail.update(extra[town])
            base = base_id(kind, town, operation)
            out[base] = Condition(base, kind, town, operation, detail)

    def _vacancies(self, state: ControlState, tree: GridTree, out: dict[str, Condition]) -> None:
        groups: dict[str, list[str]] = defaultdict(list)
        for g in state.vacancies:
            if g in state.wartime and g in tree:
                groups[_group(tree, g)].append(g)
        self._rollup(out, AlertKind.VACANCY, groups)

    def _silent(
        self, state: ControlState, tree: GridTree, progress: Progress, now: int, out: dict[str, Condition]
    ) -> None:
        limit = self.config.silent_minutes * MINUTE
        due = {g: s for g, s in state.secretaries.items() if now - s.since >= limit and g in tree}
        if not due:
            return
        # Logins of leader accounts, by the small grid their scope lies in (or is).
        seen: dict[str, int] = {}
        by_name: dict[str, int] = {}
        for user, (role, scope) in state.users.items():
            at = state.logins.get(user)
            if at is None:
                continue
            by_name[user] = max(by_name.get(user, 0), at)
            if role != "leader" or scope not in tree:
                continue
            for g in tree.path(scope):
                if g in due:
                    seen[g] = max(seen.get(g, 0), at)
                    break
        ops = [o.id for o in state.open_operations()]
        groups: dict[str, list[str]] = defaultdict(list)
        names: dict[str, dict[str, str]] = defaultdict(dict)
        for g, sec in due.items():
            if seen.get(g, -1) >= sec.since or by_name.get(sec.name, -1) >= sec.since:
                continue
            if any((progress.last_of(o, g) or -1) >= sec.since for o in ops):
                continue
            town = _group(tree, g)
            groups[town].append(g)
            names[town][g] = sec.name
        cap = self.config.max_listed
        extra = {
            t: {"minutes": self.config.silent_minutes, "secretaries": dict(sorted(n.items())[:cap])}
            for t, n in names.items()
        }
        self._rollup(out, AlertKind.SILENT_SECRETARY, groups, extra=extra)

    def _not_on_post(self, state: ControlState, tree: GridTree, now: int, out: dict[str, Condition]) -> None:
        """Secretaries installed N minutes ago who have not confirmed on post (DESIGN §7.2), by town."""
        limit = self.config.on_post_minutes * MINUTE
        groups: dict[str, list[str]] = defaultdict(list)
        names: dict[str, dict[str, str]] = defaultdict(dict)
        for g, post in state.mobilisation.posts.items():
            if post.on_post_at is None and now - post.installed_at >= limit and g in tree:
                town = _group(tree, g)
                groups[town].append(g)
                names[town][g] = post.person
        cap = self.config.max_listed
        extra = {t: {"minutes": self.config.on_post_minutes, "secretaries": dict(sorted(n.items())[:cap])}
                 for t, n in names.items()}
        self._rollup(out, AlertKind.NOT_ON_POST, groups, extra=extra)

    def _units(
        self, op: Operation, plan: OperationPlan, progress: Progress, now: int, out: dict[str, Condition]
    ) -> None:
        stall_ms = self.config.stall_ms(op.kind)
        margin = 1.0 + self.config.over_target_margin
        totals = progress.totals.get(op.id, {})
        last = progress.last.get(op.id, {})
        stalled: dict[str, list[str]] = defaultdict(list)
        over: dict[str, list[str]] = defaultdict(list)
        check_stall = now - op.launched_at >= stall_ms
        closed = op.closed_parts
        for grid, town, targets in plan.units:
            if town in closed:  # a town's part closed: its totals are frozen, nothing to chase there
                continue
            have = totals.get(grid, {})
            below = False
            beyond = False
            for counter, target in targets:
                n = have.get(counter, 0)
                if n < target:
                    below = True
                elif n > target * margin:
                    beyond = True
            if beyond:
                over[town].append(grid)
            if below and check_stall and now - max(last.get(grid, 0), op.launched_at) >= stall_ms:
                stalled[town].append(grid)
        minutes = stall_ms // MINUTE
        self._rollup(out, AlertKind.STALL, stalled, op.id, {t: {"minutes": minutes} for t in stalled})
        pct = round(self.config.over_target_margin * 100, 1)
        self._rollup(out, AlertKind.OVER_TARGET, over, op.id, {t: {"margin_percent": pct} for t in over})

    def _pace(
        self,
        open_bases: set[str],
        tree: GridTree,
        op: Operation,
        plan: OperationPlan,
        progress: Progress,
        now: int,
        out: dict[str, Condition],
    ) -> None:
        deadline = op.deadline
        if deadline is None:
            return
        elapsed = now - op.launched_at
        if elapsed < self.config.pace_min_elapsed_minutes * MINUTE or elapsed <= 0:
            return
        duration = max(deadline - op.launched_at, 1)
        slack = int(duration * self.config.pace_clear_margin)
        closed = tuple(t for t in op.closed_parts if t in tree)
        for scope in plan.pace_scopes:
            if scope in op.closed_parts:
                continue
            # Closed towns' parts are out of the race: their targets and counts leave the scope's projection.
            out_of = tuple(t for t in closed if t != scope and tree.is_within(t, scope))
            base = base_id(AlertKind.PACE, scope, op.id)
            is_open = base in open_bases
            # An open alert clears only once the projection is back inside the deadline by a margin.
            limit = deadline - slack if is_open else deadline
            behind, worst, counters = _projection(op, progress, scope, now, elapsed, limit, out_of)
            if not behind:
                continue
            lagging = [
                k for k in tree.children[scope]
                if k in op.targets and k not in op.closed_parts
                and _projection(op, progress, k, now, elapsed, deadline)[0]
            ]
            lagging.sort()
            detail: dict[str, Any] = {
                "deadline": deadline,
                "projected_at": worst,
                "behind": sorted(counters),
                "counters": counters,
                "count": len(lagging),
                "grids": lagging[: self.config.max_listed],
            }
            out[base] = Condition(base, AlertKind.PACE, scope, op.id, detail)

    # -- reconciliation ------------------------------------------------------------

    def reconcile(self, state: ControlState, conditions: Mapping[str, Condition], now: int) -> list[Event]:
        """Events that make the open alerts equal to `conditions`: raise, update, clear."""
        open_by_base: dict[str, Alert] = {}
        raised: dict[str, int] = defaultdict(int)
        for a in state.alerts.values():
            if a.kind not in RULE_KINDS:
                continue
            b = base_of(a.id)
            raised[b] += 1
            if a.open:
                open_by_base[b] = a
        events: list[Event] = []
        for b, gone in sorted(open_by_base.items()):
            if b not in conditions:
                events.append(AlertCleared(alert=gone.id))
        every = self.config.update_every_minutes * MINUTE
        bucket = self.config.pace_bucket_minutes * MINUTE
        for b in sorted(conditions):
            c = conditions[b]
            current = open_by_base.get(b)
            if current is None:
                n = raised.get(b, 0)
                aid = b if n == 0 else f"{b}~{n + 1}"
                while aid in state.alerts:
                    n += 1
                    aid = f"{b}~{n + 1}"
                events.append(AlertRaised(alert=aid, kind=c.kind, grid=c.grid, operation=c.operation, detail=c.detail))
            elif signature(current.kind, current.detail) != signature(c.kind, c.detail) or (
                drift(current.kind, current.detail, bucket) != drift(c.kind, c.detail, bucket)
                and now - (current.updated_at or current.raised_at) >= every
            ):
                events.append(AlertUpdated(alert=current.id, detail=c.detail))
        return events

    def evaluate(self, state: ControlState, progress: Progress, now: int) -> list[Event]:
        """One round: the alert events due at `now` (empty when the alerts already match)."""
        return self.reconcile(state, self.conditions(state, progress, now), now)


def _projection(
    op: Operation, progress: Progress, grid: str, now: int, elapsed: int, limit: int,
    without: tuple[str, ...] = (),
) -> tuple[bool, int | None, dict[str, Any]]:
    """Whether a grid misses `limit` at its average rate; the worst projection; per counter.

    `without`: sub-grids (closed towns' parts) whose targets and counts are left out.
    """
    target = dict(op.targets.get(grid, {}))
    have = dict(progress.of(op.id, grid))
    for part in without:
        for c, n in op.targets.get(part, {}).items():
            if c in target:
                target[c] -= n
        for c, n in progress.of(op.id, part).items():
            have[c] = have.get(c, 0) - n
    behind = False
    worst: int | None = 0
    counters: dict[str, Any] = {}
    for counter, t in sorted(target.items()):
        if t <= 0:
            continue
        done = have.get(counter, 0)
        if done >= t:
            continue
        projected = None if done <= 0 else now + int((t - done) * elapsed / done)
        if projected is None or projected > limit:
            behind = True
            counters[counter] = {"done": done, "target": t, "projected_at": projected}
            if worst is not None and (projected is None or projected > worst):
                worst = projected
    return behind, (worst if behind else None), counters


def evaluate(
    state: ControlState, progress: Progress, now: int, config: AlertConfig | None = None
) -> list[Event]:
    """One evaluation without a plan cache (tests, one-off use)."""
    return AlertRules(config).evaluate(state, progress, now)


def open_alerts(state: ControlState, kinds: Iterable[str] | None = None) -> list[Alert]:
    """Open alerts, optionally of some kinds, oldest first."""
    wanted = set(kinds) if kinds is not None else None
    items = [a for a in state.alerts.values() if a.open and (wanted is None or a.kind in wanted)]
    items.sort(key=lambda a: (a.raised_at, a.id))
    return items


def acknowledge(state: ControlState, actor: Actor, alert: str) -> AlertAcknowledged:
    """Record that a commander in scope took charge of an open alert."""
    tree = state.tree
    if tree is None:
        raise ModeConflict("no registry loaded", field="alert")
    a = state.alerts.get(alert)
    if a is None:
        raise UnknownAlert(f"unknown alert {alert!r}", field="alert")
    require_command(actor, tree, a.grid, field="alert")
    if a.acked_by is not None:
        raise StateConflict(f"alert {alert} was acknowledged by {a.acked_by}", field="alert")
    return AlertAcknowledged(alert=alert)
