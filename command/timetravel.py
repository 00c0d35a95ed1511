"""The county as it stood at a past instant: the fold of the log up to T (time travel).

`Instant` pairs the two states of `command.fold` — `ControlState` (modes,
secretaries, operations, alerts) and `Counts` (progress of every operation) —
folded over every event whose entry id is at or before millisecond T. The
review page, its API and the property tests all go through `fold_until`, so the
state at T is by construction the replay of the log up to T.

Snapshots only make it faster: a town's part of `Counts` (its grids' totals and
last-report times) is plain data here (`town_part` / `restore_counts`), so the
Redis side (`streams.history`) can store one per town every so many events and
fold only what came after. The county's own cell is never stored: it is the sum
(and, for last-report times, the maximum) of its towns', as in the read models.
Pure: no Redis, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from command.events import ProgressReported, Recorded
from command.fold import ControlState, Counts
from command.grids import GridTree

__all__ = [
    "Instant",
    "fold_until",
    "leaf_completion",
    "normal_form",
    "operation_view",
    "restore_counts",
    "town_part",
]


@dataclass
class Instant:
    """Control state and progress counts as of millisecond `at` (inclusive)."""

    at: int
    control: ControlState
    counts: Counts | None

    def totals(self, operation: str, grid: str) -> dict[str, int]:
        """Zero-free totals of one grid at this instant."""
        return self.counts.of(operation, grid) if self.counts is not None else {}


def fold_until(records: Iterable[Recorded], at: int) -> Instant:
    """Fold a merged run of records (in id order) up to and including ms `at`, from scratch."""
    control = ControlState()
    counts: Counts | None = None
    for rec in records:
        if rec.ms > at:
            break
        if isinstance(rec.event, ProgressReported):
            if counts is None:
                if control.tree is None:
                    continue
                counts = Counts(control.tree)
            counts.apply(rec)
        else:
            control.apply(rec)
    if counts is None and control.tree is not None:
        counts = Counts(control.tree)
    return Instant(at, control, counts)


def normal_form(counts: Counts | None) -> dict[str, Any]:
    """Counts as comparable plain data: zero-free totals, last-report times, number of reports."""
    if counts is None:
        return {"totals": {}, "last": {}, "reports": 0}
    totals: dict[str, dict[str, dict[str, int]]] = {}
    for op, grids in counts.totals.items():
        for g, cell in grids.items():
            clean = {c: n for c, n in cell.items() if n}
            if clean:
                totals.setdefault(op, {})[g] = dict(sorted(clean.items()))
    last = {op: dict(sorted(v.items())) for op, v in counts.last.items() if v}
    return {"totals": totals, "last": last, "reports": counts.reports}


def town_part(counts: Counts, town: str, reports: int) -> dict[str, Any]:
    """One town's share of `counts` as plain data (what a snapshot stores for that town)."""
    tree = counts.tree
    ops: dict[str, Any] = {}
    for op, grids in counts.totals.items():
        cells = {
            g: {c: n for c, n in cell.items() if n}
            for g, cell in grids.items()
            if g != tree.root and tree.town_of(g) == town
        }
        last = {
            g: ms for g, ms in counts.last.get(op, {}).items()
            if g != tree.root and tree.town_of(g) == town
        }
        if cells or last:
            ops[op] = {"t": {g: c for g, c in cells.items() if c}, "l": last}
    return {"reports": reports, "ops": ops}


def restore_counts(tree: GridTree, parts: Mapping[str, Mapping[str, Any]]) -> Counts:
    """`Counts` from towns' parts; the county cell is their sum (totals) and maximum (times)."""
    counts = Counts(tree)
    root = tree.root
    for part in parts.values():
        counts.reports += int(part.get("reports", 0))
        for op, data in part.get("ops", {}).items():
            totals = counts.totals[op]
            rootcell = totals[root]
            for g, cell in data.get("t", {}).items():
                target = totals[g]
                for c, n in cell.items():
                    target[c] += n
                    if g in tree.towns:
                        rootcell[c] += n
            last = counts.last[op]
            for g, ms in data.get("l", {}).items():
                last[g] = ms
                if g in tree.towns and ms > last.get(root, -1):
                    last[root] = ms
    return counts


def operation_view(inst: Instant, operation: str, grid: str | None = None) -> dict[str, Any]:
    """What the review shows of one operation at the instant: a grid's totals and children, modes, alerts.

    `grid` defaults to the operation's scope. Before the launch the operation is
    simply not there yet (``launched`` false, zero totals).
    """
    st = inst.control
    tree = st.tree
    op = st.operations.get(operation)
    if tree is None:
        return {"at": inst.at, "operation": operation, "launched": False}
    code = grid or (op.scope if op is not None else tree.root)
    kids = list(tree.children[code])
    counters = op.counters if op is not None else ()

    def cell(g: str) -> dict[str, Any]:
        tot = inst.totals(operation, g)
        return {
            "grid": g,
            "targets": op.target_of(g) if op is not None else {},
            "counts": {c: int(tot.get(c, 0)) for c in counters},
        }

    scope_grids = set(tree.subtree(code))
    w = st.wartime.get(code)
    return {
        "at": inst.at,
        "operation": operation,
        "launched": op is not None,
        "state": ("closed" if op is not None and op.closed_at is not None and op.closed_at <= inst.at
                  else "open" if op is not None else None),
        **cell(code),
        "children": [cell(k) for k in kids],
        "mode": "wartime" if w is not None else "peacetime",
        "level": w.level if w is not None else None,
        "secretaries": sum(1 for g in st.secretaries if g in scope_grids),
        "vacancies": sum(1 for g in st.vacancies if g in scope_grids),
        "open_alerts": sum(
            1 for a in st.alerts.values()
            if a.cleared_at is None and a.grid in scope_grids and (a.operation in (None, operation))
        ),
    }


def leaf_completion(inst: Instant, operation: str, leaves: Iterable[str]) -> list[float | None]:
    """Completion (%) of the headline counter on each leaf at the instant (the review map's colours)."""
    op = inst.control.operations.get(operation)
    if op is None or inst.counts is None:
        return [None for _ in leaves]
    head = op.counters[0]
    cells = inst.counts.totals.get(operation, {})
    out: list[float | None] = []
    for g in leaves:
        target = op.targets.get(g, {}).get(head)
        done = cells.get(g, {}).get(head, 0) if g in cells else 0
        out.append(round(100.0 * done / target, 1) if target else None)
    return out
