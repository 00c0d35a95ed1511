"""Level of detail: a scope's polygons simplified to its zoom, shared borders still shared."""

from __future__ import annotations

from typing import Any

import pytest
import shapely
from shapely.geometry import shape

from command.borders import natural_borders, ragged_outline
from command.generate import generate
from dashboard.components import lod


@pytest.fixture(scope="module")
def county() -> tuple[Any, dict[str, Any]]:
    tree, geometry = generate("dongchang", outline=ragged_outline((125.93, 41.72), (0.06, 0.05), seed=5))
    return tree, natural_borders(geometry, {g for g in tree.grids if not tree.children[g]}, outline=tree.root)


def vertices(geometry: dict[str, Any], codes: list[str]) -> int:
    return sum(len(geometry[c]["coordinates"][0]) for c in codes)


def test_the_county_view_is_simplified_as_a_coverage_and_a_town_gets_its_detail_back(
    county: tuple[Any, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, geometry = county
    monkeypatch.setattr(lod, "MIN_VERTICES", 1000)
    leaves = list(tree.leaves(tree.root))
    whole = lod.for_scope(tree, geometry, tree.root, "d1")
    assert vertices(whole, leaves) < 0.6 * vertices(geometry, leaves)  # many points gone at county zoom
    simple = [shape(whole[c]) for c in leaves]
    assert shapely.coverage_is_valid(simple)  # no overlaps: borders simplified once for both sides
    # …and no gaps: the cells still fill the county they tiled.
    union = shapely.union_all(simple)
    assert union.symmetric_difference(shapely.union_all([shape(geometry[c]) for c in leaves])).area < 1e-3 * union.area
    x0, y0, x1, y1 = shapely.total_bounds(simple)
    tolerance = max(x1 - x0, y1 - y0) / lod.PIXELS
    assert max(shapely.hausdorff_distance(shape(geometry[c]), s) for c, s in zip(leaves, simple, strict=True)) \
        < 3 * tolerance  # within a few pixels' fractions of the real border
    town = tree.children[tree.root][0]
    large = tree.children[town][0]  # drill one level below the town
    zoomed = lod.for_scope(tree, geometry, large, "d1")
    in_town = list(tree.leaves(large))
    assert vertices(zoomed, in_town) > vertices(whole, in_town) * 1.2  # drilled in: finer detail


def test_a_small_map_is_sent_as_it_is() -> None:
    tree, geometry = generate("qingcao")  # straight cuts: a few thousand points
    leaves = list(tree.leaves(tree.root))
    assert vertices(geometry, leaves) < lod.MIN_VERTICES
    same = lod.for_scope(tree, geometry, tree.root, "d2")
    assert all(same[c] == geometry[c] for c in leaves)
