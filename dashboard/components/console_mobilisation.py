"""The console's mobilisation card: who is not on post (未到岗), by town, with one re-notify per secretary.

Filled with the console's other panels (`mobilisation`, called by the scope callback), fed by
``GET /api/v1/mobilisation?scope=…`` and ``GET /api/v1/notifications?state=failed``
for the console's scope; the button calls ``POST /api/v1/secretaries/{grid}/renotify``
(a commander's action; the API refuses everyone else). Names are shown to the
commander as the console shows secretaries elsewhere; phones never reach the page.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from dash import ALL, Input, Output, State, callback, ctx, html, no_update

from dashboard import mobilisation_i18n  # noqa: F401 - registers the card's strings
from dashboard.api_field import call_api
from dashboard.i18n import t

LISTED = 60
"""Secretaries listed in the card (the count above it is exact)."""


def mobilisation_card(lang: str) -> html.Section:
    """The empty card; the callbacks below fill it for the console's scope."""
    return html.Section(
        [html.H3(t("console.mob.title", lang), className="console-card-title"),
         html.Div(id="console-mob-result", className="console-hint", role="status"),
         html.Div(id="console-mob")],
        id="console-mob-card", className="console-card",
    )


def _attrs(attrs: dict[str, str]) -> Any:
    """data-* attributes for Dash components (typed loosely on purpose)."""
    return attrs


def _token(session: Any) -> str | None:
    return session.get("token") if isinstance(session, dict) else None


def _minutes(m: Any, lang: str) -> str:
    return "—" if m is None else (f"{m:g} 分钟" if lang != "en" else f"{m:g} min")


def render(mob: Mapping[str, Any], failed: int, lang: str, can_command: bool) -> list[Any]:
    """The card's content: the funnel line, the minutes to 50/90/100 %, the list by town."""
    mt = mob.get("minutes_to") or {}
    out: list[Any] = [
        html.P(t("console.mob.summary", lang, **{k: mob.get(k, 0) for k in (
            "on_post", "installed", "acknowledged", "notified", "vacancies")}),
            className="console-mob-summary",
            **_attrs({"data-on-post": str(mob.get("on_post", 0)),
                      "data-not-on-post": str(mob.get("not_on_post_total", 0))})),
        html.P(t("console.mob.minutes", lang, m50=_minutes(mt.get("50"), lang), m90=_minutes(mt.get("90"), lang),
                 m100=_minutes(mt.get("100"), lang)), className="console-hint"),
    ]
    if failed:
        out.append(html.P(t("console.mob.failed", lang, n=failed), className="console-error"))
    rows = list(mob.get("not_on_post") or [])
    if not rows and mob.get("installed"):
        out.append(html.P(t("console.mob.none", lang), className="console-hint"))
        return out
    by_town: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows[:LISTED]:
        by_town.setdefault(str(r.get("town_name") or r.get("town") or ""), []).append(r)
    for town, items in sorted(by_town.items()):
        out.append(html.H4(f"{town} · {len(items)}", className="console-mob-town"))
        out.append(html.Ul([
            html.Li([
                html.Span(str(r["name"]), className="console-mob-grid"),
                html.Span(f" {r['secretary']} · {t(str(r['state']), lang)}", className="console-hint"),
                html.Button(t("console.mob.renotify", lang), id={"type": "console-renotify", "grid": str(r["grid"])},
                            n_clicks=0, className="console-btn console-btn-small",
                            **_attrs({"data-action": "renotify", "data-grid": str(r["grid"])}))
                if can_command else None,
            ], className="console-mob-row", **_attrs({"data-grid": str(r["grid"])}))
            for r in items
        ], className="console-mob-list"))
    return out


def fetch(scope: str | None, session: Any) -> dict[str, Any] | None:
    """What the card shows for the console's scope: the mobilisation answer and the failed notifications."""
    token = _token(session)
    if not scope or not token:
        return None
    status, mob = call_api("GET", f"/mobilisation?scope={scope}", token)
    if status != 200:
        return None
    _, failed = call_api("GET", f"/notifications?state=failed&scope={scope}", token)
    return {"mob": mob, "failed": int(failed.get("total", 0))}


def mobilisation(data: Mapping[str, Any] | None, session: Any, lang: str) -> list[Any]:
    """The card's content from `fetch` (filled by the console's one scope callback, in step with every other
    panel: `dashboard.pages.console_scope._scope`)."""
    if not data:
        return []
    can = isinstance(session, dict) and session.get("role") == "commander"
    return render(data["mob"], int(data.get("failed", 0)), lang or "zh-CN", can)


@callback(
    Output("console-mob-result", "children"),
    Input({"type": "console-renotify", "grid": ALL}, "n_clicks"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _renotify(clicks: list[int], session: Any, lang: str) -> Any:
    """One re-send for the secretary whose button was pressed."""
    trig = ctx.triggered[0] if ctx.triggered else None
    if not trig or not trig.get("value") or not isinstance(ctx.triggered_id, Mapping):
        return no_update
    grid = str(ctx.triggered_id["grid"])
    status, out = call_api("POST", f"/secretaries/{grid}/renotify", _token(session),
                           {"request_id": f"console-{secrets.token_hex(6)}"})
    if status in (200, 201):
        return t("console.mob.renotified", lang, grid=grid)
    return str((out.get("error") or {}).get("message", f"HTTP {status}"))
