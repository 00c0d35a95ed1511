"""The ASGI face of a worker: report posts on the event loop, everything else through Flask in threads.

`wartime serve` runs gunicorn's ``asgi`` worker (one asyncio loop per process).
A thread-per-request worker (gthread) spends ≈ 0.4–0.5 ms of CPU per request on
its own machinery — poller hand-offs, futures, a Python HTTP parser — which on
two cores caps field reports far below the 2,000/s of issue 3; the asyncio
worker spends ≈ 0.1 ms. So:

* ``POST /api/v1/operations/{id}/reports`` (`dashboard.fastpath.ROUTE`) is
  served on the loop: the token from this process's session cache (a miss asks
  Redis in a thread), the same body rules, validation and answers as the Flask
  route (`dashboard.api.plan_report`, `report_answer`, `refusal`), the audit
  entry queued for the background writer, and the append handed to a
  `LoopGroupCommit`: every report waiting at that moment goes in one
  `EventLog.append_many` (one round trip, one fsync), each with its own answer.
* Anything else — pages, Dash callbacks, the rest of the API, a report request
  in an unusual shape — goes to the unchanged WSGI app (Flask, Dash, and
  `dashboard.fastpath` in front) in a thread pool, as under gthread.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from command.errors import TooLarge
from dashboard.api import MAX_BODY, Backend, extra_headers, json_object, plan_report, refusal, report_answer
from dashboard.app import SecurityHeaders
from dashboard.auth import Session
from dashboard.fastpath import DRAIN_MAX, ROUTE, audit_report
from streams.county import GROUP_MAX, County, send_batch_spread
from streams.log import Appended, Pending

log = logging.getLogger(__name__)

WSGI_BODY_MAX = 16 * 1024 * 1024
"""Largest body handed to the WSGI app (Flask refuses above 8 MB itself); past it: 413 and close."""

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LoopGroupCommit:
    """`streams.county.GroupCommit` for an event loop: appends waiting together go in one call.

    At most one batch is in flight (in its own thread); reports arriving meanwhile
    wait in the queue and go together in the next one.
    """

    def __init__(self) -> None:
        self.queue: list[tuple[Pending, asyncio.Future[Appended]]] = []
        self.busy = False
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="appender")

    async def append(self, county: County, item: Pending) -> Appended:
        """Append one report (with the others waiting now); its own answer."""
        fut: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
        self.queue.append((item, fut))
        if not self.busy:
            self._start(county)
        return await fut

    def _start(self, county: County) -> None:
        batch, self.queue = self.queue[:GROUP_MAX], self.queue[GROUP_MAX:]
        self.busy = True
        loop = asyncio.get_running_loop()
        task = loop.run_in_executor(self.pool, send_batch_spread, county.log, [item for item, _ in batch])
        task.add_done_callback(lambda t: self._done(county, batch, t))

    def _done(self, county: County, batch: list[tuple[Pending, asyncio.Future[Appended]]],
              task: asyncio.Future[list[Appended | BaseException]]) -> None:
        self.busy = False
        exc = task.exception()
        results: list[Appended | BaseException] = [exc] * len(batch) if exc is not None else task.result()
        for (_, fut), r in zip(batch, results, strict=True):
            if fut.done():  # the client went away
                continue
            if isinstance(r, BaseException):
                fut.set_exception(r)
            else:
                fut.set_result(r)
        if self.queue:
            self._start(county)


class ASGIApp:
    """Reports on the loop, the rest through the WSGI app in `threads` threads."""

    def __init__(self, wsgi: WSGIApp, backend: Backend, security: SecurityHeaders, threads: int = 32) -> None:
        self.wsgi = wsgi
        self.backend = backend
        self.security = security  # the headers of every /api/ answer (as dashboard.fastpath.answer_headers)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="wsgi")
        self.commit = LoopGroupCommit()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "http":
            m = ROUTE.fullmatch(scope.get("path", "")) if scope.get("method") == "POST" else None
            length = _header(scope, b"content-length")
            if (m is not None and length.isdigit() and not _header(scope, b"transfer-encoding")
                    and not scope.get("root_path")):
                await self._report(scope, receive, send, m.group(1), int(length))
            else:
                await self._wsgi(scope, receive, send)
        elif kind == "websocket":  # live push has its own server (streams.live)
            await receive()
            await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        from dashboard import audit

        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, audit.flush)  # a clean stop loses nothing
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- the report route -------------------------------------------------------------

    async def _report(self, scope: Scope, receive: Receive, send: Send, op: str, length: int) -> None:
        backend = self.backend
        loop = asyncio.get_running_loop()
        session: Session | None = None
        try:
            header = _header(scope, b"authorization")
            session = backend.cached_session_of(header)
            if session is None:
                session = await loop.run_in_executor(self.pool, backend.session_of, header)
            data = json_object(await _read_body(receive, length))
            actor = session.actor
            if backend.lock.acquire(blocking=False):  # the usual case: validate here, no thread hop
                try:
                    event = plan_report(backend, actor, op, data)
                finally:
                    backend.lock.release()
            else:  # a page holds the county (a long fold): wait for it in a thread, not on the loop
                event = await loop.run_in_executor(self.pool, plan_report, backend, actor, op, data)
            county = backend.county
            body, status = report_answer(await self.commit.append(county, county.pending_report(event, actor)))
            exc = None
        except Exception as err:
            refused = refusal(err)
            if refused is None:
                log.exception("report on %s failed", op)
                refused = {"error": {"code": "internal", "message": "internal error", "field": None}}, 500, None
            body, status, exc = refused
        client = scope.get("client")
        audit_report(backend, str(client[0]) if client else "", scope["path"], session, body, status, exc,
                     now_if_idle=False)
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                   *self.security.api_raw(),
                   *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers(exc).items())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    # -- everything else: the WSGI app in a thread --------------------------------------

    async def _wsgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            data = await _receive_all(receive, WSGI_BODY_MAX)
        except TooLarge:
            await _plain(send, 413, b"body too large", close=True)
            return
        if data is None:
            return
        environ = _environ(scope, data)
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started["status"], started["headers"] = status, headers
            return _no_write

        def run() -> bytes:
            result = self.wsgi(environ, start_response)
            try:
                return b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

        body = await asyncio.get_running_loop().run_in_executor(self.pool, run)
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in started["headers"]]
        await send({"type": "http.response.start", "status": int(started["status"].split(" ", 1)[0]),
                    "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _no_write(_: bytes) -> None:
    raise RuntimeError("write() is not supported: return the body")


def _header(scope: Scope, name: bytes) -> str:
    for k, v in scope.get("headers", ()):
        if k == name:
            return bytes(v).decode("latin-1")
    return ""


async def _read_body(receive: Receive, length: int) -> bytes:
    """The body of a report (the rules of `dashboard.api.body`: over `MAX_BODY` is 413, after draining)."""
    if length > MAX_BODY:
        left = DRAIN_MAX
        more = True
        while more and left > 0:
            msg = await receive()
            left -= len(msg.get("body", b""))
            more = msg.get("more_body", False)
        raise TooLarge(f"body larger than {MAX_BODY} bytes", field="body")
    return await _receive_all(receive, MAX_BODY) or b""


async def _receive_all(receive: Receive, limit: int) -> bytes | None:
    """The whole request body; None if the client went away first; TooLarge past `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return None
        part = msg.get("body", b"")
        size += len(part)
        if size > limit:
            raise TooLarge(f"body larger than {limit} bytes", field="body")
        chunks.append(part)
        more = msg.get("more_body", False)
    return b"".join(chunks)


async def _plain(send: Send, status: int, text: bytes, close: bool = False) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(text)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})


def _environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The WSGI environ of an ASGI request (PEP 3333: text as latin-1 of the raw bytes)."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client")
    raw_path = scope.get("raw_path")
    path = scope.get("path", "/")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.get("method", "GET"),
        "SCRIPT_NAME": root.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": bytes(scope.get("query_string", b"")).decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]) if server[1] is not None else "80",
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]) if client else "",
        "REMOTE_PORT": str(client[1]) if client else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if raw_path is not None:
        environ["RAW_URI"] = environ["REQUEST_URI"] = bytes(raw_path).decode("latin-1")
    for k, v in scope.get("headers", ()):
        name = bytes(k).decode("latin-1").upper().replace("-", "_")
        value = bytes(v).decode("latin-1")
        if name == "CONTENT_TYPE" or name == "CONTENT_LENGTH":
            environ[name] = value
            continue
        key = "HTTP_" + name
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


_APP: ASGIApp | None = None
_APP_LOCK = threading.Lock()


def application_from_env() -> ASGIApp:
    """The worker's app, built once from the environment (as `dashboard.wsgi` does for WSGI servers)."""
    global _APP
    with _APP_LOCK:
        if _APP is None:
            from dashboard.app import Config, create_app

            app = create_app(Config.from_env())
            server = app.server
            _APP = ASGIApp(server, server.config["WARTIME_BACKEND"], server.config["WARTIME_HEADERS"],
                           threads=int(os.environ.get("WARTIME_THREADS", "32")))
        return _APP
