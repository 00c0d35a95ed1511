"""Natural borders (自然边界): straight cuts of a generated county bent like roads and streams.

A tiled outline (`generate(..., outline=…)`) has straight interior borders. For the wall
and the benchmarks to see polygons of real complexity (a hundred vertices and more),
`natural_borders` replaces every edge by a gently bent polyline. The bend of an edge is
a function of its two end points only, so the two grids on either side of a border —
and every ancestor whose ring runs along it — get the very same points: borders stay
shared and the tiling stays exact. The geometry must be noded (every ring holds every
vertex lying on its edges), which the outline path of `command.generate` guarantees.
Pure arithmetic, no I/O.
"""

from __future__ import annotations

import itertools
import math
import random
import struct
import zlib
from collections.abc import Mapping
from typing import Any

import shapely

__all__ = [
    "BEND",
    "natural_borders",
    "ragged_outline",
    "shape_of",
]

Point = tuple[float, float]
BEND = 0.06  # the bend's height as a share of the edge's length: small enough never to cross a neighbour


def natural_borders(
    geometry: Mapping[str, Mapping[str, Any]], leaves: set[str], min_vertices: int = 100, decimals: int = 7,
    outline: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Every polygon with its edges bent; each leaf's ring ends with at least `min_vertices` points.

    The edges of the `outline` grid's ring (a real county boundary) are kept as they are.
    Where bends would make a ring cross itself (a narrow corner), that ring's edges are
    subdivided straight instead — on both sides of each, so borders stay shared.
    """
    straight: set[tuple[Point, Point]] = set()
    fixed: set[tuple[Point, Point]] = set()
    if outline is not None:
        fixed = {(a, b) if a <= b else (b, a) for a, b in itertools.pairwise(_ring(geometry[outline]))}
    pieces: dict[tuple[Point, Point], int] = {}
    for code in leaves:
        ring = _ring(geometry[code])
        keys = [(a, b) if a <= b else (b, a) for a, b in itertools.pairwise(ring)]
        free = [k for k in keys if k not in fixed]
        need = math.ceil(max(0, min_vertices - (len(keys) - len(free))) / max(1, len(free)))
        for key in free:
            pieces[key] = max(pieces.get(key, 1), need)
    todo = list(geometry)
    out: dict[str, dict[str, Any]] = {}
    for _ in range(4):
        for code in todo:
            out[code] = _bent(_ring(geometry[code]), pieces, straight, decimals)
        bad = [c for c, valid in zip(out, shapely.is_valid([shape_of(g) for g in out.values()]), strict=True)
               if not valid]
        if not bad:
            break
        for code in bad:
            ring = _ring(geometry[code])
            straight.update((a, b) if a <= b else (b, a) for a, b in itertools.pairwise(ring))
        todo = list(geometry)
    return out


def shape_of(doc: Mapping[str, Any]) -> Any:
    """A GeoJSON polygon as a shapely one."""
    return shapely.Polygon(doc["coordinates"][0])


def _bent(ring: list[Point], pieces: Mapping[tuple[Point, Point], int], straight: set[tuple[Point, Point]],
          decimals: int) -> dict[str, Any]:
    """One ring with every edge replaced by its bend (or its straight subdivision)."""
    bent: list[list[float]] = []
    for a, b in itertools.pairwise(ring):
        key = (a, b) if a <= b else (b, a)
        points = _bend(key, pieces.get(key, 1), 0.0 if key in straight else None)  # an outline edge: 1 piece
        if key[0] != a:
            points = points[::-1]
        bent.extend([round(x, decimals), round(y, decimals)] for x, y in points[:-1])
    bent.append(bent[0])
    return {"type": "Polygon", "coordinates": [bent]}


def _ring(shape: Mapping[str, Any]) -> list[Point]:
    """The outer ring of a generated polygon as tuples (closed)."""
    return [(float(x), float(y)) for x, y in shape["coordinates"][0]]


def _bend(edge: tuple[Point, Point], pieces: int, flat: float | None = None) -> list[Point]:
    """`pieces` + 1 points from a to b along a smooth bend seeded by the edge itself (`flat`: its height)."""
    (ax, ay), (bx, by) = edge
    if pieces <= 1:
        return [edge[0], edge[1]]
    seed = zlib.crc32(struct.pack("<4d", ax, ay, bx, by))
    phase = (seed % 1000) / 1000 * 2 * math.pi
    height = BEND * (1 if seed & 1 else -1) if flat is None else flat
    dx, dy = bx - ax, by - ay
    out = []
    for i in range(pieces + 1):
        t = i / pieces
        # Zero at both ends (the corners stay put), one hump and a ripple in between.
        w = math.sin(math.pi * t) * (0.7 + 0.3 * math.sin(3 * math.pi * t + phase)) * height
        out.append((ax + t * dx - w * dy, ay + t * dy + w * dx))
    out[0], out[-1] = edge[0], edge[1]
    return out


def ragged_outline(centre: Point, radii: Point, seed: int = 1, vertices: int = 2048) -> list[Point]:
    """A county boundary with the ragged detail of a surveyed one (midpoint displacement of a radius)."""
    rng = random.Random(seed)
    radius = [1 + rng.uniform(-0.25, 0.25) for _ in range(16)]
    amp = 0.25
    while len(radius) < vertices:
        amp *= 0.6
        radius = [v for i, a in enumerate(radius)
                  for v in (a, (a + radius[(i + 1) % len(radius)]) / 2 + rng.uniform(-amp, amp))]
    n = len(radius)
    turn = 2 * math.pi / n
    return [(centre[0] + radii[0] * r * math.cos(i * turn), centre[1] + radii[1] * r * math.sin(i * turn))
            for i, r in enumerate(radius)]
