"""What every part of the console shares: its API call, the words for refusals, results and card pieces."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from dash import Patch, ctx, dcc, html, no_update

from command.localtime import local_datetime
from command.operations import REGISTRY_TARGETS
from dashboard.api_field import call_api
from dashboard.i18n import t
from dashboard.pages import console_text  # noqa: F401  (the words, registered before use)

PREFIX = "console"
REFRESH_MS = 10_000
DEFAULT_HOURS = 72
REGISTRY_DEFAULT = {counter: column for counter, column in REGISTRY_TARGETS.values()}
"""Counters whose default target per grid is a registry column (shown as the placeholder)."""


# -- helpers -----------------------------------------------------------------------------


def _attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """data-* and aria-* attributes for Dash components (typed loosely on purpose)."""
    return dict(attrs)


def _token(session: Any) -> str | None:
    return session.get("token") if isinstance(session, dict) else None


def api(method: str, path: str, session: Any, payload: Any = None) -> tuple[int, dict[str, Any]]:
    """One API call with the page's session (the console's only way to the data)."""
    return call_api(method, path, _token(session), payload)


def _clock(ms: int | None, with_date: bool = True) -> str:
    if not ms:
        return "—"
    d = local_datetime(ms)
    return d.strftime("%m-%d %H:%M" if with_date else "%H:%M:%S")


def _n(v: Any) -> str:
    return f"{int(v):,}" if isinstance(v, int) else "—"


def _level_label(level: str | None, lang: str) -> str:
    return t(f"level.{level}", lang) if level else "—"


def _error(data: Mapping[str, Any]) -> dict[str, Any]:
    err = data.get("error") if isinstance(data, Mapping) else None
    return err if isinstance(err, dict) else {}


def explain(action: str, status: int, data: Mapping[str, Any], lang: str, **ctx_: Any) -> str:
    """A refusal of the API in words a commander understands (the server's detail kept at the end)."""
    err = _error(data)
    code = str(err.get("code") or "")
    field = str(err.get("field") or "")
    detail = str(err.get("message") or f"HTTP {status}")
    if status == 401:
        return t("console.err.expired", lang)
    if status == 403:
        if "only a commander" in detail:
            return t("console.err.not_commander", lang)
        return t("console.err.forbidden", lang)
    if status == 404:
        if code == "unknown_grid":
            m = re.search(r"'([^']*)'", detail)
            return t("console.err.unknown_grid", lang, code=m.group(1) if m else "")
        return t("console.err.unknown", lang)
    if status == 503:
        return t("console.err.unavailable", lang)
    if status == 409:
        if action == "switch" and field == "mode":
            return t("console.err.already_war", lang)
        if action == "standdown" and field == "scope":
            names = ctx_.get("open_ops") or []
            joined = "（" + "、".join(f"「{n}」" for n in names) + "）" if names and lang != "en" else (
                " (" + ", ".join(f"“{n}”" for n in names) + ")" if names else "")
            return t("console.err.open_ops", lang, names=joined)
        if action in ("standdown", "level") and field in ("mode", "scope"):
            return t("console.err.not_war", lang)
        if action == "launch":
            return t("console.err.launch_peace", lang)
        if action == "appoint":
            return t("console.err.has_secretary" if "secretary already" in detail else "console.err.grid_peace", lang)
        if action == "close" or code == "operation_closed":
            return t("console.err.closed", lang)
        if action == "ack":
            return t("console.err.acked", lang)
    if status in (413, 422):
        if field == "person":
            return t("console.err.person", lang)
        if field == "name":
            return t("console.err.name", lang)
        if field == "kind":
            return t("console.err.kind", lang)
        if field == "deadline":
            return t("console.err.hours", lang)
        if field.startswith("targets"):
            return t("console.err.target", lang)
        if status == 413 or code == "too_large":
            return t("console.err.too_long", lang, detail=detail)
        return t("console.err.invalid", lang, detail=detail)
    return t("console.err.other", lang, detail=detail)


def _entry(ok: bool, text: str) -> dict[str, Any]:
    return {"ok": ok, "text": text, "at": int(time.time() * 1000), "id": secrets.token_hex(4)}


def _log(ok: bool, text: str) -> Patch:
    p = Patch()
    p.prepend(_entry(ok, text))
    return p


def _clicked(key: str) -> str | None:
    """Part `key` of the id of the pattern-matched button just clicked (None: a re-render, not a click)."""
    trig = ctx.triggered[0] if ctx.triggered else None
    if not trig or not trig.get("value") or not isinstance(ctx.triggered_id, Mapping):
        return None
    return str(ctx.triggered_id[key])


def _expired(status: int) -> Any:
    return {"at": int(time.time() * 1000)} if status == 401 else no_update


def _radio(id_: str, options: list[tuple[str, str]], value: str) -> dcc.RadioItems:
    return dcc.RadioItems(
        id=id_,
        options=[{"label": label, "value": v} for v, label in options],
        value=value,
        className="console-radio",
    )


def _card(title: str, *children: Any, id_: str | None = None, class_name: str = "") -> html.Section:
    kwargs: dict[str, Any] = {"id": id_} if id_ else {}
    return html.Section([html.H3(title, className="console-card-title"), *children],
                        className=f"console-card {class_name}".strip(), **kwargs)


def _button(label: str, id_: Any, action: str, kind: str = "primary", **kw: Any) -> html.Button:
    return html.Button(label, id=id_, n_clicks=0, className=f"console-btn console-btn-{kind}",
                       **_attrs({"data-action": action}), **kw)
