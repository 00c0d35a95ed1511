"""`generate(profile, outline=…)`: a real county boundary tiled, the profile's figures kept, no slivers."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import Polygon, shape

from command import borders
from command.errors import InvalidRequest
from command.generate import generate, summary
from command.grids import Level

OUTLINE_DECIMALS = 1e-7


def ragged_outline() -> list[tuple[float, float]]:
    """A Pingnan-sized boundary with 2,048 ragged vertices."""
    return borders.ragged_outline((110.5, 23.55), (0.26, 0.32))


@pytest.fixture(scope="module")
def tiled() -> tuple[object, dict[str, Polygon], list[tuple[float, float]]]:
    outline = ragged_outline()
    tree, geometry = generate("pingnan", outline=outline)
    return tree, {code: shape(g) for code, g in geometry.items()}, outline


def test_the_outline_keeps_the_profiles_exact_figures_and_tree(tiled) -> None:
    tree, _, _ = tiled
    plain, _ = generate("pingnan", geometry=False)
    assert summary(tree) == summary(plain)
    assert tree.rows() == plain.rows()


def test_the_county_is_the_outline_and_towns_tile_it_without_gaps_or_overlaps(tiled) -> None:
    tree, shapes, outline = tiled
    county = shapes[tree.root]
    # The county is the outline but for rounding to 7 decimals along its length.
    assert county.symmetric_difference(Polygon(outline)).area < Polygon(outline).length * OUTLINE_DECIMALS
    assert len(county.exterior.coords) > 2000  # the real detail kept, not a blob
    for code, grid in tree.grids.items():
        kids = [shapes[c] for c in tree.grids if tree.grids[c].parent == code] if grid.level == Level.COUNTY else None
        if kids is None:
            continue
        union = shapely.union_all(kids)
        assert union.symmetric_difference(county).area == pytest.approx(0, abs=1e-12)
        overlap = sum(kids[i].intersection(kids[j]).area for i in range(len(kids)) for j in range(i + 1, len(kids)))
        assert overlap == pytest.approx(0, abs=1e-12)


def test_every_grids_children_tile_it_and_every_polygon_is_valid(tiled) -> None:
    tree, shapes, _ = tiled
    children: dict[str, list[str]] = {}
    for code, grid in tree.grids.items():
        if grid.parent:
            children.setdefault(grid.parent, []).append(code)
    assert all(g.is_valid for g in shapes.values())
    worst = 0.0
    for parent, kids in children.items():
        union = shapely.union_all([shapes[k] for k in kids])
        worst = max(worst, union.symmetric_difference(shapes[parent]).area / shapes[parent].area)
    assert worst < 1e-9


def test_an_outline_that_crosses_itself_is_refused() -> None:
    with pytest.raises(InvalidRequest) as info:
        generate("qingcao", outline=[(116.9, 31.1), (117.0, 31.2), (117.0, 31.1), (116.9, 31.2)])
    assert info.value.field == "outline"


def test_natural_borders_bend_shared_edges_the_same_way_and_keep_the_outline() -> None:
    outline = borders.ragged_outline((116.93, 31.12), (0.06, 0.05), seed=5)
    tree, geometry = generate("qingcao", outline=outline)
    leaves = {g for g in tree.grids if not tree.children[g]}
    bent = borders.natural_borders(geometry, leaves, outline=tree.root)
    assert bent[tree.root] == geometry[tree.root]  # the real boundary is left as it is
    shapes = {c: shape(g) for c, g in bent.items()}
    assert all(s.is_valid for s in shapes.values())
    assert min(len(bent[c]["coordinates"][0]) for c in leaves) >= 100
    cells = [shapes[c] for c in leaves]
    assert shapely.coverage_is_valid(cells)  # no overlaps: both sides of a border got the same bend
    assert shapely.union_all(cells).symmetric_difference(shapes[tree.root]).area == pytest.approx(0, abs=1e-12)
