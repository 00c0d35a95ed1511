"""Mobilisation routes of /api/v1 (DESIGN §7.2): from installed to on post (到岗).

* ``GET  /mobilisation?scope=CODE`` — the funnel installed → notified →
  acknowledged → on_post, vacancies, who is not on post, minutes to 50/90/100 %.
* ``GET  /notifications?state=pending|delivered|failed[&scope=CODE]`` — notifications
  and how their delivery went (phones never leave the server here).
* ``POST /secretaries/{grid}/on-post`` ``{report_id, location?}`` — the grid's
  secretary confirms arrival: 201, a repeat 200 ``duplicate``.
* ``POST /secretaries/{grid}/acknowledged`` ``{notification?}`` — the field page
  opened the order (the notification counts as delivered on the field channel).
* ``POST /secretaries/{grid}/renotify`` — a commander sends the notification again.
* ``GET  /field/order`` — the caller's order: grid, incident, level, who
  commands above, and how far the caller has come.

Each route is one `County` command or a read of the folded control state, on
the intake's route table (`dashboard.intake.Routes`): the HTTP route, the
console's callbacks and the demo's arrivals (`dashboard.arrivals`) run the same
function through the one intake.
"""

from __future__ import annotations

from typing import Any

from command import mobilisation as mob
from command.access import Actor, Role
from command.errors import InvalidRequest
from command.fold import ControlState
from command.grids import GridTree, Level
from command.mobilisation import NotificationState
from dashboard import mobilisation_i18n  # noqa: F401 - registers the order card's strings
from dashboard.intake import Call, Routes
from streams.county import Outcome

MAX_LISTED = 2000


def _answer(out: Outcome, extra: dict[str, Any]) -> tuple[dict[str, Any], int]:
    if out.duplicate:
        return {"event_id": out.event_id, "duplicate": True, **extra}, 200
    return {"event_id": out.event_id, **extra}, 201


def _commanders(tree: GridTree, st: ControlState, grid: str) -> list[dict[str, Any]]:
    """Who commands above a small grid: the leaders of its ancestors, nearest first."""
    out = []
    for code in tree.ancestors(grid):
        g = tree[code]
        out.append({"grid": code, "name": g.name, "grid_level": g.level.value, "leader": g.leader})
    return out


def order_of(st: ControlState, actor: Actor) -> dict[str, Any]:
    """The order of the caller's grid (a leader whose scope is a small grid with a secretary)."""
    tree = st.tree
    if tree is None or actor.role != Role.LEADER or actor.scope not in tree:
        return {"order": None}
    grid = actor.scope
    if tree[grid].level != Level.SMALL:
        return {"order": None}
    post = st.mobilisation.posts.get(grid)
    w = st.wartime.get(grid)
    if post is None or w is None:
        return {"order": None}
    notes = [n.to_json() for n in st.mobilisation.notifications.values()
             if n.grid == grid and n.person == post.person and n.queued_at >= post.installed_at]
    notes.sort(key=lambda n: (n["queued_at"], n["id"]))
    return {"order": {
        "grid": grid,
        "grid_name": tree[grid].name,
        "person": post.person,
        "acting": post.acting,
        "installed_at": post.installed_at,
        "state": post.state.value,
        "notified_at": post.notified_at,
        "acknowledged_at": post.acknowledged_at,
        "on_post_at": post.on_post_at,
        "incident": w.incident,
        "level": w.level,
        "scope": w.scope,
        "scope_name": tree[w.scope].name if w.scope in tree else w.scope,
        "since": w.since,
        "commanders": _commanders(tree, st, grid),
        "notifications": notes,
    }}


ROUTES = Routes()
register = ROUTES.register


@ROUTES.get("/mobilisation")
def mobilisation(c: Call) -> Any:
    with c.backend.lock:
        st, _, scope = c.backend.read_scope(c.actor, c.args.get("scope"))
        return mob.summary(st, c.actor, scope, limit=MAX_LISTED)


@ROUTES.get("/notifications")
def notifications(c: Call) -> Any:
    state = c.args.get("state") or None
    if state is not None and state not in set(NotificationState):
        raise InvalidRequest("state must be one of: pending, delivered, failed", field="state")
    with c.backend.lock:
        st, tree, scope = c.backend.read_scope(c.actor, c.args.get("scope"))
        items = [n for n in st.mobilisation.notifications.values()
                 if (state is None or n.state == state) and n.grid in tree and tree.is_within(n.grid, scope)]
    items.sort(key=lambda n: (n.queued_at, n.id))
    return {"scope": scope, "state": state, "total": len(items),
            "notifications": [n.to_json() for n in items[:MAX_LISTED]]}


@ROUTES.post("/secretaries/<grid>/on-post")
def on_post(c: Call, grid: str) -> Any:
    with c.backend.lock:
        out = c.backend.county.confirm_on_post(c.actor, grid, c.body.get("report_id"), c.body.get("location"))
    return _answer(out, {"grid": grid, "state": mob.PostState.ON_POST.value})


@ROUTES.post("/secretaries/<grid>/acknowledged", body="optional")
def acknowledged(c: Call, grid: str) -> Any:
    with c.backend.lock:
        out = c.backend.county.acknowledge_order(c.actor, grid, c.body.get("notification") or "")
    return _answer(out, {"grid": grid})


@ROUTES.post("/secretaries/<grid>/renotify", body="optional")
def renotify(c: Call, grid: str) -> Any:
    key = c.body.get("request_id") or ""
    if not isinstance(key, str) or len(key) > 100:
        raise InvalidRequest("request_id must be text of at most 100 characters", field="request_id")
    with c.backend.lock:
        out = c.backend.county.renotify(c.actor, grid, key)
    return _answer(out, {"grid": grid, "notification": out.event.notification})  # type: ignore[attr-defined]


@ROUTES.get("/field/order")
def field_order(c: Call) -> Any:
    with c.backend.lock:
        st = c.backend.county.refresh()
        return {**order_of(st, c.actor), "server_time": c.backend.county.clock()}
