"""The after-action report's households section: reach per town over time, minutes to 100 %, never reached."""

from __future__ import annotations

import pandas as pd

from command.events import HouseholdStatusSet, Recorded
from command.households import STATUSES, Household, roster_events
from command.report_households import households_report
from tests.conftest import make_tree

T0 = 1_700_000_000_000
MIN = 60_000
OP = "op-1"
A = "TC01-L1-M1-S1-W1"
B = "TC02-L1-M1-S1-W1"


def _records() -> list[Recorded]:
    tree = make_tree()
    people = [Household(f"{A}-H{i}", A, size=3, vulnerable=("elderly_alone",) if i == 3 else ()) for i in range(1, 5)]
    people += [Household(f"{B}-H{i}", B, size=2) for i in range(1, 3)]
    loads = roster_events(tree, people, "l1")
    recs = [Recorded(f"{T0 - MIN}-{n}", ev, "admin", T0 - MIN) for n, ev in enumerate(loads)]

    def status(minute: int, seq: int, code: str, st: str) -> Recorded:
        grid = code.rsplit("-H", 1)[0]
        ev = HouseholdStatusSet(OP, code, grid, st, f"r-{minute}-{seq}")
        return Recorded(f"{T0 + minute * MIN}-{seq}", ev, "leader", T0 + minute * MIN)

    recs += [
        status(5, 0, f"{A}-H1", "reached"),
        status(10, 0, f"{A}-H2", "evacuated"),
        status(12, 0, f"{A}-H2", "safe_in_place"),  # a correction: still one household reached
        status(20, 0, f"{B}-H1", "absent"),
        status(30, 0, f"{B}-H2", "evacuated"),
        status(40, 0, f"{A}-H1", "evacuated"),
        other_operation(45, f"{A}-H4", "refused", operation="op-other"),
    ]
    return recs


def other_operation(minute: int, code: str, st: str, operation: str) -> Recorded:
    grid = code.rsplit("-H", 1)[0]
    return Recorded(f"{T0 + minute * MIN}-9", HouseholdStatusSet(operation, code, grid, st, f"o-{minute}"),
                    "leader", T0 + minute * MIN)


def test_reach_per_town_counts_each_household_once_and_lists_the_never_reached() -> None:
    tree = make_tree()
    hh = households_report(_records(), tree, OP, tree.root, T0, T0 + 60 * MIN, STATUSES)
    assert hh is not None
    assert (hh.total, hh.reached) == (6, 4)
    assert hh.by_status["evacuated"] == 2 and hh.by_status["safe_in_place"] == 1 and hh.by_status["absent"] == 1
    towns = hh.towns.set_index("grid")
    assert towns.loc["TC01", "with_status"] == 2 and towns.loc["TC01", "total"] == 4
    assert towns.loc["TC01", "pct"] == 50.0 and pd.isna(towns.loc["TC01", "minutes_to_100"])
    assert towns.loc["TC02", "minutes_to_100"] == 30.0
    assert hh.minutes_to[50] == 20.0 and hh.minutes_to[100] is None
    # vulnerable first, then by code; the other operation's status does not count here
    assert list(hh.never["code"]) == [f"{A}-H3", f"{A}-H4"]
    assert "head" not in hh.never.columns


def test_reach_over_time_only_grows_and_ends_at_the_close() -> None:
    tree = make_tree()
    hh = households_report(_records(), tree, OP, tree.root, T0, T0 + 60 * MIN, STATUSES)
    assert hh is not None
    tc02 = list(hh.series["TC02"])
    assert tc02 == sorted(tc02) and tc02[-1] == 100.0
    assert hh.series["time"].iloc[-1] == T0 + 60 * MIN
    early = hh.series[hh.series["time"] <= T0 + 15 * MIN]
    assert list(early["TC02"]) == [0.0] * len(early)


def test_a_status_after_the_close_is_not_counted_and_no_roster_gives_no_section() -> None:
    tree = make_tree()
    hh = households_report(_records(), tree, OP, tree.root, T0, T0 + 25 * MIN, STATUSES)
    assert hh is not None and hh.reached == 3
    assert households_report([], tree, OP, tree.root, T0, T0 + 25 * MIN, STATUSES) is None
