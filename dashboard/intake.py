"""One way in for a field report (进度上报): validation, group commit, audit entry and answer.

Every transport hands a report here and writes back the `Answer` it gets: the
ASGI route on the event loop (`dashboard.asgi`, `receive_async`), the Flask
route of any worker class (`register`, `receive`), and the field simulator
(`submit_reports`). The steps are the same for all of them, in this order:

1. the bearer token (HTTP only; this process's session cache first);
2. the body: one JSON object (`dashboard.api.json_object`), read by the API's
   one body rule (`dashboard.api.read_body`) before it gets here;
3. validation against the control state (`streams.county.County.plan_report`);
4. the append through the county's one group commit
   (`streams.group_commit.GroupCommit`: threads and coroutines share its batches),
   where the append script claims the report_id for its operation, refuses a
   reused id, a closed operation or an overdraft, atomically (`streams.log`);
5. the answer: 201 ``{event_id}``, 200 ``{event_id, duplicate: true}``, or the
   error body of DESIGN §5 with its status (`dashboard.api.answer_to`: the one
   mapping, the one 500);
6. the audit entry of a request from the network (`dashboard.audit`).

Every other command and read of /api/v1 comes in the same way: `Intake.submit`
takes an actor, a command's name from a `Routes` table and its body, and runs
the same steps — the body by the one rule, the command (which validates against
the control state, then appends; nothing changes before the event is in the
log), the answer and its one error mapping, the audit entry of a write. A route
module declares its commands once on a `Routes` table (method, path, a function
of a `Call`); mounting the table gives the Flask routes (parse, `submit`, write
bytes), and the same table answers a Dash callback in-process (`Intake.call`,
no HTTP and no test client), the CLI and the simulators (`Intake.submit`).
Adding a command is one decorated function on a module's table.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, request
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound as NoRoute
from werkzeug.routing import Map, Rule

from command.access import Actor
from command.errors import CommandRejected, UnknownEndpoint
from command.households import HouseholdStatusRequest
from command.operations import ReportRequest
from dashboard import audit
from dashboard.api import MAX_BODY, PHOTO_BODY, Backend, answer_to, extra_headers, json_object, read_body
from dashboard.auth import Session
from streams import photos
from streams.group_commit import send_batch_spread
from streams.keys import current_world
from streams.log import Appended
from streams.photos import Photo, photo_in

REPORT_ENDPOINT = "api.report"
"""The Flask endpoint of ``POST /api/v1/operations/<op>/reports``: the ASGI worker finds it in the same
route table (`flask.Flask.url_map`) and answers it on the loop."""

INTAKE = "WARTIME_INTAKE"
"""Where the app's `Intake` is kept in the Flask config."""

REPORT_STATE_MAX_AGE_MS = 250
"""How stale the control state may be when validating a report (see County.plan_report)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What a report gets back, whatever carried it: status, JSON body, the refusal if refused."""

    status: int
    body: dict[str, Any]
    error: CommandRejected | None = field(default=None, compare=False)
    blob: Blob | None = field(default=None, compare=False)
    """Bytes answered instead of JSON (a photo), with their type and headers."""

    @property
    def headers(self) -> dict[str, str]:
        """Headers the answer adds (Retry-After on a throttled login; a blob's cache rule)."""
        if self.blob is not None:
            return dict(self.blob.headers)
        return extra_headers(self.error)

    @property
    def mimetype(self) -> str:
        return self.blob.mime if self.blob is not None else "application/json"

    def payload(self) -> bytes:
        """The body as sent (compact UTF-8 JSON, or a blob's bytes)."""
        if self.blob is not None:
            return self.blob.data
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Blob:
    """What a read returns to answer bytes rather than JSON (a photo): its bytes, type and headers."""

    data: bytes
    mime: str
    headers: tuple[tuple[str, str], ...] = ()


def accepted(out: Appended) -> Answer:
    """201 with the new entry's id, or 200 marked duplicate for a report_id seen before."""
    if out.duplicate:
        return Answer(200, {"event_id": out.id, "duplicate": True})
    return Answer(201, {"event_id": out.id})


