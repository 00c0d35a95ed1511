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
   (`streams.county.GroupCommit`: threads and coroutines share its batches),
   where the append script claims the report_id for its operation, refuses a
   reused id, a closed operation or an overdraft, atomically (`streams.log`);
5. the answer: 201 ``{event_id}``, 200 ``{event_id, duplicate: true}``, or the
   error body of DESIGN §5 with its status (`dashboard.api.answer_to`: the one
   mapping, the one 500);
6. the audit entry of a request from the network (`dashboard.audit`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, request

from command.access import Actor
from command.errors import CommandRejected
from command.households import HouseholdStatusRequest
from command.operations import ReportRequest
from dashboard import audit
from dashboard.api import Backend, answer_to, extra_headers, json_object, read_body
from dashboard.auth import Session
from streams.county import send_batch_spread
from streams.log import Appended

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

    @property
    def headers(self) -> dict[str, str]:
        """Headers the answer adds (Retry-After on a throttled login)."""
        return extra_headers(self.error)

    def payload(self) -> bytes:
        """The body as sent (compact UTF-8 JSON)."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()


def accepted(out: Appended) -> Answer:
    """201 with the new entry's id, or 200 marked duplicate for a report_id seen before."""
    if out.duplicate:
        return Answer(200, {"event_id": out.id, "duplicate": True})
    return Answer(201, {"event_id": out.id})


def refused(exc: BaseException, operation: str) -> Answer:
    """The answer to what a step raised (4xx/503, or the one 500 for a bug)."""
    body, status, err = answer_to(exc, f"report on {operation}")
    return Answer(status, body, err)


def request_of(operation: str, data: Mapping[str, Any]) -> ReportRequest:
    """The report a body asks for (validated by `County.plan_report`)."""
    return ReportRequest(
        operation=operation,
        report_id=data.get("report_id"),
        grid=data.get("grid"),
        counts=data.get("counts"),
        note=data.get("note", ""),
        reason=data.get("reason", ""),
    )


class Intake:
    """The report intake of one process (one per app; its county's group commit batches every caller)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    # -- the application service ---------------------------------------------------------

    def submit_report(self, actor: Actor, operation: str, body: Mapping[str, Any] | bytes, *,
                      source: str | None = None, path: str = "") -> Answer:
        """One report by an authenticated actor: validated, appended (grouped), answered, audited."""
        try:
            data = body if isinstance(body, Mapping) else json_object(body)
            county = self.backend.county
            event = self._plan(actor, operation, data)
            answer = accepted(county.append_report(event, actor).appended)
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

    def _plan(self, actor: Actor, operation: str, data: Mapping[str, Any]) -> Any:
        with self.backend.lock:
            return self.backend.county.plan_report(actor, request_of(operation, data),
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
            if backend.lock.acquire(blocking=False):  # the usual case: validate here, no thread hop
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

    def _audit(self, actor: str, source: str | None, path: str, answer: Answer, *, now_if_idle: bool = True) -> None:
        """The entry of a report that came from the network (`source` given); best effort."""
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
            actor=actor, source=source, method="POST", path=path, status=answer.status, event=event, code=code,
        )


def _path(operation: str) -> str:
    return f"/api/v1/operations/{operation}/reports"


def intake_of(app: Any) -> Intake:
    """The intake of a Flask app (made by `register`)."""
    return app.config[INTAKE]  # type: ignore[no-any-return]


def register(api: Blueprint, backend: Backend) -> None:
    """``POST /operations/<op>/reports`` on the API blueprint, answered by this app's one `Intake`."""
    intake = Intake(backend)
    api.record_once(lambda state: state.app.config.setdefault(INTAKE, intake))

    @api.post("/operations/<op>/reports")
    def report(op: str) -> Response:
        answer = intake.receive(
            request.headers.get("Authorization", ""), op,
            lambda: read_body(request.stream.read, request.content_length),
            source=audit.source_address(), path=request.path,
        )
        request.environ["wartime.audited"] = True  # the entry is written; the blueprint's hook skips it
        resp = Response(answer.payload(), status=answer.status, mimetype="application/json")
        resp.headers.update(answer.headers)
        return resp
