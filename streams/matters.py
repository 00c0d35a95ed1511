"""Residents' matters and quarterly evaluations over Redis.

* `MattersView` — `command.matters.MattersState` kept current by reading only
  what the county's control stream got since its last read (the pattern of
  `ControlView`): a cache of the log, rebuilt from it at will.
* `Matters` — the command surface the API calls: record, advance, hand over,
  edit evaluation weights, compute an evaluation. Each decides with the pure
  commands on the latest state and appends one event under its idempotency
  key; a key the log has seen answers as a duplicate and writes nothing.
* Evaluations fold the report streams of the towns concerned up to their
  current ends (only when operations ran in the quarter), compute the table
  (`command.evaluation.compute`), keep it in Redis under its digest
  (``wt:{COUNTY}:eval:DIGEST``) and append `EvaluationPublished` with the
  stream positions it stands at. `recompute` folds the log again up to those
  positions: the same table, the same digest. A dropped table is recomputed.
* `issue_overdue_alerts(county, now)` — one alert round for matters (what the
  scheduler calls, see `command.matters.overdue_alerts`).
* `run_script(county, steps)` — a scripted scenario (`command.scenarios`)
  appended in batches.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from command import evaluation as ev_commands
from command import matters as m_commands
from command.access import Actor, require_report
from command.contact import Quarter, parse_round, quarter_of
from command.errors import UnknownEvaluation
from command.events import EvaluationPublished, Event, ProgressReported, Recorded, decode
from command.fold import ControlState, Counts, fold_control
from command.grids import GridTree
from command.matters import MatterRequest, MattersState, fold_matters
from command.scenarios import ScriptStep, apply_step
from streams import photos
from streams.county import County
from streams.keys import CountyKeys, TownKeys
from streams.log import Pending
from streams.photos import Photo
from streams.server import Client

__all__ = [
    "SCHEDULER",
    "Done",
    "Matters",
    "MattersView",
    "eval_key",
    "fold_progress",
    "issue_overdue_alerts",
    "matters_for",
    "recompute",
    "run_script",
]


SCHEDULER = "scheduler"


def eval_key(county: str, digest: str) -> str:
    """A computed evaluation table (JSON) by its digest, on the county's shard."""
    return f"wt:{CountyKeys(county).tag}:eval:{digest}"


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class MattersView:
    """Matters of a county, kept current by incremental reads of its control stream."""

    def __init__(self, client: Client, county: str) -> None:
        self.client = client
        self.keys = CountyKeys(county)
        self.state = MattersState()

    def refresh(self, until_id: str = "+") -> int:
        """Fold whatever was appended since the last refresh (up to `until_id`); returns how many."""
        n = 0
        while True:
            page = self.client.xrange(self.keys.log, "(" + self.state.last_id, until_id, count=1000)
            for entry_id, fields in page:
                self.state.apply(decode(entry_id, fields, self.keys.log))
                n += 1
            if len(page) < 1000:
                return n


@dataclass(frozen=True, slots=True)
class Done:
    """What a matter command did: the event, its entry id, and whether it was a resend."""

    event: Event | None
    event_id: str
    duplicate: bool


_SERVICES: weakref.WeakKeyDictionary[County, Matters] = weakref.WeakKeyDictionary()
_SERVICES_LOCK = threading.Lock()


def matters_for(county: County) -> Matters:
    """The one `Matters` of a `County` object (its view is cached with it)."""
    with _SERVICES_LOCK:
        svc = _SERVICES.get(county)
        if svc is None:
            svc = _SERVICES[county] = Matters(county)
        return svc


