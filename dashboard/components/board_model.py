"""What the command board shows, as JSON: the snapshot behind ``GET /api/v1/board``.

The board has two kinds of content. Live numbers (totals, the map's bands, the
bars, the feed of reports) come from the WebSocket hub (`streams.live`), which
sends a full state on connect and deltas after. Everything else comes from
this snapshot, fetched when the page opens, when the control state changes
and every half minute: names and structure, the mode, the operations on view
with their targets and deadlines, the progress curve with its rate and
projection, secretaries and vacancies, open alerts, the slowest grids, the
latest commands, and the interface strings. Both sides agree on *what* is on
view through `streams.live.board_view`.

The curve is a fold of the report streams: `Series` keeps, per process, the
per-minute increments of one counter at one grid and reads only what was
appended since its last call.

Why one module: every panel of the snapshot reads the same view, control
state and log position (DESIGN §7.6); one builder per panel, kept together so
that no panel reads another instant.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec

from command import mobilisation as mob
from command.access import Actor, overlaps, require_read
from command.bounds import Increment
from command.events import (
    AlertAcknowledged,
    LevelChanged,
    ModeSwitched,
    OperationClosed,
    OperationLaunched,
    OperationPartClosed,
    SecretaryAppointed,
    decode,
)
from command.fold import ControlState
from command.geoindex import GeoIndex
from command.grids import GridTree, Level
from command.operations import COUNTERS, Operation
from dashboard.components import board_households as households
from dashboard.components.bands import band
from dashboard.components.board_households import households_of
from dashboard.i18n import register, t, table
from streams.county import County
from streams.keys import TownKeys, current_world
from streams.live import BoardView, board_view, cell_band, cell_of
from streams.position import CONTROL, ORIGIN, TownRead, read_towns, towns_of
from streams.server import Client

MINUTE = 60_000
HOUR = 3_600_000
CURVE_POINTS = 240
SLOWEST = 5
COMMANDS = 8
ALERTS = 6
STALE_AFTER_MS = 30 * MINUTE
"""A grid with no report for this long while below target is listed as silent."""

register({
    "board.title": ("战时指挥大屏", "Wartime command board"),
    "board.scope": ("范围", "Scope"),
    "board.operation": ("任务", "Operation"),
    "board.all_ops": ("全部进行中任务", "All open operations"),
    "board.no_ops": ("当前范围无进行中的战时任务", "No open operation in this scope"),
    "board.closed": ("已结束", "closed"),
    "board.live": ("实时", "Live"),
    "board.connecting": ("连接中…", "Connecting…"),
    "board.lost": ("连接中断 · 数据可能已过时", "Connection lost · figures may be out of date"),
    "board.reconnect_in": ("{s} 秒后重连", "retrying in {s} s"),
    "board.updated": ("更新", "updated"),
    "board.ago_s": ("{n}秒前", "{n} s ago"),
    "board.ago_m": ("{n}分钟前", "{n} min ago"),
    "board.ago_h": ("{n}小时前", "{n} h ago"),
    "board.ago_d": ("{n}天前", "{n} d ago"),
    "board.never": ("尚无上报", "no report yet"),
    "board.elapsed": ("已持续", "for"),
    "board.zone": ("北京时间", "Beijing time (UTC+8)"),
    "board.since": ("自", "since"),
    "board.response": ("响应", " response"),
    "board.partial": ("{n} 个网格处于战时", "{n} grids in wartime"),
    "board.target": ("目标", "target"),
    "board.done": ("已完成", "done"),
    "board.rate": ("速率", "Rate"),
    "board.per_hour": ("/小时", "/h"),
    "board.eta": ("预计完成", "Projected"),
    "board.deadline": ("截止", "Deadline"),
    "board.no_deadline": ("未设截止时间", "no deadline"),
    "board.ahead": ("提前 {d}", "{d} early"),
    "board.behind": ("超时 {d}", "{d} late"),
    "board.eta_unknown": ("暂无速率", "no pace yet"),
    "board.need": ("所需速率", "Needed"),
    "board.secretaries": ("临时党支部书记", "Temporary branch secretaries"),
    "board.installed": ("已任命", "installed"),
    "board.on_post": ("已到岗", "on post"),
    "board.acknowledged": ("已确认", "acknowledged"),
    "board.mob_curve": ("到岗用时", "Time to on post"),
    "board.acting": ("代理", "acting"),
    "board.vacancies": ("空缺", "vacant"),
    "board.small_grids": ("小网格", "small grids"),
    "board.map": ("网格态势", "Grid map"),
    "board.map_of": ("地图：{name} · {counter}完成率", "Map: {name} · {counter} completion"),
    "board.map_peace": ("平时状态 · 灰色", "Peacetime · grey"),
    "board.legend_peace": ("平时", "peacetime"),
    "board.legend_war": ("战时（未列入任务）", "wartime, not in operation"),
    "board.legend_over": ("超出目标", "over target"),
    "board.legend_fresh": ("描边：最近上报", "outline: just reported"),
    "board.legend_stale": ("淡色：超过30分钟未上报", "faded: silent > 30 min"),
    "board.legend_closed": ("斜纹：该镇已结束本任务，数据锁定",
                            "hatched: the operation has ended in that town, figures frozen"),
    "board.cells": ("{n} 个末级网格", "{n} leaf grids"),
    "board.by_child": ("各{level}进度", "Progress by {level}"),
    "board.scope_facts": ("范围概况", "Scope at a glance"),
    "board.sum_check": ("Σ 各{level} = {parent}", "Σ {level} = {parent}"),
    "board.curve": ("累计进度与所需进度", "Progress vs pace"),
    "board.curve_done": ("累计完成", "done"),
    "board.curve_pace": ("均速计划", "even pace"),
    "board.curve_need": ("按期所需", "needed"),
    "board.slowest": ("最慢网格", "Slowest grids"),
    "board.lowest": ("完成率最低", "Lowest completion"),
    "board.silent": ("最久未上报", "Longest silence"),
    "board.none": ("无", "none"),
    "board.never_count": ("另有 {n} 个网格尚无上报", "{n} more grids have not reported yet"),
    "board.alerts": ("预警", "Alerts"),
    "board.no_alerts": ("无未处理预警", "No open alerts"),
    "board.alerts_more": ("另有 {n} 条预警", "+{n} more"),
    "board.acked": ("已受理", "taken"),
    "board.feed": ("实时动态", "Live feed"),
    "board.no_feed": ("等待上报…", "Waiting for reports…"),
    "board.peace_title": ("平时网格概况", "Peacetime grid overview"),
    "board.grids": ("网格", "grids"),
    "board.households": ("户", "households"),
    "board.population": ("人口", "population"),
    "board.central_households": ("党员中心户", "central households"),
    "board.first_leaders": ("第一小网格长", "first small-grid leaders"),
    "board.drill": ("点击网格下钻", "click a grid to drill down"),
    "board.up": ("返回上级", "up one level"),
    "board.search": ("搜索网格名称或编码", "search a grid by name or code"),
    "board.no_geometry": ("该范围没有网格边界数据", "no grid polygons for this scope"),
    "board.forbidden": ("无权查看该范围", "this scope is outside your access"),
    "board.leader": ("网格长", "leader"),
    "board.cmd.mode_wartime": (
        "{scope} 转入战时（{incident}，{level}）", "{scope} switched to wartime ({incident}, {level})"
    ),
    "board.cmd.mode_peacetime": ("{scope} 解除战时状态", "{scope} stood down to peacetime"),
    "board.cmd.level": ("{scope} 响应等级调整为 {level}", "{scope} response level set to {level}"),
    "board.cmd.appointed": ("{grid} 任命代理书记 {person}", "{grid}: acting secretary {person} appointed"),
    "board.cmd.launched": ("启动任务：{name}", "Operation launched: {name}"),
    "board.cmd.closed": ("任务结束：{name}", "Operation closed: {name}"),
    "board.cmd.part_closed": ("{town}结束任务：{name}（本镇数据锁定）",
                              "Operation ended in {town}: {name} (its totals frozen)"),
    "board.cmd.acked": ("{actor} 受理预警：{kind} · {grid}", "{actor} took alert: {kind} · {grid}"),
})

_LABEL_PREFIXES = ("board.", "level.", "login.", "hh.")
_GLOSSARY = (
    "county", "town", "large", "medium", "small", "micro", "peacetime", "wartime", "secretary",
    "acting_secretary", "vacancy", "epidemic", "flood", "fire", "other", "level", "operation",
    "stall", "pace", "over_target", "silent_secretary", "not_on_post", "notification_failed", "language",
    *COUNTERS,
    *(c for cs in COUNTERS.values() for c in cs),
)


def labels(lang: str) -> dict[str, str]:
    """The strings the page script needs, in one language."""
    every = table(lang)
    return {k: v for k, v in every.items() if k.startswith(_LABEL_PREFIXES) or k in _GLOSSARY}


# -- the progress curve ------------------------------------------------------------------------


class _Report(msgspec.Struct):
    operation: str
    grid: str
    counts: dict[str, Increment]


_decode_report = msgspec.json.Decoder(_Report).decode
_REPORT = b"progress_reported"


@dataclass
class _Fold:
    """Per-minute increments of every counter of every operation, per town, and where each stream was read to."""

    tree: GridTree
    positions: dict[str, str] = field(default_factory=dict)
    towns: dict[tuple[str, str, str], dict[int, int]] = field(default_factory=dict)
    exact: dict[tuple[str, str, str], dict[int, int]] = field(default_factory=dict)
    exact_positions: dict[tuple[str, str, str], str] = field(default_factory=dict)


def _entry_ms(eid: Any) -> int:
    raw = eid if isinstance(eid, bytes) else str(eid).encode()
    return int(raw[: raw.index(b"-")])


def _read(client: Client, stream: str, after: str | None) -> Iterator[tuple[str, _Report, int]]:
    """Report entries of one stream after an id: (entry id, report, ms)."""
    lo = "(" + after if after else "-"
    while True:
        page = client.xrange(stream, lo, "+", count=10_000)
        for eid, fields in page:
            if fields.get(b"t", fields.get("t")) not in (_REPORT, "progress_reported"):
                continue
            ident = eid.decode() if isinstance(eid, bytes) else str(eid)
            try:
                report = _decode_report(fields.get(b"d") or fields.get("d"))
            except (msgspec.ValidationError, msgspec.DecodeError):
                continue  # an old report no command accepts: skipped, as by every reader (command.bounds)
            yield ident, report, _entry_ms(eid)
        if len(page) < 10_000:
            return
        last = page[-1][0]
        lo = "(" + (last.decode() if isinstance(last, bytes) else str(last))


class Series:
    """Per-minute increments of operations' counters, folded once from the town streams and kept current.

    One pass over every town stream serves every operation at the county and
    town levels (buckets per operation, town, counter and minute); a grid below
    a town gets its own pass over its town's stream only, on first use.
    """

    KEEP = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folds: dict[str, _Fold] = {}

    def minutes(self, client: Client, county: str, tree: GridTree, op: str, grid: str, counter: str) -> dict[int, int]:
        """Minute (epoch ms // 60,000) → increment of `counter` of `op` at `grid`, for every report so far."""
        with self._lock:
            fold = self._folds.get(county)
            if fold is None or fold.tree is not tree:
                fold = self._folds[county] = _Fold(tree)
            level = tree[grid].level
            if level in (Level.COUNTY, Level.TOWN):
                self._catch_up(client, fold)
                out: dict[int, int] = {}
                for town in tree.towns if grid == tree.root else (grid,):
                    for m, n in fold.towns.get((op, town, counter), {}).items():
                        out[m] = out.get(m, 0) + n
                return out
            key = (op, grid, counter)
            if len(fold.exact) >= self.KEEP:
                fold.exact.clear()
                fold.exact_positions.clear()
            minutes = fold.exact.setdefault(key, {})
            stream = TownKeys(tree.town_of(grid) or grid).log
            last = fold.exact_positions.get(key)
            for ident, r, ms in _read(client, stream, last):
                last = ident
                if r.operation == op and counter in r.counts and r.grid in tree and tree.is_within(r.grid, grid):
                    minutes[ms // MINUTE] = minutes.get(ms // MINUTE, 0) + r.counts[counter]
            if last:
                fold.exact_positions[key] = last
            return dict(minutes)

    @staticmethod
    def _catch_up(client: Client, fold: _Fold) -> None:
        for town in fold.tree.towns:
            stream = TownKeys(town).log
            last = fold.positions.get(stream)
            for ident, r, ms in _read(client, stream, last):
                last = ident
                m = ms // MINUTE
                for counter, n in r.counts.items():
                    cell = fold.towns.setdefault((r.operation, town, counter), {})
                    cell[m] = cell.get(m, 0) + n
            if last:
                fold.positions[stream] = last


SERIES = Series()


class Reader:
    """The board's own `County` per process and world, behind its own lock: snapshots never hold up the
    API's writes. One per world: a drill's wall reads the drill's control state (its operations, launched
    on the drill's clock), never the live one's (streams.keys.current_world)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counties: dict[str, County] = {}

    @contextmanager
    def county(self, client: Client, code: str) -> Iterator[County]:
        """The county of the current world, refreshed, locked for the caller."""
        world = current_world()
        with self._lock:
            c = self._counties.get(world)
            if c is None or c.code != code or c.client is not client:
                if world not in self._counties and len(self._counties) >= 16:
                    self._counties.pop(next(k for k in self._counties if k), None)  # an old drill's
                c = self._counties[world] = County(client, code)
            c.refresh()
            yield c


READER = Reader()


def curve(minutes: Mapping[int, int], launched_at: int, now_ms: int, points: int = CURVE_POINTS) -> list[list[int]]:
    """Cumulative [ms, total] points from launch to now, at most `points` of them (buckets merge)."""
    start = launched_at // MINUTE
    end = max(start, now_ms // MINUTE)
    span = end - start + 1
    width = max(1, -(-span // points))
    out: list[list[int]] = [[launched_at, 0]]
    total = 0
    pending = sorted(minutes.items())
    i = 0
    for b in range(start, end + 1, width):
        while i < len(pending) and pending[i][0] < b + width:
            total += pending[i][1]
            i += 1
        out.append([min(now_ms, (b + width) * MINUTE), total])
    while i < len(pending):
        total += pending[i][1]
        i += 1
    out[-1][1] = total
    return out


def pace(minutes: Mapping[int, int], launched_at: int, now_ms: int) -> float:
    """Units per hour over the last hour (or since launch, if younger)."""
    since = max(launched_at, now_ms - HOUR)
    first = since // MINUTE
    done = sum(n for m, n in minutes.items() if m >= first)
    hours = max(now_ms - first * MINUTE, MINUTE) / HOUR
    return done / hours


# -- the snapshot ------------------------------------------------------------------------------


def op_label(name: str, kind: str, lang: str) -> str:
    """An operation as the wall names it: its own name, or in English its kind when the name is Chinese."""
    if lang == "en" and any("\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in name):
        return t(kind, lang)
    return name


def _name(tree: GridTree, code: str) -> str:
    return tree[code].name if code in tree else code


def _op_json(st: ControlState, view: BoardView, op: Operation, totals: Mapping[str, int]) -> dict[str, Any]:
    tree = st.tree
    assert tree is not None
    kg = view.kpi_grid[op.id]
    return {
        "id": op.id,
        "kind": op.kind,
        "name": op.name,
        "state": op.state.value,
        "scope": op.scope,
        "scope_name": _name(tree, op.scope),
        "grid": kg,
        "grid_name": _name(tree, kg),
        "counters": list(op.counters),
        "targets": {c: int(n) for c, n in op.target_of(kg).items()},
        "totals": {c: int(totals.get(c, 0)) for c in op.counters},
        "deadline": op.deadline,
        "launched_at": op.launched_at,
        "closed_at": op.closed_at,
        "closed_parts": {t: {"name": _name(tree, t), "at": at} for t, at in sorted(op.closed_parts.items())},
    }


def kind_tiles(
    client: Client, county: str, tree: GridTree, ops: Sequence[dict[str, Any]], now_ms: int
) -> list[dict[str, Any]]:
    """One tile per kind on view: the operations of that kind added up, with curve, rate and projection.

    Needs no control state (only the snapshot's operations and the immutable tree), so callers
    may run it outside the reader's lock: its first call per process folds the report streams.
    """
    tiles: list[dict[str, Any]] = []
    for kind in COUNTERS:
        mine = [o for o in ops if o["kind"] == kind]
        if not mine:
            continue
        head = COUNTERS[kind][0]
        targets: dict[str, int] = {}
        totals: dict[str, int] = {}
        minutes: dict[int, int] = {}
        for o in mine:
            for c, n in o["targets"].items():
                targets[c] = targets.get(c, 0) + n
            for c, n in o["totals"].items():
                totals[c] = totals.get(c, 0) + n
            for m, n in SERIES.minutes(client, county, tree, o["id"], o["grid"], head).items():
                minutes[m] = minutes.get(m, 0) + n
        launched = min(o["launched_at"] for o in mine)
        deadlines = [o["deadline"] for o in mine if o["deadline"]]
        deadline = max(deadlines) if deadlines else None
        done, target = totals.get(head, 0), targets.get(head, 0)
        rate = pace(minutes, launched, now_ms)
        remaining = max(0, target - done)
        eta = None
        if target and remaining == 0:
            eta = now_ms
        elif target and rate > 0:
            eta = now_ms + int(remaining / rate * HOUR)
        need = None
        if deadline and target and deadline > now_ms:
            need = remaining / ((deadline - now_ms) / HOUR)
        tiles.append({
            "kind": kind,
            "ops": [o["id"] for o in mine],
            "name": mine[0]["name"] if len(mine) == 1 else f"{t(kind)} ×{len(mine)}",
            "where": mine[0]["grid_name"] if len(mine) == 1 else "",
            "closed": all(o["state"] == "closed" for o in mine),
            "counters": list(COUNTERS[kind]),
            "targets": targets,
            "totals": totals,
            "launched_at": launched,
            "deadline": deadline,
            "rate_per_h": round(rate, 1),
            "eta": eta,
            "need_per_h": round(need, 1) if need is not None else None,
            "curve": curve(minutes, launched, now_ms),
        })
    return tiles


def _units(tree: GridTree, scope: str) -> list[str]:
    """Grids the 'slowest' lists rank: small grids above that level, the leaves below it."""
    if tree[scope].level.depth < Level.SMALL.depth:
        return tree.small_grids(scope)
    return list(tree.leaves(scope))


def _slowest(st: ControlState, view: BoardView, read: TownRead) -> dict[str, Any]:
    tree = st.tree
    assert tree is not None
    op = st.operations.get(view.map_op) if view.map_op else None
    if op is None or view.counter is None:
        return {"lowest": [], "silent": [], "never": 0}
    counter = view.counter
    counts = read.counts.get(op.id, {})
    totals = {g: c.get(counter, 0) for g, c in counts.items()}
    last = read.last.get(op.id, {})
    rows: list[dict[str, Any]] = []
    for g in _units(tree, view.scope):
        if not tree.is_within(g, op.scope) or tree.town_of(g) in op.closed_parts:
            continue  # a town whose part has ended is not behind: its figures are frozen
        target = op.targets.get(g, {}).get(counter, 0)
        done = totals.get(g, 0)
        sec = st.secretaries.get(g)
        rows.append({
            "code": g,
            "name": tree[g].name,
            "town": _town_beside(tree, g),
            "done": done,
            "target": target,
            "pct": round(done * 100 / target, 1) if target else None,
            "last": last.get(g),
            "secretary": sec.name if sec else None,
            "vacant": g in st.vacancies,
        })
    # Behind: short of its target, or (no target of its own) nothing reported yet. A grid that never
    # reported is the slowest of all: it heads the silent list, the rest are counted beside it.
    behind = [r for r in rows if (r["done"] < r["target"] if r["target"] else not r["done"])]
    lowest = sorted((r for r in behind if r["target"]), key=lambda r: (r["pct"], r["code"]))[:SLOWEST]
    never = sorted((r for r in behind if not r["last"]), key=lambda r: (r["done"], r["code"]))
    heard = sorted((r for r in behind if r["last"]), key=lambda r: (r["last"], r["code"]))
    silent = (never + heard)[:SLOWEST]
    return {"lowest": lowest, "silent": silent, "never": max(0, len(never) - SLOWEST)}


def _town_beside(tree: GridTree, code: str) -> str:
    """The town a grid lies in, to show beside its name ("" for a town itself or the county)."""
    town = tree.town_of(code)
    return _name(tree, town) if town and town != code else ""


def _commands(county: County, st: ControlState, scope: str, lang: str) -> list[dict[str, Any]]:
    """The latest commands in the scope (mode switches, levels, appointments, launches, closes, acks)."""
    tree = st.tree
    assert tree is not None
    out: list[dict[str, Any]] = []
    page = county.client.xrevrange(county.keys.log, "+", "-", count=400)
    wanted = {c.wire for c in (ModeSwitched, LevelChanged, SecretaryAppointed, OperationLaunched,
                               OperationClosed, AlertAcknowledged, OperationPartClosed)}

    def inside(code: str) -> bool:
        return code in tree and overlaps(tree, code, scope)

    for eid, fields in page:
        wire = fields.get(b"t", fields.get("t"))
        wire = wire.decode() if isinstance(wire, bytes) else wire
        if wire not in wanted:
            continue
        ev = decode(eid, fields).event
        rec_ms = int((eid.decode() if isinstance(eid, bytes) else eid).split("-")[0])
        actor = fields.get(b"a", fields.get("a")) or b""
        actor = actor.decode() if isinstance(actor, bytes) else actor
        text = None
        if isinstance(ev, ModeSwitched) and inside(ev.scope):
            if ev.mode == "wartime":
                text = t("board.cmd.mode_wartime", lang, scope=_name(tree, ev.scope),
                         incident=t(ev.incident or "other", lang), level=t(f"level.{ev.level or 'IV'}", lang))
            else:
                text = t("board.cmd.mode_peacetime", lang, scope=_name(tree, ev.scope))
        elif isinstance(ev, LevelChanged) and inside(ev.scope):
            text = t("board.cmd.level", lang, scope=_name(tree, ev.scope), level=t(f"level.{ev.level}", lang))
        elif isinstance(ev, SecretaryAppointed) and inside(ev.grid):
            text = t("board.cmd.appointed", lang, grid=_name(tree, ev.grid), person=ev.person)
        elif isinstance(ev, OperationLaunched) and inside(ev.scope):
            text = t("board.cmd.launched", lang, name=op_label(ev.name, ev.kind, lang))
        elif isinstance(ev, OperationClosed):
            op = st.operations.get(ev.operation)
            if op is not None and inside(op.scope):
                text = t("board.cmd.closed", lang, name=op_label(op.name, op.kind, lang))
        elif isinstance(ev, OperationPartClosed) and inside(ev.town):
            op = st.operations.get(ev.operation)
            if op is not None:
                text = t("board.cmd.part_closed", lang, town=_name(tree, ev.town),
                         name=op_label(op.name, op.kind, lang))
        elif isinstance(ev, AlertAcknowledged):
            a = st.alerts.get(ev.alert)
            if a is not None and inside(a.grid):
                text = t("board.cmd.acked", lang, actor=actor, kind=t(a.kind, lang), grid=_name(tree, a.grid))
        if text:
            out.append({"ms": rec_ms, "text": text, "kind": wire})
            if len(out) >= COMMANDS:
                break
    return out


def _alerts(st: ControlState, scope: str, index: GeoIndex) -> dict[str, Any]:
    tree = st.tree
    assert tree is not None
    open_ = [a for a in st.alerts.values() if a.open and a.grid in tree and tree.is_within(a.grid, scope)]
    by_kind: dict[str, int] = {}
    for a in open_:
        if not a.acked_by:  # taken in hand: listed (dimmed), no longer counted as waiting
            by_kind[a.kind] = by_kind.get(a.kind, 0) + 1
    open_.sort(key=lambda a: (-a.raised_at, a.id))
    latest = []
    for a in open_[:ALERTS]:
        latest.append({
            "id": a.id, "kind": a.kind, "grid": a.grid, "name": tree[a.grid].name,
            "town": _town_beside(tree, a.grid),
            "raised_at": a.raised_at, "acked_by": a.acked_by,
        })
    markers = []
    for a in open_:
        if a.kind == "vacancy":
            continue  # a vacancy is a standing condition, shown in the secretaries tile
        c = index.point(a.grid)
        if c is not None:
            markers.append([round(c[1], 5), round(c[0], 5), a.kind, tree[a.grid].name])
        if len(markers) >= 200:
            break
    return {"open": len(open_), "waiting": sum(by_kind.values()), "by_kind": by_kind, "latest": latest,
            "markers": markers}


def _secretaries(st: ControlState, tree: GridTree, scope: str) -> dict[str, Any]:
    smalls = tree.small_grids(scope)
    installed = acting = vacant = leaders = 0
    for g in smalls:
        sec = st.secretaries.get(g)
        if sec is not None:
            if sec.acting:
                acting += 1
            else:
                installed += 1
        if g in st.vacancies:
            vacant += 1
        if tree[g].first_leader:
            leaders += 1
    # On post counts confirmations from the field (DESIGN §7.2), never installations.
    m = mob.summary(st, None, scope, limit=0)
    return {"small": len(smalls), "installed": installed, "acting": acting, "vacant": vacant,
            "first_leaders": leaders, "on_post": m["on_post"], "acknowledged": m["acknowledged"],
            "notified": m["notified"], "silent": m["by_state"][mob.PostState.INSTALLED],
            "minutes_to": m["minutes_to"], "curve": mob.thin(m["curve"])}


_PEACETIME: dict[tuple[int, str], tuple[GridTree, dict[str, Any]]] = {}
_PEACETIME_LOCK = threading.Lock()


def _peacetime(tree: GridTree, scope: str) -> dict[str, Any]:
    """Structure-only figures of a scope, computed once per registry tree (a walk of the whole subtree)."""
    key = (id(tree), scope)
    with _PEACETIME_LOCK:
        hit = _PEACETIME.get(key)
    if hit is not None and hit[0] is tree:
        return hit[1]
    out = _peacetime_of(tree, scope)
    with _PEACETIME_LOCK:
        if len(_PEACETIME) >= 256:
            _PEACETIME.clear()
        _PEACETIME[key] = (tree, out)
    return out


def _peacetime_of(tree: GridTree, scope: str) -> dict[str, Any]:
    levels: dict[str, int] = {}
    micro: set[str] = set()
    for c in tree.subtree(scope):
        lv = tree[c].level
        if lv in (Level.LARGE, Level.MEDIUM, Level.SMALL, Level.MICRO):
            levels[lv.value] = levels.get(lv.value, 0) + 1
        if lv == Level.MICRO:
            micro.add(c)
    central = [h for h in tree.central_households if h.micro_grid in micro]
    g = tree[scope]
    return {
        "levels": levels,
        "households": g.households,
        "population": g.population,
        "central_households": len(central),
        "linked_households": sum(h.linked_households for h in central),
    }


def snapshot(
    county: County, actor: Actor, scope: str | None, op: str | None, lang: str, now_ms: int, *, tiles: bool = True
) -> dict[str, Any]:
    """The board's snapshot for one scope and operation choice (refuses scopes outside the actor's).

    With ``tiles=False`` the (possibly slow, lock-free) KPI tiles are left to the caller: `kind_tiles`.
    """
    st = county.refresh()
    tree = county.tree
    scope = scope or actor.scope or tree.root
    require_read(actor, tree, scope, field="scope")
    view = board_view(st, scope, op)
    grid = tree[scope]
    w = st.wartime.get(scope)
    wartime_grids = sum(1 for c in tree.subtree(scope) if c in st.wartime)
    ops = [st.operations[o] for o in view.ops]
    # Every number of the snapshot from one read: each town's hashes with its checkpoint, atomically.
    read = read_towns(county.client, towns_of(tree, scope), list(view.ops), [view.map_op] if view.map_op else [],
                      households_of(view))
    position = {CONTROL: st.last_id or ORIGIN, **read.pos}
    totals = {o.id: cell_of(read.counts[o.id], view.kpi_grid[o.id], tree) for o in ops}
    ops_json = [_op_json(st, view, o, totals[o.id]) for o in ops]
    index = county.view.geometry_index()
    digest = st.geometry or "none"
    map_op = st.operations.get(view.map_op) if view.map_op else None
    children = []
    for c in view.children:
        cell = cell_of(read.counts[map_op.id], c, tree) if map_op is not None else {}
        children.append({
            "code": c,
            "name": tree[c].name,
            "target": int(map_op.targets.get(c, {}).get(view.counter or "", 0)) if map_op else 0,
            "total": int(cell.get(view.counter or "", 0)),
            "band": cell_band(band, st, view, c, cell),
            "leaf": not tree.children[c],
        })
    levels = Counter(tree[c].level.value for c in view.children)
    level_of_children = levels.most_common(1)[0][0] if levels else None
    return {
        "now": now_ms,
        "at": position,
        "lang": lang,
        "county": {"code": tree.root, "name": tree.county.name},
        "scope": {
            "code": scope,
            "name": grid.name,
            "level": grid.level.value,
            "path": [{"code": c, "name": tree[c].name} for c in reversed(tree.path(scope))],
            "leaf": not tree.children[scope],
            "parent": grid.parent,
        },
        "mode": {
            "mode": "wartime" if w else "peacetime",
            "incident": w.incident if w else None,
            "level": w.level if w else None,
            "since": w.since if w else None,
            "wartime_grids": wartime_grids,
            "grids": sum(1 for _ in tree.subtree(scope)),
        },
        "view": {"op": op or None, "ops": list(view.ops), "map_op": view.map_op, "counter": view.counter},
        "ops": ops_json,
        "tiles": kind_tiles(county.client, county.code, tree, ops_json, now_ms) if tiles else [],
        "choices": [
            {"id": o.id, "name": o.name, "kind": o.kind, "state": o.state.value}
            for o in sorted(st.operations.values(), key=lambda o: (o.state.value != "open", -o.launched_at))
            if overlaps(tree, o.scope, scope)
        ],
        "map": {
            "cells": len(view.cells),
            "cells_url": f"/api/v1/board/geo/{digest}/{scope}/cells.geojson",
            "outline_url": f"/api/v1/board/geo/{digest}/{scope}/outline.geojson",
            "has_geometry": bool(index),
            "bounds": index.bounds(scope, tree.leaves(scope)) if index else None,
            "op_name": op_label(map_op.name, map_op.kind, lang) if map_op else None,
        },
        "children": children,
        "children_level": level_of_children,
        "scope_total": int(totals[view.map_op].get(view.counter or "", 0)) if view.map_op else 0,
        "secretaries": _secretaries(st, tree, scope),
        "peacetime": _peacetime(tree, scope),
        "alerts": _alerts(st, scope, index),
        "slowest": _slowest(st, view, read),
        "commands": _commands(county, st, scope, lang),
        "households": households.panel_data(county.client, tree, view, read, st.operations),
    }


def search(tree: GridTree, text: str, within: str, limit: int = 30) -> list[dict[str, str]]:
    """Grids whose name or code contains `text`, inside `within`, shallowest first."""
    q = text.strip().lower()
    if not q:
        return []
    hits = []
    for c in tree.subtree(within):
        g = tree[c]
        if q in c.lower() or q in g.name.lower():
            hits.append((g.level.depth, c, g.name))
            if len(hits) >= limit * 4:
                break
    hits.sort()
    return [{"code": c, "name": n} for _, c, n in hits[:limit]]