def refused(exc: BaseException, operation: str) -> Answer:
    """The answer to what a step raised (4xx/503, or the one 500 for a bug)."""
    body, status, err = answer_to(exc, f"report on {operation}")
    return Answer(status, body, err)


def request_of(operation: str, data: Mapping[str, Any], photo: Photo | None = None) -> ReportRequest:
    """The report a body asks for (validated by `County.plan_report`), naming its photo by digest."""
    return ReportRequest(
        operation=operation,
        report_id=data.get("report_id"),
        grid=data.get("grid"),
        counts=data.get("counts"),
        note=data.get("note", ""),
        reason=data.get("reason", ""),
        location=data.get("location"),
        photo=photo.digest if photo is not None else None,
    )


# -- the command table ----------------------------------------------------------------------

BodyRule = Literal["required", "optional", "none"]
"""How a command takes its body: a JSON object it needs, one it may have (a body sent must still be an
object), or none at all (reads; a body sent is not read)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One command or read as the application layer sees it, whatever carried it."""

    actor: Actor
    backend: Backend
    body: Mapping[str, Any]
    args: Mapping[str, str]
    session: Session | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """One entry of a route table: its name (the Flask endpoint), method and path, and what runs it."""

    name: str
    method: str
    rule: str
    run: Callable[..., Any]
    body: BodyRule
    limit: int = MAX_BODY
    """Largest body (`dashboard.api.PHOTO_BODY` for a command that may carry a photo)."""

    @property
    def writes(self) -> bool:
        """Whether it is a command (audited) rather than a read."""
        return self.method not in ("GET", "HEAD")


