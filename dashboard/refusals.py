"""App-wide refusals: what Werkzeug or Dash would answer with a 500 or an HTML page, as DESIGN §5 wants.

Installed on the Flask server by `dashboard.app.create_app`: over-long URLs (414),
Werkzeug's own refusals under /api/ (413, 405 …), unknown component-suite files
(404), Dash callback requests of a shape Dash chokes on (400) or naming no
callback (404), and page callbacks that cannot take the values sent (400). Each
answer is the JSON error body of `dashboard.api.error_body`; statuses come from
its `STATUS` table.
"""

from __future__ import annotations

import logging
from typing import Any

from dash.exceptions import DependencyException, UnsupportedRelativePath
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestURITooLarge

from command.errors import CallbackInput, CommandRejected, HttpRefusal, Malformed, NotFound, TooLarge
from dashboard.api import _json, error_body, error_response, json_object

log = logging.getLogger(__name__)


CALLBACK_BODY = 4 * 1024 * 1024
"""Largest Dash callback request (a page's stores and figure state ride along)."""


def check_callback(data: dict[str, Any]) -> None:
    """The shape Dash's dispatcher takes for granted: names as text, lists of {id, property[, value]}."""
    if not isinstance(data.get("output"), str):
        raise Malformed("output must be text", field="output")
    outputs = data.get("outputs")
    for name in ("inputs", "state"):
        if not isinstance(data.get(name, []), list):
            raise Malformed(f"{name} must be a list", field=name)
    deps = [*data.get("inputs", []), *data.get("state", [])]
    if outputs is not None:
        deps += outputs if isinstance(outputs, list) else [outputs]
    for d in deps:
        if isinstance(d, list):  # pattern-matching (ALL) dependencies: a list of the same
            deps.extend(d)
            continue
        if not isinstance(d, dict) or not isinstance(d.get("property"), str) or not isinstance(
            d.get("id"), str | dict
        ):
            raise Malformed("every dependency is an object {id, property}", field="inputs")
    changed = data.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise Malformed("changedPropIds must be a list of text", field="changedPropIds")


MAX_URL = 8 * 1024
"""Longest path plus query string served (414 past it). gunicorn's own limit is lifted to its 1 MiB
ceiling (dashboard.server), so that this refusal, not its plain-text one, is what a client gets."""


def install_errors(server: Flask) -> None:
    """App-wide refusals as the JSON error body of DESIGN.md §5 (never a 500 or an HTML page for /api/)."""

    @server.before_request
    def _url_length() -> None:
        env = request.environ
        if len(env.get("PATH_INFO", "")) + len(env.get("QUERY_STRING", "")) > MAX_URL:
            raise RequestURITooLarge(f"the URL is longer than {MAX_URL} bytes")

    @server.before_request
    def _callback_shape() -> Response | None:
        """A Dash callback request Dash itself would choke on (a 500) is refused here: 400 or 413."""
        if request.method != "POST" or not request.path.endswith("/_dash-update-component"):
            return None
        try:
            if (request.content_length or 0) > CALLBACK_BODY:
                raise TooLarge(f"body larger than {CALLBACK_BODY} bytes", field="body")
            check_callback(json_object(request.get_data(cache=True)))
        except CommandRejected as exc:
            return error_response(exc)
        return None

    @server.errorhandler(DependencyException)
    def _no_such_suite(_: Exception) -> Response:
        """Dash raises (a 500) for a component-suite path it does not ship: it is a 404."""
        return error_response(NotFound("no such component-suite file", field="path"))

    @server.errorhandler(KeyError)
    @server.errorhandler(TypeError)
    @server.errorhandler(AttributeError)
    @server.errorhandler(ValueError)
    @server.errorhandler(IndexError)
    @server.errorhandler(OverflowError)
    @server.errorhandler(RecursionError)
    @server.errorhandler(UnsupportedRelativePath)  # the page router given a pathname that is no path
    def _callback_input(exc: Exception) -> Any:
        """A page callback that cannot take the values a request carries (a forged request, a stale or
        tampered browser store: a string where a dict belongs, a number past every clock) refuses them,
        400, instead of answering 500. Logged with its traceback, so its owner can harden it."""
        if not request.path.endswith("/_dash-update-component"):
            raise exc
        if isinstance(exc, KeyError) and "Callback function not found" in str(exc):
            return error_response(NotFound("no such callback", field="output"))
        log.warning("callback refused its input: %s: %s", type(exc).__name__, str(exc)[:200], exc_info=exc)
        return error_response(CallbackInput(f"the callback cannot take these values ({type(exc).__name__})",
                                            field="inputs"))

    @server.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        if not request.path.startswith("/api/") or exc.code is None or exc.code < 400:
            return exc
        code = (exc.name or "refused").lower().replace(" ", "_")
        refusal = HttpRefusal(exc.code, "too_large" if exc.code == 413 else code, exc.description or exc.name)
        resp = _json(error_body(refusal), exc.code)
        if exc.code == 405 and exc.response is None:
            resp.headers["Allow"] = ", ".join(getattr(exc, "valid_methods", None) or ())
        return resp


