"""The console's panels of the chosen scope: header, mode, secretaries, live progress, launch form."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from command.localtime import local_datetime, local_minute, parse_instant
from command.operations import COUNTERS
from dashboard.components.console_mobilisation import fetch, mobilisation
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
    total, matched = int(view.get("vacancies_total", 0)), int(view.get("vacancies_matched", len(vac)))
    if not total:
        out.append(html.P(t("console.no_vacancies", lang), className="console-ok-note"))
    elif not vac:
        out.append(html.P(t("console.vac.none_match", lang, q=str(view.get("vacancies_query") or "")),
                          className="console-hint"))
    else:
        first = int(view.get("vacancies_offset") or 0) + 1
        key = "console.vac.range_found" if view.get("vacancies_query") else "console.vac.range"
        out.append(html.P(t(key, lang, a=_n(first), b=_n(first + len(vac) - 1), m=_n(matched), n=_n(total)),
                          className="console-hint console-vac-range",
                          **_attrs({"data-vac-range": f"{first}-{first + len(vac) - 1}", "data-matched": str(matched),
                                    "data-total": str(total)})))
    rows = []
    for v in vac:
        grid = str(v["grid"])
        rows.append(html.Div(
            [
                html.Div([html.Div(str(v["name"]), className="console-strong"),
                          html.Div(" · ".join(str(x) for x in (v.get("town_name"), v.get("parent_name"), grid) if x),
                                   className="console-small")],
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
    secs = (view.get("secretaries") or [])[:SECRETARIES_LISTED]
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


PANELS = ("head", "mode", "people", "ops", "alerts", "mob")
"""The panels the scope callback fills together: each carries ``data-panel-scope`` of the scope it shows."""

SECRETARIES_LISTED = 50
"""Secretaries listed in the people card (the count above the list is exact)."""

VAC_PAGE = 50
"""Vacancies listed per page in the people card (search and paging find the rest)."""


def panel(name: str, scope: str, children: Any) -> html.Div:
    """A panel's content stamped with the scope it shows (a card added later wraps its content the same way)."""
    return html.Div(children, className="console-panel", **_attrs({"data-panel": name, "data-panel-scope": scope}))


@callback(
    Output("console-vac-page", "data"),
    Input("console-vac-prev", "n_clicks"),
    Input("console-vac-next", "n_clicks"),
    State("console-view", "data"),
    prevent_initial_call=True,
)
def _vac_page(_: Any, __: Any, view: Any) -> Any:
    """A page of vacancies on or back from the one on screen, for the scope and search on screen."""
    if not view or not (ctx.triggered and ctx.triggered[0].get("value")):
        return no_update
    at, matched = int(view.get("vacancies_offset") or 0), int(view.get("vacancies_matched") or 0)
    if ctx.triggered_id == "console-vac-next":
        at = at + VAC_PAGE if at + VAC_PAGE < matched else at
    else:
        at = max(0, at - VAC_PAGE)
    return {"scope": (view.get("grid") or {}).get("code"), "q": view.get("vacancies_query") or "", "offset": at}


def _vac_offset(page: Any, scope: str, query: str) -> int:
    """Where the vacancy page starts: the page chosen for this scope and search, else the first."""
    if isinstance(page, dict) and page.get("scope") == scope and page.get("q") == query:
        return max(0, int(page.get("offset") or 0))
    return 0