class Routes:
    """A route module's table of commands and reads under /api/v1.

    A function of a `Call` (and the path's parameters) returns the JSON answer,
    or ``(answer, status)``; it raises an error of the tree to refuse.
    ``register`` is the module's `dashboard.api.Extension`: it mounts every
    entry on the blueprint and in the backend's `Intake`.
    """

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}

    def route(self, method: str, rule: str, *, body: BodyRule | None = None, name: str | None = None,
              limit: int = MAX_BODY) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def add(fn: Callable[..., Any]) -> Callable[..., Any]:
            key = name or fn.__name__
            if key in self.commands:
                raise ValueError(f"two commands named {key}")
            rule_body: BodyRule = body or ("none" if method in ("GET", "HEAD", "DELETE") else "required")
            self.commands[key] = Command(key, method, rule, fn, rule_body, limit)
            return fn
        return add

    def get(self, rule: str, **kw: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("GET", rule, **kw)

    def post(self, rule: str, **kw: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("POST", rule, **kw)

    def put(self, rule: str, **kw: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("PUT", rule, **kw)

    def delete(self, rule: str, **kw: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("DELETE", rule, **kw)

    def register(self, api: Blueprint, backend: Backend) -> None:
        """Mount the table: each entry a Flask route that parses, hands to the intake and writes bytes."""
        intake = intake_for(backend)
        intake.include(self)
        for cmd in self.commands.values():
            api.add_url_rule(cmd.rule, endpoint=cmd.name, view_func=_view(intake, cmd), methods=[cmd.method])


def _view(intake: Intake, cmd: Command) -> Callable[..., Response]:
    def view(**params: str) -> Response:
        query = request.args.get("token", "") if request.method in ("GET", "HEAD") else ""
        answer = intake.receive_command(
            cmd.name, request.headers.get("Authorization", ""),
            lambda: read_body(request.stream.read, request.content_length, cmd.limit),
            query_token=query, args=request.args, params=params,
            source=audit.source_address(), path=request.path,
        )
        request.environ["wartime.audited"] = True  # the entry is written; the blueprint's hook skips it
        return response_of(answer)

    view.__name__ = cmd.name
    return view


def response_of(answer: Answer) -> Response:
    """An answer as Flask sends it."""
    resp = Response(answer.payload(), status=answer.status, mimetype=answer.mimetype)
    resp.headers.update(answer.headers)
    return resp


def in_world(answer: Answer) -> Answer:
    """An answer from a drill's world says so (DESIGN §7.4: ``"drill": true``)."""
    if current_world() and answer.status < 400 and answer.blob is None and "drill" not in answer.body:
        return Answer(answer.status, {**answer.body, "drill": True}, answer.error)
    return answer


def answer_of(out: Any) -> Answer:
    """A command's return value (``body`` or ``(body, status)``) as its answer."""
    if isinstance(out, Blob):
        return Answer(200, {}, blob=out)
    if isinstance(out, tuple):
        return Answer(out[1], out[0])
    return Answer(200, out)


_INTAKES: weakref.WeakKeyDictionary[Backend, Intake] = weakref.WeakKeyDictionary()


class Intake:
    """The report intake of one process (one per app; its county's group commit batches every caller)."""

    def __init__(self, backend: Backend, tables: Iterable[Routes] = ()) -> None:
        self.backend = backend
        self.commands: dict[str, Command] = {}
        self._map = Map()
        for table in tables:
            self.include(table)

    def include(self, table: Routes) -> None:
        """Take a route table's commands (each name once in a process's intake)."""
        for name, cmd in table.commands.items():
            if self.commands.get(name, cmd) is not cmd:
                raise ValueError(f"two commands named {name}")
            if name not in self.commands:
                self.commands[name] = cmd
                self._map.add(Rule(cmd.rule, endpoint=name, methods=[cmd.method]))

    # -- commands and reads ------------------------------------------------------------------

    def submit(self, actor: Actor, command: str, body: Mapping[str, Any] | bytes | None = None, *,
               args: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None,
               session: Session | None = None, source: str | None = None, path: str = "",
               method: str | None = None) -> Answer:
        """One command (or read) by an authenticated actor: body read, run, answered, audited if a write.

        The command validates against the control state before it appends, so a
        refusal has changed nothing; `source` (where it came from: an address,
        ``local`` for the CLI) asks for the audit entry of a write.
        """
        cmd = self.commands.get(command)
        if cmd is None:
            return refused(UnknownEndpoint(f"no command {command[:100]}", field="command"), command)
        try:
            data = self._body_of(cmd, body)
            answer = answer_of(cmd.run(Call(actor, self.backend, data, args or {}, session), **(params or {})))
        except Exception as exc:
            answer = refused(exc, command)
        answer = in_world(answer)
        if cmd.writes:
            self._audit(actor.username, source, path or f"/api/v1{cmd.rule}", answer, method=method or cmd.method)
        return answer

    @staticmethod
    def _body_of(cmd: Command, body: Mapping[str, Any] | bytes | None) -> Mapping[str, Any]:
        if cmd.body == "none":
            return {}
        if body is None:
            body = b""
        if isinstance(body, bytes):
            return json_object(body, optional=cmd.body == "optional")
        return body

    def receive_command(self, command: str, authorization: str, body: Callable[[], bytes], *,
                        query_token: str = "", args: Mapping[str, str] | None = None,
                        params: Mapping[str, str] | None = None, source: str | None, path: str) -> Answer:
        """A command from a transport: the token, then the body (by the API's one rule), then `submit`."""
        cmd = self.commands[command]
        try:
            session = self.backend.session_of(authorization, query_token)
        except Exception as exc:
            answer = refused(exc, command)
            if cmd.writes:
                self._audit("", source, path, answer, method=cmd.method)
            return answer
        try:
            raw = body() if cmd.body != "none" else b""
        except Exception as exc:
            answer = refused(exc, command)
            self._audit(session.actor.username, source, path, answer, method=cmd.method)
            return answer
        return self.submit(session.actor, command, raw, args=args, params=params, session=session,
                           source=source, path=path)

    def call(self, method: str, path: str, token: str | None, payload: Any = None, *,
             source: str | None) -> Answer:
        """A request of a page made in-process (a Dash callback): routed by the same table, no HTTP.

        `path` is under /api/v1 (``/modes?dry_run=1``); `payload` the JSON body, if any.
        """
        parts = urlsplit(path)
        try:
            name, params = self._map.bind("wartime.local").match(parts.path, method)
        except (NoRoute, MethodNotAllowed):
            return refused(UnknownEndpoint(f"no endpoint {method} /api/v1{parts.path[:200]}", field="path"),
                           path)
        raw = b"" if payload is None else json.dumps(payload).encode()
        return self.receive_command(
            str(name), f"Bearer {token}" if token else "", lambda: raw,
            args=dict(parse_qsl(parts.query)), params=params, source=source, path=f"/api/v1{parts.path}",
        )

    # -- the application service ---------------------------------------------------------

    def submit_report(self, actor: Actor, operation: str, body: Mapping[str, Any] | bytes, *,
                      source: str | None = None, path: str = "") -> Answer:
        """One report by an authenticated actor: validated, appended (grouped), answered, audited."""
        try:
            data = body if isinstance(body, Mapping) else json_object(body)
            county = self.backend.county
            event = self._plan_with_photo(actor, operation, data)
            answer = in_world(accepted(county.append_report(event, actor).appended))
        except Exception as exc:
            answer = refused(exc, operation)
        self._audit(actor.username, source, path or _path(operation), answer)
        return answer

    def submit_reports(self, actor: Actor, reports: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Answer]:
        """Many reports in one batch (the field simulator): each validated and answered on its own."""
        backend = self.backend
        county = backend.county
        answers: list[Answer | None] = [None] * len(reports)
        planned: list[tuple[int, Any]] = []
        with backend.lock:
            county.refresh()
            for i, (operation, data) in enumerate(reports):
                try:
                    planned.append((i, county.pending_report(county.plan_report(actor, request_of(operation, data)),
                                                             actor)))
                except Exception as exc:
                    answers[i] = refused(exc, operation)
        if planned:
            results = send_batch_spread(county.log, [p for _, p in planned])
            for (i, _), r in zip(planned, results, strict=True):
                answers[i] = refused(r, reports[i][0]) if isinstance(r, BaseException) else accepted(r)
        return [a for a in answers if a is not None]

    def submit_household_status(self, actor: Actor, operation: str, body: Mapping[str, Any] | bytes, *,
                                source: str | None = None, path: str = "") -> Answer:
        """One household's status (DESIGN §7.3) by an authenticated actor: the same steps as a report.

        Validated against the control state and the roster (`County.plan_household_status`),
        appended through the same group commit (claimed per operation, refused when closed),
        answered 201 / 200 duplicate / 409 report_id_reused / 4xx, audited.
        """
        try:
            data = body if isinstance(body, Mapping) else json_object(body)
            county = self.backend.county
            req = HouseholdStatusRequest(operation=operation, report_id=data.get("report_id"),
                                         household=data.get("household"), status=data.get("status"),
                                         note=data.get("note", ""))
            with self.backend.lock:
                event = county.plan_household_status(actor, req, max_age_ms=REPORT_STATE_MAX_AGE_MS)
            answer = accepted(county.append_household_status(event, actor).appended)
        except Exception as exc:
            answer = refused(exc, operation)
        self._audit(actor.username, source, path or f"/api/v1/operations/{operation}/households", answer)
        return answer

    def _plan_with_photo(self, actor: Actor, operation: str, data: Mapping[str, Any]) -> Any:
        """A report with a photo: the image checked, the report validated, the image stored (before the
        report is appended, so its event never names a photo that is not kept)."""
        photo = photo_in(data)
        event = self._plan(actor, operation, data, photo)
        if photo is not None:
            photos.store(self.backend.client, self.backend.county.code, photo, event.grid)
        return event

    def _plan(self, actor: Actor, operation: str, data: Mapping[str, Any], photo: Photo | None = None) -> Any:
        with self.backend.lock:
            return self.backend.county.plan_report(actor, request_of(operation, data, photo),
                                                   max_age_ms=REPORT_STATE_MAX_AGE_MS)

    # -- HTTP transports -------------------------------------------------------------------

    def receive(self, authorization: str, operation: str, body: Callable[[], bytes], *,
                source: str, path: str, submit: Callable[..., Answer] | None = None) -> Answer:
        """A report request from a thread: the token, then the body, then `submit_report` (or `submit`)."""
        try:
            session = self.backend.session_of(authorization)
        except Exception as exc:
            answer = refused(exc, operation)
            self._audit("", source, path, answer)
            return answer
        try:
            raw = body()
        except Exception as exc:
            answer = refused(exc, operation)
            self._audit(session.actor.username, source, path, answer)
            return answer
        return (submit or self.submit_report)(session.actor, operation, raw, source=source, path=path)

    async def receive_async(self, authorization: str, operation: str, body: Callable[[], Awaitable[bytes]], *,
                            source: str, path: str, pool: Executor) -> Answer:
        """A report request on an event loop: the same steps, never blocking the loop on Redis or a lock.

        The token comes from the session cache (a miss is checked in `pool`); the
        validation runs on the loop when the county is free (else in `pool`); the
        append waits in the group commit without holding the loop.
        """
        backend = self.backend
        loop = asyncio.get_running_loop()
        session: Session | None = None
        try:
            session = backend.cached_session_of(authorization)
            if session is None:
                session = await loop.run_in_executor(pool, backend.session_of, authorization)
            actor = session.actor
            data = json_object(await body())
            county = backend.county
            if data.get("photo_image"):  # rare and heavy: decoded, planned and stored in a thread
                event = await loop.run_in_executor(pool, self._plan_with_photo, actor, operation, data)
            elif backend.lock.acquire(blocking=False):  # the usual case: validate here, no thread hop
                try:
                    event = county.plan_report(actor, request_of(operation, data), max_age_ms=REPORT_STATE_MAX_AGE_MS)
                finally:
                    backend.lock.release()
            else:  # a page holds the county (a long fold): wait for it in a thread, not on the loop
                event = await loop.run_in_executor(pool, self._plan, actor, operation, data)
            answer = accepted((await county.append_report_async(event, actor)).appended)
        except Exception as exc:
            answer = refused(exc, operation)
        self._audit(session.actor.username if session else "", source, path, answer, now_if_idle=False)
        return answer

    # -- the audit entry ---------------------------------------------------------------------

    def _audit(self, actor: str, source: str | None, path: str, answer: Answer, *, now_if_idle: bool = True,
               method: str = "POST") -> None:
        """The entry of a write that came from the network or the CLI (`source` given); best effort."""
        if source is None:
            return
        event = answer.body.get("event_id") if answer.status < 400 else None
        err = answer.body.get("error")
        code = answer.error.code if answer.error is not None else err.get("code") if isinstance(err, dict) else None
        try:
            county = self.backend.county.code
        except Exception:  # no county loaded yet (or Redis down): nothing to attach the entry to
            return
        audit.record_soon(
            self.backend.client, county, "command" if answer.status < 400 else "refused", now_if_idle=now_if_idle,
            actor=actor, source=source, method=method, path=path, status=answer.status, event=event, code=code,
        )


def _path(operation: str) -> str:
    return f"/api/v1/operations/{operation}/reports"


def intake_of(app: Any) -> Intake:
    """The intake of a Flask app (made by `register`)."""
    return app.config[INTAKE]  # type: ignore[no-any-return]


def intake_for(backend: Backend) -> Intake:
    """The one intake of a backend (every route table of an app mounts into it)."""
    found = _INTAKES.get(backend)
    if found is None:
        found = _INTAKES[backend] = Intake(backend)
    return found


def register(api: Blueprint, backend: Backend) -> None:
    """``POST /operations/<op>/reports`` on the API blueprint, answered by this app's one `Intake`."""
    intake = intake_for(backend)
    api.record_once(lambda state: state.app.config.setdefault(INTAKE, intake))

    @api.post("/operations/<op>/reports")
    def report(op: str) -> Response:
        answer = intake.receive(
            request.headers.get("Authorization", ""), op,
            lambda: read_body(request.stream.read, request.content_length, PHOTO_BODY),
            source=audit.source_address(), path=request.path,
        )
        request.environ["wartime.audited"] = True  # the entry is written; the blueprint's hook skips it
        return response_of(answer)
