"""A generated province: counties of one profile with their own codes, draws and places."""

from __future__ import annotations

import itertools
import re

import pytest
from shapely.geometry import shape

from command.errors import InvalidRequest
from command.generate import PINGNAN_FIGURES, generate, generate_province, province_county, summary


def test_a_county_code_replaces_the_profile_code_in_every_code() -> None:
    base, base_geo = generate("qingcao", 3)
    tree, geo = generate("qingcao", 3, county_code="Q42")
    assert tree.root == "Q42" and tree.towns == ("Q4201",)
    assert [c.replace("Q42", "QC", 1) for c in tree.grids] == list(base.grids)
    for code, grid in tree.grids.items():
        assert code.startswith("Q42")
        assert grid.parent is None or code.startswith(grid.parent)
    assert [h.code.replace("Q42", "QC", 1) for h in tree.central_households] == [
        h.code for h in base.central_households
    ]
    assert all(h.micro_grid in tree.grids for h in tree.central_households)
    assert [geo[c.replace("QC", "Q42", 1)] for c in base_geo] == list(base_geo.values())


def test_the_default_arguments_give_the_profile_county_unchanged() -> None:
    assert generate("qingcao", 3) == generate("qingcao", 3, county_code="QC", offset=(0.0, 0.0))


def test_without_geometry_the_tree_is_the_same_and_no_polygons_are_drawn() -> None:
    with_geo, geo = province_county(4, "qingcao")
    without, none = province_county(4, "qingcao", geometry=False)
    assert without == with_geo
    assert none == {} and set(geo) == set(with_geo.grids)


@pytest.mark.parametrize("code", ["", "1PN", "P-1", "P{1}", "P|1", "ABCDEFGHIJKLMNOPQ"])
def test_a_county_code_that_would_break_keys_or_codes_is_refused(code: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        generate("qingcao", county_code=code)
    assert err.value.field == "county_code"


def test_county_numbers_start_at_one() -> None:
    with pytest.raises(InvalidRequest):
        province_county(0)


def test_every_county_of_a_province_adds_up_to_the_published_figures_with_its_own_draw() -> None:
    trees = [t for t, _ in generate_province(3, geometry=False)]
    assert [t.root for t in trees] == ["P001", "P002", "P003"]
    assert [t.county.name for t in trees] == ["平南县（1）", "平南县（2）", "平南县（3）"]
    for tree in trees:
        s = summary(tree)
        assert s["comprehensive"] == PINGNAN_FIGURES["comprehensive"]
        assert s["dedicated"] == PINGNAN_FIGURES["dedicated"]
        assert s["first_leaders"] == PINGNAN_FIGURES["first_leaders"]
        assert s["central_households"] == PINGNAN_FIGURES["central_households"]
        assert s["linked_households"] == PINGNAN_FIGURES["linked_households"]
        assert all(re.fullmatch(rf"{tree.root}(\d\d)?(-[DLMSW]\d\d)*", c) for c in tree.grids)
    for a, b in itertools.combinations(trees, 2):
        assert not set(a.grids) & set(b.grids)
        assert summary(a)["population"] != summary(b)["population"]  # a draw of its own


def test_county_100_is_coded_p100_and_a_hundred_counties_hold_over_700000_grids() -> None:
    tree, _ = province_county(100, "pingnan", geometry=False)
    assert tree.root == "P100" and tree.towns[0] == "P10001"
    assert summary(tree)["grids"] * 100 >= 700_000


def test_neighbouring_counties_lie_side_by_side_without_overlap() -> None:
    outlines = {}
    for k in (1, 2, 11):  # 2 is east of 1, 11 north of 1 on the lattice
        tree, geo = province_county(k)
        outlines[k] = shape(geo[tree.root])
    assert outlines[1].is_valid and outlines[2].is_valid and outlines[11].is_valid
    assert not outlines[1].intersects(outlines[2])
    assert not outlines[1].intersects(outlines[11])
    assert outlines[2].centroid.x > outlines[1].centroid.x
    assert outlines[11].centroid.y > outlines[1].centroid.y
