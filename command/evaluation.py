"""Quarterly grid evaluation (网格季度考评): a checklist scored from what the log knows.

Qingcao scores its grids every quarter against a checklist of 11 categories and
20+ items and gives star ratings (FIGURES.md). Here every small grid of a scope
is scored, and every first small-grid leader (the mean of the small grids they
lead). The checklist is `CHECKLIST`: 11 categories, 22 items, each with a
default weight (they add up to 100) that the county may change
(`EvaluationWeightsSet`, county commanders only).

Each item is worth a value between 0 and 1. Twelve items are fed by the log:

| item | value |
| --- | --- |
| ``collection.contact_round`` | 1: this quarter's contact round (季度联系服务) held; 0: due and not held |
| ``collection.concerns`` | concerns gathered at that round, 3 or more = 1 |
| ``handling.completion`` | matters handled / matters that are handled or overdue |
| ``handling.in_time`` | matters handled by their due time / the same denominator |
| ``grid_first.in_grid`` | closed matters that never left the grid / closed matters ("small matters stay in the grid") |
| ``grid_first.in_village`` | closed matters no higher than the village / closed ("big matters stay in the village") |
| ``satisfaction.score`` | mean satisfaction at 评单, 1 → 0 … 5 → 1 |
| ``satisfaction.evaluated`` | closed matters the resident evaluated / closed matters |
| ``openness.published`` | closed matters published (晒单) / closed matters |
| ``emergency.completion`` | mean completion of this quarter's operations over the grid (counters capped at target) |
| ``emergency.secretary`` | wartime switches this quarter where the first leader took office / all (vacancy: 0) |
| ``safety.hazards`` | hazards eliminated / hazards found in fire-hazard checks this quarter |

The other ten items (party-branch activities, training …) are not in the log:
they score the commander's *adjustment* for the grid if one is given with the
evaluation, else the neutral value. The neutral value is 1 — "no deduction",
as such checklists deduct points for failings — and it is also what a log-fed
item scores when there is nothing to judge (a grid with no matters this
quarter loses nothing on handling; a county whose contact rounds were never
reminded loses nothing on them). The table lists, per grid, which items were
neutral.

Score = 100 × Σ weight·value / Σ weight, rounded to 0.01; stars 5 (≥ 90),
4 (≥ 80), 3 (≥ 70), 2 (≥ 60), else 1; ranks are competition ranks (1, 2, 2, 4)
by score, ties in code order. Matters count in the quarter their resident
reported them, on the small grid they were recorded under.

Pure and deterministic: the same control state, matters, progress totals,
quarter, scope, `now`, weights and adjustments give the same table and the same
digest — which is how a stored evaluation is checked against the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from command.access import Actor, require_command, require_read
from command.contact import Quarter
from command.errors import InvalidRequest, TooLarge
from command.events import EvaluationWeightsSet
from command.grids import GridTree, Level
from command.matters import MattersState, Tier
from command.operations import Operation

if TYPE_CHECKING:
    from command.fold import ControlState

__all__ = [
    "CHECKLIST",
    "CHECKLIST_CATEGORIES",
    "CONCERNS_FULL",
    "ITEMS",
    "MAX_ADJUSTMENTS",
    "MAX_WEIGHT",
    "NEUTRAL",
    "Item",
    "check_adjustments",
    "check_scope",
    "compute",
    "default_weights",
    "digest",
    "effective_weights",
    "metrics",
    "operations_of",
    "set_weights",
    "stars",
]


NEUTRAL = 1.0
MAX_WEIGHT = 1000.0
MAX_ADJUSTMENTS = 20_000
CONCERNS_FULL = 3

CHECKLIST_CATEGORIES: tuple[str, ...] = (
    "party", "collection", "handling", "grid_first", "satisfaction", "openness",
    "emergency", "safety", "registry", "service", "team",
)
"""党建引领, 民情收集, 事项办理, 就地化解, 群众满意, 公开公示, 应急处置, 安全稳定, 基础信息, 为民服务, 队伍建设."""


@dataclass(frozen=True, slots=True)
class Item:
    """One checklist line: its category, default weight and whether the log feeds it."""

    code: str
    category: str
    weight: float
    logged: bool


CHECKLIST: tuple[Item, ...] = (
    Item("party.activities", "party", 4, False),
    Item("party.members_on_duty", "party", 4, False),
    Item("collection.contact_round", "collection", 6, True),
    Item("collection.concerns", "collection", 3, True),
    Item("handling.completion", "handling", 8, True),
    Item("handling.in_time", "handling", 10, True),
    Item("grid_first.in_grid", "grid_first", 8, True),
    Item("grid_first.in_village", "grid_first", 3, True),
    Item("satisfaction.score", "satisfaction", 10, True),
    Item("satisfaction.evaluated", "satisfaction", 4, True),
    Item("openness.published", "openness", 5, True),
    Item("openness.notice_board", "openness", 2, False),
    Item("emergency.completion", "emergency", 8, True),
    Item("emergency.secretary", "emergency", 5, True),
    Item("safety.hazards", "safety", 4, True),
    Item("safety.no_major_incident", "safety", 3, False),
    Item("registry.households", "registry", 2, False),
    Item("registry.updates", "registry", 2, False),
    Item("service.visits", "service", 3, False),
    Item("service.policy", "service", 2, False),
    Item("team.training", "team", 2, False),
    Item("team.attendance", "team", 2, False),
)
ITEMS: dict[str, Item] = {i.code: i for i in CHECKLIST}


def default_weights() -> dict[str, float]:
    """The checklist's own weights (they add up to 100)."""
    return {i.code: float(i.weight) for i in CHECKLIST}


