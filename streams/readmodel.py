"""Read models: the control view (folded in memory) and progress (Redis hashes).

`ControlView` folds the county's control stream with `command.fold` and keeps
up by reading only what was appended since its last entry — one round trip
when nothing changed — so any worker sees its own writes at once and no worker
holds state another needs: it is a cache of the log, rebuilt from it at will.

`ProgressView` answers progress questions from the per-town counts hashes the
projector maintains. The county's totals are the sum of its towns' (each town
hash holds the town's own roll-up); every other grid is read from its town's
hash, so parents always equal the sum of their children as of one checkpoint.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from command.fold import ControlState
from command.geoindex import GeoIndex
from command.grids import GridTree
from streams.keys import CURRENT_COUNTY, CountyKeys, TownKeys, field
from streams.server import Client

__all__ = ["COUNTY_ENV", "ControlView", "ProgressView", "current_county", "geometry_digest", "store_geometry_index"]


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


COUNTY_ENV = "WARTIME_COUNTY"
"""Names the county a process serves (`wartime serve --county`), whatever was loaded last."""


def current_county(client: Client) -> str | None:
    """The county this process serves: `WARTIME_COUNTY` if set, else the last one loaded into this Redis.

    A Redis may hold many counties (a province); ``wt:county`` names the last one
    whose registry was loaded, and a server started for another one sets the
    variable (its children inherit it), so every worker, projector, live hub and
    scheduler of that server agrees on its county.
    """
    named = os.environ.get(COUNTY_ENV, "").strip()
    if named:
        return named
    v = client.get(CURRENT_COUNTY)
    return _s(v) if v else None


def store_geometry_index(client: Client, keys: CountyKeys, digest: str, index: GeoIndex) -> None:
    """Keep a geometry's index beside it (derived, content-addressed: rewriting it changes nothing)."""
    client.set(keys.geometry_index(digest), msgspec.json.encode(index.to_json()))


def geometry_digest(geometry: Mapping[str, Any]) -> str:
    """Content address of a geometry collection (deterministic JSON)."""
    raw = msgspec.json.encode(geometry, order="deterministic")
    return hashlib.sha256(raw).hexdigest()[:16]


class ControlView:
    """The control state of a county, kept current by incremental reads of its log."""

    def __init__(self, client: Client, county: str) -> None:
        self.client = client
        self.keys = CountyKeys(county)
        self.county = county
        self.state = ControlState()
        self._geometry: tuple[str, dict[str, Any]] | None = None
        self._index: tuple[str, GeoIndex] | None = None

    def refresh(self, until_id: str = "+") -> int:
        """Fold whatever was appended since the last refresh (up to `until_id`); returns how many."""
        n = 0
        while True:
            page = self.client.xrange(self.keys.log, "(" + self.state.last_id, until_id, count=1000)
            for entry_id, fields in page:
                # A registry's grids stay raw until its tree is read (`ControlState.apply_entry`):
                # re-imports superseded before anything read them cost a fetch, not a build.
                self.state.apply_entry(entry_id, fields, self.keys.log)
                n += 1
            if len(page) < 1000:
                return n

    @property
    def tree(self) -> GridTree | None:
        """The registry's tree, or None before any registry was loaded."""
        return self.state.tree

    def geometry(self, digest: str | None = None) -> dict[str, Any]:
        """The grid polygons as a GeoJSON FeatureCollection-ready mapping code → geometry.

        Those of the current registry, or of the geometry `digest` (content-addressed: what a
        reader made from it stays true while the registry moves on).
        """
        digest = digest or self.state.geometry
        if digest is None:
            return {}
        if self._geometry is None or self._geometry[0] != digest:
            raw = self.client.get(self.keys.geometry(digest))
            self._geometry = (digest, msgspec.json.decode(raw) if raw else {})
        return self._geometry[1]

    def geometry_index(self) -> GeoIndex:
        """Each grid's box and marker point, read without the polygons (made from them once if missing)."""
        digest = self.state.geometry
        if digest is None:
            return GeoIndex({})
        if self._index is None or self._index[0] != digest:
            raw = self.client.get(self.keys.geometry_index(digest))
            if raw:
                index = GeoIndex(msgspec.json.decode(raw))
            else:  # a registry loaded before indexes were kept: make it once, for every process
                index = GeoIndex.build(self.geometry())
                store_geometry_index(self.client, self.keys, digest, index)
            self._index = (digest, index)
        return self._index[1]

    def snapshot(self) -> dict[str, Any]:
        """The control read model as JSON-ready data (what the projector stores)."""
        st = self.state
        return {
            "last_id": st.last_id,
            "county": self.county,
            "wartime": {
                g: [w.incident, w.level, w.since, w.scope] for g, w in sorted(st.wartime.items())
            },
            "secretaries": {
                g: [s.name, s.acting, s.since] for g, s in sorted(st.secretaries.items())
            },
            "vacancies": dict(sorted(st.vacancies.items())),
            "operations": {k: o.summary() for k, o in sorted(st.operations.items())},
            "alerts": {k: a.to_json() for k, a in sorted(st.alerts.items())},
        }


