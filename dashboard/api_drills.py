"""API routes of drills (issue 19, DESIGN §7.4), and the choice of world for every request.

| method and path | answer |
| --- | --- |
| `POST /drills` `{from_operation, speed, name, scenario?}` (commander) | 201 `{drill_id, state, speed, clock, …}` |
| `GET /drills` | the county's drills |
| `GET /drills/{id}` | `{drill_id, state, speed, clock, operation, minute, injects, …}` |
| `POST /drills/{id}/pause` · `/resume` · `/stop` (commander) | the drill |
| `GET /drills/{id}/report` | the drill's after-action report beside the recorded one (command.drill_report) |

World: a request that names a drill — ``?drill=ID`` (pages, links, the live push) or
the header ``X-Wartime-Drill: ID`` (what assets/drill.js adds to a drill page's
every call, Dash callbacks included) — runs in that drill's world
(`streams.drills.in_drill`): its keys, its clock, its `County` as
`backend.county`. Nothing it does reaches a live key, and every JSON answer from
a drill's world carries ``"drill": true``. Accounts are the live ones: a drill is
played by the county's own people with their own logins.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from contextlib import ExitStack
from typing import Any

from flask import Blueprint, Response, g, request

from command.access import Role, require_read
from command.drills import parse_scenario
from command.errors import InvalidRequest, NotAuthorised, NotFound, StateConflict
from dashboard.api import error_response
from dashboard.intake import Call, Routes
from streams.drills import DrillRunner, Drills, drill_report, ensure_running, in_drill
from streams.keys import current_world

__all__ = ["HEADER", "drills_of", "register"]

HEADER = "X-Wartime-Drill"
_ID = re.compile(r"drill-[0-9a-f]{8}")
_LOCK = threading.Lock()


def drills_of(backend: Any) -> Drills:
    """The backend's `Drills` (one per process and county)."""
    d = getattr(backend, "_drills", None)
    if d is None:
        with _LOCK:
            d = getattr(backend, "_drills", None)
            if d is None:
                d = backend._drills = Drills(backend.client, backend.live_county.code)
    return d  # type: ignore[no-any-return]


def requested_drill() -> str:
    """The drill a request names ("" none); a malformed id is refused."""
    value = request.args.get("drill") or request.headers.get(HEADER) or ""
    if value and not _ID.fullmatch(value):
        raise InvalidRequest("drill must be a drill id (drill-xxxxxxxx)", field="drill")
    return value


def register(api: Blueprint, backend: Any) -> None:
    """Add the routes to the blueprint, and the world hooks to the application."""
    backend.worlds = lambda world: drills_of(backend).county_of(world)

    @api.before_app_request
    def _enter_world() -> Response | None:
        try:
            drill = requested_drill()
            if not drill or current_world() == drill:
                return None  # no drill named: the world stays (an in-process call keeps its caller's)
            if request.method not in ("GET", "HEAD") and request.path.startswith("/api/v1/") and \
                    not request.path.startswith("/api/v1/drills") and not drills_of(backend).get(drill).live:
                raise StateConflict(f"drill {drill} is over: nothing more is done in it", field="drill")
            stack = ExitStack()
            stack.enter_context(in_drill(drills_of(backend), drill))
        except (InvalidRequest, NotFound, StateConflict) as exc:
            return error_response(exc)
        g.wartime_world = stack
        ensure_running(drills_of(backend), drill)  # a drill whose runner died goes on from here
        return None

    @api.after_app_request
    def _say_drill(resp: Response) -> Response:
        """Every JSON object answered from a drill's world says so (the intake answers reports itself)."""
        if current_world() and resp.mimetype == "application/json" and not resp.direct_passthrough:
            with contextlib.suppress(ValueError, TypeError):
                data = json.loads(resp.get_data())
                if isinstance(data, dict) and "drill" not in data:
                    data["drill"] = True
                    resp.set_data(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        return resp

    @api.teardown_app_request
    def _leave_world(_: BaseException | None) -> None:
        stack = g.pop("wartime_world", None)
        if stack is not None:
            stack.close()

    ROUTES.register(api, backend)


# -- the routes, on the intake's table ------------------------------------------------------

ROUTES = Routes()


def _commander(c: Call) -> None:
    if c.actor.role != Role.COMMANDER:
        raise NotAuthorised("only a commander runs drills", field="role")


def _live_only() -> None:
    if current_world():
        raise StateConflict("a drill cannot be started or run from inside a drill", field="drill")


@ROUTES.post("/drills")
def create_drill(c: Call) -> Any:
    _live_only()
    _commander(c)
    data, backend = c.body, c.backend
    scenario = parse_scenario(data["scenario"]) if data.get("scenario") is not None else None
    speed = data.get("speed", scenario.speed if scenario and scenario.speed else None)
    if speed is None:
        raise InvalidRequest("speed is required (1 to 600)", field="speed")
    source = data.get("from_operation") or ""
    if not isinstance(source, str):
        raise InvalidRequest("from_operation must be an operation id", field="from_operation")
    if not source and scenario is None:
        raise InvalidRequest("from_operation (or a scenario) is required", field="from_operation")
    drills = drills_of(backend)
    with backend.lock:
        d = drills.create(backend.live_county, c.actor, source, speed, data.get("name") or "", scenario)
        first = DrillRunner(drills, d.drill_id, consumer=f"{d.drill_id}-setup")
        first.step()  # the county as it stood is in the drill's world before the answer
        first.close()
    ensure_running(drills, d.drill_id)
    return drills.answer(d.drill_id), 201


@ROUTES.get("/drills")
def list_drills(c: Call) -> Any:
    drills = drills_of(c.backend)
    require_read(c.actor, c.backend.live_county.tree, c.actor.scope, field="scope")
    wall = drills.wall()
    return {"drills": [d.answer(wall, drills.operation_of(d)) for d in drills.all()]}


@ROUTES.get("/drills/<drill_id>")
def get_drill(c: Call, drill_id: str) -> Any:
    return drills_of(c.backend).answer(drill_id)


@ROUTES.get("/drills/<drill_id>/report")
def get_drill_report(c: Call, drill_id: str) -> Any:
    with c.backend.lock:
        return drill_report(drills_of(c.backend), drill_id)


def _command(c: Call, drill_id: str, what: str) -> Any:
    _commander(c)
    drills = drills_of(c.backend)
    getattr(drills, what)(drill_id)
    if what == "resume":
        ensure_running(drills, drill_id)
    return drills.answer(drill_id)


@ROUTES.post("/drills/<drill_id>/stop", body="optional")
def stop_drill(c: Call, drill_id: str) -> Any:
    return _command(c, drill_id, "stop")


@ROUTES.post("/drills/<drill_id>/pause", body="optional")
def pause_drill(c: Call, drill_id: str) -> Any:
    return _command(c, drill_id, "pause")


@ROUTES.post("/drills/<drill_id>/resume", body="optional")
def resume_drill(c: Call, drill_id: str) -> Any:
    return _command(c, drill_id, "resume")