def effective_weights(saved: Mapping[str, float]) -> dict[str, float]:
    """The weights in force: the defaults overlaid with what the county saved."""
    out = default_weights()
    out.update({k: float(v) for k, v in saved.items() if k in ITEMS})
    return out


def set_weights(actor: Actor, tree: GridTree, current: Mapping[str, float], changes: object) -> EvaluationWeightsSet:
    """A county commander edits weights (item → number 0–1000; unnamed items keep theirs)."""
    require_command(actor, tree, tree.root, field="weights")
    if not isinstance(changes, Mapping) or not changes:
        raise InvalidRequest("weights must be an object of item → number", field="weights")
    merged = effective_weights(current)
    for k, v in changes.items():
        if k not in ITEMS:
            raise InvalidRequest(f"unknown checklist item {k!r}", field="weights")
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= MAX_WEIGHT:
            raise InvalidRequest(f"weight of {k} must be a number from 0 to {MAX_WEIGHT:g}", field="weights")
        merged[k] = float(v)
    if sum(merged.values()) <= 0:
        raise InvalidRequest("at least one weight must be above zero", field="weights")
    return EvaluationWeightsSet(weights=merged)


def check_adjustments(tree: GridTree, scope: str, adjustments: object) -> dict[str, dict[str, float]]:
    """Manual values (item → small grid → 0–1) for items the log does not know, checked."""
    if adjustments is None:
        return {}
    if not isinstance(adjustments, Mapping):
        raise InvalidRequest("adjustments must be an object of item → {grid: value}", field="adjustments")
    out: dict[str, dict[str, float]] = {}
    n = 0
    for item, per_grid in adjustments.items():
        spec = ITEMS.get(item)
        if spec is None or spec.logged:
            raise InvalidRequest(f"{item!r} is not a manual checklist item", field="adjustments")
        if not isinstance(per_grid, Mapping):
            raise InvalidRequest(f"adjustments of {item} must be an object of grid → value", field="adjustments")
        for grid, value in per_grid.items():
            n += 1
            if n > MAX_ADJUSTMENTS:
                raise TooLarge(f"more than {MAX_ADJUSTMENTS} adjustments", field="adjustments")
            if grid not in tree or tree[grid].level != Level.SMALL or not tree.is_within(grid, scope):
                raise InvalidRequest(f"{grid!r} is not a small grid of {scope}", field="adjustments")
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise InvalidRequest(f"value of {item} on {grid} must be from 0 to 1", field="adjustments")
            out.setdefault(item, {})[grid] = float(value)
    return out


