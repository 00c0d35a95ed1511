"""The grid tree (网格树): county → town → large → medium → small → micro.

A `GridTree` is an immutable index over `Grid` records: parent/children links,
the town each grid belongs to (the town is the unit of sharding: every stream
and read-model key carries the town's code as its hash tag), ancestors for
roll-ups and subtrees for scopes. Dedicated grids (专属网格) hang under any
level and roll up like comprehensive ones.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from command.errors import UnknownGrid

__all__ = ["GRID_LEVELS", "REPORTABLE_LEVELS", "CentralHousehold", "Grid", "GridKind", "GridTree", "Level"]


class Level(enum.StrEnum):
    """Tier of a node in the tree; the county and towns sit above the four grid levels."""

    COUNTY = "county"
    TOWN = "town"
    LARGE = "large"
    MEDIUM = "medium"
    SMALL = "small"
    MICRO = "micro"

    @property
    def depth(self) -> int:
        """Position from the root, so that a child is always deeper than its parent."""
        return _DEPTH[self]


_DEPTH = {lv: i for i, lv in enumerate(Level)}
GRID_LEVELS = (Level.LARGE, Level.MEDIUM, Level.SMALL, Level.MICRO)
REPORTABLE_LEVELS = (Level.SMALL, Level.MICRO)


class GridKind(enum.StrEnum):
    """Two kinds (两类): drawn over residents' territory, or over one site."""

    COMPREHENSIVE = "comprehensive"
    DEDICATED = "dedicated"


_LEVELS: dict[str, Level] = {lv.value: lv for lv in Level}
_KINDS: dict[str, GridKind] = {k.value: k for k in GridKind}


def _level(value: Any) -> Level:
    """A level from its wire string: a dict hit, not an Enum call (the registry has thousands of rows)."""
    lv = _LEVELS.get(value) if isinstance(value, str) else None
    return lv if lv is not None else Level(value)


def _kind(value: Any) -> GridKind:
    """A kind from its wire string, as `_level` does."""
    k = _KINDS.get(value) if isinstance(value, str) else None
    return k if k is not None else GridKind(value)


class Grid(msgspec.Struct, frozen=True, gc=False):
    """One node of the tree: the county, a town or a grid of one of four levels.

    A frozen msgspec struct, untracked by the garbage collector (it holds only
    strings, ints and enum members): a county has thousands of grids, and a
    process that folds a registry builds them all at once, so construction and
    GC passes over them are what a cold view pays for.
    """

    code: str
    name: str
    level: Level
    kind: GridKind
    parent: str | None
    households: int
    population: int
    first_leader: str | None = None
    leader: str | None = None
    phone: str | None = None

    def to_row(self) -> dict[str, Any]:
        """Plain dict, the shape of a `grids.csv` row and of the RegistryLoaded payload."""
        return {name: getattr(self, name) for name in self.__struct_fields__}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Grid:
        """Inverse of `to_row`; values are assumed already validated by the registry."""
        get = row.get
        return cls(
            str(row["code"]),
            str(row["name"]),
            _level(row["level"]),
            _kind(row["kind"]),
            get("parent") or None,
            int(get("households") or 0),
            int(get("population") or 0),
            get("first_leader") or None,
            get("leader") or None,
            get("phone") or None,
        )


class CentralHousehold(msgspec.Struct, frozen=True, gc=False):
    """Party-member central household (党员中心户): links 5–10 ordinary households."""

    code: str
    micro_grid: str
    head: str
    linked_households: int

    def to_row(self) -> dict[str, Any]:
        """Plain dict for CSV and event payloads."""
        return {name: getattr(self, name) for name in self.__struct_fields__}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CentralHousehold:
        """Inverse of `to_row`."""
        return cls(
            code=str(row["code"]),
            micro_grid=str(row["micro_grid"]),
            head=str(row["head"]),
            linked_households=int(row["linked_households"]),
        )


