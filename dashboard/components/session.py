"""Login form and session helpers shared by every page.

The session lives in the browser (`dcc.Store(id="session", storage_type="local")`
in the app shell): the bearer token with the user's role and scope. Pages pass
it as State to their callbacks, which turn it back into an `Actor` with
`actor_of` — the token is verified on every call, so an expired or revoked token
sends the page back to its login form. Page JavaScript (field queue, live push)
reads the same token from localStorage under the store's key.
"""

from __future__ import annotations

from typing import Any

import flask
from dash import Input, Output, State, callback, html, no_update

from command.access import Actor
from command.errors import CommandRejected, NotAuthenticated
from dashboard.i18n import t


def backend() -> Any:
    """The request's backend (Redis client, county, accounts)."""
    return flask.current_app.config["WARTIME_BACKEND"]


def actor_of(session: Any) -> Actor:
    """The actor behind a session store value, or NotAuthenticated."""
    token = session.get("token") if isinstance(session, dict) else None
    if not token:
        raise NotAuthenticated("not logged in", field="authorization")
    return backend().accounts.verify(token).actor  # type: ignore[no-any-return]


def login_form(prefix: str, lang: str = "zh-CN") -> html.Div:
    """The form with the stable hooks of DESIGN.md §5 (name=username/password, data-action=login)."""
    from dash import dcc

    return html.Div(
        [
            html.H2(t("login.title", lang), className="login-title"),
            dcc.Input(id=f"{prefix}-username", name="username", type="text",
                      placeholder=t("login.username", lang), autoComplete="username",
                      className="login-input", debounce=False),
            dcc.Input(id=f"{prefix}-password", name="password", type="password",
                      placeholder=t("login.password", lang), autoComplete="current-password",
                      className="login-input", n_submit=0, debounce=False),
            html.Button(t("login.submit", lang), id=f"{prefix}-login", n_clicks=0,
                        className="login-button", **{"data-action": "login"}),  # type: ignore[arg-type]
            html.Div(id=f"{prefix}-login-error", className="login-error", role="alert"),
        ],
        id=f"{prefix}-login-form",
        className="login-form",
    )


def register_login(prefix: str) -> None:
    """Wire a page's login form to the accounts (password checked server-side, rate-limited)."""

    @callback(
        Output("session", "data", allow_duplicate=True),
        Output(f"{prefix}-login-error", "children"),
        Input(f"{prefix}-login", "n_clicks"),
        Input(f"{prefix}-password", "n_submit"),
        State(f"{prefix}-username", "value"),
        State(f"{prefix}-password", "value"),
        State("lang", "data"),
        prevent_initial_call=True,
    )
    def _login(clicks: int, submits: int, username: str | None, password: str | None, lang: str | None) -> Any:
        if not clicks and not submits:  # the form was just mounted (Dash pages fire that as a change)
            return no_update, no_update
        try:
            token, actor = backend().accounts.login(
                username or "", password or "", flask.request.remote_addr or ""
            )
        except NotAuthenticated as exc:
            msg = t("login.failed", lang) if exc.field == "password" else exc.message
            return no_update, msg
        except CommandRejected as exc:
            return no_update, exc.message
        return {"token": token, "username": actor.username, "role": actor.role.value,
                "scope": actor.scope}, ""
