"""The grid tree: `GridTree.build` indexes any order of grids the same way, `Grid` rows round-trip."""

from __future__ import annotations

import pickle
import random

import pytest

from command.generate import province_county
from command.grids import CentralHousehold, Grid, GridKind, GridTree, Level
from tests.conftest import make_tree


def reference_index(grids: list[Grid]) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], dict[str, str]]:
    """Children, ancestors and town of every grid, the slow obvious way (parent chains)."""
    by_code = {g.code: g for g in grids}
    children = {g.code: tuple(k.code for k in grids if k.parent == g.code) for g in grids}
    ancestors: dict[str, tuple[str, ...]] = {}
    town: dict[str, str] = {}
    for g in grids:
        chain: list[str] = []
        p = g.parent
        while p is not None:
            chain.append(p)
            p = by_code[p].parent
        ancestors[g.code] = tuple(chain)
        for c in (g.code, *chain):
            if by_code[c].level == Level.TOWN:
                town[g.code] = c
                break
    return children, ancestors, town


def shuffled_tree(seed: int) -> list[Grid]:
    """make_tree's grids plus dedicated grids (under the county, a town and a small grid), shuffled."""
    grids = list(make_tree(towns=3, larges=2, mediums=2, smalls=2, micros=2).grids.values())
    extra = [
        Grid("TC-D1", "县直专属网格", Level.LARGE, GridKind.DEDICATED, "TC", 5, 10),
        Grid("TC02-D1", "镇专属网格", Level.MEDIUM, GridKind.DEDICATED, "TC02", 5, 10),
        Grid("TC01-L1-M1-S1-D1", "学校", Level.MICRO, GridKind.DEDICATED, "TC01-L1-M1-S1", 5, 10),
    ]
    out = grids + extra
    random.Random(seed).shuffle(out)
    return out


@pytest.mark.parametrize("seed", range(8))
def test_build_indexes_grids_in_any_order_like_following_parent_chains(seed: int) -> None:
    grids = shuffled_tree(seed)
    tree = GridTree.build(grids)
    children, ancestors, town = reference_index(grids)
    assert tree.root == "TC"
    assert list(tree.grids) == [g.code for g in grids]  # registry order kept
    assert list(tree.children) == [g.code for g in grids]
    assert dict(tree.children) == children
    for g in grids:
        assert tree.ancestors(g.code) == ancestors[g.code]
        assert tree.town_of(g.code) == town.get(g.code)
    assert tree.town_of("TC-D1") is None  # hangs under the county, in no town


def test_a_tree_rooted_at_a_town_is_its_own_town() -> None:
    grids = [
        Grid("T", "镇", Level.TOWN, GridKind.COMPREHENSIVE, None, 0, 0),
        Grid("T-L1", "村", Level.LARGE, GridKind.COMPREHENSIVE, "T", 0, 0),
    ]
    tree = GridTree.build(grids)
    assert tree.town_of("T") == "T" and tree.town_of("T-L1") == "T"


def test_a_parent_that_is_no_grid_is_refused() -> None:
    grids = [
        Grid("C", "县", Level.COUNTY, GridKind.COMPREHENSIVE, None, 0, 0),
        Grid("C-X", "孤儿", Level.TOWN, GridKind.COMPREHENSIVE, "NOPE", 0, 0),
    ]
    with pytest.raises(KeyError):
        GridTree.build(grids)


def test_an_empty_tree_has_no_root() -> None:
    tree = GridTree.build([])
    assert tree.root == "" and len(tree) == 0 and tree.rows() == []


def test_rows_round_trip_through_from_row() -> None:
    tree, _ = province_county(1, "dongchang", geometry=False)
    for row in tree.rows():
        assert Grid.from_row(row).to_row() == row
        assert Grid.from_row(row) == tree[row["code"]]
    for ch in tree.central_households:
        assert CentralHousehold.from_row(ch.to_row()) == ch


def test_from_row_takes_strings_numbers_as_text_and_empty_cells() -> None:
    g = Grid.from_row(
        {"code": 7, "name": "x", "level": "small", "kind": "dedicated", "parent": "", "households": "12",
         "population": None, "first_leader": "", "leader": "王", "phone": ""}
    )
    assert g == Grid("7", "x", Level.SMALL, GridKind.DEDICATED, None, 12, 0, None, "王", None)
    assert g.level is Level.SMALL and g.kind is GridKind.DEDICATED
    assert Grid.from_row({**g.to_row(), "level": Level.MICRO}).level is Level.MICRO
    with pytest.raises(ValueError):
        Grid.from_row({**g.to_row(), "level": "village"})
    with pytest.raises(ValueError):
        Grid.from_row({**g.to_row(), "kind": "other"})


def test_grids_and_trees_are_immutable_values_that_pickle() -> None:
    tree = make_tree()
    g = tree[tree.root]
    with pytest.raises(AttributeError):
        g.name = "other"  # type: ignore[misc]
    assert hash(g) == hash(Grid.from_row(g.to_row()))
    back = pickle.loads(pickle.dumps(tree))
    assert back == tree and back.ancestors(next(tree.leaves(tree.root))) == tree.ancestors(next(tree.leaves(tree.root)))
