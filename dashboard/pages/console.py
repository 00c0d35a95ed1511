"""`/console`: the commander's console (desktop).

Pick a scope on the grid tree; switch it to wartime (incident, level, reason)
after a confirmation that shows — from a dry run of the same API call — how
many grids enter wartime, how many first small-grid leaders become temporary
secretaries and how many small grids are left vacant; fill vacancies with
acting secretaries; launch and close operations; acknowledge alerts; stand
down; mint a kiosk link for a wall.

Every callback goes through the HTTP API (`dashboard.api_field.call_api`, an
in-process request through the same handlers, token check and error mapping
as a request from the network) — there is no second path to the data, and no
decision is taken here. What the callbacks add is presentation: the answers
and the refusals in words a commander understands, in Chinese or English
(`explain`). A refused action changes nothing and says why; an expired session
sends the page back to its login form.

By concern: this module holds the frame, the session gate, the grid tree and the
results; `console_scope` the panels of the chosen scope, `console_actions` the
commands, `console_kiosk` the wall links, `console_kit` what they share and
`console_text` the words.
"""


from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from dashboard.components.console_households import households_card
from dashboard.components.console_mobilisation import mobilisation_card
from dashboard.components.drill_banner import card as drill_card
from dashboard.components.session import login_form, register_login
from dashboard.i18n import lang_of, t
from dashboard.pages import console_actions, console_scope  # noqa: F401  (their callbacks)
from dashboard.pages.console_kiosk import _kiosk_card
from dashboard.pages.console_kit import (
    DEFAULT_HOURS,
    PREFIX,
    REFRESH_MS,
    _attrs,
    _button,
    _card,
    _clock,
    _expired,
    _log,
    _radio,
    _token,
    api,
    explain,
)
from dashboard.pages.console_text import INCIDENTS, KINDS, LEVELS

dash.register_page(__name__, path="/console", title="战时指挥台 · Command console")

# -- layout ------------------------------------------------------------------------------


def _header(lang: str) -> html.Header:
    other = "en" if lang == "zh-CN" else "zh-CN"
    return html.Header(
        [
            html.Div([html.Div(t("console.title", lang), className="console-brand"),
                      html.Div(t("console.subtitle", lang), className="console-sub")]),
            html.Div(
                [
                    html.Span(id="console-user", className="console-user"),
                    dcc.Link(t("console.board", lang), href="/", className="console-toplink"),
                    dcc.Link(t("console.lang", lang), href=f"/console?lang={other}", className="console-toplink"),
                    _button(t("console.logout", lang), "console-logout", "logout", "ghost"),
                ],
                className="console-tools",
            ),
        ],
        className="console-top",
    )


def _side(lang: str) -> html.Aside:
    goto = html.Div(
        [
            dcc.Input(id="console-goto-code", type="text", placeholder=t("console.goto_ph", lang),
                      className="console-input", n_submit=0, debounce=False),
            _button(t("console.goto", lang), "console-goto", "goto", "ghost"),
        ],
        className="console-goto",
    )
    legend = html.Div(
        [
            html.Span([html.Span(className="console-dot console-dot-war"), t("wartime", lang)]),
            html.Span([html.Span(className="console-dot console-dot-partial"), t("console.legend.partial", lang)]),
            html.Span([html.Span(className="console-dot console-dot-peace"), t("peacetime", lang)]),
            html.Span([html.Span("n", className="console-badge console-badge-vac"), t("vacancy", lang)]),
        ],
        className="console-legend",
    )
    return html.Aside(
        [html.H2(t("console.tree", lang), className="console-side-title"), goto,
         html.Div(id="console-tree", className="console-tree", role="tree"), legend],
        className="console-side",
    )


def _confirm_box(lang: str) -> html.Div:
    buttons = html.Div(
        [
            _button(t("console.confirm", lang), "console-confirm-yes", "confirm", "danger"),
            _button(t("console.cancel", lang), "console-confirm-no", "cancel", "ghost"),
        ],
        className="console-row",
    )
    return html.Div([html.Div(id="console-confirm-text"), buttons], id="console-confirm-box",
                    className="console-confirm", style={"display": "none"}, role="alertdialog")


def _label(key: str, lang: str, for_: str | None = None) -> html.Label:
    return html.Label(t(key, lang), className="console-label", htmlFor=for_)


