"""The fold: roll-ups are exact, batch aggregation equals event-by-event folding (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from command.events import ProgressReported, Recorded
from command.fold import Counts, aggregate_reports
from tests.conftest import make_tree

TREE = make_tree(towns=2, larges=2, mediums=1, smalls=2, micros=2)
LEAVES = sorted(TREE.leaves(TREE.root))

reports = st.lists(
    st.tuples(
        st.sampled_from(["op1", "op2"]),
        st.sampled_from(LEAVES),
        st.dictionaries(st.sampled_from(["sampled", "people_evacuated"]), st.integers(-50, 500), min_size=1),
    ),
    max_size=60,
)


def _counts(items: list[tuple[str, str, dict[str, int]]]) -> Counts:
    c = Counts(TREE)
    for i, (op, grid, counts) in enumerate(items):
        c.apply(Recorded(f"{1000 + i}-0", ProgressReported(op, grid, counts, f"r{i}"), "a", 1000 + i))
    return c


@given(reports)
@settings(max_examples=150, deadline=None)
def test_every_grid_total_equals_the_sum_of_its_leaves(items: list[tuple[str, str, dict[str, int]]]) -> None:
    c = _counts(items)
    for op in ("op1", "op2"):
        for grid in TREE.subtree(TREE.root):
            want: dict[str, int] = {}
            for leaf in TREE.leaves(grid):
                for k, v in c.totals[op][leaf].items():
                    want[k] = want.get(k, 0) + v
            have = {k: v for k, v in c.totals[op][grid].items() if v}
            assert have == {k: v for k, v in want.items() if v}


@given(reports)
@settings(max_examples=150, deadline=None)
def test_every_parent_total_equals_the_sum_of_its_children(items: list[tuple[str, str, dict[str, int]]]) -> None:
    c = _counts(items)
    for op in ("op1", "op2"):
        for grid in TREE.subtree(TREE.root):
            kids = TREE.children[grid]
            if not kids:
                continue
            for counter in ("sampled", "people_evacuated"):
                assert c.totals[op][grid][counter] == sum(c.totals[op][k][counter] for k in kids)


@given(reports, st.integers(1, 10))
@settings(max_examples=150, deadline=None)
def test_batched_aggregation_equals_folding_one_event_at_a_time(
    items: list[tuple[str, str, dict[str, int]]], batch: int
) -> None:
    one_by_one = _counts(items)
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for start in range(0, len(items), batch):
        chunk = [(op, g, c, 1000 + start + i) for i, (op, g, c) in enumerate(items[start : start + batch])]
        deltas, _ = aggregate_reports(TREE, chunk)
        for key, cell in deltas.items():
            acc = totals.setdefault(key, {})
            for k, v in cell.items():
                acc[k] = acc.get(k, 0) + v
    for (op, grid), cell in totals.items():
        assert {k: v for k, v in cell.items() if v} == one_by_one.of(op, grid)


def test_last_report_time_reaches_every_ancestor() -> None:
    c = _counts([("op1", LEAVES[0], {"sampled": 1})])
    assert set(c.last["op1"]) == set(TREE.path(LEAVES[0]))
