"""The Redis side of the scheduler's work: alert rounds, daily briefings, contact reminders.

`AlertEvaluator.run(now)` is one alert round over a county: catch up with the
control log, read the progress of every open operation with one pipeline (two
HGETALLs per operation and town: every grid's totals and last-report times of
that town — for Pingnan, 7,400 grids and three operations, that is a few dozen
replies), run the pure rules of `command.alerts`, and append what they decide
in one script call, each event under its idempotency key. A round where
nothing changed appends nothing.

`issue_briefings` and `issue_contact_reminders` do the same for the 08:00
briefing (`command.briefing`) and the quarterly contact rounds
(`command.contact`). All three are safe to run twice or from two processes at
once: the keys make the log take each event once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from command import contact
from command.alerts import AlertConfig, AlertRules, Progress, event_key
from command.briefing import briefing_id, compose, local_date
from command.events import Event
from command.fold import ControlState
from command.grids import GridTree
from command.operations import Operation
from streams.county import County
from streams.keys import TownKeys
from streams.log import Appended, Pending

__all__ = [
    "ACTOR",
    "AlertEvaluator",
    "Round",
    "append_decided",
    "issue_briefings",
    "issue_contact_reminders",
    "read_progress",
]


ACTOR = "scheduler"
"""Who the envelope names for events the scheduler decides."""


def _towns_of(tree: GridTree, scope: str) -> list[str]:
    if scope == tree.root:
        return list(tree.towns)
    town = tree.town_of(scope)
    return [town] if town else []


_FIELDS: dict[Any, tuple[str, str]] = {}
_GRIDS: dict[Any, str] = {}
_CACHE_MAX = 200_000


def _field(raw: Any) -> tuple[str, str]:
    """``b"grid|counter"`` → (grid, counter), memoised: the same fields come back every round."""
    out = _FIELDS.get(raw)
    if out is None:
        if len(_FIELDS) > _CACHE_MAX:
            _FIELDS.clear()
        name = raw.decode() if isinstance(raw, bytes) else raw
        grid, _, counter = name.partition("|")
        out = _FIELDS[raw] = (grid, counter)
    return out


def _grid(raw: Any) -> str:
    out = _GRIDS.get(raw)
    if out is None:
        if len(_GRIDS) > _CACHE_MAX:
            _GRIDS.clear()
        out = _GRIDS[raw] = raw.decode() if isinstance(raw, bytes) else raw
    return out


def read_progress(county: County, operations: Iterable[Operation], *, with_last: bool = True) -> Progress:
    """Totals (and last-report times) of every grid of the operations' towns, in one pipeline.

    The county root is not stored by the projector: its totals are the sum of its
    towns', its last report the latest of theirs.
    """
    tree = county.tree
    client = county.client
    pipe = client.pipeline(transaction=False)
    plan: list[tuple[str, list[str]]] = []
    for op in operations:
        towns = _towns_of(tree, op.scope)
        plan.append((op.id, towns))
        for t in towns:
            keys = TownKeys(t, county.keys.world)
            pipe.hgetall(keys.counts(op.id))
            if with_last:
                pipe.hgetall(keys.last(op.id))
    replies = iter(pipe.execute() if plan else [])
    totals: dict[str, dict[str, dict[str, int]]] = {}
    last: dict[str, dict[str, int]] = {}
    root = tree.root
    for op_id, towns in plan:
        op_totals: dict[str, dict[str, int]] = {}
        op_last: dict[str, int] = {}
        for _ in towns:
            raw: Mapping[Any, Any] = next(replies)
            for k, v in raw.items():
                grid, counter = _field(k)
                cell = op_totals.get(grid)
                if cell is None:
                    cell = op_totals[grid] = {}
                cell[counter] = int(v)
            if with_last:
                for k, v in next(replies).items():
                    op_last[_grid(k)] = int(v)
        if towns and towns == list(tree.towns):
            agg: dict[str, int] = {}
            stamp = 0
            for t in towns:
                for c, n in op_totals.get(t, {}).items():
                    agg[c] = agg.get(c, 0) + n
                stamp = max(stamp, op_last.get(t, 0))
            op_totals[root] = agg
            if stamp:
                op_last[root] = stamp
        totals[op_id] = op_totals
        last[op_id] = op_last
    return Progress(totals, last)


def append_decided(county: County, events: list[Event], keys: list[str], actor: str = ACTOR) -> list[Appended]:
    """Append events decided by a rule, each under its key, in one script call; then catch up."""
    if not events:
        return []
    at = county.clock()
    out = county.log.append_many([Pending(e, actor, at, k) for e, k in zip(events, keys, strict=True)])
    county.refresh()
    return out


@dataclass
class Round:
    """What one alert round did."""

    events: list[Event]
    appended: int


class AlertEvaluator:
    """Alert rounds over one county; keeps the rules' plan cache between rounds."""

    def __init__(self, county: County, config: AlertConfig | None = None) -> None:
        self.county = county
        self.rules = AlertRules(config)

    def evaluate(self, now: int) -> tuple[ControlState, list[Event]]:
        """Decide without writing: the state decided on and the events due at `now`."""
        state = self.county.refresh()
        if state.tree is None:
            return state, []
        progress = read_progress(self.county, state.open_operations())
        return state, self.rules.evaluate(state, progress, now)

    def run(self, now: int) -> Round:
        """One round: decide and append (nothing when the alerts already match the world)."""
        state, events = self.evaluate(now)
        keys = [event_key(e, state) for e in events]
        appended = append_decided(self.county, events, keys)
        return Round(events, sum(1 for a in appended if not a.duplicate))


def issue_briefings(county: County, now: int, slot: int | None = None) -> list[str]:
    """The briefing of every operation open at `slot` (the 08:00 it stands for; default `now`).

    The briefing is named by the local date of the slot, so a run caught up late
    still issues the briefing of the day it missed; returns the ids appended.
    """
    state = county.refresh()
    if state.tree is None:
        return []
    at = now if slot is None else slot
    day = local_date(at)
    tree = state.tree
    events: list[Event] = []
    keys: list[str] = []
    for op in state.open_operations():
        if op.launched_at > at:
            continue  # launched after 08:00: its first briefing is tomorrow's
        bid = briefing_id(op.id, day)
        if bid in state.briefings:
            continue
        progress = read_progress(county, [op])
        previous = max(
            (b for b in state.briefings.values() if b.operation == op.id and b.date < day),
            key=lambda b: b.date,
            default=None,
        )
        if op.scope not in tree:
            continue
        events.append(compose(state, op, progress, now, previous, day))
        keys.append(f"briefing:{bid}")
    appended = append_decided(county, events, keys)
    return [getattr(e, "briefing", "") for e, a in zip(events, appended, strict=True) if not a.duplicate]


def issue_contact_reminders(county: County, now: int) -> int:
    """This quarter's contact-round reminders still owed; returns how many were appended."""
    state = county.refresh()
    events: list[Event] = list(contact.due_reminders(state, now))
    appended = append_decided(county, events, [contact.event_key(e) for e in events])
    return sum(1 for a in appended if not a.duplicate)
