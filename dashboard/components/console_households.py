"""The console's households card: unreached households of the scope (未覆盖住户), for phoning.

Fed by ``GET /api/v1/operations/{id}/households?grid=SCOPE&status=unreached`` for an
open operation over the console's scope, through `call_api` (the same handlers, scope
check, masking and audit as any client): names and phones are shown exactly as the
API gives them — masked unless the caller is one of the household's own grid leaders
or a commander of its scope. The API lists unreached households first and vulnerable
ones first among them; the card keeps that order. Stable hooks:
``#console-hh[data-op][data-unreached]`` and one ``tr[data-household=CODE]`` per household.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from dash import Input, Output, State, callback, dcc, html

from dashboard import households_i18n  # noqa: F401 - registers the card's strings
from dashboard.api_field import call_api
from dashboard.i18n import t

__all__ = ["LISTED", "households_card", "render"]

LISTED = 100
"""Households listed in the card (the counts above the table are exact)."""


def _attrs(attrs: dict[str, str]) -> Any:
    """data-* attributes for Dash components (typed loosely on purpose)."""
    return attrs


def households_card(lang: str) -> html.Section:
    """The empty card; the callbacks below fill it for the console's scope."""
    return html.Section(
        [html.H3(t("console.hh.title", lang), className="console-card-title"),
         dcc.Dropdown(id="console-hh-op", options=[], value=None, clearable=False, searchable=False,
                      placeholder=t("console.hh.pick", lang), className="console-hh-op"),
         html.Div(id="console-hh")],
        id="console-hh-card", className="console-card",
    )


def _vulnerable(v: Any, lang: str) -> str:
    groups = v if isinstance(v, list) else [g for g in str(v or "").split(";") if g]
    return "、".join(t(f"hh.vuln.{g}", lang) for g in groups) if lang != "en" else ", ".join(
        t(f"hh.vuln.{g}", lang) for g in groups)


def render(answer: Mapping[str, Any], grid_name: str, op: str, lang: str, vulnerable: int | None = None) -> html.Div:
    """The card's body for one answer of the households API (and the count of vulnerable unreached)."""
    items = [h for h in answer.get("items") or [] if (h.get("status") or "unreached") == "unreached"]
    if vulnerable is None:
        vulnerable = sum(1 for h in items if h.get("vulnerable"))
    unreached = int(answer.get("unreached", len(items)))
    head = html.P(t("console.hh.summary", lang, grid=grid_name, total=answer.get("total", 0), unreached=unreached,
                    vulnerable=vulnerable), className="console-hint")
    out: list[Any] = [head]
    if not unreached:
        out.append(html.P(t("console.hh.all_reached", lang), className="console-hint"))
    else:
        shown = items[:LISTED]
        out.append(html.P(t("console.hh.shown", lang, n=len(shown)), className="console-hint"))
        one_grid = len({h.get("micro_grid") for h in shown}) <= 1  # a micro grid's own list: no grid column
        cols = tuple(c for c in ("household", "grid", "head", "phone", "address", "size", "vulnerable")
                     if not (one_grid and c == "grid"))
        out.append(html.Table([
            html.Thead(html.Tr([html.Th(t(f"console.hh.col.{c}", lang)) for c in cols])),
            html.Tbody([
                html.Tr([c for c in (
                    html.Td(str(h.get("code", ""))),
                    None if one_grid else html.Td(str(h.get("micro_grid", ""))),
                    html.Td(str(h.get("head") or "")),
                    html.Td(str(h.get("phone") or ""), className="console-hh-phone"),
                    html.Td(str(h.get("address") or "")),
                    html.Td(str(h.get("size") or "")),
                    html.Td(_vulnerable(h.get("vulnerable"), lang),
                            className="console-tag" if h.get("vulnerable") else ""),
                ) if c is not None], **_attrs({"data-household": str(h.get("code", "")),
                                               "data-vulnerable": "1" if h.get("vulnerable") else "0"}))
                for h in shown
            ]),
        ], className="console-table console-hh-table"))
    return html.Div(out, id="console-hh-body",
                    **_attrs({"data-op": op, "data-unreached": str(unreached), "data-vulnerable": str(vulnerable)}))


def _token(session: Any) -> str | None:
    return session.get("token") if isinstance(session, dict) else None


@callback(
    Output("console-hh-op", "options"),
    Output("console-hh-op", "value"),
    Input("console-scope", "data"),
    Input("console-interval", "n_intervals"),
    State("console-hh-op", "value"),
    State("session", "data"),
)
def _ops(scope: str | None, _n: Any, current: str | None, session: Any) -> Any:
    """The open operations over the scope; the chosen one is kept while it stays open."""
    token = _token(session)
    if not scope or not token:
        return [], None
    status, view = call_api("GET", f"/console/scope/{quote(scope)}", token)
    if status != 200:
        return [], None
    ops = [o for o in view.get("operations") or [] if o.get("state") == "open"]
    options = [{"label": str(o.get("name") or o.get("id")), "value": str(o.get("id"))} for o in ops]
    values = [o["value"] for o in options]
    return options, current if current in values else (values[0] if values else None)


@callback(
    Output("console-hh", "children"),
    Input("console-hh-op", "value"),
    Input("console-tick", "data"),
    Input("console-interval", "n_intervals"),
    State("console-scope", "data"),
    State("session", "data"),
    State("console-lang", "data"),
)
def _fill(op: str | None, _tick: Any, _n: Any, scope: str | None, session: Any, lang: str | None) -> Any:
    """The unreached households of the scope in the chosen operation."""
    lang = lang or "zh-CN"
    token = _token(session)
    if not scope or not token:
        return []
    if not op:
        return html.P(t("console.hh.none_op", lang), className="console-hint")
    path = f"/operations/{quote(op)}/households?grid={quote(scope)}&status=unreached"
    status, answer = call_api("GET", f"{path}&limit={LISTED}", token)
    if status != 200:
        reason = str((answer.get("error") or {}).get("message", f"HTTP {status}"))
        return html.P(t("console.hh.error", lang, reason=reason), className="console-error")
    _, vul = call_api("GET", f"{path}&vulnerable=1&limit=1", token)
    _, node = call_api("GET", f"/grids/{quote(scope)}", token)
    matched = vul.get("matched")
    return render(answer, str(node.get("name") or scope), op, lang, int(matched) if matched is not None else None)
