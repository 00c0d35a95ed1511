"""The console's panels of the chosen scope: header, mode, secretaries, live progress, launch form."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from command.operations import COUNTERS
from dashboard.i18n import t
from dashboard.pages.console_kit import (
    REGISTRY_DEFAULT,
    _attrs,
    _clock,
    _expired,
    _level_label,
    _n,
    _token,
    api,
    explain,
)

# -- scope panels -----------------------------------------------------------------------


def _stat(label: str, value: Any, kind: str = "") -> html.Div:
    return html.Div([html.Div(_n(value), className="console-stat-n"), html.Div(label, className="console-stat-l")],
                    className=f"console-stat {kind}".strip(), **_attrs({"data-stat": kind or label}))


def _mode_badge(g: Mapping[str, Any], lang: str) -> html.Span:
    war, total = g.get("wartime", 0), g.get("grids", 1)
    if war and war == total:
        incident = t(str(g.get("incident") or "other"), lang)
        text = f"{t('wartime', lang)} · {incident} · {_level_label(g.get('level'), lang)}"
        return html.Span(text, className="console-mode console-mode-war", **_attrs({"data-mode": "wartime"}))
    if war:
        return html.Span(t("console.partial", lang, n=war, total=total), className="console-mode console-mode-partial",
                         **_attrs({"data-mode": "partial"}))
    return html.Span(t("peacetime", lang), className="console-mode console-mode-peace",
                     **_attrs({"data-mode": "peacetime"}))


def _people(view: Mapping[str, Any], lang: str) -> list[Any]:
    g = view["grid"]
    can = bool(view.get("can_command"))
    if not g.get("wartime") and not view.get("secretaries_total") and not view.get("vacancies_total"):
        return [html.P(t("console.people.peace", lang), className="console-hint")]
    out: list[Any] = [html.H4(t("console.vacancies", lang, n=view.get("vacancies_total", 0)), className="console-h4")]
    vac = view.get("vacancies") or []
    if not vac:
        out.append(html.P(t("console.no_vacancies", lang), className="console-ok-note"))
    rows = []
    for v in vac:
        grid = str(v["grid"])
        rows.append(html.Div(
            [
                html.Div([html.Div(str(v["name"]), className="console-strong"),
                          html.Div(f"{v.get('parent_name') or ''} · {grid}", className="console-small")],
                         className="console-vac-name"),
                *([dcc.Input(id={"type": "console-person", "grid": grid}, type="text", maxLength=100,
                             placeholder=t("console.person_ph", lang), className="console-input",
                             **_attrs({"name": "person"})),
                   html.Button(t("console.appoint", lang), id={"type": "console-appoint", "grid": grid}, n_clicks=0,
                               className="console-btn console-btn-primary",
                               **_attrs({"data-action": "appoint", "data-grid": grid}))] if can else []),
            ],
            className="console-vac",
            **_attrs({"data-vacancy": grid}),
        ))
    out.extend(rows)
    more = int(view.get("vacancies_total", 0)) - len(vac)
    if more > 0:
        out.append(html.P(t("console.more", lang, n=more), className="console-hint"))
    secs = view.get("secretaries") or []
    out.append(html.H4(t("console.secretaries", lang, n=view.get("secretaries_total", 0)), className="console-h4"))
    out.append(html.Table(
        html.Tbody([
            html.Tr([
                html.Td(str(s["person"]), className="console-strong"),
                html.Td(html.Span(t("console.acting", lang), className="console-tag") if s.get("acting") else ""),
                html.Td(str(s["name"])),
                html.Td(t("console.since", lang, t=_clock(s.get("since"))), className="console-small"),
            ], **_attrs({"data-secretary": str(s["grid"]), "data-acting": "1" if s.get("acting") else "0"}))
            for s in secs
        ]),
        className="console-table",
    ))
    more = int(view.get("secretaries_total", 0)) - len(secs)
    if more > 0:
        out.append(html.P(t("console.more", lang, n=more), className="console-hint"))
    return out


@callback(
    Output("console-head", "children"),
    Output("console-mode-status", "children"),
    Output("console-war-form", "style"),
    Output("console-war-actions", "style"),
    Output("console-people", "children"),
    Output("console-launch-wrap", "style"),
    Output("console-launch-hint", "children"),
    Output("console-kiosk-card", "style"),
    Output("console-view", "data"),
    Output("console-level-new", "value"),
    Output("console-auth", "data", allow_duplicate=True),
    Input("console-scope", "data"),
    Input("console-tick", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call="initial_duplicate",
)
def _scope(scope: str | None, _: int, session: Any, lang: str) -> Any:
    """The chosen scope: its header, mode, secretaries and vacancies, and which actions apply."""
    hide, show = {"display": "none"}, {"display": "block"}
    if not scope or not _token(session):
        return [], [], hide, hide, [], hide, "", hide, None, no_update, no_update
    status, view = api("GET", f"/console/scope/{scope}", session)
    if status != 200:
        msg = html.P(explain("scope", status, view, lang), className="console-error")
        return msg, [], hide, hide, [], hide, "", hide, None, no_update, _expired(status)
    status2, node = api("GET", f"/console/tree/{scope}", session)
    path = node.get("path", []) if status2 == 200 else []
    g = view["grid"]
    can = bool(view.get("can_command"))
    role = session.get("role") if isinstance(session, dict) else None
    war, total = int(g.get("wartime", 0)), int(g.get("grids", 1))
    crumbs: list[Any] = []
    for i, p in enumerate(path):
        if i:
            crumbs.append(html.Span("›", className="console-crumb-sep"))
        crumbs.append(html.Button(str(p["name"]), id={"type": "console-crumb", "code": p["code"]}, n_clicks=0,
                                  className="console-crumb"))
    notes: list[Any] = []
    if not can:
        notes.append(html.Div(t("console.readonly", lang), className="console-note"))
        if role == "leader":
            notes.append(html.Div([t("console.leader_hint", lang), " ",
                                   dcc.Link(t("console.field_link", lang), href="/field")], className="console-note"))
    head = [
        html.Div(crumbs, className="console-crumbs"),
        html.Div(
            [
                html.H1(str(g["name"]), className="console-scope-name", **_attrs({"data-scope": str(g["code"])})),
                html.Span(str(g["code"]), className="console-code"),
                html.Span(t(str(g["grid_level"]), lang), className="console-tag"),
                _mode_badge(g, lang),
            ],
            className="console-scope-line",
        ),
        html.Div(
            [
                _stat(t("console.stat.grids", lang), total, "grids"),
                _stat(t("console.stat.wartime", lang), war, "wartime"),
                _stat(t("console.stat.secretaries", lang), g.get("secretaries"), "secretaries"),
                _stat(t("console.stat.vacancies", lang), g.get("vacancies"), "vacancies"),
                _stat(t("console.stat.population", lang), g.get("population"), "population"),
            ],
            className="console-stats",
        ),
        *notes,
    ]
    if war == total:
        status_line = t("console.mode.war", lang, since=_clock(g.get("since")))
    elif war:
        status_line = t("console.mode.partial", lang)
    else:
        status_line = t("console.mode.peace", lang)
    mode_status = html.Div([_mode_badge(g, lang), html.P(status_line, className="console-hint")],
                           className="console-mode-line")
    war_form = show if can and war < total else hide
    war_actions = show if can and war else hide
    launch = show if can and war == total else hide
    hint = "" if not can or war == total else t("console.launch_hint", lang)
    kiosk = show if can else hide
    return (head, mode_status, war_form, war_actions, _people(view, lang), launch, hint, kiosk, view,
            g.get("level") or no_update, no_update)


def _progress(op: Mapping[str, Any], lang: str) -> list[Any]:
    rows = []
    for c in op.get("counters", []):
        n = int((op.get("totals") or {}).get(c, 0))
        target = (op.get("targets") or {}).get(c)
        pct = min(100, round(100 * n / target)) if isinstance(target, int) and target > 0 else None
        rows.append(html.Div(
            [
                html.Div([html.Span(t(c, lang)),
                          html.Span([html.Strong(_n(n)), f" / {_n(target)}" if target is not None else "",
                                     html.Span(f"{pct}%", className="console-pct") if pct is not None else None],
                                    className="console-num")],
                         className="console-prog-head"),
                html.Div(html.Div(className="console-bar-fill", style={"width": f"{pct or 0}%"}),
                         className="console-bar") if pct is not None else None,
            ],
            className="console-prog",
            **_attrs({"data-counter": c, "data-value": str(n)}),
        ))
    return rows


@callback(
    Output("console-ops", "children"),
    Output("console-alerts", "children"),
    Input("console-view", "data"),
    Input("console-interval", "n_intervals"),
    State("console-scope", "data"),
    State("session", "data"),
    State("console-lang", "data"),
)
def _live(view: Mapping[str, Any] | None, n: int | None, scope: str | None, session: Any, lang: str) -> Any:
    """Operations with their progress, and open alerts; refreshed every few seconds."""
    if ctx.triggered_id == "console-interval" or view is None:
        if not scope or not _token(session):
            return [], []
        status, fresh = api("GET", f"/console/scope/{scope}", session)
        if status != 200:
            return no_update, no_update
        view = fresh
    can = bool(view.get("can_command"))
    now = int(view.get("server_time") or time.time() * 1000)
    ops: list[Any] = []
    for op in view.get("operations", []):
        is_open = op.get("state") == "open"
        meta = [t(str(op["kind"]), lang), str(op.get("scope_name") or op["scope"])]
        if op.get("deadline"):
            late = is_open and int(op["deadline"]) < now
            due = t("console.op.due", lang, t=_clock(op["deadline"]))
            meta.append(f"{due} · {t('console.op.overdue', lang)}" if late else due)
        if op.get("at") != op.get("scope"):
            meta.append(t("console.op.here", lang, name=str(op.get("at_name"))))
        ops.append(html.Div(
            [
                html.Div(
                    [
                        html.Div([html.Span(str(op["name"]), className="console-op-name"),
                                  html.Span(t("console.op.open" if is_open else "console.op.closed", lang),
                                            className=f"console-state console-state-{op.get('state')}")]),
                        html.Button(t("console.close_op", lang), id={"type": "console-close", "op": op["id"]},
                                    n_clicks=0, className="console-btn console-btn-ghost console-btn-sm",
                                    **_attrs({"data-action": "close-operation", "data-op": op["id"]}))
                        if is_open and can else None,
                    ],
                    className="console-op-top",
                ),
                html.Div(" · ".join(meta), className="console-small"),
                *_progress(op, lang),
            ],
            className="console-op" + ("" if is_open else " console-op-closed"),
            **_attrs({"data-operation": op["id"], "data-state": op.get("state")}),
        ))
    if not ops:
        ops = [html.P(t("console.no_operations", lang), className="console-hint")]
    alerts: list[Any] = []
    for a in view.get("alerts", []):
        kind = str(a["kind"])
        acked = a.get("acked_by")
        alerts.append(html.Div(
            [
                html.Div([
                    html.Span(t(f"console.alert.{kind}", lang), className=f"console-alert-kind console-alert-{kind}"),
                    html.Span(str(a.get("grid_name") or a["grid"]), className="console-strong"),
                    html.Span(f" · {a['operation_name']}" if a.get("operation_name") else "",
                              className="console-small"),
                ]),
                html.Div([
                    html.Span(_clock(a.get("raised_at")), className="console-small"),
                    html.Span(t("console.acked_by", lang, who=acked), className="console-small console-acked")
                    if acked else (
                        html.Button(t("console.ack", lang), id={"type": "console-ack", "alert": a["id"]}, n_clicks=0,
                                    className="console-btn console-btn-primary console-btn-sm",
                                    **_attrs({"data-action": "ack-alert", "data-alert": a["id"]})) if can else None),
                ], className="console-alert-side"),
            ],
            className="console-alert" + (" console-alert-acked" if acked else ""),
            **_attrs({"data-alert": a["id"]}),
        ))
    more = int(view.get("alerts_total", 0)) - len(view.get("alerts", []))
    if more > 0:
        alerts.append(html.P(t("console.more", lang, n=more), className="console-hint"))
    if not alerts:
        alerts = [html.P(t("console.no_alerts", lang), className="console-ok-note")]
    return ops, alerts


@callback(
    Output("console-targets", "children"),
    Input("console-kind", "value"),
    Input("console-view", "data"),
    State("console-lang", "data"),
)
def _targets(kind: str | None, view: Mapping[str, Any] | None, lang: str) -> Any:
    """One target field per counter of the chosen kind, showing the registry default."""
    g = (view or {}).get("grid") or {}
    out = []
    for c in COUNTERS.get(kind or "", ()):
        col = REGISTRY_DEFAULT.get(c)
        ph = (t("console.target_default", lang, n=_n(g.get(col)), col=t(f"console.col.{col}", lang))
              if col else t("console.target_none", lang))
        out.append(html.Label([
            html.Span(t(c, lang), className="console-target-l"),
            dcc.Input(id={"type": "console-target", "counter": c}, type="number", min=0, step=1, placeholder=ph,
                      className="console-input console-input-num"),
        ], className="console-target"))
    return out


@callback(
    Output("console-deadline", "children"),
    Input("console-hours", "value"),
    State("console-lang", "data"),
)
def _deadline(hours: Any, lang: str) -> Any:
    """The deadline the time limit gives, as a clock time."""
    if not isinstance(hours, (int, float)) or hours <= 0:
        return ""
    return t("console.deadline_at", lang, t=_clock(int(time.time() * 1000 + hours * 3_600_000)))