class Matters:
    """Matters and evaluations of one county: commands in, events out, folds kept current.

    Not thread-safe on its own: callers hold the backend lock, as for `County`.
    """

    def __init__(self, county: County) -> None:
        self.county = county
        self.view = MattersView(county.client, county.code)

    # -- reading -------------------------------------------------------------------

    def refresh(self) -> tuple[ControlState, MattersState]:
        """Catch both folds up with the log."""
        control = self.county.refresh()
        self.view.refresh()
        return control, self.view.state

    @property
    def state(self) -> MattersState:
        """Matters as of the last refresh."""
        return self.view.state

    def _seen(self, key: str) -> str | None:
        if not key:
            return None
        v = self.county.client.hget(self.county.keys.idem, key)
        return _s(v) if v is not None else None

    def _append(self, event: Event, actor: Actor, key: str) -> Done:
        out = self.county.record(event, actor, key)
        self.view.refresh()
        return Done(event, out.event_id, out.duplicate)

    # -- matters -------------------------------------------------------------------

    def record(self, actor: Actor, req: MatterRequest, photo: Photo | None = None) -> Done:
        """Record a matter (with its photo, checked at the door, named in `req` by digest); a matter id
        seen before is a duplicate that changes nothing."""
        m_commands.check_id(req.matter)
        seen = self._seen(f"matter:{req.matter}")
        if seen is not None:
            self.refresh()
            m = self.state.matters.get(req.matter)
            if m is not None:
                require_report(actor, self.county.tree, m.grid)
            return Done(None, seen, True)
        self.refresh()
        event = m_commands.record(self.state, self.county.tree, actor, req, self.county.clock())
        if photo is not None:  # before the append: an event never names a photo that is not kept
            photos.store(self.county.client, self.county.code, photo, event.grid)
        return self._append(event, actor, m_commands.event_key(event))

    def advance(self, actor: Actor, matter: str, stage: object, note: object = "", satisfaction: object = None) -> Done:
        """Move a matter to its next list; a list reached before answers as a duplicate."""
        self.refresh()
        m = self.state.get(matter)
        if isinstance(stage, str):
            seen = self._seen(f"matter:{m.id}:{stage}")
            if seen is not None:
                m_commands._may_act(actor, self.county.tree, [m.grid, m.holder], "matter_id")
                return Done(None, seen, True)
        event = m_commands.advance(self.state, self.county.tree, actor, matter, stage, note, satisfaction)
        return self._append(event, actor, m_commands.event_key(event))

    def handover(
        self, actor: Actor, matter: str, step: object, *, to: object = None, grid: object = None,
        department: object = "", reason: object = "", request_id: str = "",
    ) -> Done:
        """Pass a matter on; a repeated `request_id` answers as a duplicate."""
        key = f"matter:{matter}:handover:{request_id}" if request_id else ""
        self.refresh()
        m = self.state.get(matter)
        seen = self._seen(key)
        if seen is not None:
            m_commands._may_act(actor, self.county.tree, [m.grid, m.holder], "matter_id")
            return Done(None, seen, True)
        event = m_commands.handover(self.state, self.county.tree, actor, matter, step, to=to, grid=grid,
                                    department=department, reason=reason)
        return self._append(event, actor, key)

    # -- evaluation ----------------------------------------------------------------

    def weights(self) -> dict[str, float]:
        """The checklist weights in force."""
        self.refresh()
        return ev_commands.effective_weights(self.state.weights)

    def set_weights(self, actor: Actor, changes: object) -> Done:
        """A county commander edits the checklist weights."""
        self.refresh()
        event = ev_commands.set_weights(actor, self.county.tree, self.state.weights, changes)
        return self._append(event, actor, "")

    def evaluate(
        self, actor: Actor, quarter: str | None, scope: str | None, adjustments: object = None,
        request_id: str = "",
    ) -> tuple[Done, str]:
        """Compute, store and publish a quarterly evaluation; returns what was appended and its id."""
        county = self.county
        key = f"evaluation:{request_id}" if request_id else ""
        seen = self._seen(key)
        if seen is not None:
            self.refresh()
            return Done(None, seen, True), _evaluation_at(county, seen)
        county.refresh()
        tree = county.tree
        scope = scope or actor.scope or tree.root
        ev_commands.check_scope(actor, tree, scope, compute=True)
        now = county.clock()
        q = parse_round(quarter) if quarter else quarter_of(now)
        adj = ev_commands.check_adjustments(tree, scope, adjustments)
        end = county.log.last_id(county.keys.log) or "0-0"
        county.view.refresh(end)
        self.view.refresh(end)
        control, mstate = county.state, self.view.state
        weights = ev_commands.effective_weights(mstate.weights)
        positions = {"control": end}
        ops = ev_commands.operations_of(control, q, now)
        if ops:
            for town in _towns(tree, scope):
                stream = TownKeys(town).log
                positions[stream] = county.log.last_id(stream) or "0-0"
        progress = fold_progress(county, tree, [o.id for o in ops], positions)
        table = ev_commands.compute(control, mstate, progress.totals, q, scope, now, weights, adj)
        digest = ev_commands.digest(table)
        n = 1 + sum(1 for r in mstate.evaluations.values() if r.quarter == q.id and r.scope == scope)
        eval_id = f"{q.id}-{scope}-{n}"
        county.client.set(eval_key(county.code, digest), msgspec.json.encode(table, order="deterministic"))
        event = EvaluationPublished(
            evaluation=eval_id, quarter=q.id, scope=scope, now=now, weights=weights, adjustments=adj,
            positions=positions, digest=digest, summary=table["summary"],
        )
        done = self._append(event, actor, key or f"evaluation:{eval_id}")
        if done.duplicate:
            return done, _evaluation_at(county, done.event_id)
        return done, eval_id

    def table(self, evaluation: str) -> dict[str, Any]:
        """The stored table of an evaluation (recomputed from the log when the copy is gone)."""
        self.refresh()
        rec = self.state.evaluations.get(evaluation)
        if rec is None:
            raise UnknownEvaluation(f"unknown evaluation {evaluation!r}", field="evaluation")
        raw = self.county.client.get(eval_key(self.county.code, rec.digest))
        if raw is not None:
            return msgspec.json.decode(raw)  # type: ignore[no-any-return]
        table, digest = recompute(self.county, rec)
        if digest == rec.digest:
            raw_table = msgspec.json.encode(table, order="deterministic")
            self.county.client.set(eval_key(self.county.code, digest), raw_table)
        return table

    # -- overdue -------------------------------------------------------------------

    def overdue(self, now: int, actor: str = SCHEDULER) -> tuple[list[Event], int]:
        """One overdue round: the events decided at `now` and how many were new to the log."""
        self.refresh()
        events = m_commands.overdue_alerts(self.state, now)
        if not events:
            return [], 0
        at = self.county.clock()
        pend = [Pending(e, actor, at, m_commands.event_key(e)) for e in events]
        out = self.county.log.append_many(pend)
        self.refresh()
        return events, sum(1 for a in out if not a.duplicate)


