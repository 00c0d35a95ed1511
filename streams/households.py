"""Households over Redis (DESIGN §7.3): the roster's storage, the projector's share, the reads.

Where what lives, for a county of 310,000 households:

* **The log.** A roster load is `HouseholdsRegistered` events in each town's stream
  (whole leaf grids, up to `command.households.ROSTER_BATCH` households an event);
  a status is a `HouseholdStatusSet` in the household's town stream, appended by the
  same script as a report (claimed in ``wt:{PN:op}:claims``, keyed ``op:report_id``),
  so it is exactly-once per operation and refused on a closed operation.
* **Read models** (town slot, dropped and rebuilt by `wartime replay`), written by the
  projector with its checkpoint (`plan_households` adds to its one apply call):
  ``rm:hh:roster`` leaf grid → JSON rows (codes relative to the grid), ``rm:hh:totals`` leaf grid → households;
  per operation ``rm:hh:{op}:status`` household → ``status grid`` and
  ``rm:hh:{op}:counts`` ``grid|status`` → households. The apply script moves a
  household's count from its old status to its new one, so corrections never
  double. Counts are kept per leaf grid only; every grid's counts are summed from
  its leaves at read time (`command.households.roll_up`): exact by construction.
* **Personal data** (heads' names, phone numbers) never enter the log: the roster
  load writes them per town to ``hh:personal`` (leaf grid → JSON {code relative to
  the grid: [head, phone]}) after its events are in the log; reads unmask them by role only.
* **Finding a household.** Generated codes start with their grid's code
  (``PN01-…-W03-017``), so no index is needed for them; any other code is kept in
  ``wt:{PN}:hh:where`` (code → grid), written by the load.

Memory is kept low by packing a grid's households into one hash field (a few dozen
rows of JSON) rather than one field or key per household.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from command.access import Actor
from command.errors import UnknownHousehold
from command.grids import GridTree
from command.households import (
    UNREACHED,
    Household,
    HouseholdCounts,
    listing_key,
    mask_name,
    mask_phone,
    may_see_personal,
    roll_up,
    roster_events,
)
from streams.keys import CountyKeys, TownKeys
from streams.log import EventLog, Pending
from streams.server import Client

__all__ = [
    "HOUSEHOLD_WIRES",
    "HouseholdList",
    "HouseholdView",
    "find_household",
    "household_entries",
    "plan_households",
    "store_roster",
]

log = logging.getLogger(__name__)

_REGISTERED = b"households_registered"
_STATUS = b"household_status_set"
HOUSEHOLD_WIRES = frozenset((_REGISTERED, _STATUS))
WHOLE_TOWN_READ = 2_000
"""Households listed at once above which statuses are read whole per town (HGETALL) rather than by code."""
APPEND_CHUNK = 40
"""Roster events appended per call (each one town's batch of up to 2,000 households)."""


def _b(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode()


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


# ---------------------------------------------------------------------------- the projector's share


def household_entries(raw: Iterable[tuple[Any, Any]]) -> list[tuple[bytes, bytes]]:
    """(wire, payload) of the household events of a page, in log order (raw lists or decoded dicts)."""
    out: list[tuple[bytes, bytes]] = []
    for _, f in raw:
        if isinstance(f, dict):
            wire = _b(f.get(b"t", f.get("t", b"")))
            if wire in HOUSEHOLD_WIRES:
                out.append((wire, _b(f.get(b"d", f.get("d", b"")))))
        elif len(f) > 1 and f[1] in HOUSEHOLD_WIRES:
            pairs = dict(zip(f[::2], f[1::2], strict=True))
            out.append((f[1], _b(pairs.get(b"d", b""))))
    return out


class _Status(msgspec.Struct):
    operation: str
    household: str
    grid: str
    status: str


class _Registered(msgspec.Struct):
    grids: list[str]
    households: list[list[Any]] = []


_decode_status = msgspec.json.Decoder(_Status).decode
_decode_registered = msgspec.json.Decoder(_Registered).decode
_encode = msgspec.json.encode


def plan_households(
    tk: TownKeys, entries: Sequence[tuple[bytes, bytes]], keys: list[str], args: list[Any]
) -> dict[str, list[str]]:
    """Add a page's household events to the projector's apply call (keys, args); the grids touched per operation.

    Roster events set whole grids (mode ``h``: the later load of a grid wins); statuses go
    through mode ``x``, which moves each household's count from its old status to its new
    one in the order of the log. An entry no reader can take is skipped and logged.
    """
    roster: dict[str, bytes] = {}
    totals: dict[str, int] = {}
    statuses: dict[str, list[str]] = {}
    touched: dict[str, dict[str, None]] = {}
    for wire, payload in entries:
        try:
            if wire == _STATUS:
                st = _decode_status(payload)
                statuses.setdefault(st.operation, []).extend((st.household, f"{st.status} {st.grid}"))
                touched.setdefault(st.operation, {})[st.grid] = None
            else:
                reg = _decode_registered(payload)
                rows: dict[str, list[list[Any]]] = {g: [] for g in reg.grids}
                for row in reg.households:
                    if len(row) >= 6 and row[1] in rows:
                        rows[row[1]].append(_pack(row))
                for g, mine in rows.items():
                    roster[g] = _encode(mine)
                    totals[g] = len(mine)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            log.warning("projector: skipped an unreadable household event (%s): %s", exc, payload[:200])
    if roster:
        keys.append(tk.household_roster)
        args.extend(("h", len(roster), *(x for kv in roster.items() for x in kv)))
        keys.append(tk.household_totals)
        args.extend(("h", len(totals), *(x for kv in totals.items() for x in kv)))
    for op, pairs in statuses.items():
        keys.extend((tk.household_status(op), tk.household_counts(op)))
        args.extend(("x", len(pairs) // 2, *pairs))
    return {op: list(grids) for op, grids in touched.items()}


# ---------------------------------------------------------------------------- loading a roster


def store_roster(
    client: Client, log_: EventLog, tree: GridTree, households: Sequence[Household], actor: str, at: int
) -> int:
    """Append a roster's events, then keep its personal data and index aside; returns events appended.

    Nothing changes before the events are in the log: the personal data and the index are
    written after them (each replaced whole, through a staging key and RENAME).
    """
    load = secrets.token_hex(6)
    events = roster_events(tree, households, load)
    for i in range(0, len(events), APPEND_CHUNK):
        chunk = events[i:i + APPEND_CHUNK]
        log_.append_many([Pending(e, actor, at, f"roster:{load}:{i + n}") for n, e in enumerate(chunk)])
    personal: dict[str, dict[str, dict[str, list[str]]]] = {}
    where: dict[str, str] = {}
    for h in households:
        town = tree.town_of(h.grid) or h.grid
        personal.setdefault(town, {}).setdefault(h.grid, {})[_rel(h.grid, h.code)] = [h.head, h.phone]
        if not h.code.startswith(h.grid + "-"):
            where[h.code] = h.grid
    pipe = client.pipeline(transaction=False)
    for town in tree.towns:
        key = TownKeys(town).household_personal
        grids = personal.get(town)
        if not grids:
            pipe.delete(key)
            continue
        staging = key + ":new"
        pipe.delete(staging)
        items = [(g, json.dumps(v, ensure_ascii=False, separators=(",", ":"))) for g, v in grids.items()]
        for c in range(0, len(items), 1000):
            pipe.hset(staging, mapping=dict(items[c:c + 1000]))
        pipe.rename(staging, key)
    pipe.execute()
    _replace_hash(client, CountyKeys(tree.root).household_where, where)
    return len(events)


def _replace_hash(client: Client, key: str, mapping: Mapping[str, str]) -> None:
    if not mapping:
        client.delete(key)
        return
    staging = key + ":new"
    pipe = client.pipeline(transaction=False)
    pipe.delete(staging)
    items = list(mapping.items())
    for c in range(0, len(items), 5000):
        pipe.hset(staging, mapping=dict(items[c:c + 5000]))
    pipe.rename(staging, key)
    pipe.execute()


# ---------------------------------------------------------------------------- reading


def _rel(grid: str, code: str) -> str:
    """A code as kept under its grid: the part after ``GRID-``, or ``!CODE`` when it does not start so."""
    if not code:
        return ""
    return code[len(grid) + 1:] if code.startswith(grid + "-") else "!" + code


def _unrel(grid: str, rel: str) -> str:
    if not rel:
        return ""
    return rel[1:] if rel[0] == "!" else f"{grid}-{rel}"


def _pack(row: Sequence[Any]) -> list[Any]:
    """A log row ``[code, grid, central, address, size, vulnerable]`` as the roster read model keeps it
    under its grid's field: codes relative to the grid (half the memory of the full rows)."""
    grid = str(row[1])
    return [_rel(grid, str(row[0])), _rel(grid, str(row[2] or "")), row[3], row[4], row[5]]


def _rows(raw: Any, grid: str) -> list[list[Any]]:
    """The log rows of a grid from its read-model field."""
    if not raw:
        return []
    return [[_unrel(grid, r[0]), grid, _unrel(grid, r[1]), r[2], r[3], r[4]] for r in msgspec.json.decode(raw)]


def find_household(client: Client, tree: GridTree, code: object) -> Household:
    """The roster's household `code` (without personal data), or UnknownHousehold (404, field household)."""
    if not isinstance(code, str) or not code or len(code) > 64:
        raise UnknownHousehold(f"unknown household {str(code)[:64]!r}", field="household")
    grid = code.rsplit("-", 1)[0]
    if grid not in tree or tree.children[grid]:
        got = client.hget(CountyKeys(tree.root).household_where, code)
        grid = _s(got) if got is not None else ""
    town = tree.town_of(grid) if grid in tree else None
    if town is not None:
        for row in _rows(client.hget(TownKeys(town).household_roster, grid), grid):
            if row[0] == code:
                return Household.from_log_row(row)
    raise UnknownHousehold(f"unknown household {code!r}", field="household")


def _towns_under(tree: GridTree, grid: str) -> list[str]:
    if grid == tree.root:
        return list(tree.towns)
    town = tree.town_of(grid)
    return [town] if town else []


@dataclass(frozen=True, slots=True)
class HouseholdList:
    """One page of a grid's households in an operation, with the grid's counts."""

    grid: str
    counts: HouseholdCounts
    items: list[dict[str, Any]]
    matched: int
    unmasked: int

    def to_json(self, offset: int, limit: int) -> dict[str, Any]:
        """The API's answer (DESIGN §7.3) with its page: ``offset``, ``limit``, ``matched``, ``next_offset``."""
        nxt = offset + len(self.items)
        return {
            "grid": self.grid, **self.counts.to_json(), "items": self.items,
            "offset": offset, "limit": limit, "matched": self.matched,
            "next_offset": nxt if nxt < self.matched else None,
        }


class HouseholdView:
    """Households of a county's operations, from the projector's hashes."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def counts(self, tree: GridTree, operation: str, grids: Iterable[str]) -> dict[str, HouseholdCounts]:
        """`{total, by_status, unreached}` of each grid in one operation (summed from its leaf grids)."""
        wanted = list(grids)
        towns = list(dict.fromkeys(t for g in wanted for t in _towns_under(tree, g)))
        pipe = self.client.pipeline(transaction=False)
        for t in towns:
            tk = TownKeys(t)
            pipe.hgetall(tk.household_totals)
            pipe.hgetall(tk.household_counts(operation))
        got = pipe.execute() if towns else []
        totals: dict[str, int] = {}
        counts: dict[str, dict[str, int]] = {}
        for i in range(0, len(got), 2):
            totals.update((_s(k), int(v)) for k, v in got[i].items())
            for k, v in got[i + 1].items():
                grid, _, status = _s(k).rpartition("|")
                counts.setdefault(grid, {})[status] = int(v)
        return roll_up(tree, totals, counts, wanted)

    def listing(
        self,
        tree: GridTree,
        actor: Actor,
        operation: str,
        grid: str,
        *,
        status: str | None = None,
        vulnerable: bool = False,
        central_household: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> HouseholdList:
        """A grid's households, unreached first and vulnerable first among them, one page of them.

        `status` keeps one status (``unreached`` = none yet); `vulnerable` keeps vulnerable
        households; `central_household` the households that central household links. Names
        and phones are masked unless `may_see_personal` (counted in `unmasked`, for the audit).
        """
        leaves = [g for g in tree.subtree(grid) if not tree.children[g]]
        by_town: dict[str, list[str]] = {}
        for g in leaves:
            t = tree.town_of(g)
            if t is not None:
                by_town.setdefault(t, []).append(g)
        rows: list[list[Any]] = []
        pipe = self.client.pipeline(transaction=False)
        for t, gs in by_town.items():
            pipe.hmget(TownKeys(t).household_roster, gs)
        for gs, part in zip(by_town.values(), pipe.execute() if by_town else [], strict=True):
            for g, raw in zip(gs, part, strict=True):
                rows.extend(_rows(raw, g))
        state = self._statuses(tree, operation, rows)
        matched: list[tuple[list[Any], str | None]] = []
        for row in rows:
            st = state.get(row[0])
            if status is not None and (st or UNREACHED) != status:
                continue
            if vulnerable and not row[5]:
                continue
            if central_household is not None and row[2] != central_household:
                continue
            matched.append((row, st))
        matched.sort(key=lambda rs: listing_key(rs[1], rs[0][5], rs[0][0]))
        page = matched[offset:offset + limit]
        personal = self.people(tree, {r[1] for r, _ in page})
        items: list[dict[str, Any]] = []
        unmasked = 0
        for row, st in page:
            h = Household.from_log_row(row)
            head, phone = personal.get(h.code, ("", ""))
            if may_see_personal(actor, tree, h.grid):
                unmasked += 1
            else:
                head, phone = mask_name(head), mask_phone(phone)
            items.append({"code": h.code, "micro_grid": h.grid, "central_household": h.central_household,
                          "address": h.address, "head": head, "size": h.size, "phone": phone,
                          "vulnerable": list(h.vulnerable), "status": st or UNREACHED})
        counts = self.counts(tree, operation, [grid])[grid]
        return HouseholdList(grid, counts, items, len(matched), unmasked)

    def _statuses(self, tree: GridTree, operation: str, rows: Sequence[Sequence[Any]]) -> dict[str, str]:
        by_town: dict[str, list[str]] = {}
        for row in rows:
            t = tree.town_of(row[1])
            if t is not None:
                by_town.setdefault(t, []).append(row[0])
        if len(rows) > WHOLE_TOWN_READ:  # a town or more: its whole status hash is the cheaper read
            pipe = self.client.pipeline(transaction=False)
            for t in by_town:
                pipe.hgetall(TownKeys(t).household_status(operation))
            return {_s(k): _s(v).split(" ", 1)[0] for got in pipe.execute() for k, v in got.items()}
        pipe = self.client.pipeline(transaction=False)
        plan: list[list[str]] = []
        for t, codes in by_town.items():
            for c in range(0, len(codes), 5000):
                part = codes[c:c + 5000]
                plan.append(part)
                pipe.hmget(TownKeys(t).household_status(operation), part)
        out: dict[str, str] = {}
        for codes, values in zip(plan, pipe.execute() if plan else [], strict=True):
            for code, v in zip(codes, values, strict=True):
                if v is not None:
                    out[code] = _s(v).split(" ", 1)[0]
        return out

    def people(self, tree: GridTree, grids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """household → (head, phone) in full, for every household of the micro `grids` (one round trip).

        Personal data: a caller masks it, or shows it only to a role allowed it and audits that read.
        """
        by_town: dict[str, list[str]] = {}
        for g in grids:
            t = tree.town_of(g)
            if t is not None:
                by_town.setdefault(t, []).append(g)
        pipe = self.client.pipeline(transaction=False)
        for t, gs in by_town.items():
            pipe.hmget(TownKeys(t).household_personal, gs)
        out: dict[str, tuple[str, str]] = {}
        for gs, values in zip(by_town.values(), pipe.execute() if by_town else [], strict=True):
            for g, raw in zip(gs, values, strict=True):
                for rel, (head, phone) in (json.loads(raw) if raw else {}).items():
                    out[_unrel(g, rel)] = (head, phone)
        return out

    def roster(self, tree: GridTree, grid: str) -> Iterator[Household]:
        """The roster's households under `grid` (no personal data), grid by grid."""
        for g in tree.subtree(grid):
            if tree.children[g]:
                continue
            t = tree.town_of(g)
            if t is not None:
                for row in _rows(self.client.hget(TownKeys(t).household_roster, g), g):
                    yield Household.from_log_row(row)

