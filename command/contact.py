"""Quarterly contact rounds (季度联系服务) of first small-grid leaders in peacetime.

Each quarter every first small-grid leader gathers the small-grid leaders and
grid party members for routine contact work (FIGURES.md, 平战结合). The
scheduler calls `due_reminders` (daily, and at start to catch up): every small
grid with a first leader that is in peacetime and has no reminder for the
current quarter gets one `ContactRoundDue`; its idempotency key
(``contact:2025Q2:GRID``) makes a repeated or concurrent run write nothing. The
leader (or a commander) records the round held with `complete`. Quarters are
calendar quarters in Asia/Shanghai time. Pure: `now` comes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from command import bounds
from command.access import Actor, require_read, require_report
from command.errors import InvalidRequest, ModeConflict, StateConflict
from command.events import ContactRoundCompleted, ContactRoundDue, Event
from command.grids import Level
from command.localtime import LOCAL, local_datetime

if TYPE_CHECKING:
    from command.fold import ControlState

__all__ = [
    "MAX_CONCERNS",
    "MAX_NOTE",
    "Quarter",
    "complete",
    "due_reminders",
    "event_key",
    "parse_round",
    "quarter_of",
    "status",
]


MAX_NOTE = 2000
MAX_CONCERNS = 100_000


@dataclass(frozen=True, slots=True)
class Quarter:
    """A calendar quarter: ``2025Q2`` from its first instant to the next quarter's."""

    id: str
    start: int
    end: int


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def quarter_of(now: int) -> Quarter:
    """The Asia/Shanghai calendar quarter holding `now`."""
    local = local_datetime(now)
    q = (local.month - 1) // 3
    start = datetime(local.year, 3 * q + 1, 1, tzinfo=LOCAL)
    end = datetime(local.year + 1, 1, 1, tzinfo=LOCAL) if q == 3 else datetime(local.year, 3 * q + 4, 1, tzinfo=LOCAL)
    return Quarter(f"{local.year}Q{q + 1}", _ms(start), _ms(end))


def parse_round(text: str) -> Quarter:
    """``2025Q2`` → its Quarter; anything else is refused naming the field."""
    try:
        year, q = text.upper().split("Q")
        y, n = int(year), int(q)
        if not (1 <= n <= 4 and 2000 <= y <= 2200):
            raise ValueError(text)
    except ValueError:
        raise InvalidRequest("round must look like 2025Q2", field="round") from None
    return quarter_of(_ms(datetime(y, 3 * n - 2, 1, tzinfo=LOCAL)))


def due_reminders(state: ControlState, now: int) -> list[ContactRoundDue]:
    """Reminders still owed for the current quarter: peacetime first leaders without one."""
    tree = state.tree
    if tree is None:
        return []
    q = quarter_of(now)
    have = state.contact.get(q.id, {})
    out = []
    for code, g in tree.grids.items():
        if g.level != Level.SMALL or not g.first_leader or code in have or code in state.wartime:
            continue
        out.append(ContactRoundDue(round=q.id, grid=code, leader=g.first_leader, due=q.end))
    return out


def event_key(event: Event) -> str:
    """Idempotency key of a contact-round event: one reminder and one completion per grid and quarter."""
    if isinstance(event, ContactRoundDue):
        return f"contact:{event.round}:{event.grid}"
    if isinstance(event, ContactRoundCompleted):
        return f"contact:{event.round}:{event.grid}:done"
    return ""


def complete(
    state: ControlState, actor: Actor, round_id: str, grid: str, note: object = "", concerns: object = 0
) -> ContactRoundCompleted:
    """Record that a reminded contact round was held (the leader of the grid or a commander above)."""
    tree = state.tree
    if tree is None:
        raise ModeConflict("no registry loaded", field="grid")
    q = parse_round(round_id)
    tree[grid]
    require_report(actor, tree, grid)
    entry = state.contact.get(q.id, {}).get(grid)
    if entry is None:
        raise StateConflict(f"no contact round {q.id} was due for {grid}", field="grid")
    if entry.completed_at is not None:
        raise StateConflict(
            f"contact round {q.id} of {grid} was recorded already by {entry.completed_by}", field="grid"
        )
    note = bounds.text(note, "note", MAX_NOTE)
    if isinstance(concerns, bool) or not isinstance(concerns, int) or not 0 <= concerns <= MAX_CONCERNS:
        raise InvalidRequest(f"concerns must be an integer from 0 to {MAX_CONCERNS}", field="concerns")
    return ContactRoundCompleted(round=q.id, grid=grid, note=note, concerns=concerns)


def status(state: ControlState, actor: Actor, round_id: str, scope: str) -> dict[str, Any]:
    """A quarter's rounds inside a scope: who was reminded, who has held theirs."""
    tree = state.tree
    if tree is None:
        raise ModeConflict("no registry loaded", field="scope")
    q = parse_round(round_id)
    require_read(actor, tree, scope, field="scope")
    rows = [
        {
            "grid": g,
            "name": tree[g].name,
            "leader": e.leader,
            "due": e.due,
            "reminded_at": e.reminded_at,
            "completed_at": e.completed_at,
            "completed_by": e.completed_by,
            "note": e.note,
            "concerns": e.concerns,
        }
        for g, e in sorted(state.contact.get(q.id, {}).items())
        if g in tree and tree.is_within(g, scope)
    ]
    done = sum(1 for r in rows if r["completed_at"] is not None)
    return {"round": q.id, "start": q.start, "end": q.end, "scope": scope,
            "due": len(rows), "completed": done, "entries": rows}
