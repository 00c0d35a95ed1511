"""Synthetic counties: exact published totals, consistent sums, tiling polygons, stable bytes."""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import Polygon, shape

from command.errors import InvalidRequest
from command.generate import PINGNAN_FIGURES, PROFILES, generate, summary
from command.grids import GridKind, GridTree, Level
from command.registry import load_geometry, load_registry, write_registry

Generated = tuple[GridTree, dict[str, dict[str, Any]]]
FILES = ("grids.csv", "central_households.csv", "grids.geojson")
ROUNDING = 1e-5  # coordinates carry 5 decimals: shared edges may move by this much


@pytest.fixture(scope="module")
def pingnan() -> Generated:
    """Pingnan with the default seed, generated once for the module (timed)."""
    start = time.perf_counter()
    result = generate("pingnan")
    elapsed = time.perf_counter() - start
    assert elapsed < 30, f"generating pingnan took {elapsed:.1f}s"
    return result


@pytest.fixture(scope="module")
def written(pingnan: Generated, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pingnan's registry files."""
    out = tmp_path_factory.mktemp("pingnan")
    write_registry(pingnan[0], out, pingnan[1])
    return out


@pytest.fixture(scope="module")
def shapes(pingnan: Generated) -> dict[str, Polygon]:
    """Pingnan's polygons as shapely objects."""
    return {code: shape(geometry) for code, geometry in pingnan[1].items()}


def digests(directory: Path) -> dict[str, str]:
    """SHA-256 of every registry file in a directory."""
    return {f: hashlib.sha256((directory / f).read_bytes()).hexdigest() for f in FILES}


def parents(tree: GridTree) -> Iterator[str]:
    """Every code with children."""
    return (code for code in tree.grids if tree.children[code])


# ------------------------------------------------------------------------ Pingnan's figures


def test_pingnan_has_21_towns_coded_pn01_to_pn21_under_county_pn(pingnan: Generated) -> None:
    tree = pingnan[0]
    assert tree.root == "PN" and tree.county.name == "平南县"
    assert list(tree.towns) == [f"PN{i:02d}" for i in range(1, 22)]
    names = [tree[t].name for t in tree.towns]
    assert all(re.search("(镇|街道|乡)$", n) for n in names)
    assert {"平南街道", "平山镇", "寺面镇", "大安镇", "思界乡"} <= set(names)


def test_pingnan_has_exactly_7226_comprehensive_grids_over_the_four_levels(
    pingnan: Generated,
) -> None:
    s = summary(pingnan[0])
    assert s["comprehensive"] == PINGNAN_FIGURES["comprehensive"] == 7226
    assert sum(s["by_level"][lv]["comprehensive"] for lv in s["by_level"]) == 7226
    assert s["towns"] == 21  # towns are not grids


def test_pingnan_has_exactly_165_dedicated_grids_each_below_its_parent(
    pingnan: Generated,
) -> None:
    tree = pingnan[0]
    dedicated = [g for g in tree.grids.values() if g.kind == GridKind.DEDICATED]
    assert len(dedicated) == 165
    for g in dedicated:
        assert g.parent is not None
        parent = tree[g.parent]
        assert parent.level in (Level.TOWN, Level.LARGE, Level.SMALL)
        assert parent.level.depth < g.level.depth
        assert re.fullmatch(r".*-D\d\d", g.code)
    assert any(tree[g.parent or ""].level == Level.TOWN for g in dedicated)
    assert any(tree[g.parent or ""].level == Level.LARGE for g in dedicated)


def test_dedicated_grids_are_named_after_sites(pingnan: Generated) -> None:
    sites = ("学", "医院", "保健院", "卫生", "市场", "公园", "产业园", "敬老院", "广场", "客运站", "幼儿园", "教育")
    for g in pingnan[0].grids.values():
        if g.kind == GridKind.DEDICATED:
            assert any(s in g.name for s in sites), g.name


def test_pingnan_has_exactly_385_first_leaders_all_on_small_grids(pingnan: Generated) -> None:
    tree = pingnan[0]
    leaders = [g for g in tree.grids.values() if g.first_leader]
    assert len(leaders) == 385
    assert all(g.level == Level.SMALL for g in leaders)
    s = summary(tree)
    assert s["first_leaders"] == 385
    assert s["vacancies"] == s["small_grids"] - 385 > 0


def test_pingnan_has_4870_central_households_linking_32737_households(
    pingnan: Generated,
) -> None:
    tree = pingnan[0]
    households = tree.central_households
    assert len(households) == 4870
    assert sum(h.linked_households for h in households) == 32737
    assert all(5 <= h.linked_households <= 10 for h in households)
    assert len({h.code for h in households}) == 4870


def test_central_households_sit_on_comprehensive_micro_grids_with_enough_households(
    pingnan: Generated,
) -> None:
    tree = pingnan[0]
    for h in tree.central_households:
        micro = tree[h.micro_grid]
        assert micro.level == Level.MICRO and micro.kind == GridKind.COMPREHENSIVE
        assert micro.households > h.linked_households


def test_every_large_has_a_medium_every_medium_a_small_every_small_a_micro(
    pingnan: Generated,
) -> None:
    tree = pingnan[0]
    below = {Level.LARGE: Level.MEDIUM, Level.MEDIUM: Level.SMALL, Level.SMALL: Level.MICRO}
    for g in tree.grids.values():
        if g.kind == GridKind.COMPREHENSIVE and g.level in below:
            kids = [tree[c] for c in tree.children[g.code]]
            assert any(k.level == below[g.level] and k.kind == g.kind for k in kids), g.code


def test_pingnan_resident_population_is_between_one_and_1_2_million(pingnan: Generated) -> None:
    s = summary(pingnan[0])
    assert 1_000_000 <= s["population"] <= 1_200_000
    assert 2.5 <= s["population"] / s["households"] <= 4.5


def test_every_grid_has_a_leader_and_an_11_digit_mobile_number(pingnan: Generated) -> None:
    for g in pingnan[0].grids.values():
        assert g.leader and 2 <= len(g.leader) <= 3
        assert g.phone and re.fullmatch(r"1[358]\d{9}", g.phone)


def test_codes_are_hierarchical_and_sort_in_registry_order(pingnan: Generated) -> None:
    tree = pingnan[0]
    codes = [row["code"] for row in tree.rows()]
    assert codes == sorted(codes)
    pattern = re.compile(r"PN(\d\d)?((-[DLMSW]\d\d)*)")
    for g in tree.grids.values():
        assert pattern.fullmatch(g.code), g.code
        if g.parent:
            assert g.code.startswith(g.parent)
    assert all(h.code == f"{h.micro_grid}-H1" for h in tree.central_households)


def test_leaf_sums_add_up_to_every_parent(pingnan: Generated) -> None:
    tree = pingnan[0]
    for code in parents(tree):
        kids = [tree[c] for c in tree.children[code]]
        assert tree[code].households == sum(k.households for k in kids), code
        assert tree[code].population == sum(k.population for k in kids), code


# ------------------------------------------------------------------------ other profiles


@pytest.fixture(scope="module")
def dongchang() -> Generated:
    """Dongchang with the default seed, generated once for the module."""
    return generate("dongchang")


@pytest.mark.parametrize("profile", ["dongchang", "qingcao"])
def test_every_profile_adds_up_and_round_trips(profile: str, dongchang: Generated, tmp_path: Path) -> None:
    tree, geometry = dongchang if profile == "dongchang" else generate(profile)
    for code in parents(tree):
        kids = [tree[c] for c in tree.children[code]]
        assert tree[code].population == sum(k.population for k in kids)
    assert set(geometry) == set(tree.grids)
    write_registry(tree, tmp_path, geometry)
    assert load_registry(tmp_path / "grids.csv") == tree
    assert load_geometry(tmp_path) == geometry


def test_dongchang_has_457_community_grids_each_with_a_first_leader(dongchang: Generated) -> None:
    tree = dongchang[0]
    s = summary(tree)
    assert tree.root == "DC" and tree.county.name == "东昌区"
    assert all(tree[t].name.endswith("街道") for t in tree.towns)
    assert s["by_level"]["small"]["comprehensive"] == s["small_grids"] == 457
    assert s["first_leaders"] == 457 and s["vacancies"] == 0
    assert s["by_level"]["micro"]["comprehensive"] == 2710  # one per building leader


def test_qingcao_has_exactly_its_three_published_levels_22_50_165_in_its_one_town() -> None:
    tree, geometry = generate("qingcao")
    s = summary(tree)
    assert tree.root == "QC" and list(tree.towns) == ["QC01"]
    assert tree["QC01"].name == "青草镇"
    counts = [s["by_level"][lv]["comprehensive"] for lv in ("large", "medium", "small")]
    assert counts == [22, 50, 165]
    below_town = {tree[c].level for c in tree.subtree("QC01")} - {Level.TOWN}
    assert below_town == {Level.LARGE, Level.MEDIUM, Level.SMALL}  # no fourth level
    leaves = list(tree.leaves("QC"))
    assert len(leaves) == 165 and all(tree[c].level == Level.SMALL for c in leaves)
    assert all(tree[c].population > 0 and tree[c].first_leader for c in leaves)
    assert 35_000 < tree["QC"].population < 60_000
    assert set(geometry) == set(tree.grids)


def test_profiles_describe_how_they_map_the_published_figures() -> None:
    assert set(PROFILES) == {"pingnan", "dongchang", "qingcao", "pingnan-dense"}
    assert "48,910" in PROFILES["pingnan-dense"].description
    assert "7,226" in PROFILES["pingnan"].description
    assert "457" in PROFILES["dongchang"].description
    assert "22 / 50 / 165" in PROFILES["qingcao"].description


def test_an_unknown_profile_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidRequest, match="pingnan, dongchang, qingcao"):
        generate("atlantis")