class ProgressView:
    """Totals of operations per grid, from the projector's hashes."""

    def __init__(self, client: Client, control: ControlView) -> None:
        self.client = client
        self.control = control

    def _tree(self) -> GridTree:
        tree = self.control.tree
        if tree is None:
            raise LookupError("no registry loaded")
        return tree

    def totals(self, operation: str, grids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Totals of each grid (the county summed from its towns), in one pipeline."""
        tree = self._tree()
        op = self.control.state.operations.get(operation)
        counters = op.counters if op else ()
        wanted = list(grids)
        reads: list[tuple[str, str]] = []  # (grid whose totals we build, grid to read)
        for g in wanted:
            if g == tree.root:
                reads.extend((g, t) for t in tree.towns)
            else:
                reads.append((g, g))
        pipe = self.client.pipeline(transaction=False)
        for _, src in reads:
            town = tree.town_of(src) or src
            pipe.hmget(TownKeys(town, self.control.keys.world).counts(operation), [field(src, c) for c in counters])
        out: dict[str, dict[str, int]] = {g: dict.fromkeys(counters, 0) for g in wanted}
        for (g, _), values in zip(reads, pipe.execute() if reads and counters else [], strict=False):
            cell = out[g]
            for c, v in zip(counters, values, strict=True):
                if v is not None:
                    cell[c] += int(v)
        return out

    def last_report(self, operation: str, grids: Iterable[str]) -> dict[str, int | None]:
        """Epoch ms of the latest report under each grid (None: never)."""
        tree = self._tree()
        pipe = self.client.pipeline(transaction=False)
        wanted = list(grids)
        plan: list[tuple[str, list[str]]] = []
        for g in wanted:
            srcs = list(tree.towns) if g == tree.root else [g]
            plan.append((g, srcs))
            for s in srcs:
                pipe.hget(TownKeys(tree.town_of(s) or s, self.control.keys.world).last(operation), s)
        values = iter(pipe.execute() if plan else [])
        out: dict[str, int | None] = {}
        for g, srcs in plan:
            best = None
            for _ in srcs:
                v = next(values)
                if v is not None and (best is None or int(v) > best):
                    best = int(v)
            out[g] = best
        return out

    def progress(self, operation: str, grid: str) -> dict[str, Any]:
        """The API's progress answer: a grid and its children, targets and counts."""
        tree = self._tree()
        op = self.control.state.operations[operation]
        kids = list(tree.children[grid])
        totals = self.totals(operation, [grid, *kids])
        return {
            "grid": grid,
            "operation": operation,
            "targets": op.target_of(grid),
            "counts": totals[grid],
            "children": [
                {"grid": k, "targets": op.target_of(k), "counts": totals[k]} for k in kids
            ],
        }

    def town_totals(self, operation: str, town: str) -> dict[str, dict[str, int]]:
        """Every grid of one town with its totals (the map's input)."""
        raw = self.client.hgetall(TownKeys(town, self.control.keys.world).counts(operation))
        out: dict[str, dict[str, int]] = {}
        for k, v in raw.items():
            grid, _, counter = _s(k).partition("|")
            out.setdefault(grid, {})[counter] = int(v)
        return out

    def town_last(self, operation: str, town: str) -> dict[str, int]:
        """Every grid of one town with the time of its last report."""
        raw = self.client.hgetall(TownKeys(town, self.control.keys.world).last(operation))
        return {_s(k): int(v) for k, v in raw.items()}
