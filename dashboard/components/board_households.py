"""The big screen's households panel (不漏一户 · 入户覆盖, issue 16): what it shows, as JSON.

`board_model.snapshot` adds ``households`` from the very read its other figures
come from (`streams.position.read_towns` with ``households_of``: each town's
roster totals and status counts in the same script as its checkpoint), so the
panel is at the snapshot's log position (DESIGN §7.6) and its unreached count
never differs from another figure of the same instant. For the map's operation
(else the first on view):

* ``total``, ``done`` (households with a status), ``unreached``, ``pct`` (reach,
  rounded down: a share never claims more than the log knows) of the scope;
* ``children`` — the same per child of the scope (towns at the county), each with
  its colour ``band`` by reach (`dashboard.components.bands.reach_band`);
* ``map`` — reach per map cell, aligned with the map's cells (the scope's leaf grids,
  `streams.live.BoardView.cells`, the index the polygons carry): ``done`` and ``total``
  lists and ``bands``, one character per cell, for the map coloured by reach
  (``?map=reach``, assets/board-reach.js);
* ``vulnerable`` — ``{unreached, items}``: vulnerable households still without a
  status, the first `VULNERABLE_LISTED` by code, masked whoever looks (a wall is
  seen by the room; `command.households.mask_name`).

The vulnerable list needs the roster's rows, not only its counts; they are read
per town once per roster (a town's roster is cached while its totals stay the
same), and a town's vulnerable households without a status are looked up again
only when that town's counts (read at the snapshot's position) have moved, so a
county snapshot costs the panel tens of milliseconds once warm (Pingnan: 43,677
vulnerable households). `households_panel` is the frame's empty panel;
assets/board-households.js fills it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dash import html

from command.access import Actor, Role
from command.grids import GridTree
from command.households import UNREACHED, HouseholdCounts, roll_up
from dashboard import households_i18n  # noqa: F401 - registers the panel's strings
from dashboard.components.bands import reach_band
from dashboard.i18n import t
from streams.households import HouseholdView
from streams.keys import TownKeys
from streams.live import BoardView
from streams.position import TownRead, towns_of
from streams.server import Client

__all__ = [
    "HOUSEHOLD_KINDS", "VULNERABLE_LISTED", "households_of", "households_panel", "map_reach", "panel_data", "reach_pct",
]

HOUSEHOLD_KINDS = frozenset({"flood_evacuation", "fire_hazard_check"})
"""Kinds whose wall shows households from the start (evacuation, door-knocking); others once one has a status."""

VULNERABLE_LISTED = 12
"""Vulnerable unreached households listed on the wall (the count above them is exact)."""


def households_panel(panel: Callable[..., html.Section], lang: str) -> html.Section:
    """The empty panel, hidden until a snapshot brings households (board.py's `_panel` passed in)."""
    section = panel(
        "hh", t("board.hh.title", lang), html.Div(id="board-hh", className="b-hh"), lang,
        extra=html.Span(id="board-hh-sub", className="b-hh-sub"),
    )
    section.hidden = True  # type: ignore[attr-defined]  # a Dash prop every html component takes
    return section


def households_of(view: BoardView) -> list[str]:
    """The operation whose households the panel shows: the map's, else the first on view (or none)."""
    if view.map_op:
        return [view.map_op]
    return list(view.ops[:1])


def reach_pct(done: int, total: int) -> float | None:
    """Share of households with a status, in percent, rounded down to one decimal."""
    return (done * 1000 // total) / 10 if total else None


def _cell(code: str, name: str, c: HouseholdCounts) -> dict[str, Any]:
    done = sum(c.by_status.values())
    return {"code": code, "name": name, "total": c.total, "done": done, "unreached": c.unreached,
            "by_status": dict(c.by_status), "pct": reach_pct(min(done, c.total), c.total),
            "band": reach_band(done, c.total)}


def map_reach(
    cells: Sequence[str], totals: Mapping[str, int], counts: Mapping[str, Mapping[str, int]]
) -> dict[str, Any]:
    """Reach per map cell (leaf grids: the read models keep counts per leaf), aligned with `cells`."""
    done: list[int] = []
    total: list[int] = []
    for c in cells:
        n = totals.get(c, 0)
        total.append(n)
        done.append(min(n, sum(counts.get(c, {}).values())))
    return {"done": done, "total": total, "bands": "".join(reach_band(d, n) for d, n in zip(done, total, strict=True))}


class _Rosters:
    """Per town, the vulnerable households of the roster: leaf → [(code, size, [groups])], per roster."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_town: dict[str, tuple[tuple[tuple[str, int], ...], dict[str, list[tuple[str, int, list[str]]]]]] = {}

    def vulnerable(
        self, client: Client, tree: GridTree, town: str, totals: Mapping[str, int]
    ) -> dict[str, list[tuple[str, int, list[str]]]]:
        stamp = tuple(sorted(totals.items()))
        with self._lock:
            hit = self._by_town.get(town)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        out: dict[str, list[tuple[str, int, list[str]]]] = {}
        for h in HouseholdView(client).roster(tree, town):
            if h.vulnerable:
                out.setdefault(h.grid, []).append((h.code, h.size, list(h.vulnerable)))
        with self._lock:
            if len(self._by_town) > 256:
                self._by_town.clear()
            self._by_town[town] = (stamp, out)
        return out


ROSTERS = _Rosters()
WALL = Actor("wall", Role.VIEWER, "")
"""Whoever looks at a wall: names and phones masked (`command.households.may_see_personal`)."""


def _heads(client: Client, tree: GridTree, op: str, leaves: Sequence[str]) -> dict[str, str]:
    """household → head's name as a wall may show it (masked), for the households of some leaf grids."""
    view = HouseholdView(client)
    out: dict[str, str] = {}
    for leaf in leaves:
        page = view.listing(tree, WALL, op, leaf, status=UNREACHED, vulnerable=True, offset=0, limit=VULNERABLE_LISTED)
        out.update((str(item["code"]), str(item.get("head") or "")) for item in page.items)
    return out


def _where(tree: GridTree, leaf: str) -> str:
    town = tree.town_of(leaf)
    return f"{tree[town].name} · {tree[leaf].name}" if town and town != leaf else tree[leaf].name


Unreached = list[tuple[str, str, int, list[str]]]
"""(code, leaf grid, size, vulnerable groups) of a town's vulnerable households without a status."""

_LOCK = threading.Lock()
_LEAF_TOWN: dict[int, tuple[GridTree, dict[str, str]]] = {}
_UNREACHED: dict[tuple[str, str], tuple[Any, Unreached]] = {}


def _leaf_town(tree: GridTree) -> dict[str, str]:
    """leaf grid → its town, once per registry tree."""
    with _LOCK:
        hit = _LEAF_TOWN.get(id(tree))
    if hit is not None and hit[0] is tree:
        return hit[1]
    out = {leaf: tree.town_of(leaf) or leaf for leaf in tree.leaves(tree.root)}
    with _LOCK:
        if len(_LEAF_TOWN) > 8:
            _LEAF_TOWN.clear()
        _LEAF_TOWN[id(tree)] = (tree, out)
    return out


def _town_unreached(
    client: Client, tree: GridTree, town: str, op: str, totals: Mapping[str, int],
    counts: Mapping[str, Mapping[str, int]],
) -> Unreached:
    """A town's vulnerable households with no status, kept while the town's roster and counts stay the same.

    A status only ever moves the counts (a first status adds one, a correction moves one from
    status to status), so unchanged counts mean the same households have a status."""
    stamp = (tuple(sorted(totals.items())), tuple(sorted((g, tuple(sorted(c.items()))) for g, c in counts.items())))
    with _LOCK:
        hit = _UNREACHED.get((town, op))
    if hit is not None and hit[0] == stamp:
        return hit[1]
    cand = [(leaf, h) for leaf, hs in ROSTERS.vulnerable(client, tree, town, totals).items() for h in hs]
    key = TownKeys(town).household_status(op)
    out: Unreached = []
    for i in range(0, len(cand), 10_000):
        chunk = cand[i:i + 10_000]
        for (leaf, (code, size, groups)), st in zip(chunk, client.hmget(key, [h[0] for _, h in chunk]), strict=True):
            if not st:
                out.append((code, leaf, size, groups))
    out.sort(key=lambda r: r[0])
    with _LOCK:
        if len(_UNREACHED) > 512:
            _UNREACHED.clear()
        _UNREACHED[(town, op)] = (stamp, out)
    return out


def _vulnerable(client: Client, tree: GridTree, scope: str, op: str, read: TownRead) -> dict[str, Any]:
    leaf_town = _leaf_town(tree)
    towns = towns_of(tree, scope)
    totals: dict[str, dict[str, int]] = {t: {} for t in towns}
    counts: dict[str, dict[str, dict[str, int]]] = {t: {} for t in towns}
    for g, n in read.hh_totals.items():
        t = leaf_town.get(g)
        if t in totals:
            totals[t][g] = n
    for g, cell in read.hh_counts.get(op, {}).items():
        t = leaf_town.get(g)
        if t in counts:
            counts[t][g] = cell
    inside = None if scope == tree.root or scope in towns else set(tree.leaves(scope))
    lists = [_town_unreached(client, tree, town, op, totals[town], counts[town]) for town in towns]
    if inside is not None:
        lists = [[r for r in rows if r[1] in inside] for rows in lists]
    total = sum(len(rows) for rows in lists)
    heads_of = ([(*r, town) for r in rows[:VULNERABLE_LISTED]] for town, rows in zip(towns, lists, strict=True))
    first = heapq.merge(*heads_of)
    listed = list(itertools.islice(first, VULNERABLE_LISTED))
    heads = _heads(client, tree, op, sorted({r[1] for r in listed}))
    items = [
        {"code": code, "micro_grid": leaf, "where": _where(tree, leaf), "size": size, "vulnerable": groups,
         "head": heads.get(code, "")}
        for code, leaf, size, groups, _ in listed
    ]
    return {"unreached": total, "items": items}


def panel_data(
    client: Client, tree: GridTree, view: BoardView, read: TownRead, operations: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The panel's figures from one read (`read_towns` with ``households_of=households_of(view)``)."""
    ops = households_of(view)
    if not ops or not read.hh_totals:
        return None
    op = ops[0]
    o = operations.get(op)
    if getattr(o, "kind", None) not in HOUSEHOLD_KINDS and not read.hh_counts.get(op):
        return None  # mass testing may use households too: shown once it has a status
    scope = view.scope
    cells = roll_up(tree, read.hh_totals, read.hh_counts.get(op, {}), [scope, *view.children])
    head = _cell(scope, tree[scope].name, cells[scope])
    if not head["total"]:
        return None
    return {
        **head,
        "op": op,
        "op_name": getattr(o, "name", op),
        "children": [_cell(c, tree[c].name, cells[c]) for c in view.children if cells[c].total],
        "map": map_reach(view.cells, read.hh_totals, read.hh_counts.get(op, {})),
        "vulnerable": _vulnerable(client, tree, scope, op, read),
    }
