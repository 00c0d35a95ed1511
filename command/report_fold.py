"""The after-action report's fold (复盘报告): the log folded into per-operation aggregates.

`ReportFold` folds the merged log (control and report streams in id order) into
per-operation aggregates small enough to keep: for every grid a report touched
(inside the operation's scope) its totals, number of reports, first and last
report, longest silence while below target and the instants it reached
50/90/100 % of its headline target; the scope's cumulative series in buckets of
adaptive width; per secretary tenure (small grid + since) what was reported
while they held it, by day; every correction; reports per actor. The control
state it needs (targets, who is secretary where) is folded alongside with
`command.fold.ControlState`. `to_plain` / `from_plain` make it storable, so the
Redis side can keep an index and fold only the tail: folding a log in one go or
in pieces gives the same aggregates. `command.report` builds the report from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from command import bounds
from command.events import OperationLaunched, ProgressReported, Recorded
from command.fold import ControlState
from command.grids import GridTree, Level
from command.localtime import local_date
from command.operations import COUNTERS, Operation

__all__ = [
    "BUCKET_WIDTHS",
    "FIRST",
    "GAP",
    "GAP_FROM",
    "GAP_TO",
    "HOUR",
    "LAST",
    "MAX_BUCKETS",
    "MILESTONES",
    "REACHED",
    "TOTALS",
    "N",
    "OpFold",
    "ReportFold",
    "fold_records",
    "target_of",
]

MILESTONES = (50, 90, 100)
BUCKET_WIDTHS = (
    100, 200, 1_000, 2_000, 10_000, 20_000, 60_000, 120_000, 600_000, 1_200_000,
    3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000,
)
"""Series bucket widths in ms; each a multiple of the one before, so buckets merge exactly."""
MAX_BUCKETS = 3_000
HOUR = 3_600_000

# Unit record layout (a plain list so that it stores compactly): per grid of the scope.
N, FIRST, LAST, GAP, GAP_FROM, GAP_TO, REACHED = 0, 1, 2, 3, 4, 5, 6
TOTALS = REACHED + len(MILESTONES)


def target_of(op: Operation, grid: str, counter: str) -> int | None:
    """The target of one counter on one grid, None where none is set."""
    t = op.targets.get(grid, {}).get(counter)
    return int(t) if t else None


class OpFold:
    """Aggregates of one operation, folded report by report."""

    __slots__ = (
        "_paths",
        "actors",
        "corrections",
        "counters",
        "launched_at",
        "operation",
        "origin",
        "reports",
        "scope",
        "series",
        "tenures",
        "units",
        "width",
    )

    def __init__(self, operation: str, scope: str, counters: Sequence[str], launched_at: int) -> None:
        self.operation = operation
        self.scope = scope
        self.counters = tuple(counters)
        self.launched_at = launched_at
        self.origin = launched_at
        self.width = BUCKET_WIDTHS[0]
        self.units: dict[str, list[Any]] = {}
        self.series: dict[int, list[int]] = {}
        self.tenures: dict[str, list[Any]] = {}
        self.corrections: list[list[Any]] = []
        self.actors: dict[str, int] = {}
        self.reports = 0
        self._paths: dict[str, tuple[tuple[list[Any], int | None], ...]] = {}

    # -- folding -------------------------------------------------------------------

    def _units_on(self, control: ControlState, grid: str) -> tuple[tuple[list[Any], int | None], ...]:
        """The units a report on `grid` moves (it and its ancestors up to the scope), with their targets."""
        p = self._paths.get(grid)
        if p is None:
            tree = control.tree
            op = control.operations.get(self.operation)
            chain: list[str] = []
            if tree is not None:
                for g in tree.path(grid):
                    chain.append(g)
                    if g == self.scope:
                        break
                else:
                    chain = []  # outside the scope: no unit of this operation moves
            nc = len(self.counters)
            head = self.counters[0]
            out = []
            for g in chain:
                u = self.units.get(g)
                if u is None:
                    u = self.units[g] = [0, None, None, 0, None, None, None, None, None, *([0] * nc)]
                out.append((u, target_of(op, g, head) if op is not None else None))
            p = self._paths[grid] = tuple(out)
        return p

    def add(
        self,
        control: ControlState,
        grid: str,
        counts: Mapping[str, int],
        ms: int,
        actor: str,
        reason: str = "",
        report_id: str = "",
        small: str | None = None,
    ) -> None:
        """One report: every unit of its path, the series, the secretary's tenure, corrections."""
        if control.tree is None or self.operation not in control.operations:
            return
        counters = self.counters
        nc = len(counters)
        idx = [counters.index(c) if c in counters else -1 for c in counts]
        vals = list(counts.values())
        pairs = [(TOTALS + i, n) for i, n in zip(idx, vals, strict=True) if i >= 0]
        correction = any(v < 0 for v in vals)
        self.reports += 1
        self.actors[actor] = self.actors.get(actor, 0) + 1
        launched = self.launched_at
        for u, target in self._units_on(control, grid):
            last = u[LAST]
            if last is None:
                u[FIRST] = ms
                prev = launched
            else:
                prev = last
            if ms - prev > u[GAP] and (target is None or u[TOTALS] < target):
                u[GAP] = ms - prev
                u[GAP_FROM] = prev
                u[GAP_TO] = ms
            u[N] += 1
            u[LAST] = ms
            for j, n in pairs:
                u[j] += n
            if target and u[REACHED + 2] is None:
                now = u[TOTALS] * 100
                if u[REACHED] is None and now >= target * 50:
                    u[REACHED] = ms
                if u[REACHED + 1] is None and now >= target * 90:
                    u[REACHED + 1] = ms
                if now >= target * 100:
                    u[REACHED + 2] = ms
        self._bucket(ms, idx, vals)
        if small is not None:
            sec = control.secretaries.get(small)
            if sec is not None:
                key = f"{small}@{sec.since}"
                t = self.tenures.get(key)
                if t is None:
                    t = self.tenures[key] = [0, ms, ms, 0, {}, *([0] * nc)]
                t[0] += 1
                t[2] = ms
                today = local_date(ms)
                day = t[4].get(today)
                if day is None:
                    day = t[4][today] = [0, ms, *([0] * nc)]
                day[0] += 1
                for j, n in pairs:
                    t[j - TOTALS + 5] += n
                    day[j - TOTALS + 2] += n
                if correction:
                    t[3] += 1
        if correction:
            self.corrections.append([ms, grid, actor, dict(counts), reason, report_id])

    def _bucket(self, ms: int, idx: list[int], vals: list[int]) -> None:
        b = (ms - self.origin) // self.width
        while b >= MAX_BUCKETS and self.width != BUCKET_WIDTHS[-1]:
            wider = BUCKET_WIDTHS[BUCKET_WIDTHS.index(self.width) + 1]
            merged: dict[int, list[int]] = {}
            for k, cell in self.series.items():
                nk = k * self.width // wider
                m = merged.get(nk)
                if m is None:
                    merged[nk] = list(cell)
                else:
                    for i, v in enumerate(cell):
                        m[i] += v
            self.series = merged
            self.width = wider
            b = (ms - self.origin) // self.width
        cur = self.series.get(b)
        if cur is None:
            cur = self.series[b] = [0] * len(self.counters)
        for i, n in zip(idx, vals, strict=True):
            if i >= 0:
                cur[i] += n

    # -- storage -------------------------------------------------------------------

    def to_plain(self) -> dict[str, Any]:
        """JSON-ready (lists, dicts with string keys)."""
        return {
            "operation": self.operation,
            "scope": self.scope,
            "counters": list(self.counters),
            "launched_at": self.launched_at,
            "origin": self.origin,
            "width": self.width,
            "units": self.units,
            "series": [[k, v] for k, v in self.series.items()],
            "tenures": self.tenures,
            "corrections": self.corrections,
            "actors": self.actors,
            "reports": self.reports,
        }

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> OpFold:
        """Inverse of `to_plain`."""
        f = cls(data["operation"], data["scope"], data["counters"], int(data["launched_at"]))
        f.origin = int(data["origin"])
        f.width = int(data["width"])
        f.units = {g: list(u) for g, u in data["units"].items()}
        f.series = {int(k): list(v) for k, v in data["series"]}
        f.tenures = {k: [*v[:4], {d: list(x) for d, x in v[4].items()}, *v[5:]] for k, v in data["tenures"].items()}
        f.corrections = [list(c) for c in data["corrections"]]
        f.actors = dict(data["actors"])
        f.reports = int(data["reports"])
        return f


