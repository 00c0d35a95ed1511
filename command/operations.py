"""Wartime operations (战时任务): kinds, counters, targets, and their commands.

An operation runs over a scope that is in wartime. Targets are per grid:
defaults come from the registry (population for mass testing, households for
fire checks) and can be overridden at launch, either for the whole scope
(``{"people_evacuated": 200}``) or per grid (``{"PN01-L01": {...}}``). A parent's
target is the sum of its children's unless set explicitly.

Progress lands on leaf grids only (a micro grid, or a small grid without micro
grids): that is what keeps every total exactly the sum of its children.
Negative increments are corrections and need a reason; no counter may go below
zero. Reports beyond the target are accepted and flagged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from command import bounds
from command.access import Actor, require_command, require_report
from command.errors import (
    InvalidReport,
    InvalidRequest,
    ModeConflict,
    OperationClosed,
    OperationClosedForTown,
    TooLarge,
    UnknownGrid,
    UnknownOperation,
)
from command.events import OperationClosed as OperationClosedEvent
from command.events import OperationLaunched, OperationPartClosed, ProgressReported
from command.fold import ControlState
from command.grids import GridTree, Level
from command.vocabulary import (
    COUNTERS,
    REGISTRY_TARGETS,
    Operation,
    OperationKind,
    OperationState,
    default_targets,
    parse_enum,
)

__all__ = [
    "COUNTERS",
    "MAX_INCREMENT",
    "MAX_NAME",
    "MAX_NOTE",
    "REGISTRY_TARGETS",
    "REPORT_ID",
    "LaunchRequest",
    "Operation",
    "OperationKind",
    "OperationState",
    "ReportRequest",
    "close",
    "close_part",
    "default_targets",
    "launch",
    "open_towns",
    "operation_of",
    "over_target",
    "report",
    "towns_of",
]

MAX_INCREMENT = bounds.MAX_INCREMENT
MAX_NOTE = 500
MAX_NAME = bounds.MAX_LINE
REPORT_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,100}")
"""A report_id, matched whole (`fullmatch`: no trailing newline slips through as with `$`)."""


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """What the console sends to start an operation."""

    operation: str
    kind: str
    scope: str
    name: str
    deadline: int | None = None
    targets: Mapping[str, Any] = field(default_factory=dict)


def _parse_count(value: object, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidReport(f"{field_name} must be an integer", field=field_name)
    if abs(value) > MAX_INCREMENT:
        raise InvalidReport(f"{field_name} is beyond ±{MAX_INCREMENT}", field=field_name)
    return value


def parse_deadline(value: object) -> int | None:
    """A launch's deadline: none, or an instant inside the calendar window (bounds.time_ms)."""
    return None if value is None else bounds.time_ms(value, "deadline")


def launch(state: ControlState, actor: Actor, req: LaunchRequest) -> OperationLaunched:
    """Start an operation over a scope that is entirely in wartime."""
    tree = state.tree
    if tree is None:
        raise ModeConflict("no registry loaded", field="scope")
    kind = parse_enum(OperationKind, req.kind, "kind")
    require_command(actor, tree, req.scope)
    name = bounds.text(req.name, "name", MAX_NAME, multiline=False).strip()
    if not name:
        raise InvalidRequest("name is required", field="name")
    if req.operation in state.operations:
        raise InvalidRequest(f"operation {req.operation} exists already", field="operation")
    deadline = parse_deadline(req.deadline)
    if any(g not in state.wartime for g in tree.subtree(req.scope)):
        raise ModeConflict(f"{req.scope} is not (entirely) in wartime", field="scope")
    counters = COUNTERS[kind]
    clean: dict[str, Any] = {}
    if not isinstance(req.targets, Mapping):
        raise InvalidRequest("targets must be an object", field="targets")
    bounds.items(req.targets, "targets")
    for key, value in req.targets.items():
        if isinstance(value, Mapping):
            if key not in tree:
                raise InvalidRequest(f"unknown grid {key!r} in targets", field=f"targets.{key}")
            if not tree.is_within(key, req.scope):
                raise InvalidRequest(f"{key} is outside the scope", field=f"targets.{key}")
            cell = {}
            for c, n in value.items():
                if c not in counters:
                    raise InvalidRequest(f"unknown counter {c!r}", field=f"targets.{key}.{c}")
                cell[c] = _target(n, f"targets.{key}.{c}")
            clean[key] = cell
        else:
            if key not in counters:
                raise InvalidRequest(f"unknown counter {key!r} for {kind}", field=f"targets.{key}")
            clean[key] = _target(value, f"targets.{key}")
    return OperationLaunched(
        operation=req.operation,
        kind=kind,
        scope=req.scope,
        name=name,
        deadline=deadline,
        targets=clean,
    )


