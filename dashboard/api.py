"""HTTP API under /api/v1 (DESIGN.md §5): parse → command/ → streams/ → answer.

Here: the shared `Backend`, the body rule (malformed JSON is 400, oversized
413), sign-in and health. The commands and reads themselves sit on route tables
(`dashboard.intake.Routes`: `dashboard.api_control` and the other ``api_*``
modules) answered by the one `dashboard.intake.Intake`, which authenticates the
bearer token, reads the body, runs one `County` method and answers JSON. Domain
errors map to status codes in `STATUS` — the one place where that happens —
with the body ``{"error": {"code", "message", "field"}}``. A refused request
has appended nothing: commands validate before they append.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis
from flask import Blueprint, Response, request

from command import bounds
from command.access import Actor, require_read
from command.errors import (
    CommandRejected,
    InvalidRequest,
    LoginThrottled,
    Malformed,
    NotAuthenticated,
    NotAuthorised,
    NotFound,
    StateConflict,
    TooLarge,
    Unavailable,
    UnknownEndpoint,
    WartimeError,
)
from command.fold import ControlState
from command.grids import GridTree
from dashboard import audit
from dashboard.auth import Accounts, Session
from streams.county import County
from streams.keys import current_world
from streams.projector import projector_lag_ms
from streams.server import Client

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
"""Largest API body (bytes); past it: 413."""
PHOTO_BODY = MAX_BODY + (bounds.MAX_PHOTO_BYTES * 4) // 3 + 4096
"""Largest body of a command that may carry a photo (a report, a matter): the fields and the image
in base64 (`command.bounds.MAX_PHOTO_BYTES`)."""
DRAIN_MAX = 4 * 1024 * 1024
"""Bytes of an oversized body read and dropped, so that the client gets our 413 rather than a reset."""

STATUS: list[tuple[type[WartimeError], int]] = [
    (LoginThrottled, 429),
    (NotAuthenticated, 401),
    (NotAuthorised, 403),
    (NotFound, 404),
    (StateConflict, 409),
    (TooLarge, 413),
    (InvalidRequest, 422),
    (Malformed, 400),
    (CommandRejected, 400),
    (Unavailable, 503),
]
"""The one map of the error tree (command.errors) to HTTP; first match wins (subclasses before bases)."""


def status_of(exc: WartimeError) -> int:
    """HTTP status of an error of the tree."""
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status=status,
        mimetype="application/json",
    )


def error_body(exc: WartimeError) -> dict[str, Any]:
    """The error body of DESIGN.md §5 (what the client sent, echoed in it, made encodable)."""
    body: dict[str, Any] = {"code": exc.code, "message": _encodable(exc.message), "field": _encodable(exc.field)}
    if hasattr(exc, "errors"):
        body["errors"] = [_encodable(str(e)) for e in exc.errors]
    return {"error": body}


def _encodable(text: str | None) -> str | None:
    """`text` with any lone surrogate written as an escape, so the answer encodes as UTF-8."""
    if text is None or text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_response(exc: CommandRejected) -> Response:
    """The error answer of DESIGN.md §5 (status, body and headers)."""
    resp = _json(error_body(exc), status_of(exc))
    resp.headers.update(extra_headers(exc))
    return resp


class Backend:
    """What every worker shares: the Redis client, the county and the accounts."""

    def __init__(self, client: Client, county: County | None = None) -> None:
        self.client = client
        self.lock = threading.RLock()
        self._county: County | None = county
        self._accounts: Accounts | None = None
        self.worlds: Callable[[str], County] | None = None
        """A drill's `County` by drill id (dashboard.api_drills sets it): the world a request acts in."""

    @property
    def county(self) -> County:
        """The county of this Redis — inside a drill's world (streams.keys.in_world), the drill's."""
        world = current_world()
        if world and self.worlds is not None:
            return self.worlds(world)
        return self.live_county

    @property
    def live_county(self) -> County:
        """The live county of this Redis (looked up once it exists), whatever world the request is in."""
        if self._county is None:
            with self.lock:
                if self._county is None:
                    try:
                        self._county = County.current(self.client)
                    except LookupError as exc:
                        raise StateConflict(str(exc)) from exc
        return self._county

    @property
    def accounts(self) -> Accounts:
        if self._accounts is None:
            self._accounts = Accounts(self.live_county)
        return self._accounts

    def session(self) -> Session:
        """The caller's session from `Authorization: Bearer …` (or ?token= for kiosks)."""
        query = request.args.get("token", "") if request.method in ("GET", "HEAD") else ""
        session = self.session_of(request.headers.get("Authorization", ""), query)
        request.environ["wartime.session"] = session  # for the audit trail (dashboard.audit)
        return session

    def cached_session_of(self, header: str) -> Session | None:
        """The session of an Authorization header if this process verified it lately (no I/O), else None."""
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        return self.accounts.cached(token) if token else None

    def session_of(self, header: str, query_token: str = "") -> Session:
        """The session of an Authorization header (else of a read's ?token=), or NotAuthenticated."""
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not token:  # kiosk links and downloads read with ?token=; writes never pass one
            token = query_token
        if not token:
            raise NotAuthenticated("missing bearer token", field="authorization")
        return self.accounts.verify(token)

    def actor(self) -> Actor:
        return self.session().actor

    def read_scope(self, actor: Actor, asked: str | None) -> tuple[ControlState, GridTree, str]:
        """A read's preamble, under `lock`: the state refreshed, its tree, and the scope asked (else the
        actor's, else the county) — refused unless the actor may read it."""
        county = self.county
        st = county.refresh()
        tree = county.tree
        scope = asked or actor.scope or tree.root
        require_read(actor, tree, scope, field="scope")
        return st, tree, scope


