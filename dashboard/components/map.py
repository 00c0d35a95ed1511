"""The board's map: our polygons on a dark background, colour bands, no tiles.

No tiles and no internet. The grid polygons are served once as static GeoJSON
by `dashboard.api_board` (cells of the scope with ``id`` = index in the view's
leaf list, and the outlines of the scope's children) and drawn by the page's
script on a 2D canvas under the graph, coloured by band (`dashboard.components.bands`
defines them): a live update changes a few bytes per cell and the
canvas is repainted, never a re-sent or re-tessellated geometry. The figure
itself (`#grid-map`, a `dcc.Graph`) is a cartesian frame in the same world
units as the canvas — x = longitude, y = Web-Mercator latitude in degrees,
one scale on both axes — holding one small `scatter` trace (markers on grids
with open alerts, with Plotly's own hover) and the pan and zoom the canvas
follows. Measured in headless Chromium without a GPU, a MapLibre map of
Pingnan's 5,043 cells took about a second of software WebGL per frame; the
canvas takes tens of milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from command.grids import GridTree, Level
from dashboard.components import lod
from streams.county import County
from streams.mapparts import MapParts

BACKGROUND = "#060d1a"
"""The wall's darkest blue: the sea around the county."""

MAP_STYLE: dict[str, Any] = {
    "version": 8,
    "name": "wartime-blank",
    # One inline, empty source: an empty `sources` object would be dropped on the way to the
    # browser, and MapLibre refuses a style without it.
    "sources": {"blank": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}},
    "layers": [{"id": "background", "type": "background", "paint": {"background-color": BACKGROUND}}],
}
"""A MapLibre style with nothing to fetch: no tiles, no sprite, no glyphs."""


def merc_y(lat: float) -> float:
    """Web-Mercator y in degrees, so that one scale on both axes keeps shapes true (as the canvas draws them)."""
    lat = max(-85.0, min(85.0, lat))
    return math.degrees(math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)))


def base_figure(box: tuple[float, float, float, float] | None) -> dict[str, Any]:
    """The map's figure: hidden axes framed on the scope, transparent (the canvas shows through), alert markers.

    A plain dict, not a `go.Figure`: it is built on every page load, and Plotly's validators cost
    tens of milliseconds per figure (a third of a second on a worker's first request).
    """
    axis: dict[str, Any] = {"visible": False, "showgrid": False, "zeroline": False}
    x_range = [box[0], box[2]] if box else [0.0, 1.0]
    y_range = [merc_y(box[1]), merc_y(box[3])] if box else [0.0, 1.0]
    return {
        "data": [{
            "type": "scatter", "x": [], "y": [], "mode": "markers", "name": "alerts", "text": [],
            "marker": {"size": 12, "color": "#ff4d4f", "opacity": 0.95, "line": {"width": 1.5, "color": "#ffe3e3"}},
            "hovertemplate": "%{text}<extra></extra>",
        }],
        "layout": {
            "xaxis": {**axis, "range": x_range},
            "yaxis": {**axis, "range": y_range, "scaleanchor": "x", "scaleratio": 1},
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0, "pad": 0},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "showlegend": False,
            "uirevision": "board-map",
            "hoverlabel": {"bgcolor": "#0e1d33", "bordercolor": "#3d6fa8",
                           "font": {"family": "Noto Sans SC", "color": "#e8f1ff"}},
            "dragmode": "pan",
        },
    }


# -- static GeoJSON --------------------------------------------------------------------------


def cells_geojson(tree: GridTree, geometry: Mapping[str, Any], scope: str, digest: str) -> bytes:
    """The scope's leaf polygons, ``id`` = index in the view's cell list (static: made once, streams.mapparts)."""
    shapes = lod.for_scope(tree, geometry, scope, digest)
    feats = []
    kids = {c: k for k, c in enumerate(tree.children[scope])}
    for i, code in enumerate(tree.leaves(scope)):
        geo = shapes.get(code)
        if not geo:
            continue
        _, name, small, leader, kid = _cell_props(tree, scope, code, kids)
        feats.append({
            "type": "Feature",
            "id": i,
            "properties": {"c": code, "n": name, "s": small, "l": leader, "k": kid},
            "geometry": geo,
        })
    return msgspec.json.encode({"type": "FeatureCollection", "features": feats})


