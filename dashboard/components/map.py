"""The board's map: a blank dark map style, our polygons, colour bands.

No tiles and no internet: the Plotly `map` subplot gets a style with no
sources at all (one background layer), so MapLibre never asks for a tile, a
sprite or a glyph. The grid polygons are served once as static GeoJSON by
`dashboard.api_board` (cells of the scope with ``id`` = index in the view's
leaf list, and the outlines of the scope's children) and drawn by the page's
script as MapLibre layers whose colour and opacity come from *feature state*:
a live update sets the band of the cells that changed — a few bytes each —
instead of re-sending or re-tessellating geometry (`streams.live` explains
the bands). The figure itself holds one small `scattermap` trace: markers on
grids with open alerts, with Plotly's own hover.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from command.grids import GridTree, Level
from streams.live import BAND_ACTIVE, BAND_OVER, BAND_PEACETIME, BAND_PENDING, BAND_WARTIME, DECILES

BACKGROUND = "#060d1a"
"""The wall's darkest blue: the sea around the county."""

PALETTE: dict[str, str] = {
    BAND_PEACETIME: "#3b4a5e",
    BAND_WARTIME: "#24476b",
    BAND_PENDING: "#2b3f57",
    BAND_ACTIVE: "#1fb5a8",
    BAND_OVER: "#22d3ee",
    **dict(zip(DECILES, (
        "#8e1b1b", "#b42318", "#d9481c", "#ea6a1d", "#f08c1b",
        "#f2b01e", "#d9c92a", "#a5cf34", "#6bbf3c", "#35a852", "#139a5f",
    ), strict=True)),
}
"""Band → fill colour: red (nothing done) through amber to green (done), cyan beyond target."""

MAP_STYLE: dict[str, Any] = {
    "version": 8,
    "name": "wartime-blank",
    # One inline, empty source: an empty `sources` object would be dropped on the way to the
    # browser, and MapLibre refuses a style without it.
    "sources": {"blank": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}},
    "layers": [{"id": "background", "type": "background", "paint": {"background-color": BACKGROUND}}],
}
"""A MapLibre style with nothing to fetch: no tiles, no sprite, no glyphs."""


def _ring_bounds(geometry: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    coords = geometry.get("coordinates") or []
    kind = geometry.get("type")
    polys = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    xs: list[float] = []
    ys: list[float] = []
    for poly in polys:
        for ring in poly[:1]:
            for x, y, *_ in ring:
                xs.append(x)
                ys.append(y)
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)


def bounds(geometry: Mapping[str, Any], tree: GridTree, scope: str) -> tuple[float, float, float, float] | None:
    """West, south, east, north of a scope (its own polygon, else its cells')."""
    own = geometry.get(scope)
    if own:
        b = _ring_bounds(own)
        if b:
            return b
    boxes = [b for c in tree.leaves(scope) if (g := geometry.get(c)) and (b := _ring_bounds(g))]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _zoom_for(box: tuple[float, float, float, float], width_px: float = 900, height_px: float = 800) -> float:
    """A web-mercator zoom that fits a box into a nominal map (the page refits on load)."""
    w, s, e, n = box
    lon_span = max(e - w, 1e-6)
    y = lambda lat: math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))  # noqa: E731
    lat_span = max(abs(y(n) - y(s)), 1e-9)
    zx = math.log2(width_px / 512 * 360 / lon_span)
    zy = math.log2(height_px / 512 * 2 * math.pi / lat_span)
    return max(0.0, min(zx, zy))


def base_figure(box: tuple[float, float, float, float] | None) -> go.Figure:
    """The map's figure: blank style, framed on the scope, one (empty) alert-marker trace."""
    if box is None:
        center, zoom = {"lat": 0.0, "lon": 0.0}, 1.0
    else:
        center = {"lat": (box[1] + box[3]) / 2, "lon": (box[0] + box[2]) / 2}
        zoom = _zoom_for(box)
    fig = go.Figure(
        go.Scattermap(
            lat=[], lon=[], mode="markers", name="alerts", text=[],
            marker={"size": 11, "color": "#ff4d4f", "opacity": 0.95},
            hovertemplate="%{text}<extra></extra>",
        )
    )
    fig.update_layout(
        map={"style": MAP_STYLE, "center": center, "zoom": zoom},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        paper_bgcolor=BACKGROUND,
        showlegend=False,
        uirevision="board-map",
        hoverlabel={"bgcolor": "#0e1d33", "bordercolor": "#3d6fa8",
                    "font": {"family": "Noto Sans SC", "color": "#e8f1ff"}},
        dragmode="pan",
    )
    return fig


# -- static GeoJSON --------------------------------------------------------------------------

_CACHE: dict[tuple[str, str, str], bytes] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_KEEP = 64


def _cached(key: tuple[str, str, str], make: Any) -> bytes:
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    data: bytes = make()
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_KEEP:
            _CACHE.clear()
        _CACHE[key] = data
    return data


def _small_of(tree: GridTree, code: str) -> str:
    for g in tree.path(code):
        if tree[g].level == Level.SMALL:
            return g
    return ""


def cells_geojson(tree: GridTree, geometry: Mapping[str, Any], scope: str, digest: str) -> bytes:
    """The scope's leaf polygons, ``id`` = index in the view's cell list (static: cache it)."""

    def make() -> bytes:
        feats = []
        kids = {c: k for k, c in enumerate(tree.children[scope])}
        for i, code in enumerate(tree.leaves(scope)):
            geo = geometry.get(code)
            if not geo:
                continue
            g = tree[code]
            path = tree.path(code)
            child = path[path.index(scope) - 1] if code != scope else None
            feats.append({
                "type": "Feature",
                "id": i,
                "properties": {
                    "c": code, "n": g.name, "s": _small_of(tree, code), "l": g.leader or "",
                    "k": kids.get(child, -1) if child else -1,
                },
                "geometry": geo,
            })
        return json.dumps({"type": "FeatureCollection", "features": feats},
                          ensure_ascii=False, separators=(",", ":")).encode()

    return _cached((digest, scope, "cells"), make)


def outline_geojson(tree: GridTree, geometry: Mapping[str, Any], scope: str, digest: str) -> bytes:
    """Borders drawn on top of the cells: the scope's children and the scope itself."""

    def make() -> bytes:
        feats = []
        for code in (*tree.children[scope], scope):
            geo = geometry.get(code)
            if geo and tree.children[code]:
                feats.append({
                    "type": "Feature",
                    "properties": {"c": code, "n": tree[code].name, "k": "scope" if code == scope else "child"},
                    "geometry": geo,
                })
        return json.dumps({"type": "FeatureCollection", "features": feats},
                          ensure_ascii=False, separators=(",", ":")).encode()

    return _cached((digest, scope, "outline"), make)


def centroid(geometry: Mapping[str, Any]) -> tuple[float, float] | None:
    """A point inside-ish a polygon (the mean of its outer ring), for markers."""
    b = _ring_bounds(geometry)
    if b is None:
        return None
    coords = geometry["coordinates"][0] if geometry.get("type") == "Polygon" else geometry["coordinates"][0][0]
    xs = [p[0] for p in coords[:-1]] or [b[0]]
    ys = [p[1] for p in coords[:-1]] or [b[1]]
    return sum(xs) / len(xs), sum(ys) / len(ys)
