"""A small county of real-looking shapes (wobbly outline, hundreds of vertices) for map import tests."""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely
from pyproj import Geod
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

CENTRE = (110.55, 23.45)
GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Place:
    """One grid as a GIS office would hold it: code, name, Chinese level, parent, households, shape."""

    code: str
    name: str
    level: str
    parent: str
    households: int
    shape: BaseGeometry


def outline(vertices: int = 240) -> Polygon:
    """A county-like outline: a circle of ~5 km bent by a few harmonics."""
    x0, y0 = CENTRE
    ring = []
    for i in range(vertices):
        a = 2 * math.pi * i / vertices
        r = 0.05 * (1 + 0.15 * math.sin(3 * a) + 0.08 * math.cos(5 * a + 1) + 0.03 * math.sin(11 * a))
        ring.append((x0 + r * math.cos(a) / math.cos(math.radians(y0)), y0 + r * math.sin(a)))
    return Polygon(ring)


def places() -> list[Place]:
    """County → two towns (cut west/east) → large grids (the west town cut south/north).

    Edges are kept under ~50 m (as surveyed boundaries are), so a straight edge in longitude
    and latitude, in an equal-area plane and on the ellipsoid enclose the same area to well
    under a square metre.
    """
    x0, y0 = CENTRE
    county = outline()
    west = county.intersection(box(x0 - 1, y0 - 1, x0, y0 + 1))
    east = county.intersection(box(x0, y0 - 1, x0 + 1, y0 + 1))
    south = west.intersection(box(x0 - 1, y0 - 1, x0 + 1, y0))
    north = west.intersection(box(x0 - 1, y0, x0 + 1, y0 + 1))
    south, north, west, east = (shapely.segmentize(s, 0.0004) for s in (south, north, west, east))
    return [
        Place("GP", "桂平测试县", "县", "", 60, county),
        Place("GP01", "西山镇", "镇", "GP", 35, west),
        Place("GP02", "东湖街道", "街道", "GP", 25, east),
        Place("GP01-L01", "南塘村", "大网格", "GP01", 20, south),
        Place("GP01-L02", "北岭村", "大网格", "GP01", 15, north),
        Place("GP02-L01", "湖滨社区", "大网格", "GP02", 25, east),
    ]


def geodesic_m2(shape: BaseGeometry) -> float:
    """The area on the WGS 84 ellipsoid (geodesic edges), independent of any projection."""
    return abs(GEOD.geometry_area_perimeter(shape)[0])
