"""Roles and scopes: who may do what, where.

A commander (指挥长) acts inside a county or town subtree; a leader (first
small-grid leader, secretary or grid leader) reports inside a small or micro
grid's subtree; a viewer (查看人员) reads inside its scope and writes nothing.
Every command calls one of these checks before it produces events.

The scope rule, the one place it is written: an actor reaches a grid when the
grid lies in the actor's subtree (`within_scope`; an empty scope is the whole
county). Something spread over a subtree — an operation, an alert roll-up, an
evaluation — concerns a reader when the two subtrees overlap, one holding the
other (`overlaps`, `overlaps_scope`): a town commander sees the county's
operation, at the town.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from command.errors import NotAuthorised
from command.grids import GridTree, Level

__all__ = [
    "ROLE_LEVELS",
    "SYSTEM",
    "Actor",
    "Role",
    "check_scope_level",
    "overlaps",
    "overlaps_scope",
    "require_command",
    "require_photo",
    "require_read",
    "require_report",
    "within_scope",
]


class Role(enum.StrEnum):
    """The three roles of DESIGN.md §2."""

    COMMANDER = "commander"
    LEADER = "leader"
    VIEWER = "viewer"


ROLE_LEVELS: dict[Role, tuple[Level, ...]] = {
    Role.COMMANDER: (Level.COUNTY, Level.TOWN),
    Role.LEADER: (Level.LARGE, Level.MEDIUM, Level.SMALL, Level.MICRO),
    Role.VIEWER: tuple(Level),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated user behind a command."""

    username: str
    role: Role
    scope: str

    def can_see(self, tree: GridTree, grid: str) -> bool:
        """Reading is allowed anywhere inside the scope."""
        return within_scope(self, tree, grid)


SYSTEM = Actor("system", Role.COMMANDER, "")


def check_scope_level(tree: GridTree, role: Role, scope: str) -> None:
    """A role is granted only on the levels it makes sense for (a leader of a county is a mistake)."""
    level = tree[scope].level
    if level not in ROLE_LEVELS[role]:
        allowed = ", ".join(lv.value for lv in ROLE_LEVELS[role])
        raise NotAuthorised(
            f"role {role} cannot have a scope of level {level} (allowed: {allowed})", field="scope"
        )


def within_scope(actor: Actor, tree: GridTree, grid: str) -> bool:
    """The grid lies in the actor's subtree (the system and an empty scope reach everything)."""
    return actor is SYSTEM or actor.scope == "" or tree.is_within(grid, actor.scope)


def overlaps(tree: GridTree, a: str, b: str) -> bool:
    """One subtree holds the other."""
    return tree.is_within(a, b) or tree.is_within(b, a)


def overlaps_scope(actor: Actor, tree: GridTree, scope: str) -> bool:
    """Something over `scope` concerns the actor: inside its scope, or above it."""
    return actor is SYSTEM or actor.scope == "" or overlaps(tree, scope, actor.scope)


def require_read(actor: Actor, tree: GridTree, grid: str, *, field: str = "grid") -> None:
    """Any role reads inside its scope."""
    tree[grid]
    if not within_scope(actor, tree, grid):
        raise NotAuthorised(f"{grid} is outside your scope {actor.scope}", field=field)


def require_photo(actor: Actor, tree: GridTree, grids: Iterable[str], *, kiosk: bool = False,
                  field: str = "photo") -> None:
    """A photo is read by whoever may read a report or matter it was taken with: an actor whose scope
    holds one of the grids it was recorded on. A kiosk wall (a public screen) never shows one."""
    if kiosk:
        raise NotAuthorised("a kiosk wall shows no photos", field=field)
    known = [g for g in grids if g in tree]
    if not any(within_scope(actor, tree, g) for g in known):
        raise NotAuthorised(f"the photo was not taken inside your scope {actor.scope}", field=field)


def require_command(actor: Actor, tree: GridTree, scope: str, *, field: str = "scope") -> None:
    """Switching modes, launching, appointing and acknowledging are for commanders in scope."""
    tree[scope]
    if actor.role != Role.COMMANDER:
        raise NotAuthorised(f"only a commander may do this (you are {actor.role})", field=field)
    if not within_scope(actor, tree, scope):
        raise NotAuthorised(f"{scope} is outside your scope {actor.scope}", field=field)


def require_report(actor: Actor, tree: GridTree, grid: str, *, field: str = "grid") -> None:
    """Reports come from leaders and commanders whose scope holds the grid; viewers never write."""
    tree[grid]
    if actor.role == Role.VIEWER:
        raise NotAuthorised("viewers cannot report", field=field)
    if not within_scope(actor, tree, grid):
        raise NotAuthorised(f"{grid} is outside your scope {actor.scope}", field=field)


def bounded_scope(tree: GridTree, scope: str, within: str) -> str | None:
    """The part of subtree `scope` inside subtree `within` (two subtrees nest or are apart); None when apart.

    A delegated right (a kiosk link) reaches no further than its grantor's current scope.
    """
    if scope not in tree or within not in tree:
        return None
    if tree.is_within(scope, within):
        return scope
    if tree.is_within(within, scope):
        return within
    return None