def _same(old: Any, new: Mapping[str, Any]) -> bool:
    """Whether a refreshed view says what the one on screen says (its clock aside)."""
    if not isinstance(old, dict):
        return False
    return {k: v for k, v in old.items() if k != "server_time"} == {k: v for k, v in new.items()
                                                                    if k != "server_time"}


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
    Output("console-ops", "children"),
    Output("console-alerts", "children"),
    Output("console-mob", "children"),
    Output("console-vac-tools", "style"),
    Output("console-panels", "className", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input("console-scope", "data"),
    Input("console-tick", "data"),
    Input("console-interval", "n_intervals"),
    Input("console-vac-q", "value"),
    Input("console-vac-page", "data"),
    State("console-view", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call="initial_duplicate",
)
def _scope(scope: str | None, _: int, __: Any, vq: str | None, vpage: Any, old: Any, session: Any,
           lang: str) -> Any:
    """Every panel of the chosen scope from one view, in one answer: none ever shows another scope.

    Header, mode, secretaries and vacancies (searched and paged), operations with
    progress, alerts and mobilisation change together on a scope change, an
    action (tick) and the refresh interval.
    """
    hide, show = {"display": "none"}, {"display": "block"}
    grid_class = "console-panels"
    if not scope or not _token(session):
        return [], [], hide, hide, [], hide, "", hide, None, no_update, [], [], [], hide, grid_class, no_update
    words = (vq or "").strip()
    offset = _vac_offset(vpage, scope, words)
    query = urlencode({"vq": words, "voffset": offset, "vlimit": VAC_PAGE})
    status, view = api("GET", f"/console/scope/{scope}?{query}", session)
    if status != 200:
        if ctx.triggered_id == "console-interval":
            return (*([no_update] * 15), no_update)
        msg = html.P(explain("scope", status, view, lang), className="console-error")
        return msg, [], hide, hide, [], hide, "", hide, None, no_update, [], [], [], hide, grid_class, \
            _expired(status)
    view["mobilisation"] = fetch(scope, session)
    if ctx.triggered_id == "console-interval" and _same(old, view):
        return (*([no_update] * 15), no_update)  # nothing moved: no render, nothing replaced under the pointer
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
    ops, alerts = _live(view, lang)
    code = str(g["code"])
    has_people = bool(g.get("wartime") or view.get("secretaries_total") or view.get("vacancies_total"))
    return (panel("head", code, head), panel("mode", code, mode_status), war_form, war_actions,
            panel("people", code, _people(view, lang)), launch, hint, kiosk, view, g.get("level") or no_update,
            panel("ops", code, ops), panel("alerts", code, alerts),
            panel("mob", code, mobilisation(view["mobilisation"], session, lang)),
            {"display": "flex"} if has_people and view.get("vacancies_total") else hide, grid_class, no_update)


clientside_callback(
    """
    function (scope) { return 'console-panels console-stale'; }
    """,
    Output("console-panels", "className", allow_duplicate=True),
    Input("console-scope", "data"),
    prevent_initial_call=True,
)
"""A new scope dims every panel at once (``.console-stale``) until the one answer above replaces them all."""


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


def _op_row(op: Mapping[str, Any], can: bool, now: int, lang: str) -> html.Div:
    """One operation: name and state, where and until when, its progress here, and the close buttons that apply.

    An operation over several towns seen from one of them offers to close that
    town's part (the county's or the town's commander); once closed, the part shows
    its frozen totals while the operation goes on elsewhere.
    """
    is_open = op.get("state") == "open"
    part, part_closed = op.get("part"), op.get("part_closed_at")
    state = "part_closed" if is_open and part_closed else str(op.get("state"))
    meta = [t(str(op["kind"]), lang), str(op.get("scope_name") or op["scope"])]
    if op.get("deadline"):
        late = is_open and int(op["deadline"]) < now
        due = t("console.op.due", lang, t=_clock(op["deadline"]))
        meta.append(f"{due} · {t('console.op.overdue', lang)}" if late else due)
    if op.get("at") != op.get("scope"):
        meta.append(t("console.op.here", lang, name=str(op.get("at_name"))))
    closed_parts = op.get("closed_parts") or {}
    if closed_parts:
        meta.append(t("console.op.parts_closed", lang, n=len(closed_parts)))
    label = (t("console.op.part_closed", lang, town=str(op.get("part_name")), t=_clock(part_closed))
             if state == "part_closed" else t("console.op.open" if is_open else "console.op.closed", lang))
    buttons: list[Any] = []
    if is_open and can and part and not part_closed and op.get("at") != op.get("scope"):
        buttons.append(html.Button(t("console.close_part", lang, town=str(op.get("part_name"))),
                                   id={"type": "console-close-part", "op": op["id"]}, n_clicks=0,
                                   className="console-btn console-btn-ghost console-btn-sm",
                                   **_attrs({"data-action": "close-part", "data-op": op["id"],
                                             "data-town": str(part)})))
    if is_open and op.get("can_close", can):
        buttons.append(html.Button(t("console.close_op", lang), id={"type": "console-close", "op": op["id"]},
                                   n_clicks=0, className="console-btn console-btn-ghost console-btn-sm",
                                   **_attrs({"data-action": "close-operation", "data-op": op["id"]})))
    return html.Div(
        [
            html.Div(
                [
                    html.Div([html.Span(str(op["name"]), className="console-op-name"),
                              html.Span(label, className=f"console-state console-state-{state}")]),
                    html.Div(buttons, className="console-row") if buttons else None,
                ],
                className="console-op-top",
            ),
            html.Div(" · ".join(meta), className="console-small"),
            *_progress(op, lang),
        ],
        className="console-op" + ("" if state == "open" else " console-op-closed"),
        **_attrs({"data-operation": op["id"], "data-state": state}),
    )


def _alert_row(a: Mapping[str, Any], can: bool, lang: str) -> html.Div:
    kind = str(a["kind"])
    acked = a.get("acked_by")
    pick = (dcc.Checklist(id={"type": "console-alert-pick", "alert": a["id"]},
                          options=[{"label": "", "value": a["id"]}], value=[], className="console-alert-pick")
            if can and not acked else None)
    return html.Div(
        [
            html.Div([
                pick,
                html.Span(t(f"console.alert.{kind}", lang), className=f"console-alert-kind console-alert-{kind}"),
                html.Span(str(a.get("grid_name") or a["grid"]), className="console-strong"),
                html.Span(f" · {a['operation_name']}" if a.get("operation_name") else "", className="console-small"),
            ], className="console-alert-main"),
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
    )


def _live(view: Mapping[str, Any], lang: str) -> tuple[list[Any], list[Any]]:
    """Operations with their progress, and open alerts (with bulk acknowledgement), of one scope view."""
    can = bool(view.get("can_command"))
    now = int(view.get("server_time") or time.time() * 1000)
    ops: list[Any] = [_op_row(op, can, now, lang) for op in view.get("operations", [])]
    if not ops:
        ops = [html.P(t("console.no_operations", lang), className="console-hint")]
    listed = view.get("alerts", [])
    alerts: list[Any] = []
    unacked = [a for a in listed if not a.get("acked_by")]
    if can and unacked:
        alerts.append(html.Div([
            html.Button(t("console.ack_picked", lang), id="console-ack-picked", n_clicks=0,
                        className="console-btn console-btn-ghost console-btn-sm",
                        **_attrs({"data-action": "ack-picked"})),
            html.Button(t("console.ack_all", lang, n=len(unacked)), id="console-ack-all", n_clicks=0,
                        className="console-btn console-btn-primary console-btn-sm",
                        **_attrs({"data-action": "ack-all", "data-count": str(len(unacked))})),
        ], className="console-row console-bulk"))
    alerts.extend(_alert_row(a, can, lang) for a in listed)
    more = int(view.get("alerts_total", 0)) - len(listed)
    if more > 0:
        alerts.append(html.P(t("console.more", lang, n=more), className="console-hint"))
    if not listed:
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


def deadline_text(day: str | None, clock: str | None) -> str | None:
    """The picker's date and time as one local wall time (``YYYY-MM-DDTHH:MM``, Asia/Shanghai), or None."""
    if not day:
        return None
    return f"{str(day)[:10]}T{(clock or '').strip() or '23:59'}"


@callback(
    Output("console-deadline-day", "date"),
    Output("console-deadline-time", "value"),
    Output("console-deadline-day", "min_date_allowed"),
    Input("console-hours", "value"),
)
def _deadline_from_hours(hours: Any) -> Any:
    """The time limit sets the date and time pickers (Asia/Shanghai wall time, command.localtime); the commander
    may then pick any other instant."""
    now = int(time.time() * 1000)
    today = local_datetime(now).strftime("%Y-%m-%d")
    if not isinstance(hours, (int, float)) or hours <= 0:
        return None, None, today
    due = local_datetime(now + hours * 3_600_000)
    return due.strftime("%Y-%m-%d"), due.strftime("%H:%M"), today


@callback(
    Output("console-deadline", "children"),
    Input("console-deadline-day", "date"),
    Input("console-deadline-time", "value"),
    State("console-lang", "data"),
)
def _deadline(day: str | None, clock: str | None, lang: str) -> Any:
    """The deadline as the launch will send it, in the one time zone named."""
    due = deadline_text(day, clock)
    if not due:
        return t("console.deadline_none", lang)
    try:
        ms = parse_instant(due)
    except ValueError:
        return t("console.err.deadline", lang)
    return html.Span(t("console.deadline_at", lang, t=local_minute(ms)), **_attrs({"data-deadline": str(ms)}))
