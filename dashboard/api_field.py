"""API additions for the field page and the commander's console (issue 5).

Both pages sit on the HTTP API — the field page from the browser (assets/field.js,
so that reports can queue offline), the console from its Dash callbacks through
`call_api`, which hands the request to the app's one intake (`dashboard.intake`):
the same route table, token check, audit entry and error mapping as a request
from the network, without HTTP. There is no second path to the
data. The routes here are read-only conveniences that save the pages many round
trips:

* ``GET /api/v1/field/mine[?grid=CODE]`` — what a grid leader needs on a phone:
  the grids of the caller's scope that take reports (leaf grids), the open
  operations over them, and per grid its targets, counts and last report.
* ``GET /api/v1/console/tree/CODE`` — one node of the grid tree and its
  children, each with subtree counts (grids, in wartime, secretaries,
  vacancies): the console's tree picker, one level at a time.
* ``GET /api/v1/console/scope/CODE`` — the console's view of a scope:
  vacancies and secretaries with grid names, operations over it with progress,
  open alerts.
* ``GET /api/v1/field/sw.js`` — the field page's service worker
  (assets/field-sw.js), allowed to control ``/field`` so the page reloads with
  no network.

Every route checks the caller's token and scope like the core API does.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import flask
from flask import Blueprint, Response

from command.access import Actor, Role, overlaps, require_read, within_scope
from command.errors import InvalidRequest
from command.fold import ControlState
from command.grids import GRID_LEVELS, GridTree, Level
from command.operations import Operation, OperationState, towns_of
from dashboard import audit
from dashboard.api import Backend
from dashboard.intake import Call, Routes, intake_of

__all__ = [
    "MAX_LEAVES",
    "MAX_ROWS",
    "ROUTES",
    "SW_FILE",
    "SW_SCOPE",
    "call_api",
    "mine",
    "node_summary",
    "register",
    "reportable",
    "scope_view",
    "tree_node",
]


SW_FILE = Path(__file__).resolve().parent.parent / "assets" / "field-sw.js"
SW_SCOPE = "/field"
MAX_LEAVES = 300
"""A phone lists at most this many grids (a leader's scope holds a handful)."""
MAX_ROWS = 200
"""Vacancies, secretaries and alerts listed per scope in the console."""


def call_api(method: str, path: str, token: str | None, payload: Any = None) -> tuple[int, dict[str, Any]]:
    """One /api/v1 request of a page, answered in-process by the app's intake (no HTTP, no test client).

    The path is routed by the same table as the HTTP routes (`dashboard.intake.Intake.call`); the token
    is checked, the body read and the answer audited as for a request from the network, with the
    address of the page's own request (`dashboard.audit.source_address`).
    """
    answer = intake_of(flask.current_app).call(method, path, token, payload, source=audit.source_address())
    return answer.status, answer.body


def _secretary(st: ControlState, code: str) -> dict[str, Any] | None:
    s = st.secretaries.get(code)
    return {"name": s.name, "acting": s.acting, "since": s.since} if s else None


def _grid_brief(tree: GridTree, st: ControlState, code: str) -> dict[str, Any]:
    g = tree[code]
    w = st.wartime.get(code)
    return {
        "code": code,
        "name": g.name,
        "grid_level": g.level.value,
        "kind": g.kind.value,
        "parent": g.parent,
        "mode": st.mode_of(code).value,
        "incident": w.incident if w else None,
        "level": w.level if w else None,
        "since": w.since if w else None,
    }


def reportable(tree: GridTree, root: str, limit: int = MAX_LEAVES) -> tuple[list[str], bool]:
    """Leaf grids under `root` (where reports land), in tree order, and whether the list was cut."""
    out: list[str] = []
    for code in tree.subtree(root):
        if not tree.children[code] and tree[code].level in GRID_LEVELS:
            if len(out) == limit:
                return out, True
            out.append(code)
    return out, False


def _small_of(tree: GridTree, code: str) -> str | None:
    for c in tree.path(code):
        if tree[c].level == Level.SMALL:
            return c
    return None


def mine(backend: Backend, actor: Actor, grid: str | None) -> dict[str, Any]:
    """The field page's data: reportable grids of the scope and the open operations over them."""
    county = backend.county
    st = county.refresh()
    tree = county.tree
    root = grid or actor.scope or tree.root
    require_read(actor, tree, root)
    leaves, truncated = reportable(tree, root)
    grids = []
    for code in leaves:
        brief = _grid_brief(tree, st, code)
        small = _small_of(tree, code)
        brief["secretary"] = _secretary(st, small) if small else None
        parent = tree[code].parent
        brief["parent_name"] = tree[parent].name if parent else None
        grids.append(brief)
    ops = []
    for op in sorted(st.open_operations(), key=lambda o: (o.launched_at, o.id)):
        here = [c for c in leaves if tree.is_within(c, op.scope)]
        if not here:
            continue
        at = root if tree.is_within(root, op.scope) else op.scope
        totals = county.progress.totals(op.id, [*here, at])
        last = county.progress.last_report(op.id, here)
        ops.append({
            **op.summary(),
            "counters": list(op.counters),
            "summary": {"grid": at, "targets": op.target_of(at), "counts": totals[at]},
            "grids": {
                c: {"targets": op.target_of(c), "counts": totals[c], "last": last[c]} for c in here
            },
        })
    return {
        "user": {"username": actor.username, "role": actor.role.value, "scope": actor.scope},
        "root": {**_grid_brief(tree, st, root), "secretary": _secretary(st, root)},
        "can_report": actor.role != Role.VIEWER,
        "grids": grids,
        "truncated": truncated,
        "operations": ops,
        "server_time": county.clock(),
    }


def _aggregate(tree: GridTree, st: ControlState, code: str) -> dict[str, dict[str, int]]:
    """Per node of the subtree: grids, wartime grids, secretaries and vacancies beneath it."""
    agg: dict[str, dict[str, int]] = {}
    for c in reversed(list(tree.subtree(code))):
        cell = {
            "grids": 1,
            "wartime": 1 if c in st.wartime else 0,
            "secretaries": 1 if c in st.secretaries else 0,
            "vacancies": 1 if c in st.vacancies else 0,
        }
        for k in tree.children[c]:
            for key, n in agg[k].items():
                cell[key] += n
        agg[c] = cell
    return agg


def node_summary(tree: GridTree, st: ControlState, code: str, agg: dict[str, dict[str, int]]) -> dict[str, Any]:
    """One node of the console tree with its subtree counts."""
    g = tree[code]
    return {
        **_grid_brief(tree, st, code),
        **agg[code],
        "children": len(tree.children[code]),
        "population": g.population,
        "households": g.households,
        "first_leader": g.first_leader,
        "secretary": _secretary(st, code),
        "vacancy": code in st.vacancies,
    }


def tree_node(backend: Backend, actor: Actor, code: str) -> dict[str, Any]:
    """A node, its children and its path from the top of the caller's scope."""
    county = backend.county
    st = county.refresh()
    tree = county.tree
    require_read(actor, tree, code)
    agg = _aggregate(tree, st, code)
    path = [c for c in reversed(tree.path(code)) if within_scope(actor, tree, c)]
    return {
        "node": node_summary(tree, st, code, agg),
        "children": [node_summary(tree, st, k, agg) for k in tree.children[code]],
        "path": [{"code": c, "name": tree[c].name, "grid_level": tree[c].level.value} for c in path],
    }


def _overlaps(tree: GridTree, op: Operation, code: str) -> bool:
    return overlaps(tree, op.scope, code)


def _rows(items: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    rows = list(items)
    return rows[:MAX_ROWS], len(rows)


def _matches(query: str, *texts: str | None) -> bool:
    """Whether every word of a search is in one of the texts (codes and names, case-folded)."""
    hay = " ".join(t for t in texts if t).casefold()
    return all(w in hay for w in query.casefold().split())


def scope_view(backend: Backend, actor: Actor, code: str, vq: str = "", voffset: int = 0,
               vlimit: int = MAX_ROWS) -> dict[str, Any]:
    """The console's panels for one scope: vacancies, secretaries, operations, alerts.

    Vacancies are searched (`vq`: words in the grid's, its parent's or its town's
    code or name) and paged (`voffset`, `vlimit`); ``vacancies_total`` counts the
    scope's, ``vacancies_matched`` those the search finds.
    """
    county = backend.county
    st = county.refresh()
    tree = county.tree
    require_read(actor, tree, code)
    agg = _aggregate(tree, st, code)

    def parent_name(c: str) -> str | None:
        p = tree[c].parent
        return tree[p].name if p else None

    def town_name(c: str) -> str | None:
        town = tree.town_of(c)
        return tree[town].name if town else None

    in_scope = [(g, since) for g, since in sorted(st.vacancies.items()) if tree.is_within(g, code)]
    found = [(g, since) for g, since in in_scope
             if not vq or _matches(vq, g, tree[g].name, tree[g].parent, parent_name(g), town_name(g))]
    voffset = max(0, min(voffset, max(len(found) - 1, 0)))
    vacancies = [{"grid": g, "name": tree[g].name, "parent_name": parent_name(g), "town_name": town_name(g),
                  "since": since} for g, since in found[voffset:voffset + max(1, min(vlimit, MAX_ROWS))]]
    n_vac = len(in_scope)
    secretaries, n_sec = _rows(
        {"grid": g, "name": tree[g].name, "parent_name": parent_name(g), "person": s.name,
         "acting": s.acting, "since": s.since}
        for g, s in sorted(st.secretaries.items()) if tree.is_within(g, code)
    )
    ops = []
    for op in sorted(st.operations.values(), key=lambda o: (o.state != OperationState.OPEN, -o.launched_at, o.id)):
        if not _overlaps(tree, op, code):
            continue
        at = op.scope if tree.is_within(op.scope, code) else code
        totals = county.progress.totals(op.id, [at])[at]
        town = tree.town_of(at)
        ops.append({
            **op.summary(),
            "scope_name": tree[op.scope].name,
            "scope_population": tree[op.scope].population,
            "counters": list(op.counters),
            "at": at,
            "at_name": tree[at].name,
            "at_population": tree[at].population,
            "targets": op.target_of(at),
            "totals": totals,
            "can_close": actor.role == Role.COMMANDER and within_scope(actor, tree, op.scope),
            # This scope's town, when the operation spans several towns: its part can close on its own.
            "part": town if town is not None and len(towns_of(tree, op.scope)) > 1 else None,
            "part_name": tree[town].name if town is not None else None,
            "part_closed_at": op.closed_parts.get(town) if town is not None else None,
        })
    alerts, n_alerts = _rows(
        {**a.to_json(), "grid_name": tree[a.grid].name if a.grid in tree else a.grid,
         "operation_name": st.operations[a.operation].name if a.operation in st.operations else None}
        for a in sorted(st.alerts.values(), key=lambda a: (-a.raised_at, a.id))
        if a.open and a.grid in tree and tree.is_within(a.grid, code)
    )
    can_command = actor.role == Role.COMMANDER and within_scope(actor, tree, code)
    return {
        "grid": node_summary(tree, st, code, agg),
        "can_command": can_command,
        "town": tree.town_of(code),
        "vacancies": vacancies,
        "vacancies_total": n_vac,
        "vacancies_matched": len(found),
        "vacancies_offset": voffset,
        "vacancies_query": vq,
        "secretaries": secretaries,
        "secretaries_total": n_sec,
        "operations": ops,
        "alerts": alerts,
        "alerts_total": n_alerts,
        "server_time": county.clock(),
    }


ROUTES = Routes()


@ROUTES.get("/field/mine")
def field_mine(c: Call) -> Any:
    with c.backend.lock:
        return mine(c.backend, c.actor, c.args.get("grid") or None)


@ROUTES.get("/console/tree/<code>")
def console_tree(c: Call, code: str) -> Any:
    with c.backend.lock:
        return tree_node(c.backend, c.actor, code)


@ROUTES.get("/console/scope/<code>")
def console_scope(c: Call, code: str) -> Any:
    vq = (c.args.get("vq") or "")[:100].strip()
    try:
        voffset = int(c.args.get("voffset") or 0)
        vlimit = int(c.args.get("vlimit") or MAX_ROWS)
    except ValueError:
        raise InvalidRequest("voffset and vlimit must be whole numbers", field="voffset") from None
    with c.backend.lock:
        return scope_view(c.backend, c.actor, code, vq, voffset, vlimit)


def register(api: Blueprint, backend: Backend) -> None:
    """Add the field and console routes to the /api/v1 blueprint."""
    ROUTES.register(api, backend)

    @api.get("/field/sw.js")
    def field_sw() -> Response:
        resp = Response(SW_FILE.read_bytes(), mimetype="application/javascript")
        resp.headers["Service-Worker-Allowed"] = SW_SCOPE
        resp.headers["Cache-Control"] = "no-cache"
        return resp
