"""The geometry's index: boxes and marker points that agree with the polygons they come from."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from command.generate import generate
from command.geoindex import GeoIndex, centroid, ring_bounds


def _square(x: float, y: float, size: float) -> dict:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_every_grid_of_a_generated_county_has_its_polygons_box_and_point() -> None:
    _, geometry = generate("qingcao")
    index = GeoIndex.build(geometry)
    assert set(index.entries) == {c for c, g in geometry.items() if g}
    for code, geo in geometry.items():
        assert index.box(code) == ring_bounds(geo)
        assert index.point(code) == centroid(geo)


def test_a_scope_without_its_own_polygon_is_framed_by_its_cells() -> None:
    index = GeoIndex.build({"a": _square(0, 0, 1), "b": _square(3, 2, 1)})
    assert index.bounds("scope", ["a", "b", "missing"]) == (0, 0, 4, 3)
    assert index.bounds("a", ["b"]) == (0, 0, 1, 1)  # its own polygon wins
    assert index.bounds("scope", ["missing"]) is None
    assert not GeoIndex({}) and index


@given(st.floats(-170, 170), st.floats(-80, 80), st.floats(0.001, 5))
def test_the_index_survives_its_json_and_keeps_the_point_inside_the_box(x: float, y: float, size: float) -> None:
    index = GeoIndex.build({"g": _square(x, y, size)})
    again = GeoIndex(index.to_json())
    assert again.entries == index.entries
    w, s, e, n = again.box("g") or (0, 0, 0, 0)
    px, py = again.point("g") or (0, 0)
    assert w <= px <= e and s <= py <= n


def test_a_multipolygon_is_boxed_by_all_its_outer_rings_and_marked_in_its_first() -> None:
    multi = {"type": "MultiPolygon", "coordinates": [_square(0, 0, 1)["coordinates"], _square(5, 5, 1)["coordinates"]]}
    index = GeoIndex.build({"m": multi, "empty": {"type": "Polygon", "coordinates": []}})
    assert index.box("m") == (0, 0, 6, 6)
    assert index.point("m") == (0.5, 0.5)
    assert "empty" not in index