def check_scope(actor: Actor, tree: GridTree, scope: str, *, compute: bool = False) -> None:
    """Commanders compute evaluations over their scope; anyone reads those inside theirs."""
    if compute:
        require_command(actor, tree, scope, field="scope")
    else:
        require_read(actor, tree, scope, field="scope")
    if tree[scope].level == Level.MICRO:
        raise InvalidRequest("evaluations score small grids: choose a small grid or above", field="scope")


def stars(score: float) -> int:
    """Star rating of a score: 5 at 90 and above … 1 below 60."""
    for n, floor in ((5, 90), (4, 80), (3, 70), (2, 60)):
        if score >= floor:
            return n
    return 1


def operations_of(control: ControlState, quarter: Quarter, now: int) -> list[Operation]:
    """Operations that ran during the quarter (up to `now`), in launch order."""
    end = min(quarter.end, now + 1)
    ops = [
        o for o in control.operations.values()
        if o.launched_at < end and (o.closed_at is None or o.closed_at >= quarter.start)
    ]
    return sorted(ops, key=lambda o: (o.launched_at, o.id))


def _small_of(tree: GridTree, code: str) -> str | None:
    for g in tree.path(code):
        if tree[g].level == Level.SMALL:
            return g
    return None


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _completion(op: Operation, counts: Mapping[str, int], grid: str) -> float | None:
    targets = op.target_of(grid)
    parts = [min(1.0, max(0, counts.get(c, 0)) / t) for c, t in targets.items() if t > 0 and c in op.counters]
    return sum(parts) / len(parts) if parts else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def metrics(
    control: ControlState, matters: MattersState, progress: Mapping[str, Mapping[str, Mapping[str, int]]],
    quarter: Quarter, grids: list[str], now: int,
) -> dict[str, dict[str, float | None]]:
    """The log-fed values of every small grid (None: nothing to judge)."""
    tree = control.tree
    assert tree is not None
    wanted = set(grids)
    per: dict[str, list[Any]] = {g: [] for g in grids}
    for m in matters.matters.values():
        if not quarter.start <= m.reported_at < quarter.end or m.grid not in tree:
            continue
        small = _small_of(tree, m.grid)
        if small in wanted:
            per[small].append(m)
    ops = operations_of(control, quarter, now)
    contact = control.contact.get(quarter.id, {})
    out: dict[str, dict[str, float | None]] = {}
    for g in grids:
        ms = per[g]
        decided = [m for m in ms if m.closed or m.overdue(now)]
        closed = [m for m in ms if m.closed]
        rated = [m.satisfaction for m in closed if m.satisfaction is not None]
        entry = contact.get(g)
        if entry is None:
            held = concerns = None
        elif entry.completed_at is not None:
            held, concerns = 1.0, min(1.0, entry.concerns / CONCERNS_FULL)
        elif now >= entry.due:
            held, concerns = 0.0, 0.0
        else:
            held = concerns = None
        completions: list[float] = []
        found = eliminated = 0
        for op in ops:
            if not tree.is_within(g, op.scope):
                continue
            counts = progress.get(op.id, {}).get(g, {})
            c = _completion(op, counts, g)
            if c is not None:
                completions.append(c)
            if op.kind == "fire_hazard_check":
                found += counts.get("hazards_found", 0)
                eliminated += counts.get("hazards_eliminated", 0)
        duty = [d for d in matters.duty.get(g, []) if quarter.start <= d.at < quarter.end and d.at <= now]
        out[g] = {
            "collection.contact_round": held,
            "collection.concerns": concerns,
            "handling.completion": _ratio(len(closed), len(decided)),
            "handling.in_time": _ratio(sum(1 for m in decided if m.in_time), len(decided)),
            "grid_first.in_grid": _ratio(sum(1 for m in closed if m.top_tier == Tier.GRID), len(closed)),
            "grid_first.in_village": _ratio(
                sum(1 for m in closed if m.top_tier in (Tier.GRID, Tier.VILLAGE)), len(closed)),
            "satisfaction.score": _mean([(s - 1) / 4 for s in rated]),
            "satisfaction.evaluated": _ratio(len(rated), len(closed)),
            "openness.published": _ratio(sum(1 for m in closed if "published" in m.stages), len(closed)),
            "emergency.completion": _mean(completions),
            "emergency.secretary": _ratio(sum(1 for d in duty if d.installed), len(duty)),
            "safety.hazards": min(1.0, eliminated / found) if found else None,
            "_matters": float(len(ms)),
        }
    return out