# ------------------------------------------------------------------------ files and determinism


def test_generate_write_load_gives_an_equal_tree_and_geometry(pingnan: Generated, written: Path) -> None:
    tree, geometry = pingnan
    assert load_registry(written / "grids.csv") == tree
    assert load_registry(written / "grids.geojson") == tree
    assert load_geometry(written) == geometry


def test_the_same_seed_gives_identical_bytes(written: Path, tmp_path: Path) -> None:
    tree, geometry = generate("pingnan", seed=7)
    write_registry(tree, tmp_path, geometry)
    assert digests(tmp_path) == digests(written)


def test_a_different_seed_gives_a_different_county_with_the_same_totals(
    pingnan: Generated,
) -> None:
    tree, geometry = generate("pingnan", seed=8)
    assert tree.rows() != pingnan[0].rows()
    assert geometry["PN"] != pingnan[1]["PN"]
    assert tree.central_households != pingnan[0].central_households
    same = {"households": 0, "population": 0}
    assert summary(tree) | same == summary(pingnan[0]) | same


def test_generation_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from command.generate import generate; "
        "from command.registry import write_registry; "
        "t, g = generate('qingcao', 3); write_registry(t, Path(sys.argv[1]), g)"
    )
    root = Path(__file__).resolve().parents[2]
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(root)}
        out = tmp_path / hash_seed
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env, cwd=root)
    assert digests(tmp_path / "1") == digests(tmp_path / "2")


