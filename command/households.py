"""Households (户): nobody missed (不漏一户, DESIGN §7.3) — the domain, without I/O.

A county's roster (``households.csv``) lists every household under the leaf grid it
lives in (a micro grid, or a small or dedicated grid that has no micro grids), with
the party-member central household (党员中心户) that links it, if any. In an
operation each household gets a status from the field; until then it is
*unreached* (未联系). A later status replaces the earlier one, so a correction is
simply another status: the counts move from the old status to the new one, exactly.

* **Who may set a status.** Whoever may report on the household's grid
  (`command.access.require_report`): a leader whose scope holds the grid — the
  grid worker or leader of a micro grid, the first small-grid leader above it —
  and commanders of its scope. A central household's party member acts with a
  ``leader`` account on its micro grid (there is no separate role); a leader of
  another micro grid is refused (403) and nothing changes.
* **Who sees names and phones.** The household's own grid leaders (a leader whose
  scope holds its grid) and the commanders of its scope (`may_see_personal`);
  everyone else, viewers and kiosk walls included, sees them masked
  (`mask_name`: 张*明, `mask_phone`: 138****1234).
* **Roll-ups.** Counts are kept per leaf grid; every grid's counts are the sums
  over the leaf grids beneath it (`roll_up`), exactly like the counters.

The statuses are a fold of the log: `fold_statuses` is the rule (the latest event
wins) that the projector's script applies too.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from command import bounds
from command.access import Actor, Role, require_report, within_scope
from command.errors import InvalidRequest, ModeConflict, NotAuthorised, OperationClosed
from command.events import HouseholdsRegistered, HouseholdStatusSet
from command.fold import ControlState
from command.grids import GridTree
from command.operations import MAX_NOTE, REPORT_ID, OperationState, operation_of

__all__ = [
    "ROSTER_BATCH",
    "STATUSES",
    "UNREACHED",
    "Household",
    "HouseholdCounts",
    "HouseholdStatus",
    "HouseholdStatusRequest",
    "Vulnerability",
    "counts_of",
    "fold_statuses",
    "listing_key",
    "mask_name",
    "mask_phone",
    "may_see_personal",
    "refuse_readers",
    "roll_up",
    "roster_events",
    "status_event",
]


class HouseholdStatus(enum.StrEnum):
    """What the field says of a household in an operation."""

    REACHED = "reached"  # 已联系
    EVACUATED = "evacuated"  # 已转移
    SAFE_IN_PLACE = "safe_in_place"  # 就地安全
    ABSENT = "absent"  # 不在家
    REFUSED = "refused"  # 拒绝
    UNREACHABLE = "unreachable"  # 联系不上


STATUSES: tuple[str, ...] = tuple(s.value for s in HouseholdStatus)
UNREACHED = "unreached"
"""A household with no status yet in the operation (未联系): never a status one can set."""


class Vulnerability(enum.StrEnum):
    """Why a household needs help first (重点户)."""

    ELDERLY_ALONE = "elderly_alone"  # 独居老人
    DISABLED = "disabled"  # 残疾
    BEDRIDDEN = "bedridden"  # 卧床
    CHILD = "child"  # 留守儿童
    PREGNANT = "pregnant"  # 孕妇


ROSTER_BATCH = 2_000
"""Households in one HouseholdsRegistered event at most (whole grids; a larger grid goes alone)."""


class Household(msgspec.Struct, frozen=True, gc=False):
    """One household of the roster; `grid` is the leaf grid it lives in (the CSV's ``micro_grid``)."""

    code: str
    grid: str
    central_household: str = ""
    address: str = ""
    head: str = ""
    size: int = 0
    phone: str = ""
    vulnerable: tuple[str, ...] = ()

    def log_row(self) -> tuple[str, str, str, str, int, str]:
        """What the log holds of it: no head, no phone (they are personal data, kept aside)."""
        return (self.code, self.grid, self.central_household, self.address, self.size, ";".join(self.vulnerable))

    @classmethod
    def from_log_row(cls, row: Sequence[Any], head: str = "", phone: str = "") -> Household:
        """Inverse of `log_row`, with the personal data put back when known."""
        code, grid, central, address, size, vulnerable = row[:6]
        return cls(str(code), str(grid), str(central or ""), str(address or ""), head, int(size or 0), phone,
                   tuple(v for v in str(vulnerable or "").split(";") if v))


# ---------------------------------------------------------------------------- roster in the log


def roster_events(tree: GridTree, households: Iterable[Household], load: str) -> list[HouseholdsRegistered]:
    """The events of one roster load: every leaf grid of every town listed once, households in batches.

    A leaf grid with no household is listed too (with no row), so a load replaces the whole
    roster. Grids are never split across events; an event holds up to `ROSTER_BATCH`
    households (a larger grid goes alone).
    """
    by_grid: dict[str, list[Household]] = {}
    for h in households:
        by_grid.setdefault(h.grid, []).append(h)
    leaves: dict[str, list[str]] = {}
    for code in tree.grids:
        if not tree.children[code]:
            town = tree.town_of(code)
            if town is not None:
                leaves.setdefault(town, []).append(code)
    out: list[HouseholdsRegistered] = []
    for town, grids in leaves.items():
        batch_grids: list[str] = []
        rows: list[tuple[Any, ...]] = []
        for g in grids:
            mine = by_grid.get(g, [])
            if batch_grids and len(rows) + len(mine) > ROSTER_BATCH:
                out.append(HouseholdsRegistered(town, tuple(batch_grids), tuple(rows), load))
                batch_grids, rows = [], []
            batch_grids.append(g)
            rows.extend(h.log_row() for h in mine)
        if batch_grids:
            out.append(HouseholdsRegistered(town, tuple(batch_grids), tuple(rows), load))
    return out


# ---------------------------------------------------------------------------- statuses


@dataclass(frozen=True, slots=True)
class HouseholdStatusRequest:
    """One status from the field: ``{report_id, household, status, note?}`` on an operation."""

    operation: str
    report_id: object
    household: object
    status: object
    note: object = ""


def refuse_readers(actor: Actor) -> None:
    """A viewer (or a kiosk wall) sets no status: refused before the household is even looked up."""
    if actor.role == Role.VIEWER:
        raise NotAuthorised("viewers cannot set a household's status", field="household")


def status_event(
    state: ControlState, actor: Actor, household: Household, req: HouseholdStatusRequest
) -> HouseholdStatusSet:
    """Validate a status against the operation, the household's grid and the actor."""
    tree = state.tree
    if tree is None:
        raise ModeConflict("no registry loaded", field="household")
    op = operation_of(state, req.operation)
    if not isinstance(req.report_id, str) or not REPORT_ID.fullmatch(req.report_id):
        raise InvalidRequest("report_id is required: 1–100 characters of letters, digits, _ . : -",
                             field="report_id")
    if req.status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}", field="status")
    grid = household.grid
    require_report(actor, tree, grid, field="household")
    if op.state == OperationState.CLOSED:
        raise OperationClosed(f"operation {op.id} is closed", field="operation")
    if not tree.is_within(grid, op.scope):
        raise InvalidRequest(f"household {household.code} is outside the operation's scope {op.scope}",
                             field="household")
    if grid not in state.wartime:
        raise ModeConflict(f"{grid} is not in wartime", field="household")
    note = bounds.text(req.note if req.note is not None else "", "note", MAX_NOTE)
    return HouseholdStatusSet(operation=op.id, household=household.code, grid=grid, status=str(req.status),
                              report_id=req.report_id, note=note)