def _target(value: object, field_name: str) -> int:
    return bounds.count(value, field_name)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """One progress report from the field (进度上报)."""

    operation: str
    report_id: object
    grid: object
    counts: object
    note: object = ""
    reason: object = ""
    location: object = None
    photo: object = None
    """The sha256 of a photo stored with the report (the intake stores the image, then appends)."""


def operation_of(state: ControlState, operation: str) -> Operation:
    """The operation or a 404."""
    op = state.operations.get(operation)
    if op is None:
        raise UnknownOperation(f"unknown operation {operation!r}", field="operation")
    return op


def report(
    state: ControlState,
    actor: Actor,
    req: ReportRequest,
    current: Mapping[str, int] | None = None,
) -> ProgressReported:
    """Validate a report against the operation, the grid, the actor and the current totals."""
    tree = state.tree
    if tree is None:
        raise ModeConflict("no registry loaded", field="grid")
    op = operation_of(state, req.operation)
    if not isinstance(req.report_id, str) or not REPORT_ID.fullmatch(req.report_id):
        raise InvalidReport(
            "report_id is required: 1–100 characters of letters, digits, _ . : -",
            field="report_id",
        )
    if not isinstance(req.grid, str) or not req.grid:
        raise InvalidReport("grid is required", field="grid")
    grid = req.grid
    tree[grid]
    require_report(actor, tree, grid)
    if op.state == OperationState.CLOSED:
        raise OperationClosed(f"operation {op.id} is closed", field="operation")
    if not tree.is_within(grid, op.scope):
        raise InvalidReport(f"{grid} is outside the operation's scope {op.scope}", field="grid")
    town = tree.town_of(grid)
    if op.is_closed_for(town):
        raise OperationClosedForTown(
            f"operation {op.id} is closed for {town} (its part stood down); the other towns go on",
            field="grid",
        )
    if tree.children[grid]:
        raise InvalidReport(
            f"{grid} has sub-grids; report on one of them", field="grid"
        )
    if grid not in state.wartime:
        raise ModeConflict(f"{grid} is not in wartime", field="grid")
    if not isinstance(req.counts, Mapping) or not req.counts:
        raise InvalidReport("counts must be a non-empty object", field="counts")
    counts: dict[str, int] = {}
    for counter, value in req.counts.items():
        if counter not in op.counters:
            allowed = ", ".join(op.counters)
            raise InvalidReport(
                f"unknown counter {counter!r} for {op.kind} (allowed: {allowed})",
                field=f"counts.{counter}",
            )
        n = _parse_count(value, f"counts.{counter}")
        if n:
            counts[counter] = n
    if not counts:
        raise InvalidReport("every count is zero", field="counts")
    note = _text(req.note, "note", MAX_NOTE)
    reason = _text(req.reason, "reason", MAX_NOTE)
    if any(n < 0 for n in counts.values()):
        if not reason.strip():
            raise InvalidReport("a negative count is a correction and needs a reason", field="reason")
        # The append script checks every correction against the log's own totals, atomically;
        # a caller that passes the totals it knows (a pure fold, a test) is refused here already.
        for counter, n in counts.items():
            have = current.get(counter, 0) if current is not None else None
            if have is not None and have + n < 0:
                raise InvalidReport(
                    f"correction would take {counter} below zero (now {have})", field=f"counts.{counter}"
                )
    where = bounds.location(req.location)
    return ProgressReported(
        operation=op.id, grid=grid, counts=counts, report_id=req.report_id, note=note, reason=reason,
        location=where, photo=bounds.photo_digest(req.photo),
    )