def test_written_files_use_lf_and_compact_json(written: Path) -> None:
    for name in FILES:
        assert b"\r" not in (written / name).read_bytes()
    geojson = (written / "grids.geojson").read_text(encoding="utf-8")
    assert '"name":"平南县"' in geojson  # not \\u escapes, no spaces after separators
    assert (written / "grids.geojson").stat().st_size < 8_000_000


# ------------------------------------------------------------------------ polygons


def test_every_node_has_a_valid_polygon_of_modest_size(pingnan: Generated, shapes: dict[str, Polygon]) -> None:
    tree, geometry = pingnan
    assert set(geometry) == set(tree.grids)
    for code, poly in shapes.items():
        assert poly.is_valid and poly.area > 0, code
        ring = geometry[code]["coordinates"][0]
        assert ring[0] == ring[-1]
        assert len(ring) <= 30, code
        assert shapely.is_ccw(poly.exterior), code


def test_coordinates_lie_near_pingnan_with_5_decimals(pingnan: Generated) -> None:
    for geometry in pingnan[1].values():
        for lon, lat in geometry["coordinates"][0]:
            assert 110.15 <= lon <= 110.85 and 23.15 <= lat <= 23.95
            assert round(lon, 5) == lon and round(lat, 5) == lat


def test_the_county_outline_is_an_irregular_blob(shapes: dict[str, Polygon]) -> None:
    county = shapes["PN"]
    assert len(county.exterior.coords) > 12
    assert county.area < 0.95 * county.envelope.area
    assert not county.equals(county.convex_hull)
    km2 = county.area * 111.32 * 110.57 * math.cos(math.radians(23.55))
    assert 2_000 < km2 < 4_000  # Pingnan covers about 2,988 km²


def test_every_child_polygon_lies_within_its_parent(pingnan: Generated, shapes: dict[str, Polygon]) -> None:
    tree = pingnan[0]
    for code in parents(tree):
        parent = shapes[code]
        for child in tree.children[code]:
            outside = shapes[child].difference(parent).area
            assert outside <= shapes[child].length * ROUNDING, (child, outside)


def test_children_tile_their_parent(pingnan: Generated, shapes: dict[str, Polygon]) -> None:
    tree = pingnan[0]
    for code in parents(tree):
        kids = [shapes[c] for c in tree.children[code]]
        slack = (shapes[code].length + sum(k.length for k in kids)) * ROUNDING
        assert abs(sum(k.area for k in kids) - shapes[code].area) <= slack, code


def test_sibling_polygons_do_not_overlap(pingnan: Generated, shapes: dict[str, Polygon]) -> None:
    tree = pingnan[0]
    for code in parents(tree):
        kids = tree.children[code]
        for a, b in itertools.combinations(kids, 2):
            if shapes[a].intersects(shapes[b]):
                shared = shapes[a].intersection(shapes[b]).area
                limit = min(shapes[a].length, shapes[b].length) * ROUNDING
                assert shared <= limit, (a, b, shared)
