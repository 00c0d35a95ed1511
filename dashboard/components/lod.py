"""Level of detail (多级细节) for the board's map: each scope's polygons simplified to its zoom.

The wall shows one scope at a time (the county, or a town it drilled into), so the
scope is the zoom. A county's leaves of real complexity (5,000 polygons of 100+
vertices) carry far more points than its pixels can show; `for_scope` simplifies
them as one coverage (`shapely.coverage_simplify`), which removes the same points
from both sides of a shared border, so neighbours still meet without slivers. The
tolerance is the scope's extent / `PIXELS` — under a pixel of a 4K wall showing
the scope across its whole width — so a town drilled into gets its full detail
back. Small maps, and maps that are not a clean coverage, are left as they are.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from command.grids import GridTree

PIXELS = 4000
"""The widest wall's pixels across a scope: the tolerance is a fraction of one of them."""
MIN_VERTICES = 50_000
"""Below this many vertices in a view the map is sent as it is (nothing worth simplifying)."""

_CACHE: dict[tuple[str, str], dict[str, Any]] = {}
_LOCK = threading.Lock()
_KEEP = 16


def for_scope(tree: GridTree, geometry: Mapping[str, Any], scope: str, digest: str) -> Mapping[str, Any]:
    """The geometry to draw `scope` with: its leaves and its children's borders at the scope's detail."""
    with _LOCK:
        hit = _CACHE.get((digest, scope))
    if hit is not None:
        return hit
    out = dict(geometry)
    out.update(_simplified(list(tree.leaves(scope)), geometry))
    if tree.children[scope]:
        out.update(_simplified(list(tree.children[scope]), geometry))
        out.update(_simplified([scope], geometry))
    with _LOCK:
        if len(_CACHE) >= _KEEP:
            _CACHE.clear()
        _CACHE[(digest, scope)] = out
    return out


def _simplified(codes: list[str], geometry: Mapping[str, Any]) -> dict[str, Any]:
    """These codes' polygons (a coverage: they tile without overlap) simplified together; {} if not worth it."""
    codes = [c for c in codes if geometry.get(c)]
    shapes = [_shape(geometry[c]) for c in codes]
    if not shapes or int(shapely.get_num_coordinates(shapes).sum()) < MIN_VERTICES:
        return {}
    minx, miny, maxx, maxy = shapely.total_bounds(shapes)
    tolerance = max(maxx - minx, maxy - miny) / PIXELS
    if not shapely.coverage_is_valid(shapes):
        return {}
    simple = shapely.coverage_simplify(shapes, tolerance)
    return {c: _geojson(s) for c, s in zip(codes, simple, strict=True) if not s.is_empty}


def _shape(doc: Mapping[str, Any]) -> Any:
    """A GeoJSON geometry as shapely; a plain one-ring polygon (the usual cell) straight from an array."""
    coords = doc.get("coordinates") or []
    if doc.get("type") == "Polygon" and len(coords) == 1:
        return shapely.polygons(np.asarray(coords[0], dtype=np.float64)[:, :2])
    return shape(doc)


def _geojson(s: Any) -> dict[str, Any]:
    """A shapely polygon as a GeoJSON geometry with lists."""
    if s.geom_type == "Polygon" and not s.interiors:
        return {"type": "Polygon", "coordinates": [shapely.get_coordinates(s).tolist()]}
    doc = mapping(s)

    def lists(v: Any) -> Any:
        return [lists(x) for x in v] if isinstance(v, tuple | list) else v

    return {"type": doc["type"], "coordinates": lists(doc["coordinates"])}
