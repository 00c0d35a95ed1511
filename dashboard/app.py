"""create_app(config): the Dash app, its Flask server, the HTTP API and security headers.

One Flask server carries the Dash pages (`dashboard/pages/`, one file each) and
the JSON API (`/api/v1`). Workers are stateless: everything they know comes
from Redis (the log and the read models), so gunicorn may run any number.
Assets (CSS, JS, fonts) are served locally — the big screen works offline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dash
from flask import Flask, Response, request

from dashboard import (
    api_alerts,
    api_board,
    api_control,
    api_drills,
    api_field,
    api_households,
    api_kiosk,
    api_matters,
    api_mobilisation,
    api_review,
    intake,
    photos,
    privacy,
)
from dashboard.api import Backend, Extension, create_api
from dashboard.refusals import install_errors
from streams.server import connect

__all__ = ["ASSETS", "CSP", "PAGES", "ROUTES", "Config", "SecurityHeaders", "backend_of", "create_app"]


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


class SecurityHeaders:
    """The headers a dashboard should send (CSP with the hashes of `app`'s inline scripts)."""

    def __init__(self, app: dash.Dash) -> None:
        self.app = app
        self._scripts = -1
        self._csp = ""
        self._raw: list[tuple[bytes, bytes]] = []
        self._raw_for: str | None = None

    def csp(self) -> str:
        """The current policy (pages add clientside callbacks as they are imported)."""
        scripts = len(self.app._inline_scripts) + len(dash._callback.GLOBAL_INLINE_SCRIPTS)
        if scripts != self._scripts:
            self._csp = CSP.format(scripts=" ".join(self.app.csp_hashes()))
            self._scripts = scripts
        return self._csp

    def api(self) -> list[tuple[str, str]]:
        """Every header an /api/ answer carries (for answers made without Flask: dashboard.asgi)."""
        return [*self._common(), ("Cache-Control", "no-store")]

    def api_raw(self) -> list[tuple[bytes, bytes]]:
        """`api()` as ASGI wants it (lower-case bytes), made again only when the policy changes."""
        csp = self.csp()
        if self._raw_for != csp:
            self._raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.api()]
            self._raw_for = csp
        return self._raw

    def _common(self) -> list[tuple[str, str]]:
        return [
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "no-referrer"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Content-Security-Policy", self.csp()),
        ]

    def __call__(self, resp: Response) -> Response:
        """No framing, no sniffing, no inline or injected script, same-origin only."""
        for name, value in self.api() if request.path.startswith("/api/") else self._common():
            resp.headers.setdefault(name, value)
        return resp


ROUTES: tuple[Extension, ...] = (
    api_control.register,
    api_review.register,
    api_alerts.register,
    api_matters.register,
    api_field.register,
    api_board.register,
    privacy.register,
    api_kiosk.register,
    intake.register,
    api_mobilisation.register,
    api_drills.register,
    api_households.register,
    photos.register,
)
"""Route modules added to /api/v1; each imports dashboard.api, so the list lives here, above them."""


def create_app(config: Config) -> dash.Dash:
    """The whole web app for one Redis."""
    server = Flask("wartime")
    # Dash's own callback requests can be larger than API bodies; the API checks its own limit.
    server.config["MAX_CONTENT_LENGTH"] = 8 * 1024 * 1024
    backend = Backend(connect(config.redis_url))
    server.config["WARTIME_BACKEND"] = backend
    server.config["WARTIME_CONFIG"] = config
    server.register_blueprint(create_api(backend, ROUTES))
    install_errors(server)
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
    headers = SecurityHeaders(app)
    server.config["WARTIME_HEADERS"] = headers
    server.after_request(headers)
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