def _text(value: object, field_name: str, limit: int) -> str:
    try:
        return bounds.text(value, field_name, limit)
    except TooLarge:
        raise
    except InvalidRequest as exc:  # reported as a report's refusal (invalid_report), same field
        raise InvalidReport(exc.message, field=exc.field) from None


def close(state: ControlState, actor: Actor, operation: str, reason: str = "") -> OperationClosedEvent:
    """Close an open operation; its totals freeze."""
    tree = state.tree
    if tree is None:
        raise ModeConflict("no registry loaded", field="operation")
    op = operation_of(state, operation)
    require_command(actor, tree, op.scope, field="operation")
    if op.state == OperationState.CLOSED:
        raise OperationClosed(f"operation {op.id} is already closed", field="operation")
    return OperationClosedEvent(operation=op.id, reason=_text(reason, "reason", MAX_NOTE))


def towns_of(tree: GridTree, scope: str) -> tuple[str, ...]:
    """The towns a scope covers: every town for the county, else the one it lies in."""
    if scope == tree.root:
        return tree.towns
    town = tree.town_of(scope)
    return (town,) if town is not None else ()


def open_towns(tree: GridTree, op: Operation) -> tuple[str, ...]:
    """Towns of an operation's scope whose part is still open (none once the operation closed)."""
    if op.state == OperationState.CLOSED:
        return ()
    return tuple(t for t in towns_of(tree, op.scope) if t not in op.closed_parts)


def close_part(
    state: ControlState, actor: Actor, operation: str, town: object, reason: str = ""
) -> OperationPartClosed | OperationClosedEvent:
    """End an operation in one town (the town stands down inside a county-wide operation).

    The county's commander or the town's own may do it. The town's part closes
    and its totals freeze; the other towns go on. An operation that lies inside
    the town, or whose last open part this is, closes whole (`OperationClosed`:
    the county commander's right for a county operation is not needed then,
    because nothing outside the town remains open).
    """
    tree = state.tree
    if tree is None:
        raise ModeConflict("no registry loaded", field="operation")
    op = operation_of(state, operation)
    if not isinstance(town, str) or not town:
        raise InvalidRequest("town is required", field="town")
    if town not in tree:
        raise UnknownGrid(town, field="town")
    if tree[town].level != Level.TOWN:
        raise InvalidRequest(f"{town} is not a town (a part is one town's share)", field="town")
    require_command(actor, tree, town, field="town")
    text = _text(reason, "reason", MAX_NOTE)
    if op.state == OperationState.CLOSED:
        raise OperationClosed(f"operation {op.id} is already closed", field="operation")
    if town not in towns_of(tree, op.scope):
        raise InvalidRequest(f"{town} is outside the operation's scope {op.scope}", field="town")
    if town in op.closed_parts:
        raise OperationClosedForTown(f"operation {op.id} is closed for {town} already", field="town")
    if open_towns(tree, op) == (town,):
        return OperationClosedEvent(operation=op.id, reason=text)
    return OperationPartClosed(operation=op.id, town=town, reason=text)


def over_target(op: Operation, totals: Mapping[str, int], grid: str) -> list[str]:
    """Counters of a grid whose totals exceed its targets (accepted, but flagged)."""
    target = op.targets.get(grid, {})
    return [c for c, n in totals.items() if c in target and n > target[c]]