def _cell_props(tree: GridTree, scope: str, code: str, kids: Mapping[str, int]) -> tuple[str, str, str, str, int]:
    """What the board shows of a cell: code, name, its small grid, leader, index of its child of `scope`."""
    g = tree[code]
    path = tree.path(code)
    child = path[path.index(scope) - 1] if code != scope else None
    small = next((p for p in path if tree[p].level == Level.SMALL), "")
    return code, g.name, small, g.leader or "", kids.get(child, -1) if child else -1


PACK_SCALE = 100_000
"""Coordinates of the packed cells are integers of 1e-5 degree (about a metre: finer than a 4K wall's pixel)."""


def cells_packed(tree: GridTree, geometry: Mapping[str, Any], scope: str, digest: str) -> bytes:
    """The cells of `cells_geojson` in a third of the bytes, for the board to parse in a fraction of the time.

    ``ids`` and ``props`` (``[code, name, small grid, leader, child index]``) per cell; ``rings``
    per cell; ``lens`` points per ring (the closing point left out); ``xy`` the points as integers of
    1/PACK_SCALE degree, each relative to the previous point (the first to 0, 0).
    """
    shapes = lod.for_scope(tree, geometry, scope, digest)
    kids = {c: k for k, c in enumerate(tree.children[scope])}
    ids: list[int] = []
    props: list[list[Any]] = []
    rings: list[int] = []
    lens: list[int] = []
    xy: list[int] = []
    px = py = 0
    for i, code in enumerate(tree.leaves(scope)):
        geo: Mapping[str, Any] = shapes.get(code) or {}
        kind = geo.get("type")
        polys = [geo["coordinates"]] if kind == "Polygon" else geo["coordinates"] if kind == "MultiPolygon" else []
        if not polys:
            continue
        ids.append(i)
        props.append(list(_cell_props(tree, scope, code, kids)))
        n_rings = 0
        for poly in polys:
            for ring in poly:
                pts = ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring
                lens.append(len(pts))
                n_rings += 1
                for x, y, *_ in pts:
                    ix, iy = round(x * PACK_SCALE), round(y * PACK_SCALE)
                    xy.append(ix - px)
                    xy.append(iy - py)
                    px, py = ix, iy
        rings.append(n_rings)
    return msgspec.json.encode({"scale": PACK_SCALE, "ids": ids, "props": props, "rings": rings,
                                "lens": lens, "xy": xy})


def outline_geojson(tree: GridTree, geometry: Mapping[str, Any], scope: str, digest: str) -> bytes:
    """Borders drawn on top of the cells: the scope's children and the scope itself."""
    shapes = lod.for_scope(tree, geometry, scope, digest)
    feats = []
    for code in (*tree.children[scope], scope):
        geo = shapes.get(code)
        if geo and tree.children[code]:
            feats.append({
                "type": "Feature",
                "properties": {"c": code, "n": tree[code].name, "k": "scope" if code == scope else "child"},
                "geometry": geo,
            })
    return msgspec.json.encode({"type": "FeatureCollection", "features": feats})


MAP_PARTS: dict[str, Callable[[GridTree, Mapping[str, Any], str, str], bytes]] = {
    "cells": cells_geojson, "packed": cells_packed, "outline": outline_geojson,
}
"""The map's parts by name, as the board's geo routes serve them and an import makes them ahead."""
WALL_PARTS = ("packed", "outline")
"""The parts a wall fetches when it opens (assets/board-map.js)."""


def map_part(county: County, digest: str, scope: str, kind: str,
             geometry: Mapping[str, Any] | None = None) -> bytes:
    """A part of `scope`'s map from the geometry `digest` (read when needed), made once for every process."""
    tree = county.tree

    def make() -> bytes:
        polygons = geometry if geometry is not None else county.view.geometry(digest)
        return MAP_PARTS[kind](tree, polygons, scope, digest)

    return MapParts(county.client, county.keys).get(digest, scope, kind, make)


def prepare_wall(county: County, geometry: Mapping[str, Any] | None = None) -> list[str]:
    """Make the parts the county's wall opens with, ahead of its first wall; the kinds made.

    `geometry` is the registry's, when the caller has it in hand (an import): it is not read back.
    """
    county.refresh()
    digest = county.state.geometry
    if not digest:
        return []
    for kind in WALL_PARTS:
        map_part(county, digest, county.tree.root, kind, geometry)
    return list(WALL_PARTS)
