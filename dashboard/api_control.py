"""The control commands and reads of /api/v1 (DESIGN.md §5), on the intake's route table.

| method and path | command |
| --- | --- |
| `DELETE /session` | sign out (the token is revoked) |
| `GET /me` | who the token is |
| `GET /grids/{code}` | one grid with its state |
| `POST /modes[?dry_run=1]` | switch a scope to wartime or back (dry run: what it would do) |
| `POST /levels` | change the response level of a wartime scope |
| `POST /secretaries` / `GET /secretaries?scope=` | appoint a secretary / who holds which grid |
| `POST /operations` / `GET /operations` | launch an operation / those the caller sees |
| `GET /operations/{op}/progress?grid=` | one operation's counts at a grid |
| `POST /operations/{op}/close` | close an operation (final totals) |
| `POST /operations/{op}/towns/{town}/close` | end an operation in one town (its part) |
| `GET /alerts[?open=1]` / `POST /alerts/{id}/ack` | alerts of the caller's scope / acknowledge one |

Each entry is a function of a `dashboard.intake.Call`: the HTTP route, a Dash
callback (`Intake.call`) and the CLI (`Intake.submit`, e.g. ``wartime switch``)
run the same function through the same intake, with the same validation, audit
entry and error mapping. Each write calls one `County` command, which decides on
the latest control state and appends before anything is answered.
"""

from __future__ import annotations

from typing import Any

from command import alerts as alert_commands
from command import modes as modes_commands
from command.access import overlaps_scope, require_read, within_scope
from command.errors import InvalidRequest
from command.modes import SwitchRequest
from command.operations import OperationState, operation_of, over_target
from dashboard.api import _opt_int, _str
from dashboard.intake import Call, Routes
from streams.projector import wait_applied

__all__ = ["ROUTES", "register"]

ROUTES = Routes()
register = ROUTES.register


@ROUTES.delete("/session")
def logout(c: Call) -> Any:
    s = c.session
    if s is not None:  # a session-less caller (the CLI) has nothing to sign out
        c.backend.accounts.revoke(s.token_id, s.expires)
    return {"ok": True}


@ROUTES.get("/me")
def me(c: Call) -> Any:
    a = c.actor
    return {"username": a.username, "role": a.role.value, "scope": a.scope}


@ROUTES.get("/grids/<code>")
def grid(c: Call, code: str) -> Any:
    backend = c.backend
    with backend.lock:
        county = backend.county
        county.refresh()
        require_read(c.actor, county.tree, code)
        return county.grid(code)


def switch_request(data: Any) -> SwitchRequest:
    """A switch as a body asks for it (bounded text fields)."""
    return SwitchRequest(
        scope=_str(data, "scope"),
        mode=_str(data, "mode"),
        incident=_str(data, "incident", required=False) or None,
        level=_str(data, "level", required=False) or None,
        reason=_str(data, "reason", required=False, limit=2000),
    )


@ROUTES.post("/modes")
def modes(c: Call) -> Any:
    data = c.body
    req = switch_request(data)
    dry_run = c.args.get("dry_run") in ("1", "true") or data.get("dry_run") is True
    backend = c.backend
    with backend.lock:
        county = backend.county
        ev: Any
        acting: list[dict[str, str]] = []
        if dry_run:
            county.refresh()
            ev = modes_commands.switch(county.state, c.actor, req)
            event_id = None
            secs = county.state.secretaries
            acting = [{"grid": g, "person": secs[g].name} for g in ev.released if g in secs and secs[g].acting]
        else:
            out = county.switch(c.actor, req, key=_str(data, "request_id", required=False))
            ev, event_id = out.event, out.event_id
    return {
        "event_id": event_id,
        "dry_run": dry_run,
        "grids_switched": len(ev.grids),
        "secretaries_installed": len(ev.installed),
        "installed": [list(p) for p in ev.installed],
        "vacancies": list(ev.vacancies),
        "released": len(ev.released),
        "acting_released": acting,  # acting secretaries a stand-down releases (dry run)
    }


@ROUTES.post("/levels")
def levels(c: Call) -> Any:
    data = c.body
    with c.backend.lock:
        out = c.backend.county.change_level(
            c.actor, _str(data, "scope"), _str(data, "level"), _str(data, "reason", required=False, limit=2000)
        )
    return {"event_id": out.event_id, "grids": len(out.event.grids)}  # type: ignore[attr-defined]


@ROUTES.post("/secretaries")
def secretaries(c: Call) -> Any:
    data = c.body
    with c.backend.lock:
        out = c.backend.county.appoint(c.actor, _str(data, "grid"), _str(data, "person", limit=100))
    return {"event_id": out.event_id, "grid": out.event.grid, "person": out.event.person}, 201  # type: ignore[attr-defined]