def _mode_card(lang: str) -> html.Section:
    levels = [(lv, t(f"level.{lv}", lang)) for lv in LEVELS]
    switch = html.Div(
        [
            html.H4(t("console.switch", lang), className="console-h4"),
            _label("console.incident", lang),
            _radio("console-incident", [(i, t(i, lang)) for i in INCIDENTS], "epidemic"),
            _label("console.level", lang),
            _radio("console-level", levels, "IV"),
            _label("console.reason", lang, "console-reason"),
            dcc.Textarea(id="console-reason", className="console-textarea", maxLength=2000,
                         placeholder=t("console.reason_ph", lang)),
            _button(t("console.preview", lang), "console-war-preview", "switch-preview", "danger"),
        ],
        id="console-war-form",
        style={"display": "none"},
    )
    wartime = html.Div(
        [
            html.H4(t("console.change_level", lang), className="console-h4"),
            _radio("console-level-new", levels, "IV"),
            _button(t("console.apply_level", lang), "console-level-apply", "change-level", "ghost"),
            html.H4(t("console.stand_down", lang), className="console-h4"),
            html.P(t("console.stand_down_hint", lang), className="console-hint"),
            _button(t("console.stand_down", lang), "console-standdown", "stand-down", "ghost"),
        ],
        id="console-war-actions",
        style={"display": "none"},
    )
    return _card(t("console.mode", lang), html.Div(id="console-mode-status"), switch, wartime,
                 id_="console-mode-card")


def _ops_card(lang: str) -> html.Section:
    name = html.Div(
        [
            _label("console.op_name", lang, "console-op-name"),
            dcc.Input(id="console-op-name", type="text", className="console-input", maxLength=200,
                      placeholder=t("console.op_name_ph", lang)),
        ],
        className="console-field-grow",
    )
    hours = html.Div(
        [
            _label("console.hours", lang, "console-hours"),
            dcc.Input(id="console-hours", type="number", min=1, step=1, value=DEFAULT_HOURS,
                      className="console-input console-input-num"),
        ]
    )
    due = html.Div(
        [
            _label("console.deadline_pick", lang, "console-deadline-day"),
            html.Div([
                dcc.DatePickerSingle(id="console-deadline-day", display_format="YYYY-MM-DD",
                                     first_day_of_week=1, className="console-date"),
                dcc.Input(id="console-deadline-time", type="text", pattern="[0-2][0-9]:[0-5][0-9]", maxLength=5,
                          placeholder="HH:MM", debounce=True, className="console-input console-input-time",
                          **_attrs({"name": "deadline-time"})),
            ], className="console-row console-when"),
        ]
    )
    launch = html.Div(
        [
            html.H4(t("console.launch", lang), className="console-h4"),
            _label("console.kind", lang),
            _radio("console-kind", [(k, t(k, lang)) for k in KINDS], "mass_testing"),
            html.Div([name, hours, due], className="console-row console-row-fields"),
            html.Div(id="console-deadline", className="console-hint"),
            _label("console.targets", lang),
            html.Div(id="console-targets", className="console-targets"),
            _button(t("console.launch_btn", lang), "console-launch", "launch", "primary"),
        ],
        id="console-launch-wrap",
        className="console-launch",
        style={"display": "none"},
    )
    return _card(t("console.operations", lang), html.Div(id="console-ops"), launch,
                 html.P(id="console-launch-hint", className="console-hint"), id_="console-ops-card")



def _people_card(lang: str) -> html.Section:
    tools = html.Div(
        [
            dcc.Input(id="console-vac-q", type="search", debounce=True, placeholder=t("console.vac.search_ph", lang),
                      className="console-input console-vac-q", **_attrs({"name": "vacancy-search"})),
            _button(t("console.vac.prev", lang), "console-vac-prev", "vacancies-prev", "ghost"),
            _button(t("console.vac.next", lang), "console-vac-next", "vacancies-next", "ghost"),
        ],
        id="console-vac-tools", className="console-vac-tools", style={"display": "none"},
    )
    return _card(t("console.people", lang), tools, html.Div(id="console-people"), id_="console-people-card")


def columns(lang: str) -> tuple[list[Any], list[Any]]:
    """The cards of the two columns, top to bottom: a new card goes in here (its content wrapped by
    `console_scope.panel`, stamped with the scope it shows)."""
    left = [_mode_card(lang), _people_card(lang), mobilisation_card(lang)]
    alerts = _card(t("console.alerts", lang), html.Div(id="console-alerts"), id_="console-alerts-card")
    right = [_ops_card(lang), alerts, households_card(lang), _kiosk_card(lang), drill_card(lang)]
    return left, right


