"""POST /api/v1/operations/{id}/reports without Flask's request machinery — the one hot route.

Field clients send reports by the thousand; Flask's routing, request and
response objects and hooks cost about as much CPU as the report itself. This
WSGI middleware sits in front of the Flask app and answers exactly that route
(a POST with a Content-Length, an ASCII operation id) itself; everything else,
and anything unusual about a report request, goes to Flask unchanged.

No business logic lives here. The steps are the Flask route's, in its order and
through the same functions (`dashboard.api`): the token check
(`Backend.session_of`), the body rules (`MAX_BODY`, `json_object`), the command
(`post_report`), the error mapping (`outcome`: status, `{error: {code,
message, field}}`, extra headers), the security headers of every /api/ answer
(`dashboard.app.SecurityHeaders.api`) and the audit entry the Flask hook would
write (`dashboard.audit.record_soon`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.http import HTTP_STATUS_CODES

from command.errors import CommandRejected, TooLarge
from dashboard import audit
from dashboard.api import MAX_BODY, Backend, extra_headers, json_object, outcome, post_report
from dashboard.auth import Session

log = logging.getLogger(__name__)

ROUTE = re.compile(r"/api/v1/operations/([A-Za-z0-9_.:\-]{1,200})/reports")
"""The path served here; other spellings (escapes, non-ASCII ids, a trailing slash) go to Flask."""

DRAIN_MAX = 4 * 1024 * 1024
"""Bytes of an oversized body read and dropped, so that the client gets our 413 rather than a reset."""

StartResponse = Callable[..., Any]


class ReportsFastPath:
    """WSGI middleware answering report posts; anything else is passed to `app`."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]], backend: Backend,
                 headers: Callable[[], list[tuple[str, str]]]) -> None:
        self.app = app
        self.backend = backend
        self.headers = headers

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        m = ROUTE.fullmatch(path)
        length = environ.get("CONTENT_LENGTH") or ""
        if m is None or not length.isdigit() or environ.get("HTTP_TRANSFER_ENCODING") or environ.get("SCRIPT_NAME"):
            return self.app(environ, start_response)
        return self._report(environ, start_response, m.group(1), int(length), path)

    def _report(
        self, environ: dict[str, Any], start_response: StartResponse, op: str, length: int, path: str
    ) -> Iterable[bytes]:
        backend = self.backend
        session: Session | None = None

        def run() -> tuple[dict[str, Any], int]:
            nonlocal session
            session = backend.session_of(environ.get("HTTP_AUTHORIZATION", ""))
            return post_report(backend, session.actor, op, _body(environ, length))

        exc: CommandRejected | None
        try:
            data, status, exc = outcome(run)
        except Exception:  # what Flask would answer with its 500 page, as JSON
            log.exception("report on %s failed", op)
            data, status, exc = {"error": {"code": "internal", "message": "internal error", "field": None}}, 500, None
        audit_report(backend, audit.source_of(environ), path, session, data, status, exc)
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}",
                       answer_headers(self.headers, payload, exc))
        return [payload]


def answer_headers(security: Callable[[], list[tuple[str, str]]], payload: bytes,
                   exc: CommandRejected | None) -> list[tuple[str, str]]:
    """The headers of a JSON answer on /api/ (what Flask, the handler and the security hook would send)."""
    return [("Content-Type", "application/json"), ("Content-Length", str(len(payload))), *security(),
            *extra_headers(exc).items()]


def audit_report(backend: Backend, source: str, path: str, session: Session | None, data: Any, status: int,
                 exc: CommandRejected | None, *, now_if_idle: bool = True) -> None:
    """The entry `dashboard.audit.install`'s hook writes for a command."""
    event = code = None
    if exc is not None:
        code = exc.code
    elif isinstance(data, dict):
        if status < 400:
            event = data.get("event_id")
        err = data.get("error")
        code = err.get("code") if isinstance(err, dict) else None
    try:
        county = backend.county.code
    except Exception:  # no county loaded yet (or Redis down): nothing to attach the entry to
        return
    audit.record_soon(
        backend.client, county, "command" if status < 400 else "refused", now_if_idle=now_if_idle,
        actor=session.actor.username if session is not None else "", source=source,
        method="POST", path=path, status=status, event=event, code=code,
    )


def _body(environ: dict[str, Any], length: int) -> dict[str, Any]:
    """The JSON object sent (the rules of `dashboard.api.body`)."""
    stream = environ["wsgi.input"]
    if length > MAX_BODY:
        left = min(length, DRAIN_MAX)
        while left > 0:
            chunk = stream.read(min(65536, left))
            if not chunk:
                break
            left -= len(chunk)
        raise TooLarge(f"body larger than {MAX_BODY} bytes", field="body")
    return json_object(stream.read(length) if length else b"")
