"""The geometry's index (几何索引): each grid's box and marker point, without its polygon.

Pages and read models that only frame a scope or put a marker on a grid (the wall's
bounds, alert markers, an overdue matter's point) need a few numbers per grid, not the
polygons: a county of real shapes is 1.4 million vertices, 35 MB of GeoJSON that takes a
worker more than a second to decode. The index is built once per geometry (it is
addressed by the same digest) and is a hundredth of its size.

An entry is ``[west, south, east, north, x, y]``: the outer ring's box and the mean of
its points (inside-ish, for markers), in the geometry's own degrees. A grid without a
polygon has no entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["GeoIndex", "centroid", "ring_bounds"]

Box = tuple[float, float, float, float]


def _outer_rings(geometry: Mapping[str, Any]) -> list[Any]:
    coords = geometry.get("coordinates") or []
    kind = geometry.get("type")
    polys = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    return [poly[0] for poly in polys if poly]


def ring_bounds(geometry: Mapping[str, Any]) -> Box | None:
    """West, south, east, north of a polygon's outer rings; None for no polygon."""
    xs: list[float] = []
    ys: list[float] = []
    for ring in _outer_rings(geometry):
        for x, y, *_ in ring:
            xs.append(x)
            ys.append(y)
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)


def centroid(geometry: Mapping[str, Any]) -> tuple[float, float] | None:
    """A point inside-ish a polygon (the mean of its first outer ring), for markers."""
    rings = _outer_rings(geometry)
    if not rings or not rings[0]:
        return None
    pts = rings[0][:-1] or rings[0][:1]
    return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)


class GeoIndex:
    """Code → ``[west, south, east, north, x, y]`` of every grid with a polygon."""

    __slots__ = ("entries",)

    def __init__(self, entries: Mapping[str, Any]) -> None:
        self.entries: dict[str, tuple[float, ...]] = {
            str(k): tuple(float(x) for x in v) for k, v in entries.items() if len(v) == 6
        }

    @classmethod
    def build(cls, geometry: Mapping[str, Any]) -> GeoIndex:
        """The index of a geometry collection (code → GeoJSON geometry)."""
        out: dict[str, tuple[float, ...]] = {}
        for code, geo in geometry.items():
            box = ring_bounds(geo) if isinstance(geo, Mapping) else None
            point = centroid(geo) if box else None
            if box and point:
                out[code] = (*box, *point)
        return cls(out)

    def to_json(self) -> dict[str, list[float]]:
        """The entries as JSON-ready lists."""
        return {k: list(v) for k, v in self.entries.items()}

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __contains__(self, code: object) -> bool:
        return code in self.entries

    def point(self, code: str) -> tuple[float, float] | None:
        """The marker point of a grid, None if it has no polygon."""
        e = self.entries.get(code)
        return (e[4], e[5]) if e else None

    def box(self, code: str) -> Box | None:
        """The box of a grid's own polygon, None if it has none."""
        e = self.entries.get(code)
        return (e[0], e[1], e[2], e[3]) if e else None

    def bounds(self, own: str, cells: Iterable[str]) -> Box | None:
        """The box of `own`'s polygon, else the union of `cells`' boxes (a scope without its own outline)."""
        b = self.box(own)
        if b is not None:
            return b
        boxes = [e for c in cells if (e := self.entries.get(c))]
        if not boxes:
            return None
        return (min(e[0] for e in boxes), min(e[1] for e in boxes),
                max(e[2] for e in boxes), max(e[3] for e in boxes))