def layout(lang: str | None = None, scope: str | None = None, **_: Any) -> html.Div:
    """The console frame; callbacks fill the tree and the panels for the chosen scope."""
    explicit = lang if lang in ("zh-CN", "en") else None
    lang = lang_of(lang)
    stores = [
        dcc.Store(id="console-lang", data=lang),
        dcc.Store(id="console-lang-query", data=explicit),
        dcc.Store(id="console-scope", data=scope),
        dcc.Store(id="console-expanded", data=[]),
        dcc.Store(id="console-tick", data=0),
        dcc.Store(id="console-confirm", data=None),
        dcc.Store(id="console-log", data=[]),
        dcc.Store(id="console-auth", data=None),
        dcc.Store(id="console-view", data=None),
        dcc.Store(id="console-vac-page", data=None),
        dcc.Store(id="console-kiosk-token", data=None),
        dcc.Store(id="console-kiosk-rev", data=0),
        dcc.Interval(id="console-interval", interval=REFRESH_MS),
    ]
    body = html.Section(
        [
            _confirm_box(lang),
            html.Div(id="console-result", className="console-result", role="status", **_attrs({"aria-live": "polite"})),
            html.Div([html.Div(id="console-head", className="console-head"),
                      html.Div([html.Div(col, className="console-col") for col in columns(lang)],
                               className="console-grid")],
                     id="console-panels", className="console-panels"),
        ],
        className="console-body",
    )
    return html.Div(
        [
            *stores,
            _header(lang),
            html.Div(login_form(PREFIX, lang), id="console-login-wrap", className="console-login-wrap",
                     style={"display": "none"}),
            html.Div([_side(lang), body], id="console-main", className="console-main", style={"display": "none"}),
        ],
        id="console-root",
        className="console-page",
        lang=lang,
    )


register_login(PREFIX)


# -- session gate ------------------------------------------------------------------------