def body(optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (empty allowed when `optional`), or a 400/413 naming what is wrong."""
    return json_object(read_body(request.stream.read, request.content_length), optional)


def read_body(read: Callable[[int], bytes], length: int | None, limit: int = MAX_BODY) -> bytes:
    """A request body by the API's one rule: over `limit` (`MAX_BODY`, or `PHOTO_BODY` for a command
    that takes a photo; declared or sent) is 413.

    Before refusing, what the client still sends is read and dropped (up to
    `DRAIN_MAX`), so it gets our 413 rather than a reset connection. Every
    transport reads bodies through here (Flask's stream, the ASGI route's bytes).
    """
    if length is None or length <= limit:
        raw = read(limit + 1)
        if len(raw) <= limit:
            return raw
    left = DRAIN_MAX
    while left > 0:
        chunk = read(min(65536, left))
        if not chunk:
            break
        left -= len(chunk)
    raise TooLarge(f"body larger than {limit} bytes", field="body")


def json_object(raw: bytes, optional: bool = False) -> dict[str, Any]:
    """A body's JSON object (empty allowed when `optional`), or a 400 naming what is wrong."""
    if optional and not raw.strip():
        return {}
    try:
        data = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Malformed(f"body is not valid JSON: {_encodable(str(exc))}", field="body") from None
    except RecursionError:
        raise Malformed("body is nested too deeply", field="body") from None
    except ValueError as exc:  # an integer of more than sys.get_int_max_str_digits() digits
        raise Malformed(f"body holds a number too long to read: {str(exc)[:80]}", field="body") from None
    if not isinstance(data, dict):
        raise Malformed("body must be a JSON object", field="body")
    if b"\\u" in raw and _ESCAPED_SURROGATE.search(raw):  # only an escape makes a lone surrogate
        _refuse_surrogates(data, "")
    return data


_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _refuse_surrogates(value: Any, path: str) -> None:
    """Refuse (422, naming the field) a body whose text holds a lone surrogate: it cannot be stored."""
    if isinstance(value, str):
        bounds.check_unicode(value, path or "body")
    elif isinstance(value, dict):
        for k, v in value.items():
            bounds.check_unicode(k, path or "body")
            _refuse_surrogates(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _refuse_surrogates(v, f"{path}[{i}]")


def _str(data: Mapping[str, Any], name: str, *, required: bool = True, limit: int = bounds.MAX_LINE) -> str:
    """A text field of the body, bounded (command.bounds.text; one line up to MAX_LINE characters)."""
    v = data.get(name)
    if v is None or v == "":
        if required:
            raise InvalidRequest(f"{name} is required", field=name)
        return ""
    return bounds.text(v, name, limit, multiline=limit > bounds.MAX_LINE)


def _opt_int(data: Mapping[str, Any], name: str) -> int | None:
    v = data.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidRequest(f"{name} must be an integer (epoch milliseconds)", field=name)
    return v


REFUSALS = ("NOREPLICAS", "OOM", "MISCONF", "READONLY", "NOTREADY")
"""Redis error prefixes meaning 'cannot write now' (replicas missing, memory full, disk failing)."""


def refused_write(exc: redis.ResponseError) -> bool:
    """Whether a Redis error says the write was refused (HTTP 503) rather than that our command was wrong."""
    if isinstance(exc, redis.exceptions.OutOfMemoryError | redis.exceptions.ReadOnlyError):
        return True
    text = str(exc)
    return any(text.startswith(p) or f"-{p}" in text or f" {p} " in text for p in REFUSALS)


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int, CommandRejected | None]:
    """Run a handler: (answer body or Response, status, the domain error when refused) — DESIGN.md §5."""
    try:
        out = fn(*args, **kwargs)
    except Exception as exc:
        refused = refusal(exc)
        if refused is None:
            raise
        return refused
    if isinstance(out, Response):
        return out, out.status_code, None
    if isinstance(out, tuple):
        return out[0], out[1], None
    return out, 200, None


