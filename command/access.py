"""Roles and scopes: who may do what, where.

A commander (指挥长) acts inside a county or town subtree; a leader (first
small-grid leader, secretary or grid leader) reports inside a small or micro
grid's subtree; a viewer (查看人员) reads inside its scope and writes nothing.
Every command calls one of these checks before it produces events.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from command.errors import NotAuthorised
from command.grids import GridTree, Level


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
        return tree.is_within(grid, self.scope)


SYSTEM = Actor("system", Role.COMMANDER, "")


def check_scope_level(tree: GridTree, role: Role, scope: str) -> None:
    """A role is granted only on the levels it makes sense for (a leader of a county is a mistake)."""
    level = tree[scope].level
    if level not in ROLE_LEVELS[role]:
        allowed = ", ".join(lv.value for lv in ROLE_LEVELS[role])
        raise NotAuthorised(
            f"role {role} cannot have a scope of level {level} (allowed: {allowed})", field="scope"
        )


def _within(actor: Actor, tree: GridTree, grid: str) -> bool:
    return actor is SYSTEM or actor.scope == "" or tree.is_within(grid, actor.scope)


def require_read(actor: Actor, tree: GridTree, grid: str, *, field: str = "grid") -> None:
    """Any role reads inside its scope."""
    tree[grid]
    if not _within(actor, tree, grid):
        raise NotAuthorised(f"{grid} is outside your scope {actor.scope}", field=field)


def require_command(actor: Actor, tree: GridTree, scope: str, *, field: str = "scope") -> None:
    """Switching modes, launching, appointing and acknowledging are for commanders in scope."""
    tree[scope]
    if actor.role != Role.COMMANDER:
        raise NotAuthorised(f"only a commander may do this (you are {actor.role})", field=field)
    if not _within(actor, tree, scope):
        raise NotAuthorised(f"{scope} is outside your scope {actor.scope}", field=field)


def require_report(actor: Actor, tree: GridTree, grid: str, *, field: str = "grid") -> None:
    """Reports come from leaders and commanders whose scope holds the grid; viewers never write."""
    tree[grid]
    if actor.role == Role.VIEWER:
        raise NotAuthorised("viewers cannot report", field=field)
    if not _within(actor, tree, grid):
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