@dataclass(frozen=True)
class GridTree:
    """Validated tree; build it with `GridTree.build` (the registry does the validation)."""

    grids: Mapping[str, Grid]
    central_households: tuple[CentralHousehold, ...] = ()
    children: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    root: str = ""
    _town: Mapping[str, str] = field(default_factory=dict)
    _ancestors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, grids: Iterable[Grid], central_households: Iterable[CentralHousehold] = ()
    ) -> GridTree:
        """Index grids (parents before or after children, any order) into a tree."""
        by_code = {g.code: g for g in grids}
        kids: defaultdict[str, list[str]] = defaultdict(list)  # parents only: most grids are leaves
        root = ""
        for code, g in by_code.items():
            if g.parent is None:
                root = code
            else:
                kids[g.parent].append(code)
        if not kids.keys() <= by_code.keys():
            raise KeyError(next(p for p in kids if p not in by_code))  # a parent that is no grid
        # One walk from the root, parents before children: the children of a parent share
        # one path tuple (a tuple per parent, not per grid) and the parent's town.
        ancestors: dict[str, tuple[str, ...]] = {}
        town: dict[str, str] = {}
        order = [root] if root else []
        if root:
            ancestors[root] = ()
            if by_code[root].level == Level.TOWN:
                town[root] = root
        town_level = Level.TOWN
        for code in order:  # grows while we walk it
            below = kids.get(code)
            if below is None:
                continue
            up = (code, *ancestors[code])
            ancestors.update(dict.fromkeys(below, up))
            t = town.get(code)
            for k in below:
                if by_code[k].level == town_level:
                    town[k] = k
                elif t is not None:
                    town[k] = t
            order.extend(below)
        children: dict[str, tuple[str, ...]] = dict.fromkeys(by_code, ())
        children.update((c, tuple(v)) for c, v in kids.items())
        return cls(
            grids=by_code,
            central_households=tuple(central_households),
            children=children,
            root=root,
            _town=town,
            _ancestors=ancestors,
        )

    def __contains__(self, code: object) -> bool:
        return code in self.grids

    def __len__(self) -> int:
        return len(self.grids)

    def __getitem__(self, code: str) -> Grid:
        try:
            return self.grids[code]
        except KeyError:
            raise UnknownGrid(code) from None

    @property
    def county(self) -> Grid:
        """The root."""
        return self.grids[self.root]

    @property
    def towns(self) -> tuple[str, ...]:
        """Town codes in registry order; each is one shard's hash tag."""
        return self.children.get(self.root, ())

    def town_of(self, code: str) -> str | None:
        """The town a grid belongs to (None for the county itself)."""
        self[code]
        return self._town.get(code)

    def ancestors(self, code: str) -> tuple[str, ...]:
        """Parent first, county last: the roll-up path of a report."""
        self[code]
        return self._ancestors[code]

    def path(self, code: str) -> tuple[str, ...]:
        """The grid itself followed by its ancestors."""
        return (code, *self.ancestors(code))

    def is_within(self, code: str, scope: str) -> bool:
        """Whether `code` lies in the subtree rooted at `scope` (itself included)."""
        return code == scope or scope in self.ancestors(code)

    def subtree(self, code: str) -> Iterator[str]:
        """Every code under `code`, itself first (pre-order)."""
        self[code]
        stack = [code]
        while stack:
            c = stack.pop()
            yield c
            stack.extend(reversed(self.children[c]))

    def leaves(self, code: str) -> Iterator[str]:
        """Grids of the subtree with no children: where reports land and sums start."""
        return (c for c in self.subtree(code) if not self.children[c])

    def small_grids(self, code: str) -> list[str]:
        """Small grids of the subtree: the ones that get a temporary secretary in wartime."""
        return [c for c in self.subtree(code) if self.grids[c].level == Level.SMALL]

    def count(self, level: Level, kind: GridKind | None = None) -> int:
        """How many grids of a level (and kind) the tree holds."""
        return sum(
            1 for g in self.grids.values() if g.level == level and (kind is None or g.kind == kind)
        )

    def rows(self) -> list[dict[str, Any]]:
        """Every grid as a row, parents before children (pre-order from the root)."""
        return [self.grids[c].to_row() for c in self.subtree(self.root)] if self.root else []
