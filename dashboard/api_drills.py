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
    from dashboard.api import body, error_response, handler

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

    def _commander() -> Any:
        actor = backend.actor()
        if actor.role != Role.COMMANDER:
            raise NotAuthorised("only a commander runs drills", field="role")
        return actor

    def _live_only() -> None:
        if current_world():
            raise StateConflict("a drill cannot be started or run from inside a drill", field="drill")

    @api.post("/drills")
    @handler
    def create_drill() -> Any:
        _live_only()
        actor = _commander()
        data = body()
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
            d = drills.create(backend.live_county, actor, source, speed, data.get("name") or "", scenario)
            first = DrillRunner(drills, d.drill_id, consumer=f"{d.drill_id}-setup")
            first.step()  # the county as it stood is in the drill's world before the answer
            first.close()
        ensure_running(drills, d.drill_id)
        return drills.answer(d.drill_id), 201

    @api.get("/drills")
    @handler
    def list_drills() -> Any:
        actor = backend.actor()
        drills = drills_of(backend)
        tree = backend.live_county.tree
        require_read(actor, tree, actor.scope, field="scope")
        wall = drills.wall()
        return {"drills": [d.answer(wall, drills.operation_of(d)) for d in drills.all()]}

    @api.get("/drills/<drill_id>")
    @handler
    def get_drill(drill_id: str) -> Any:
        backend.actor()
        return drills_of(backend).answer(drill_id)

    @api.get("/drills/<drill_id>/report")
    @handler
    def get_drill_report(drill_id: str) -> Any:
        backend.actor()
        with backend.lock:
            return drill_report(drills_of(backend), drill_id)

    def _command(drill_id: str, what: str) -> Any:
        _commander()
        drills = drills_of(backend)
        getattr(drills, what)(drill_id)
        if what == "resume":
            ensure_running(drills, drill_id)
        return drills.answer(drill_id)

    @api.post("/drills/<drill_id>/stop")
    @handler
    def stop_drill(drill_id: str) -> Any:
        return _command(drill_id, "stop")

    @api.post("/drills/<drill_id>/pause")
    @handler
    def pause_drill(drill_id: str) -> Any:
        return _command(drill_id, "pause")

    @api.post("/drills/<drill_id>/resume")
    @handler
    def resume_drill(drill_id: str) -> Any:
        return _command(drill_id, "resume")
