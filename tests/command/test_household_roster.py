"""The household roster file: generated consistent with the grids, read back, bad rows refused by line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from command.errors import RegistryError
from command.generate import PINGNAN_FIGURES, generate
from command.grids import CentralHousehold, GridTree
from command.household_roster import (
    FICTITIOUS_PHONE_PREFIX,
    HOUSEHOLD_COLUMNS,
    generate_households,
    load_households,
    write_households,
)
from tests.conftest import make_tree

BASE = make_tree()
TREE = GridTree.build(BASE.grids.values(), [CentralHousehold("TC01-L1-M1-S1-W1-H1", "TC01-L1-M1-S1-W1", "党员", 5)])


def _write(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "households.csv"
    p.write_text(",".join(HOUSEHOLD_COLUMNS) + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_a_generated_pingnan_roster_adds_up_to_the_grids_and_the_published_links() -> None:
    tree, _ = generate("pingnan", geometry=False)
    roster = generate_households(tree)
    per_grid = Counter(h.grid for h in roster)
    assert all(per_grid[c] == tree[c].households for c in tree.grids if not tree.children[c])
    assert len(roster) == tree[tree.root].households
    linked = Counter(h.central_household for h in roster if h.central_household)
    assert len(linked) == PINGNAN_FIGURES["central_households"] == 4870
    assert sum(linked.values()) == PINGNAN_FIGURES["linked_households"] == 32737
    assert all(linked[c.code] == c.linked_households for c in tree.central_households)
    share = sum(1 for h in roster if h.vulnerable) / len(roster)
    assert 0.08 < share < 0.2  # elderly alone, disabled, bedridden, children, pregnant: about one in seven
    assert all(h.phone.startswith(FICTITIOUS_PHONE_PREFIX) and len(h.phone) == 11 for h in roster)


def test_a_written_roster_reads_back_the_same(tmp_path: Path) -> None:
    roster = generate_households(TREE, seed=4)
    path = write_households(roster, tmp_path)
    assert load_households(path, TREE) == roster


def test_every_bad_row_is_refused_by_its_line_and_nothing_is_loaded(tmp_path: Path) -> None:
    path = _write(tmp_path, [
        "H1,TC01-L1-M1-S1-W1,TC01-L1-M1-S1-W1-H1,大塘1号,张建明,3,10012345678,elderly_alone",  # good
        "H2,TC09-NOPE,,大塘2号,李明,2,,",  # unknown micro grid
        "H3,TC01-L1-M1-S1-W2,NOPE-H9,大塘3号,王五,2,,",  # unknown central household
        "H1,TC01-L1-M1-S1-W1,,大塘4号,赵六,2,,",  # duplicate code
        "H5,TC01-L1-M1-S1,,大塘5号,钱七,2,,",  # not a leaf grid
        "H6,TC01-L1-M1-S1-W2,TC01-L1-M1-S1-W1-H1,大塘6号,孙八,2,,",  # central household of another grid
        "H7,TC01-L1-M1-S1-W2,,大塘7号,周九,many,,",  # size not a number
        "H8,TC01-L1-M1-S1-W2,,大塘8号,吴十,2,call me,",  # not a phone number
        "H9,TC01-L1-M1-S1-W2,,大塘9号,郑一,2,,flying",  # unknown vulnerability
    ])
    with pytest.raises(RegistryError) as err:
        load_households(path, TREE)
    got = [(e.line, e.field) for e in err.value.errors]
    assert got == [(3, "micro_grid"), (4, "central_household"), (5, "code"), (6, "micro_grid"),
                   (7, "central_household"), (8, "size"), (9, "phone"), (10, "vulnerable")]
    assert "unknown micro grid TC09-NOPE" in str(err.value) and "unknown central household NOPE-H9" in str(err.value)


def test_a_roster_without_its_required_columns_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "households.csv"
    p.write_text("code,address,head\nH1,x,y\n", encoding="utf-8")
    with pytest.raises(RegistryError) as err:
        load_households(p, TREE)
    assert "micro_grid" in str(err.value)