def _ranked(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    rows.sort(key=lambda r: (-r["score"], r[key]))
    prev: float | None = None
    rank = 0
    for i, r in enumerate(rows, 1):
        if r["score"] != prev:
            rank, prev = i, r["score"]
        r["rank"] = rank
    return rows


def compute(
    control: ControlState, matters: MattersState, progress: Mapping[str, Mapping[str, Mapping[str, int]]],
    quarter: Quarter, scope: str, now: int, weights: Mapping[str, float],
    adjustments: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, Any]:
    """The evaluation table of every small grid in `scope` and of their first leaders."""
    tree = control.tree
    assert tree is not None
    w = effective_weights(weights)
    adj = adjustments or {}
    total_w = sum(w.values())
    grids = tree.small_grids(scope)
    values = metrics(control, matters, progress, quarter, grids, now)
    rows: list[dict[str, Any]] = []
    for g in grids:
        v = values[g]
        used: dict[str, float] = {}
        neutral: list[str] = []
        for item in CHECKLIST:
            x = v.get(item.code) if item.logged else adj.get(item.code, {}).get(g)
            if x is None:
                neutral.append(item.code)
                x = NEUTRAL
            used[item.code] = round(x, 4)
        score = round(100 * sum(w[k] * used[k] for k in used) / total_w, 2) if total_w else 0.0
        grid = tree[g]
        rows.append({
            "grid": g, "name": grid.name, "first_leader": grid.first_leader, "town": tree.town_of(g),
            "matters": int(v["_matters"] or 0), "values": used, "neutral": neutral,
            "score": score, "stars": stars(score),
        })
    by_leader: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["first_leader"]:
            by_leader.setdefault(r["first_leader"], []).append(r)
    leaders = [
        {"leader": name, "grids": [r["grid"] for r in rs],
         "score": round(sum(r["score"] for r in rs) / len(rs), 2)}
        for name, rs in by_leader.items()
    ]
    for lr in leaders:
        lr["stars"] = stars(lr["score"])
    _ranked(rows, "grid")
    _ranked(leaders, "leader")
    star_counts = {str(n): sum(1 for r in rows if r["stars"] == n) for n in (5, 4, 3, 2, 1)}
    average = round(sum(r["score"] for r in rows) / len(rows), 2) if rows else None
    return {
        "quarter": quarter.id,
        "start": quarter.start,
        "end": quarter.end,
        "scope": scope,
        "now": now,
        "weights": w,
        "items": [
            {"item": i.code, "category": i.category, "weight": w[i.code], "source": "log" if i.logged else "manual"}
            for i in CHECKLIST
        ],
        "grids": rows,
        "leaders": leaders,
        "summary": {
            "grids": len(rows), "leaders": len(leaders), "average": average, "stars": star_counts,
            "matters": sum(r["matters"] for r in rows),
        },
    }


def digest(table: Mapping[str, Any]) -> str:
    """Content address of a table (deterministic JSON): stored and recomputed tables compare by it."""
    return hashlib.sha256(msgspec.json.encode(table, order="deterministic")).hexdigest()[:16]