def _evaluation_at(county: County, entry_id: str) -> str:
    page = county.client.xrange(county.keys.log, entry_id, entry_id, count=1)
    if page:
        rec = decode(page[0][0], page[0][1], county.keys.log)
        if isinstance(rec.event, EvaluationPublished):
            return rec.event.evaluation
    return ""


def _towns(tree: GridTree, scope: str) -> list[str]:
    if scope == tree.root:
        return list(tree.towns)
    town = tree.town_of(scope)
    return [town] if town else []


def fold_progress(county: County, tree: GridTree, operations: Iterable[str], positions: Mapping[str, str]) -> Counts:
    """Totals of some operations from the town streams, each read up to its recorded position."""
    counts = Counts(tree)
    wanted = set(operations)
    if not wanted:
        return counts
    for stream, end in positions.items():
        if stream == "control" or end == "0-0":
            continue
        for page in county.log.read_raw(stream, "-", end):
            for entry_id, fields in page:
                if _s(fields.get(b"t") or fields.get("t") or "") != ProgressReported.wire:
                    continue
                rec = decode(entry_id, fields, stream)
                ev = rec.event
                if isinstance(ev, ProgressReported) and ev.operation in wanted and ev.grid in tree:
                    counts.add(ev.operation, ev.grid, ev.counts, rec.ms)
    return counts


def recompute(county: County, rec: m_commands.EvaluationRecord) -> tuple[dict[str, Any], str]:
    """An evaluation's table folded again from the log up to the positions it was computed at."""
    records: list[Recorded] = list(county.log.read(county.keys.log, "-", rec.positions.get("control", "0-0")))
    control = fold_control(records)
    mstate = fold_matters(records)
    tree = control.tree
    if tree is None:
        raise LookupError("no registry in the log before this evaluation")
    q: Quarter = parse_round(rec.quarter)
    ops = ev_commands.operations_of(control, q, rec.now)
    progress = fold_progress(county, tree, [o.id for o in ops], rec.positions)
    table = ev_commands.compute(control, mstate, progress.totals, q, rec.scope, rec.now, rec.weights,
                                rec.adjustments)
    return table, ev_commands.digest(table)


# -- the scheduler's round and scripted scenarios ---------------------------------------------


def issue_overdue_alerts(county: County, now: int) -> int:
    """Raise (once) the alerts of matters overdue at `now`, clear those handled; returns new events."""
    return matters_for(county).overdue(now)[1]


def _step_key(step: ScriptStep) -> str:
    if step.key:
        return step.key
    if step.action == "record":
        return f"matter:{step.matter}"
    if step.action == "advance":
        return f"matter:{step.matter}:{step.args.get('stage')}"
    return ""


def run_script(county: County, steps: Iterable[ScriptStep], batch: int = 500) -> int:
    """Append a scripted scenario; steps whose key the log has seen are skipped. Returns events appended.

    Every step of a script should carry a key (records and advances have one of
    their own), so a script run twice, or resumed after a crash, appends each
    event once.
    """
    county.refresh()
    tree = county.tree
    state = fold_matters(county.log.read(county.keys.log))
    todo = list(steps)
    keys = [_step_key(s) for s in todo]
    named = [k for k in keys if k]
    seen: set[str] = set()
    for i in range(0, len(named), 1000):
        chunk = named[i:i + 1000]
        seen.update(k for k, v in zip(chunk, county.client.hmget(county.keys.idem, chunk), strict=True) if v)
    now = county.clock()
    pending: list[Pending] = []
    appended = 0
    for n, (step, key) in enumerate(zip(todo, keys, strict=True), 1):
        if key in seen:
            continue
        event = apply_step(state, tree, step, now)
        state.apply(Recorded(id=f"{now}-{n}", event=event, actor=step.actor.username, at=now))
        pending.append(Pending(event, step.actor.username, now, key))
        if len(pending) >= batch:
            appended += sum(1 for a in county.log.append_many(pending) if not a.duplicate)
            pending = []
    if pending:
        appended += sum(1 for a in county.log.append_many(pending) if not a.duplicate)
    county.refresh()
    matters_for(county).view.refresh()
    return appended