def refusal(exc: BaseException) -> tuple[dict[str, Any], int, CommandRejected | None] | None:
    """The answer to what a handler raised: (body, status, domain error), or None for a bug (500)."""
    if isinstance(exc, CommandRejected):
        return error_body(exc), status_of(exc), exc
    if isinstance(exc, Unavailable):
        log.warning("write refused: %s", exc)
        return error_body(exc), 503, None
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return {"error": {"code": "unavailable", "message": f"redis: {exc}", "field": None}}, 503, None
    if isinstance(exc, redis.ResponseError) and refused_write(exc):
        log.warning("redis refused a write: %s", str(exc)[:200])
        return {"error": {"code": "unavailable", "message": "storage refuses writes", "field": None}}, 503, None
    return None


INTERNAL_ERROR = {"error": {"code": "internal", "message": "internal error", "field": None}}
"""The body of a 500: nothing of the failure leaks to the client (it is in the server's log)."""


def answer_to(exc: BaseException, what: str) -> tuple[dict[str, Any], int, CommandRejected | None]:
    """`refusal(exc)`, or — for a bug — the one 500 answer, logged with `what` was being done."""
    refused = refusal(exc)
    if refused is not None:
        return refused
    log.error("%s failed", what, exc_info=exc)
    return INTERNAL_ERROR, 500, None


def extra_headers(exc: CommandRejected | None) -> dict[str, str]:
    """Headers a refusal adds to its answer (Retry-After on a throttled login)."""
    if isinstance(exc, LoginThrottled):
        return {"Retry-After": str(exc.retry_after_s)}
    return {}


def handler(fn: Callable[..., Any]) -> Callable[..., Response]:
    """Turn a handler's return value or domain error into the JSON answer of DESIGN.md §5."""

    def wrapped(*args: Any, **kwargs: Any) -> Response:
        data, status, exc = outcome(fn, *args, **kwargs)
        if isinstance(data, Response):
            return data
        if exc is not None:
            request.environ["wartime.outcome"] = (None, exc.code)  # for the audit entry, without re-parsing
        elif isinstance(data, dict) and status < 400:
            request.environ["wartime.outcome"] = (data.get("event_id"), None)
        if isinstance(data, dict) and current_world():
            data = {**data, "drill": True}  # an answer from a drill's world says so (DESIGN §7.4)
        resp = _json(data, status)
        resp.headers.update(extra_headers(exc))
        return resp

    wrapped.__name__ = fn.__name__
    return wrapped


Extension = Callable[[Blueprint, "Backend"], None]
"""A route module's `register(api, backend)`: adds its routes to the blueprint."""


def create_api(backend: Backend, extensions: Iterable[Extension] = ()) -> Blueprint:
    """The /api/v1 blueprint bound to a backend, with the routes of `extensions` (see dashboard.app.ROUTES)."""
    api = Blueprint("api", __name__, url_prefix="/api/v1")

    @api.post("/session")
    @handler
    def login() -> Any:
        data = body()
        token, actor = backend.accounts.login(
            data.get("username"), data.get("password"), request.remote_addr or ""  # type: ignore[arg-type]
        )
        return {"token": token, "role": actor.role.value, "scope": actor.scope, "username": actor.username}

    @api.get("/health")
    @handler
    def health() -> Any:
        try:
            backend.client.ping()
        except redis.RedisError as exc:
            return {"status": "degraded", "redis": f"down: {exc}", "projector_lag_ms": None}, 503
        try:
            county = backend.county
            lag = projector_lag_ms(backend.client, county.log)
        except StateConflict:
            return {"status": "ok", "redis": "up", "projector_lag_ms": 0, "county": None}
        return {"status": "ok", "redis": "up", "projector_lag_ms": lag, "county": county.code}

    for register in extensions:
        register(api, backend)
    audit.install(api, backend)

    @api.route("/", defaults={"unknown": ""}, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    @api.route("/<path:unknown>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    @handler
    def no_such_endpoint(unknown: str) -> Any:
        """An unknown /api/v1 path is a JSON 404 (not the dashboard's page, which catches every other path)."""
        raise UnknownEndpoint(f"no endpoint {request.method} /api/v1/{unknown[:200]}", field="path")

    @api.errorhandler(413)
    def too_large(_: Exception) -> Response:
        return error_response(TooLarge(f"body larger than {MAX_BODY} bytes", field="body"))

    return api