def fold_statuses(events: Iterable[HouseholdStatusSet]) -> dict[str, tuple[str, str]]:
    """household → (status, grid) after `events` in log order: the latest status wins."""
    out: dict[str, tuple[str, str]] = {}
    for ev in events:
        if ev.status in STATUSES:
            out[ev.household] = (ev.status, ev.grid)
    return out


def counts_of(statuses: Mapping[str, tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Leaf grid → status → households, from a fold of statuses."""
    out: dict[str, dict[str, int]] = {}
    for status, grid in statuses.values():
        cell = out.setdefault(grid, {})
        cell[status] = cell.get(status, 0) + 1
    return out


@dataclass(slots=True)
class HouseholdCounts:
    """A grid's households in an operation: how many, how many per status, how many unreached."""

    total: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    @property
    def unreached(self) -> int:
        """Households with no status (never below zero: a status counted for a household since removed
        from the roster still counts as that status, not as a negative unreached)."""
        return max(0, self.total - sum(self.by_status.values()))

    def to_json(self) -> dict[str, Any]:
        """``{total, by_status, unreached}`` as the API answers it."""
        return {"total": self.total, "by_status": dict(self.by_status), "unreached": self.unreached}


def _leaf_paths(tree: GridTree, leaf: str) -> Iterator[str]:
    yield leaf
    yield from tree.ancestors(leaf)


def roll_up(
    tree: GridTree,
    totals: Mapping[str, int],
    counts: Mapping[str, Mapping[str, int]],
    grids: Iterable[str],
) -> dict[str, HouseholdCounts]:
    """Counts of each of `grids`: the sums over the leaf grids beneath it (roster `totals`, status `counts`)."""
    wanted = {g: HouseholdCounts() for g in grids}
    for leaf in totals.keys() | counts.keys():
        n = totals.get(leaf, 0)
        by = counts.get(leaf, {})
        for g in _leaf_paths(tree, leaf) if leaf in tree else ():
            cell = wanted.get(g)
            if cell is None:
                continue
            cell.total += n
            for s, k in by.items():
                if s in cell.by_status:
                    cell.by_status[s] += k
    return wanted


def listing_key(status: str | None, vulnerable: Sequence[str], code: str) -> tuple[bool, bool, str]:
    """Order of a household list: unreached first, vulnerable first among them, then by code."""
    return (status is not None and status != UNREACHED, not vulnerable, code)


# ---------------------------------------------------------------------------- privacy


def may_see_personal(actor: Actor, tree: GridTree, grid: str) -> bool:
    """Names and phones unmasked: the household's own grid leaders and the commanders of its scope."""
    return actor.role in (Role.COMMANDER, Role.LEADER) and grid in tree and within_scope(actor, tree, grid)


def mask_name(name: str) -> str:
    """张建明 → 张*明, 张明 → 张*, 欧阳建明 → 欧**明; the first and (from three) the last character shown."""
    if len(name) <= 1:
        return "*" if name else ""
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """13812341234 → 138****1234: the first three and last four digits shown (shorter: all masked)."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