@callback(
    Output("console-login-wrap", "style"),
    Output("console-main", "style"),
    Output("console-user", "children"),
    Output("console-logout", "style"),
    Output("console-scope", "data", allow_duplicate=True),
    Output("console-expanded", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input("session", "data"),
    State("console-scope", "data"),
    State("console-expanded", "data"),
    State("console-lang", "data"),
    prevent_initial_call="initial_duplicate",
)
def _gate(session: Any, scope: str | None, expanded: list[str] | None, lang: str) -> Any:
    """Login form or console, by the session the app shell keeps (outputs on this page only)."""
    show, hide = {"display": "block"}, {"display": "none"}
    if not _token(session):
        return show, hide, "", hide, no_update, no_update, no_update
    status, me = api("GET", "/me", session)
    if status != 200:
        return show, hide, "", hide, no_update, no_update, _expired(status)
    role = str(me.get("role"))
    user = [html.Strong(str(me.get("username"))), html.Span(f" · {t(role, lang)} · {me.get('scope')}")]
    root = str(me.get("scope") or "")
    new_scope = scope or root
    if scope and root:
        s2, _ = api("GET", f"/console/tree/{scope}", session)
        if s2 != 200:
            new_scope = root
    open_ = list(expanded or [])
    if root and root not in open_:
        open_.insert(0, root)
    return hide, {"display": "grid"}, user, {}, new_scope, open_, no_update


@callback(
    Output("session", "data", allow_duplicate=True),
    Output("console-login-error", "children", allow_duplicate=True),
    Input("console-auth", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _expire(auth: Any, lang: str) -> Any:
    """An expired or revoked token: forget it and say so on the login form."""
    if not auth:
        return no_update, no_update
    return None, t("console.err.expired", lang)


@callback(
    Output("session", "data", allow_duplicate=True),
    Input("console-logout", "n_clicks"),
    State("session", "data"),
    prevent_initial_call=True,
)
def _logout(n: int, session: Any) -> Any:
    """Revoke the token on the server, then forget it here."""
    if not n:
        return no_update
    api("DELETE", "/session", session)
    return None


# -- tree --------------------------------------------------------------------------------


def _node_row(node: Mapping[str, Any], lang: str, *, selected: str | None, open_: bool) -> html.Div:
    code = str(node["code"])
    war = node.get("wartime", 0)
    total = node.get("grids", 1)
    mode = "war" if war and war == total else ("partial" if war else "peace")
    has_kids = bool(node.get("children"))
    badges: list[Any] = []
    if node.get("vacancies"):
        badges.append(html.Span(str(node["vacancies"]), title=f"{t('vacancy', lang)} {node['vacancies']}",
                                className="console-badge console-badge-vac"))
    return html.Div(
        [
            html.Button("▾" if open_ else "▸", id={"type": "console-toggle", "code": code}, n_clicks=0,
                        className="console-twisty", disabled=not has_kids,
                        **_attrs({"aria-label": code, "aria-expanded": "true" if open_ else "false"})),
            html.Button(
                [
                    html.Span(className=f"console-dot console-dot-{mode}"),
                    html.Span(str(node["name"]), className="console-node-name"),
                    html.Span(t(str(node["grid_level"]), lang), className="console-node-level"),
                    *badges,
                ],
                id={"type": "console-pick", "code": code},
                n_clicks=0,
                className="console-node-btn",
                title=code,
                **_attrs({"data-code": code, "data-mode": mode}),
            ),
        ],
        className="console-node" + (" console-node-on" if code == selected else ""),
        role="treeitem",
    )


@callback(
    Output("console-tree", "children"),
    Input("console-expanded", "data"),
    Input("console-scope", "data"),
    Input("console-tick", "data"),
    State("session", "data"),
    State("console-lang", "data"),
)
def _tree(expanded: list[str] | None, scope: str | None, _: int, session: Any, lang: str) -> Any:
    """The tree from the top of the caller's scope, opened where the commander opened it."""
    root = session.get("scope") if isinstance(session, dict) else None
    if not _token(session) or not root:
        return []
    open_set = set(expanded or [])
    status, top = api("GET", f"/console/tree/{root}", session)
    if status != 200:
        return html.P(explain("tree", status, top, lang), className="console-error")

    def branch(node: Mapping[str, Any], children: list[Mapping[str, Any]] | None) -> html.Div:
        code = str(node["code"])
        is_open = code in open_set and bool(node.get("children"))
        parts: list[Any] = [_node_row(node, lang, selected=scope, open_=is_open)]
        if is_open:
            if children is None:
                s, data = api("GET", f"/console/tree/{code}", session)
                children = data.get("children", []) if s == 200 else []
            parts.append(html.Div([branch(k, None) for k in children], className="console-branch", role="group"))
        return html.Div(parts)

    return branch(top["node"], top["children"])


@callback(
    Output("console-expanded", "data", allow_duplicate=True),
    Input({"type": "console-toggle", "code": ALL}, "n_clicks"),
    State("console-expanded", "data"),
    prevent_initial_call=True,
)
def _toggle(_: list[int], expanded: list[str] | None) -> Any:
    """Open or close one branch."""
    trig = ctx.triggered[0] if ctx.triggered else None
    if not trig or not trig.get("value") or not isinstance(ctx.triggered_id, Mapping):
        return no_update
    code = str(ctx.triggered_id["code"])
    open_ = list(expanded or [])
    return [c for c in open_ if c != code] if code in open_ else [*open_, code]


@callback(
    Output("console-scope", "data", allow_duplicate=True),
    Output("console-expanded", "data", allow_duplicate=True),
    Output("console-log", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input({"type": "console-pick", "code": ALL}, "n_clicks"),
    Input({"type": "console-crumb", "code": ALL}, "n_clicks"),
    Input("console-goto", "n_clicks"),
    Input("console-goto-code", "n_submit"),
    State("console-goto-code", "value"),
    State("console-expanded", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _pick(_: Any, __: Any, ___: Any, ____: Any, code_typed: str | None, expanded: list[str] | None,
          session: Any, lang: str) -> Any:
    """Choose a scope from the tree, the breadcrumbs or a typed code; open the tree down to it."""
    trig = ctx.triggered[0] if ctx.triggered else None
    if not trig or not trig.get("value"):
        return no_update, no_update, no_update, no_update
    tid = ctx.triggered_id
    code = str(tid["code"]) if isinstance(tid, Mapping) else (code_typed or "").strip()
    if not code:
        return no_update, no_update, no_update, no_update
    status, data = api("GET", f"/console/tree/{code}", session)
    if status != 200:
        return no_update, no_update, _log(False, explain("tree", status, data, lang)), _expired(status)
    open_ = list(expanded or [])
    for p in data.get("path", []):
        if p["code"] not in open_:
            open_.append(p["code"])
    return code, open_, no_update, no_update



@callback(
    Output("console-result", "children"),
    Input("console-log", "data"),
    State("console-lang", "data"),
)
def _results(entries: list[dict[str, Any]] | None, lang: str) -> Any:
    """The latest result in full, and a few before it."""
    if not entries:
        return html.Div(t("console.nothing_yet", lang), className="console-result-empty")
    first, rest = entries[0], entries[1:5]
    return [
        html.Div([html.Span(_clock(first.get("at"), with_date=False), className="console-result-time"),
                  html.Span(str(first.get("text", "")))],
                 className="console-result-main " + ("console-ok" if first.get("ok") else "console-bad"),
                 **_attrs({"data-result": "ok" if first.get("ok") else "error"})),
        html.Ul([
            html.Li([html.Span(_clock(e.get("at"), with_date=False), className="console-result-time"),
                     html.Span(str(e.get("text", "")))],
                    className="console-ok" if e.get("ok") else "console-bad")
            for e in rest
        ], className="console-result-older") if rest else None,
    ]


clientside_callback(
    """
    function (query, stored) {
        var nu = window.dash_clientside.no_update;
        if (query) { return [query, nu]; }
        if (stored && stored !== 'zh-CN') { return [nu, '?lang=' + stored]; }
        return [nu, nu];
    }
    """,
    Output("lang", "data", allow_duplicate=True),
    Output("url", "search", allow_duplicate=True),
    Input("console-lang-query", "data"),
    State("lang", "data"),
    prevent_initial_call="initial_duplicate",
)
