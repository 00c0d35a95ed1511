"""create_app(config): the Dash app, its Flask server, the HTTP API and security headers.

One Flask server carries the Dash pages (`dashboard/pages/`, one file each) and
the JSON API (`/api/v1`). Workers are stateless: everything they know comes
from Redis (the log and the read models), so gunicorn may run any number.
Assets (CSS, JS, fonts) are served locally — the big screen works offline.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dash
from flask import Flask, Response, request

from dashboard.api import Backend, create_api
from streams.server import connect

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PAGES = Path(__file__).resolve().parent / "pages"


@dataclass(frozen=True)
class Config:
    """What a worker needs to know; all of it comes from the CLI or the environment."""

    redis_url: str
    live_port: int | None = None
    live_url: str | None = None
    language: str = "zh-CN"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Config:
        """For gunicorn workers started from `wartime serve` (settings travel in env)."""
        port = os.environ.get("WARTIME_LIVE_PORT")
        return cls(
            redis_url=os.environ["WARTIME_REDIS_URL"],
            live_port=int(port) if port else None,
            live_url=os.environ.get("WARTIME_LIVE_URL") or None,
        )


CSP = (
    "default-src 'self'; script-src 'self' {scripts}; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self' ws: wss:; worker-src 'self' blob:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
"""Content-Security-Policy. Scripts: our own files plus, by hash, the few inline scripts Dash
writes into its index (the renderer's start and string clientside callbacks) — no
'unsafe-inline', no 'unsafe-eval', so injected markup cannot run script. Styles keep
'unsafe-inline': Plotly and React set styles at run time."""


def _security_headers_for(app: dash.Dash) -> Callable[[Response], Response]:
    """The after-request hook adding the headers a dashboard should send (CSP hashes of `app`)."""
    cache: dict[str, Any] = {"scripts": -1, "csp": ""}

    def security_headers(resp: Response) -> Response:
        """No framing, no sniffing, no inline or injected script, same-origin only."""
        scripts = len(app._inline_scripts) + len(dash._callback.GLOBAL_INLINE_SCRIPTS)
        if scripts != cache["scripts"]:  # pages add clientside callbacks as they are imported
            cache["csp"] = CSP.format(scripts=" ".join(app.csp_hashes()))
            cache["scripts"] = scripts
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        resp.headers.setdefault("Content-Security-Policy", cache["csp"])
        if request.path.startswith("/api/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    return security_headers


def create_app(config: Config) -> dash.Dash:
    """The whole web app for one Redis."""
    server = Flask("wartime")
    # Dash's own callback requests can be larger than API bodies; the API checks its own limit.
    server.config["MAX_CONTENT_LENGTH"] = 8 * 1024 * 1024
    backend = Backend(connect(config.redis_url))
    server.config["WARTIME_BACKEND"] = backend
    server.config["WARTIME_CONFIG"] = config
    server.register_blueprint(create_api(backend))
    app = dash.Dash(
        __name__,
        server=server,  # type: ignore[arg-type]
        use_pages=True,
        pages_folder=str(PAGES),
        assets_folder=str(ASSETS),
        serve_locally=True,
        title="战时指挥 · Wartime command",
        update_title=None,  # type: ignore[arg-type]
        suppress_callback_exceptions=True,
        compress=False,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = _shell(config)
    server.after_request(_security_headers_for(app))
    # Dash finishes its setup in before-request hooks of the first request; two first requests at once
    # (a gthread worker just started, field clients retrying) race inside them and one gets a 500.
    # Run them now, once, before the worker takes any request.
    with server.test_request_context("/"):
        server.preprocess_request()
    return app


def _shell(config: Config) -> Any:
    from dash import dcc, html

    return html.Div(
        [
            dcc.Location(id="url"),
            dcc.Store(id="session", storage_type="local"),
            dcc.Store(id="lang", storage_type="local", data="zh-CN"),
            dcc.Store(id="app-config", data={
                "live_port": config.live_port,
                "live_url": config.live_url,
                "language": config.language,
            }),
            dash.page_container,
        ],
        id="app-root",
    )


def backend_of(app: dash.Dash) -> Backend:
    """The backend bound to an app (for page callbacks)."""
    return app.server.config["WARTIME_BACKEND"]  # type: ignore[no-any-return]