@ROUTES.get("/secretaries")
def list_secretaries(c: Call) -> Any:
    with c.backend.lock:
        st, tree, scope = c.backend.read_scope(c.actor, c.args.get("scope"))
        return {
            "secretaries": [
                {"grid": g, "name": s.name, "acting": s.acting, "since": s.since}
                for g, s in sorted(st.secretaries.items()) if tree.is_within(g, scope)
            ],
            "vacancies": [g for g in sorted(st.vacancies) if tree.is_within(g, scope)],
        }


@ROUTES.post("/operations")
def launch(c: Call) -> Any:
    data = c.body
    targets = data.get("targets") or {}
    if not isinstance(targets, dict):
        raise InvalidRequest("targets must be an object", field="targets")
    with c.backend.lock:
        out = c.backend.county.launch(
            c.actor,
            _str(data, "kind"),
            _str(data, "scope"),
            _str(data, "name", limit=200),
            _opt_int(data, "deadline"),
            targets,
        )
    return {"operation_id": out.event.operation, "event_id": out.event_id}, 201  # type: ignore[attr-defined]


@ROUTES.get("/operations")
def list_operations(c: Call) -> Any:
    actor = c.actor
    with c.backend.lock:
        county = c.backend.county
        st = county.refresh()
        tree = county.tree
        out = []
        for o in st.operations.values():
            if not overlaps_scope(actor, tree, o.scope):
                continue
            # An operation wider than the caller's scope is shown at the caller's scope, never above it.
            at = o.scope if within_scope(actor, tree, o.scope) else actor.scope
            totals = county.progress.totals(o.id, [at])[at]
            out.append({**o.summary(), "at": at, "targets": o.target_of(at), "totals": totals})
    return {"operations": out}


@ROUTES.get("/operations/<op>/progress")
def progress(c: Call, op: str) -> Any:
    with c.backend.lock:
        county = c.backend.county
        st = county.refresh()
        operation = operation_of(st, op)
        grid = c.args.get("grid") or operation.scope
        tree = county.tree
        tree[grid]
        require_read(c.actor, tree, grid)
        answer = county.progress.progress(op, grid)
        households = county.households.counts(tree, op, [grid, *tree.children[grid]])  # DESIGN §7.3
        answer["households"] = households[grid].to_json()
        for child in answer["children"]:
            child["households"] = households[child["grid"]].to_json()
        answer["over_target"] = over_target(operation, answer["counts"], grid)
        answer["state"] = operation.state.value
        answer["closed_parts"] = dict(sorted(operation.closed_parts.items()))  # town → when its part closed
        return answer


@ROUTES.post("/operations/<op>/close", body="optional")
def close(c: Call, op: str) -> Any:
    backend = c.backend
    with backend.lock:
        county = backend.county
        out = county.close(c.actor, op, _str(c.body, "reason", required=False, limit=500))
        operation = county.state.operations[op]
    # Final totals: wait (briefly) for the projector to apply what was acknowledged before close.
    wait_applied(backend.client, county.log, timeout_s=10)
    totals = county.progress.totals(op, [operation.scope])[operation.scope]
    return {
        "operation_id": op,
        "event_id": out.event_id,
        "state": "closed",
        "targets": operation.target_of(operation.scope),
        "totals": totals,
    }


@ROUTES.post("/operations/<op>/towns/<town>/close", body="optional")
def close_part(c: Call, op: str, town: str) -> Any:
    """End an operation in one town (its part): the town's frozen totals (``state: "part_closed"``).

    The county's commander or the town's own; the last open part closes the
    operation whole (``state: "closed"``). See `streams.county.County.close_part`.
    """
    backend = c.backend
    with backend.lock:
        county = backend.county
        out = county.close_part(c.actor, op, town, _str(c.body, "reason", required=False, limit=500))
        operation = county.state.operations[op]
    wait_applied(backend.client, county.log, timeout_s=10)  # what was acknowledged before, counted
    return {
        "operation_id": op,
        "town": town,
        "event_id": out.event_id,
        "state": "closed" if operation.state == OperationState.CLOSED else "part_closed",
        "closed_parts": dict(sorted(operation.closed_parts.items())),
        "targets": operation.target_of(town),
        "totals": county.progress.totals(op, [town])[town],
    }


@ROUTES.get("/alerts")
def list_alerts(c: Call) -> Any:
    only_open = c.args.get("open") in ("1", "true", "yes")
    with c.backend.lock:
        county = c.backend.county
        st = county.refresh()
        tree = county.tree
        items = [
            a.to_json() for a in st.alerts.values()
            if (not only_open or a.open) and within_scope(c.actor, tree, a.grid)
        ]
    items.sort(key=lambda a: (a["raised_at"], a["id"]))
    return {"alerts": items}


@ROUTES.post("/alerts/<alert>/ack", body="optional")
def ack(c: Call, alert: str) -> Any:
    """No fields; but a body that is sent must be a JSON object (else 400, no ack)."""
    with c.backend.lock:
        county = c.backend.county
        county.refresh()
        ev = alert_commands.acknowledge(county.state, c.actor, alert)
        county.record(ev, c.actor)
        return county.state.alerts[alert].to_json()
