"""The values the fold holds and the commands check: modes, incidents, levels, operation kinds.

Kept apart from the commands (`command.modes`, `command.operations`) so that the
control state (`command.fold`) can hold them and the commands can read that state
without either importing the other.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from command import bounds
from command.errors import InvalidRequest
from command.grids import GridTree

__all__ = [
    "COUNTERS",
    "REGISTRY_TARGETS",
    "Incident",
    "Mode",
    "Operation",
    "OperationKind",
    "OperationState",
    "ResponseLevel",
    "Wartime",
    "default_targets",
    "parse_enum",
]

E = TypeVar("E", bound=enum.StrEnum)


class Mode(enum.StrEnum):
    """平时 / 战时."""

    PEACETIME = "peacetime"
    WARTIME = "wartime"


class Incident(enum.StrEnum):
    """Incident type (突发事件) carried by wartime."""

    EPIDEMIC = "epidemic"
    FLOOD = "flood"
    FIRE = "fire"
    OTHER = "other"


class ResponseLevel(enum.StrEnum):
    """应急响应等级: I is the gravest (特别重大), IV the least (一般)."""

    I = "I"  # noqa: E741 - the published name of the level
    II = "II"
    III = "III"
    IV = "IV"


@dataclass(frozen=True, slots=True)
class Wartime:
    """How one grid stands in wartime: incident, level, since when, switched at which scope."""

    incident: str
    level: str
    since: int
    scope: str


def parse_enum(cls: type[E], value: object, field: str) -> E:
    """Turn a wire value into an enum member, or say which values the field takes."""
    try:
        return cls(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise InvalidRequest(f"{field} must be one of: {allowed}", field=field) from None


class OperationKind(enum.StrEnum):
    """The three wartime operations of the published reports."""

    MASS_TESTING = "mass_testing"
    FLOOD_EVACUATION = "flood_evacuation"
    FIRE_HAZARD_CHECK = "fire_hazard_check"


class OperationState(enum.StrEnum):
    """An operation is open until closed; closing freezes its totals."""

    OPEN = "open"
    CLOSED = "closed"


COUNTERS: dict[str, tuple[str, ...]] = {
    OperationKind.MASS_TESTING: ("sampled",),
    OperationKind.FLOOD_EVACUATION: ("hazard_points_checked", "people_evacuated"),
    OperationKind.FIRE_HAZARD_CHECK: (
        "households_checked",
        "hazards_found",
        "hazards_eliminated",
        "people_persuaded",
    ),
}
"""Counters per kind; the first one is the headline counter of the big screen."""

REGISTRY_TARGETS: dict[str, tuple[str, str]] = {
    OperationKind.MASS_TESTING: ("sampled", "population"),
    OperationKind.FIRE_HAZARD_CHECK: ("households_checked", "households"),
}
"""Counter whose default target per leaf grid is a registry column."""

@dataclass(slots=True)
class Operation:
    """An operation as the control state holds it."""

    id: str
    kind: str
    scope: str
    name: str
    deadline: int | None
    targets: dict[str, dict[str, int]]
    launched_at: int
    launched_by: str
    state: OperationState = OperationState.OPEN
    closed_at: int | None = None
    damaged: tuple[str, ...] = ()
    """Fields of its launch event that readers cannot take as logged (out of bounds: clamped or dropped)."""
    closed_parts: dict[str, int] = field(default_factory=dict)
    """Towns whose part of the operation closed (town → when): they take no more reports, totals frozen."""

    def is_closed_for(self, town: str | None) -> bool:
        """Whether reports to grids of `town` are refused: the operation closed, or that town's part."""
        return self.state == OperationState.CLOSED or (town is not None and town in self.closed_parts)

    @property
    def counters(self) -> tuple[str, ...]:
        """Counters this kind accepts."""
        return COUNTERS[self.kind]

    def target_of(self, grid: str) -> dict[str, int]:
        """Targets of one grid (empty where none is set)."""
        return dict(self.targets.get(grid, {}))

    def summary(self) -> dict[str, Any]:
        """Plain fields for listings (`damaged` only where the launch event held unreadable values)."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "scope": self.scope,
            "name": self.name,
            "deadline": self.deadline,
            "state": self.state.value,
            "launched_at": self.launched_at,
            "closed_at": self.closed_at,
        }
        if self.damaged:
            out["damaged"] = list(self.damaged)
        if self.closed_parts:
            out["closed_parts"] = dict(sorted(self.closed_parts.items()))
        return out


def default_targets(
    tree: GridTree, kind: str, scope: str, overrides: Mapping[str, Any]
) -> dict[str, dict[str, int]]:
    """Targets of every grid of the scope: registry defaults on leaves, overrides, roll-ups.

    A scope-wide override (counter → int) is the scope's own target. A per-grid
    override replaces what the grid would otherwise sum up to.
    """
    explicit: dict[str, dict[str, int]] = {}
    for key, value in overrides.items():  # clamped: an old event may hold what launch now refuses
        if isinstance(value, Mapping):
            given = explicit.setdefault(key, {})
            for c, n in value.items():
                if (v := bounds.readable_count(n)) is not None:
                    given[c] = v
        elif (v := bounds.readable_count(value)) is not None:
            explicit.setdefault(scope, {})[key] = v
    registry = REGISTRY_TARGETS.get(kind)
    out: dict[str, dict[str, int]] = {}
    order = list(tree.subtree(scope))
    for code in reversed(order):  # children before parents
        cell: dict[str, int] = {}
        kids = tree.children[code]
        if kids:
            for k in kids:
                for c, n in out[k].items():
                    cell[c] = cell.get(c, 0) + n
        elif registry is not None:
            counter, column = registry
            cell[counter] = bounds.readable_count(getattr(tree.grids[code], column)) or 0
        cell.update(explicit.get(code, {}))
        out[code] = cell
    return out
