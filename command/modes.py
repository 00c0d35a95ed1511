"""Peacetime ↔ wartime (平战结合) over a subtree, and the secretaries it installs.

`switch` is the command: given the control state, an actor and a request it
returns the one `ModeSwitched` event (with every installation, vacancy and
release it implies) or raises a domain error. Rules:

* To wartime: every grid of the scope not yet in wartime enters it; each small
  grid's first small-grid leader becomes temporary secretary, small grids
  without one become vacancies. Grids already in wartime keep their secretary.
  A scope that is entirely in wartime already is a conflict — change the level
  with `change_level` instead.
* To peacetime (stand-down, 解除战时状态): every wartime grid of the scope leaves
  wartime; its secretaries and vacancies are released. A scope holding an open
  operation cannot stand down until the operation is closed there: closed whole,
  or — for a town inside a county-wide operation — its town's part closed
  (`command.operations.close_part`); the refusal names each operation and what
  would end it. A scope with no wartime grid is a conflict.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from command import bounds
from command.access import Actor, require_command
from command.errors import InvalidRequest, ModeConflict
from command.events import LevelChanged, ModeSwitched, SecretaryAppointed
from command.fold import ControlState
from command.operations import open_towns, towns_of
from command.vocabulary import Incident, Mode, ResponseLevel, Wartime, parse_enum

__all__ = [
    "MAX_REASON",
    "Blocker",
    "Incident",
    "Mode",
    "ResponseLevel",
    "SwitchRequest",
    "Wartime",
    "appoint",
    "change_level",
    "double_installations",
    "parse_enum",
    "standdown_blockers",
    "switch",
]

@dataclass(frozen=True, slots=True)
class SwitchRequest:
    """What the console or `wartime switch` asks for."""

    scope: str
    mode: str
    incident: str | None = None
    level: str | None = None
    reason: str = ""


MAX_REASON = 2000


def _reason(text: object) -> str:
    return bounds.text(text, "reason", MAX_REASON)


def switch(state: ControlState, actor: Actor, req: SwitchRequest) -> ModeSwitched:
    """Switch a subtree's mode and say who is installed, released or missing."""
    tree = state.tree
    if tree is None:
        raise ModeConflict("no registry loaded", field="scope")
    mode = parse_enum(Mode, req.mode, "mode")
    require_command(actor, tree, req.scope)
    reason = _reason(req.reason)
    scope_grids = list(tree.subtree(req.scope))
    if mode == Mode.WARTIME:
        incident = parse_enum(Incident, req.incident or "other", "incident")
        level = parse_enum(ResponseLevel, req.level or "IV", "level")
        entering = [g for g in scope_grids if g not in state.wartime]
        if not entering:
            raise ModeConflict(
                f"{req.scope} is already in wartime; change the level instead", field="mode"
            )
        installed: list[tuple[str, str]] = []
        vacancies: list[str] = []
        for g in entering:
            grid = tree.grids[g]
            if grid.level != "small" or g in state.secretaries:
                continue
            if grid.first_leader:
                installed.append((g, grid.first_leader))
            else:
                vacancies.append(g)
        return ModeSwitched(
            scope=req.scope,
            mode=mode,
            incident=incident,
            level=level,
            reason=reason,
            grids=tuple(entering),
            installed=tuple(installed),
            vacancies=tuple(vacancies),
        )
    leaving = [g for g in scope_grids if g in state.wartime]
    if not leaving:
        raise ModeConflict(f"{req.scope} is not in wartime", field="mode")
    blocking = standdown_blockers(state, req.scope)
    if blocking:
        raise ModeConflict("; ".join(b.message for b in blocking), field="scope")
    released = tuple(g for g in leaving if g in state.secretaries or g in state.vacancies)
    return ModeSwitched(
        scope=req.scope, mode=mode, reason=reason, grids=tuple(leaving), released=released
    )


@dataclass(frozen=True, slots=True)
class Blocker:
    """An open operation that keeps a scope from standing down, and what would end it there."""

    operation: str
    name: str
    scope: str
    towns: tuple[str, ...]
    """Its open parts inside the scope; closing each (`close_part`) lifts the block."""
    part_close: bool
    """Whether a town's part can close on its own (the operation spans several towns)."""

    @property
    def message(self) -> str:
        """The refusal in words: what blocks, and the way out."""
        if self.part_close:
            return (
                f"operation {self.operation} ({self.name}) over {self.scope} is still open in "
                f"{', '.join(self.towns)}; close its part for {', '.join(self.towns)} "
                f"(the other towns go on), or close the operation"
            )
        return f"operation {self.operation} ({self.name}) is still open in this scope; close it first"


def standdown_blockers(state: ControlState, scope: str) -> list[Blocker]:
    """Open operations whose part inside `scope` is not closed yet, with the towns still open there."""
    tree = state.tree
    if tree is None:
        return []
    here = set(towns_of(tree, scope))
    out: list[Blocker] = []
    for op in sorted(state.open_operations(scope), key=lambda o: (o.launched_at, o.id)):
        towns = tuple(t for t in open_towns(tree, op) if t in here)
        if towns:
            spans = len(towns_of(tree, op.scope)) > 1
            out.append(Blocker(op.id, op.name, op.scope, towns, spans and scope != tree.root))
    return out


def change_level(state: ControlState, actor: Actor, scope: str, level: str, reason: str = "") -> LevelChanged:
    """Raise or lower the response level of a subtree already in wartime."""
    tree = state.tree
    if tree is None:
        raise ModeConflict("no registry loaded", field="scope")
    lv = parse_enum(ResponseLevel, level, "level")
    require_command(actor, tree, scope)
    grids = tuple(g for g in tree.subtree(scope) if g in state.wartime)
    if not grids:
        raise ModeConflict(f"{scope} is not in wartime", field="scope")
    return LevelChanged(scope=scope, level=lv, reason=_reason(reason), grids=grids)


def appoint(state: ControlState, actor: Actor, grid: str, person: str) -> SecretaryAppointed:
    """Fill a vacancy with an acting secretary (代理书记)."""
    tree = state.tree
    if tree is None:
        raise ModeConflict("no registry loaded", field="grid")
    require_command(actor, tree, grid, field="grid")
    person = bounds.text(person, "person", 100, multiline=False).strip()
    if not person:
        raise InvalidRequest("person is required", field="person")
    if grid not in state.vacancies:
        if grid not in state.wartime:
            raise ModeConflict(f"{grid} is not in wartime", field="grid")
        raise ModeConflict(f"{grid} has a secretary already", field="grid")
    return SecretaryAppointed(grid=grid, person=person)


def double_installations(state: ControlState) -> dict[str, list[str]]:
    """People serving as secretary of more than one grid at once: flagged, not refused."""
    seen = Counter(s.name for s in state.secretaries.values())
    out: dict[str, list[str]] = {}
    for grid, s in state.secretaries.items():
        if seen[s.name] > 1:
            out.setdefault(s.name, []).append(grid)
    return out