class ReportFold:
    """The whole log folded for reports: control state plus one `OpFold` per operation."""

    def __init__(self, control: ControlState | None = None) -> None:
        self.control = control if control is not None else ControlState()
        self.ops: dict[str, OpFold] = {}
        self._small: dict[str, str | None] = {}
        self._tree: GridTree | None = None

    def apply(self, rec: Recorded) -> None:
        """Fold any recorded event."""
        ev = rec.event
        if isinstance(ev, ProgressReported):
            # An old report no command accepts is skipped, as by every reader (typed decoders refuse it).
            if bounds.readable_counts(ev.counts) is not None:
                self.add_report(ev.operation, ev.grid, ev.counts, rec.ms, rec.actor, ev.reason, ev.report_id)
        else:
            self.apply_control(rec)

    def apply_control(self, rec: Recorded) -> None:
        """A control event: into the control state; a launch opens an operation's aggregates."""
        self.control.apply(rec)
        ev = rec.event
        if isinstance(ev, OperationLaunched) and ev.operation not in self.ops:
            self.ops[ev.operation] = OpFold(ev.operation, ev.scope, COUNTERS[ev.kind], rec.ms)

    def small_of(self, grid: str) -> str | None:
        """The small grid a reporting grid belongs to (itself if small): its secretary's unit."""
        tree = self.control.tree
        if tree is not self._tree:
            self._small, self._tree = {}, tree
        if grid in self._small:
            return self._small[grid]
        out = None
        if tree is not None and grid in tree:
            for g in tree.path(grid):
                if tree.grids[g].level == Level.SMALL:
                    out = g
                    break
        self._small[grid] = out
        return out

    def add_report(
        self, operation: str, grid: str, counts: Mapping[str, int], ms: int, actor: str,
        reason: str = "", report_id: str = "",
    ) -> None:
        """The fast path of `apply` for a report (callers that decode entries themselves)."""
        f = self.ops.get(operation)
        if f is None or self.control.tree is None or grid not in self.control.tree:
            return
        f.add(self.control, grid, counts, ms, actor, reason, report_id, self.small_of(grid))

    def to_plain(self) -> dict[str, Any]:
        """The aggregates (the control state is re-folded from the control stream, not stored)."""
        return {"ops": {k: f.to_plain() for k, f in self.ops.items()}}

    @classmethod
    def from_plain(cls, data: Mapping[str, Any], control: ControlState) -> ReportFold:
        """Aggregates stored at some position, with the control state folded to the same position."""
        rf = cls(control)
        rf.ops = {k: OpFold.from_plain(v) for k, v in data.get("ops", {}).items()}
        return rf


def fold_records(records: Iterable[Recorded]) -> ReportFold:
    """Fold a merged run of records from scratch."""
    rf = ReportFold()
    for rec in records:
        rf.apply(rec)
    return rf
