"""The ASGI face of a worker: report posts on the event loop, everything else through Flask in threads.

`wartime serve` runs gunicorn's ``asgi`` worker (one asyncio loop per process).
A thread-per-request worker (gthread) spends ≈ 0.4–0.5 ms of CPU per request on
its own machinery — poller hand-offs, futures, a Python HTTP parser — which on
two cores caps field reports far below the 2,000/s of issue 3; the asyncio
worker spends ≈ 0.1 ms. So:

* a request that Flask's route table (`flask.Flask.url_map`, the one table of
  /api/v1) routes to ``POST /api/v1/operations/{id}/reports``
  (`dashboard.intake.REPORT_ENDPOINT`) is served on the loop: its bytes are
  read here and handed to the app's `dashboard.intake.Intake`, which does
  everything else (token, validation, group commit, audit, answer), and its
  `Answer` is written back;
* anything else — pages, Dash callbacks, the rest of the API, a report request
  in an unusual shape (chunked, no length) — goes to the WSGI app (Flask, Dash)
  in a thread pool, as under gthread; there the same intake answers reports.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from command.errors import TooLarge
from dashboard.api import DRAIN_MAX, PHOTO_BODY, read_body
from dashboard.app import SecurityHeaders
from dashboard.intake import REPORT_ENDPOINT, Intake, intake_of

log = logging.getLogger(__name__)

WSGI_BODY_MAX = 16 * 1024 * 1024
"""Largest body handed to the WSGI app (Flask refuses above 8 MB itself); past it: 413 and close."""

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ASGIApp:
    """Reports on the loop, the rest through the WSGI app in `threads` threads."""

    def __init__(self, server: Flask, intake: Intake, security: SecurityHeaders, threads: int = 32) -> None:
        self.wsgi: WSGIApp = server
        self.routes = server.url_map.bind("localhost")  # matching paths only: any host name will do
        self.intake = intake
        self.security = security  # the headers of every /api/ answer
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="wsgi")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "http":
            op = self._report_of(scope)
            length = _header(scope, b"content-length") if op is not None else ""
            if op is not None and length.isdigit() and not _header(scope, b"transfer-encoding"):
                await self._report(scope, receive, send, op, int(length))
            else:
                await self._wsgi(scope, receive, send)
        elif kind == "websocket":  # live push has its own server (streams.live)
            await receive()
            await send({"type": "websocket.close", "code": 1000})

    def _report_of(self, scope: Scope) -> str | None:
        """The operation of a report post, by the app's own route table; None for any other request."""
        if scope.get("method") != "POST" or scope.get("root_path"):
            return None
        if _header(scope, b"x-wartime-drill") or b"drill=" in scope.get("query_string", b""):
            return None  # a drill's report: through the app, whose hook puts it in the drill's world
        return self._post_route(scope.get("path", ""))

    @functools.lru_cache(maxsize=4096)  # noqa: B019 — one app per process, kept for its life
    def _post_route(self, path: str) -> str | None:
        """The operation of a POST to `path` when the route table sends it to the report endpoint."""
        try:
            endpoint, args = self.routes.match(path, method="POST")
        except (HTTPException, RequestRedirect):
            return None
        return str(args["op"]) if endpoint == REPORT_ENDPOINT else None

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

    # -- the report route: bytes in, bytes out; the intake does the rest -------------------

    async def _report(self, scope: Scope, receive: Receive, send: Send, op: str, length: int) -> None:
        async def body() -> bytes:
            sent = await _receive_all(receive, DRAIN_MAX, keep=PHOTO_BODY + 1) or b""
            return read_body(io.BytesIO(sent).read, length, PHOTO_BODY)

        client = scope.get("client")
        answer = await self.intake.receive_async(
            _header(scope, b"authorization"), op, body, source=str(client[0]) if client else "",
            path=scope["path"], pool=self.pool,
        )
        payload = answer.payload()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                   *self.security.api_raw(),
                   *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items())]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
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


async def _receive_all(receive: Receive, limit: int, keep: int | None = None) -> bytes | None:
    """The whole request body; None if the client went away first; TooLarge past `limit` bytes.

    With `keep`, a body is read (and dropped past its first `keep` bytes) up to `limit`
    bytes and what was kept is returned: the body rule (`read_body`) then refuses it.
    """
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return None
        part = msg.get("body", b"")
        if keep is None or size < keep:
            chunks.append(part)
        size += len(part)
        if size > limit:
            if keep is None:
                raise TooLarge(f"body larger than {limit} bytes", field="body")
            break
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
            _APP = ASGIApp(server, intake_of(server), server.config["WARTIME_HEADERS"],
                           threads=int(os.environ.get("WARTIME_THREADS", "32")))
        return _APP
