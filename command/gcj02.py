"""GCJ-02 (国测局坐标, "Mars coordinates") of Chinese web maps, back to WGS 84.

Amap, Tencent and other Chinese web maps publish coordinates offset from WGS 84 by
the state's GCJ-02 obfuscation. The forward transform (WGS 84 → GCJ-02) is the widely
published closed formula: a smooth offset of up to a few hundred metres, identity
outside China's bounding box. Its inverse has no closed form; `to_wgs84` finds it by
fixed-point iteration (x ← x − (F(x) − g)), which converges because the offset varies
slowly (its derivative is ~1e-5): a few rounds reach 1e-10 degrees (≈ 0.01 mm).
Pure arithmetic on numpy arrays, no I/O.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "from_wgs84",
    "in_china",
    "to_wgs84",
    "to_wgs84_xy",
]

_A = 6378245.0  # semi-major axis of the Krasovsky 1940 ellipsoid the formula uses
_EE = 0.00669342162296594323  # its first eccentricity squared
_TOLERANCE_DEG = 1e-10
_MAX_ROUNDS = 30

Coords = NDArray[np.float64]


def in_china(lon: Coords, lat: Coords) -> NDArray[np.bool_]:
    """Where the transform applies: the rough bounding box the published formula uses."""
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _offsets(lon: Coords, lat: Coords) -> tuple[Coords, Coords]:
    """The formula's offsets (metres-like units) about the reference point (105° E, 35° N)."""
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    waves_x = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    d_lat += waves_x
    d_lat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    d_lon += waves_x
    d_lon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    return d_lon, d_lat


def from_wgs84(lon: Coords, lat: Coords) -> tuple[Coords, Coords]:
    """WGS 84 → GCJ-02 (the published forward transform); points outside China unchanged."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    d_lon, d_lat = _offsets(lon, lat)
    rad = lat / 180.0 * np.pi
    s = np.sin(rad)
    magic = 1.0 - _EE * s * s
    root = np.sqrt(magic)
    d_lat = d_lat * 180.0 / ((_A * (1.0 - _EE)) / (magic * root) * np.pi)
    d_lon = d_lon * 180.0 / (_A / root * np.cos(rad) * np.pi)
    inside = in_china(lon, lat)
    return np.where(inside, lon + d_lon, lon), np.where(inside, lat + d_lat, lat)


def to_wgs84(lon: Coords, lat: Coords) -> tuple[Coords, Coords]:
    """GCJ-02 → WGS 84 by iterating the forward transform until it lands on the given point."""
    g_lon = np.asarray(lon, dtype=np.float64)
    g_lat = np.asarray(lat, dtype=np.float64)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(_MAX_ROUNDS):
        f_lon, f_lat = from_wgs84(w_lon, w_lat)
        e_lon, e_lat = f_lon - g_lon, f_lat - g_lat
        w_lon -= e_lon
        w_lat -= e_lat
        if e_lon.size == 0 or max(float(np.max(np.abs(e_lon))), float(np.max(np.abs(e_lat)))) < _TOLERANCE_DEG:
            break
    return w_lon, w_lat


def to_wgs84_xy(xy: Coords) -> Coords:
    """The same on an (N, 2) array of lon, lat (the form `shapely.transform` passes)."""
    lon, lat = to_wgs84(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])
