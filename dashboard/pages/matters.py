"""`/field/matters`: residents' matters on a grid worker's phone — record one, carry it through five lists.

Phone first (360–430 px wide): one column, big touch targets, a form at the top
and the worker's unfinished matters below it. Recording a matter takes a grid
(preselected when the worker has one), a category chip, what the resident said,
and optionally who said it, a photo (camera, resized on the phone) and where. Each card then offers the one
next step the worker may take — 议单 (deliberate), 办结 (handled), 晒单
(publish), 评单 (the resident's satisfaction, 1–5 stars) — and, while the matter
is open, 上报 (report it up to the next tier, with a reason). A matter the
village or town now holds shows where it is and waits.

Every callback goes through the HTTP API in-process (`dashboard.api_field.call_api`)
with the session's token, like the console: the same token check, the same
rules, the same refusals — nothing is decided here. The form carries a request
id made when it was last cleared, so a double tap or a retried submit records
the matter once. Free text is rendered by Dash (escaped), never as HTML.

Stable hooks for tests: ``[data-action=record-matter]``; each card
``[data-matter=ID]`` with ``data-stage``; its buttons
``[data-action=deliberated|handled|published|report]`` and
``[data-action=rate-N]``; ``[data-count]`` on the list with the number shown.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

import dashboard.api_matters  # noqa: F401  (registers the category, list and tier strings)
from command.localtime import local_datetime
from dashboard.api_field import call_api
from dashboard.components.session import login_form, register_login
from dashboard.i18n import lang_of, register, t

dash.register_page(__name__, path="/field/matters", title="民情事项 · Residents' matters")

PREFIX = "matters"
REFRESH_MS = 30_000
STAGE_ORDER = ("collected", "deliberated", "handled", "published", "evaluated")
CATEGORY_ORDER = ("dispute", "environment", "livelihood", "property", "infrastructure", "safety", "policy",
                  "urgent", "other")
NEXT_TIER = {"grid": "village", "village": "town", "town": "county"}

register({
    "matters.title": ("民情事项", "Residents' matters"),
    "matters.subtitle": ("一事五单 · 小事不出网格", "One matter, five lists"),
    "matters.lang": ("English", "中文"),
    "matters.logout": ("退出", "Log out"),
    "matters.field": ("战时上报", "Field reports"),
    "matters.new": ("登记民情事项", "Record a matter"),
    "matters.grid": ("网格", "Grid"),
    "matters.category": ("类别", "Category"),
    "matters.description": ("群众反映的问题", "What the resident raised"),
    "matters.description_ph": ("例如：3组村道有坑，雨天积水", "e.g. potholes on the road of group 3"),
    "matters.reporter": ("反映人（可选）", "Raised by (optional)"),
    "matters.reporter_ph": ("姓名", "Name"),
    "matters.photo": ("现场照片（可选）", "Photo (optional)"),
    "matters.photo_take": ("拍照", "Take a photo"),
    "matters.photo_again": ("重拍", "Retake"),
    "matters.photo_drop": ("不用这张照片", "Remove the photo"),
    "matters.photo_wait": ("正在处理照片…", "preparing the photo…"),
    "matters.photo_bad": ("无法读取这张照片，请重拍", "this photo cannot be read: take it again"),
    "matters.photo_ready": ("已压缩为 {w}×{h}，约 {kb} KB", "resized to {w}×{h}, about {kb} KB"),
    "matters.photo_alt": ("事项现场照片", "Photo of the matter"),
    "matters.locate": ("附上我的位置（可选）", "Attach my location (optional)"),
    "matters.locating": ("正在定位…", "locating…"),
    "matters.located": ("精度约 {m} 米", "accurate to about {m} m"),
    "matters.no_location": ("无法定位，登记不带位置", "no location: the matter goes without one"),
    "matters.submit": ("登记（集单）", "Record (collect)"),
    "matters.recorded": ("已登记，请在 {due}（北京时间）前办结", "Recorded; handle it by {due} (Beijing time, UTC+8)"),
    "matters.resent": ("此事项已登记过（重复提交未计入）", "Already recorded (the resend changed nothing)"),
    "matters.mine": ("我的事项", "My matters"),
    "matters.filter.unfinished": ("进行中", "In progress"),
    "matters.filter.overdue": ("已超期", "Overdue"),
    "matters.filter.all": ("全部", "All"),
    "matters.none": ("没有事项", "No matters"),
    "matters.due": ("限 {t} 前办结", "Due {t}"),
    "matters.overdue": ("已超期", "Overdue"),
    "matters.closed_at": ("{t} 办结", "Handled {t}"),
    "matters.in_time": ("按期", "in time"),
    "matters.late": ("超期办结", "handled late"),
    "matters.at": ("当前：{level} · {name}", "Now with: {level} · {name}"),
    "matters.dept": ("承办：{dept}", "Handled by: {dept}"),
    "matters.by": ("反映人：{name}", "Raised by {name}"),
    "matters.photo_ref": ("照片：{ref}", "Photo: {ref}"),
    "matters.note_ph": ("办理情况 / 上报原因", "What was done / why it goes up"),
    "matters.do.deliberated": ("议单：商定办理方案", "Deliberate: agree on a plan"),
    "matters.do.handled": ("办结", "Mark handled"),
    "matters.do.published": ("晒单：公示办理结果", "Publish the result"),
    "matters.do.evaluated": ("评单：群众满意度", "Resident's satisfaction"),
    "matters.do.report": ("上报{level}", "Report to {level}"),
    "matters.waiting": ("已上报{level}，等待办理", "With the {level}; waiting"),
    "matters.done": ("闭环完成 · 满意度 {n}/5", "Loop closed · satisfaction {n}/5"),
    "matters.ok.deliberated": ("已议单", "Deliberated"),
    "matters.ok.handled": ("已办结", "Handled"),
    "matters.ok.published": ("已晒单", "Published"),
    "matters.ok.evaluated": ("已评单，闭环完成", "Evaluated: the loop is closed"),
    "matters.ok.report": ("已上报", "Reported up"),
    "matters.err.reason": ("上报须填写原因", "A report up needs a reason"),
    "matters.err.description": ("请填写群众反映的问题", "Describe what the resident raised"),
    "matters.err.grid": ("请选择网格", "Choose a grid"),
    "matters.err.category": ("请选择类别", "Choose a category"),
    "matters.err.expired": ("登录已过期，请重新登录", "Session expired, please log in again"),
    "matters.err.viewer": ("查看账号不能登记事项", "Viewer accounts cannot record matters"),
    "matters.err.403": ("无权操作（不在您的管辖范围内）", "Not allowed (outside your scope)"),
    "matters.err.other": ("操作未成功：{msg}", "Not done: {msg}"),
    "matters.stars": ("{n} 星", "{n} stars"),
})


def _capture_strings(lang: str) -> dict[str, str]:
    """The strings assets/matters-capture.js renders the photo and position controls with."""
    keys = ("photo", "photo_take", "photo_again", "photo_drop", "photo_wait", "photo_bad", "photo_ready",
            "locate", "locating", "located", "no_location")
    return {k: t(f"matters.{k}", lang) for k in keys}


def _attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """data-* and aria-* attributes for Dash components (typed loosely on purpose)."""
    return attrs


def _token(session: Any) -> str | None:
    return session.get("token") if isinstance(session, dict) else None


def api(method: str, path: str, session: Any, payload: Any = None) -> tuple[int, dict[str, Any]]:
    """One API call with the page's session (the page's only way to the data)."""
    return call_api(method, path, _token(session), payload)


def _time(ms: int | None) -> str:
    if not ms:
        return ""
    return local_datetime(ms).strftime("%m-%d %H:%M")


def _explain(status: int, data: dict[str, Any], lang: str) -> str:
    err = data.get("error") or {}
    if status == 401:
        return t("matters.err.expired", lang)
    if status == 403:
        return t("matters.err.403", lang)
    return t("matters.err.other", lang, msg=err.get("message") or status)


def layout(lang: str | None = None, **_: Any) -> html.Div:
    """The frame; callbacks fill the grid list and the cards once the session is known."""
    lang = lang_of(lang)
    other = "en" if lang == "zh-CN" else "zh-CN"
    return html.Div(
        [
            dcc.Store(id="matters-lang", data=lang),
            dcc.Store(id="matters-draft", data=secrets.token_hex(8)),
            dcc.Store(id="matters-tick", data=0),
            dcc.Interval(id="matters-interval", interval=REFRESH_MS),
            html.Header(
                [
                    html.Div([
                        html.Div(t("matters.title", lang), className="matters-brand"),
                        html.Div(id="matters-who", className="matters-who"),
                    ], className="matters-head"),
                    html.Div([
                        dcc.Link(t("matters.field", lang), href=f"/field?lang={lang}", className="matters-tool"),
                        dcc.Link(t("matters.lang", lang), href=f"/field/matters?lang={other}",
                                 className="matters-tool"),
                        html.Button(t("matters.logout", lang), id="matters-logout", n_clicks=0,
                                    className="matters-tool matters-logout", **_attrs({"data-action": "logout"})),
                    ], className="matters-tools"),
                ],
                className="matters-top",
            ),
            html.Div(login_form("matters", lang), id="matters-login-wrap", className="matters-login-wrap"),
            html.Main(
                [
                    html.Section(
                        [
                            html.H2(t("matters.new", lang), className="matters-h2"),
                            html.Label(t("matters.grid", lang), className="matters-label"),
                            dcc.Dropdown(id="matters-grid", clearable=False, searchable=False,
                                         className="matters-dropdown"),
                            html.Label(t("matters.category", lang), className="matters-label"),
                            dcc.RadioItems(
                                id="matters-category",
                                options=[{"label": t(f"matters.cat.{c}", lang), "value": c} for c in CATEGORY_ORDER],
                                value=None, className="matters-chips", inline=True,
                            ),
                            html.Label(t("matters.description", lang), className="matters-label",
                                       htmlFor="matters-description"),
                            dcc.Textarea(id="matters-description", maxLength=2000, rows=3,
                                         placeholder=t("matters.description_ph", lang),
                                         className="matters-textarea"),
                            html.Div([
                                html.Div([
                                    html.Label(t("matters.reporter", lang), className="matters-label",
                                               htmlFor="matters-reporter"),
                                    dcc.Input(id="matters-reporter", type="text", maxLength=100,
                                              placeholder=t("matters.reporter_ph", lang),
                                              className="matters-input"),
                                ]),
                            ]),
                            # Filled by assets/matters-capture.js (camera and position, assets/capture.js).
                            html.Div(id="matters-capture", className="matters-capture",
                                     **_attrs({"data-strings": json.dumps(_capture_strings(lang),
                                                                          ensure_ascii=False)})),
                            dcc.Store(id="matters-photo-data"),
                            dcc.Store(id="matters-where"),
                            dcc.Store(id="matters-capture-sync"),
                            html.Button(t("matters.submit", lang), id="matters-submit", n_clicks=0,
                                        className="matters-primary", **_attrs({"data-action": "record-matter"})),
                            html.Div(id="matters-form-msg", className="matters-msg", role="status"),
                        ],
                        className="matters-card matters-form",
                    ),
                    html.Section(
                        [
                            html.Div([
                                html.H2(t("matters.mine", lang), className="matters-h2"),
                                dcc.RadioItems(
                                    id="matters-filter",
                                    options=[{"label": t(f"matters.filter.{f}", lang), "value": f}
                                             for f in ("unfinished", "overdue", "all")],
                                    value="unfinished", inline=True, className="matters-tabs",
                                ),
                            ], className="matters-list-head"),
                            html.Div(id="matters-msg", className="matters-msg", role="status"),
                            html.Div(id="matters-list", className="matters-list", **_attrs({"data-count": "0"})),
                        ],
                        className="matters-section",
                    ),
                ],
                id="matters-app",
                className="matters-app",
            ),
        ],
        id="matters-root",
        className="matters-page",
        lang=lang,
    )


register_login(PREFIX)


@callback(
    Output("matters-login-wrap", "style"),
    Output("matters-app", "style"),
    Output("matters-logout", "style"),
    Output("matters-who", "children"),
    Output("matters-grid", "options"),
    Output("matters-grid", "value"),
    Input("session", "data"),
    State("matters-lang", "data"),
)
def _gate(session: Any, lang: str) -> Any:
    """Login form or the page, by the session the app shell keeps; the worker's grids for the form."""
    show, hide = {"display": "block"}, {"display": "none"}
    if not _token(session):
        return show, hide, hide, "", [], None
    status, data = api("GET", "/matters/grids", session)
    if status != 200:
        return show, hide, hide, "", [], None
    grids = data.get("grids", [])
    options = [{"label": f"{g['name']}", "value": g["code"]} for g in grids]
    who = f"{session.get('username', '')} · {t(str(session.get('role', '')), lang)}"
    value = grids[0]["code"] if grids else None
    return hide, {"display": "block"}, {}, who, options, value


@callback(
    Output("session", "data", allow_duplicate=True),
    Input("matters-logout", "n_clicks"),
    State("session", "data"),
    prevent_initial_call=True,
)
def _logout(n: int, session: Any) -> Any:
    """Log out (the token is revoked server-side)."""
    if not n:
        return no_update
    api("DELETE", "/session", session)
    return None


@callback(
    Output("matters-form-msg", "children"),
    Output("matters-form-msg", "className"),
    Output("matters-description", "value"),
    Output("matters-reporter", "value"),
    Output("matters-photo-data", "data"),
    Output("matters-category", "value"),
    Output("matters-draft", "data"),
    Output("matters-tick", "data", allow_duplicate=True),
    Input("matters-submit", "n_clicks"),
    State("matters-grid", "value"),
    State("matters-category", "value"),
    State("matters-description", "value"),
    State("matters-reporter", "value"),
    State("matters-photo-data", "data"),
    State("matters-where", "data"),
    State("matters-draft", "data"),
    State("matters-tick", "data"),
    State("session", "data"),
    State("matters-lang", "data"),
    prevent_initial_call=True,
)
def _record(n: int, grid: str | None, category: str | None, description: str | None, reporter: str | None,
            photo: Any, where: Any, draft: str, tick: int, session: Any, lang: str) -> Any:
    """Record the matter under the form's request id; clear the form (category too) only when the server took it.

    No category is preselected and none survives a recorded matter: the worker
    chooses one for every matter (a kept choice filed a street light under
    environment).
    """
    keep = (no_update,) * 6
    bad = "matters-msg matters-msg-bad"
    if not n:
        return "", "matters-msg", *keep
    if not grid:
        return t("matters.err.grid", lang), bad, *keep
    if not (description or "").strip():
        return t("matters.err.description", lang), bad, *keep
    if category not in CATEGORY_ORDER:
        return t("matters.err.category", lang), bad, *keep
    if isinstance(session, dict) and session.get("role") == "viewer":
        return t("matters.err.viewer", lang), bad, *keep
    body: dict[str, Any] = {"request_id": draft, "grid": grid, "category": category, "description": description,
                            "reporter": reporter or ""}
    if isinstance(photo, str) and photo:
        body["photo_image"] = photo  # resized on the phone (assets/capture.js); checked and kept by the API
    if isinstance(where, dict):
        body["location"] = {k: where.get(k) for k in ("lat", "lon", "accuracy")}
    status, data = api("POST", "/matters", session, body)
    if status not in (200, 201):
        return _explain(status, data, lang), bad, *keep
    msg = t("matters.resent", lang) if data.get("duplicate") else t(
        "matters.recorded", lang, due=_time(data.get("due")))
    return msg, "matters-msg matters-msg-ok", "", "", None, None, secrets.token_hex(8), (tick or 0) + 1


def _track(m: dict[str, Any], lang: str) -> html.Ol:
    reached = m.get("stages") or {}
    items = []
    for s in STAGE_ORDER:
        cls = "matters-step done" if reached.get(s) else "matters-step"
        if s == m.get("stage"):
            cls += " current"
        items.append(html.Li(t(f"matters.stage.{s}", lang), className=cls))
    return html.Ol(items, className="matters-track")


def _actions(m: dict[str, Any], lang: str) -> list[Any]:
    mid = m["matter_id"]
    acts = m.get("actions") or []
    out: list[Any] = []
    if not acts:
        if m.get("stage") == "evaluated":
            out.append(html.Div(t("matters.done", lang, n=m.get("satisfaction")), className="matters-done"))
        elif m.get("level") != "grid" and not m.get("closed"):
            lv = t(f"matters.level.{m.get('level')}", lang)
            out.append(html.Div(t("matters.waiting", lang, level=lv), className="matters-wait"))
        return out
    nxt = acts[0]
    if nxt in ("handled", "deliberated") or "report" in acts:
        out.append(dcc.Input(id={"type": "matters-note", "matter": mid}, type="text", maxLength=500,
                             placeholder=t("matters.note_ph", lang), className="matters-input matters-note"))
    buttons: list[Any] = []
    if nxt == "evaluated":
        out.append(html.Div(t("matters.do.evaluated", lang), className="matters-label"))
        buttons = [
            html.Button("★" * n, id={"type": "matters-act", "matter": mid, "op": f"rate-{n}"}, n_clicks=0,
                        title=t("matters.stars", lang, n=n), className="matters-star",
                        **_attrs({"data-action": f"rate-{n}", "aria-label": t("matters.stars", lang, n=n)}))
            for n in (1, 2, 3, 4, 5)
        ]
        out.append(html.Div(buttons, className="matters-stars"))
        return out
    buttons.append(html.Button(t(f"matters.do.{nxt}", lang), id={"type": "matters-act", "matter": mid, "op": nxt},
                               n_clicks=0, className="matters-primary matters-act", **_attrs({"data-action": nxt})))
    if "report" in acts:
        up = NEXT_TIER.get(str(m.get("level")), "county")
        buttons.append(html.Button(
            t("matters.do.report", lang, level=t(f"matters.level.{up}", lang)),
            id={"type": "matters-act", "matter": mid, "op": f"report-{up}"}, n_clicks=0,
            className="matters-secondary matters-act", **_attrs({"data-action": "report"})))
    out.append(html.Div(buttons, className="matters-buttons"))
    return out


def card(m: dict[str, Any], lang: str) -> html.Article:
    """One matter as a card: what, where, when, its five lists and the next step."""
    overdue = bool(m.get("overdue"))
    if m.get("closed"):
        when = t("matters.closed_at", lang, t=_time(m.get("closed_at")))
        when += " · " + t("matters.in_time" if m.get("in_time") else "matters.late", lang)
    else:
        when = t("matters.overdue", lang) + " · " + _time(m.get("due")) if overdue else t(
            "matters.due", lang, t=_time(m.get("due")))
    meta = [t("matters.at", lang, level=t(f"matters.level.{m.get('level')}", lang),
              name=m.get("holder_name") or m.get("holder"))]
    if m.get("department"):
        meta.append(t("matters.dept", lang, dept=m["department"]))
    if m.get("reporter"):
        meta.append(t("matters.by", lang, name=m["reporter"]))
    if m.get("photo"):
        meta.append(t("matters.photo_ref", lang, ref=m["photo"]))
    thumb = []
    if m.get("photo_digest"):  # fetched with the session's token by assets/capture.js (never a token in a URL)
        thumb = [html.Img(className="matters-thumb", alt=t("matters.photo_alt", lang),
                          **_attrs({"data-photo-src": f"/api/v1/matters/{m['matter_id']}/photo"}))]
    return html.Article(
        [
            html.Div([
                html.Span(t(f"matters.cat.{m.get('category')}", lang), className="matters-cat"),
                html.Span(when, className="matters-when" + (" matters-late" if overdue else "")),
            ], className="matters-card-head"),
            html.P(m.get("description", ""), className="matters-desc"),
            html.Div(m.get("grid_name") or m.get("grid"), className="matters-where"),
            html.Div([html.Span(x) for x in meta], className="matters-meta"),
            *thumb,
            _track(m, lang),
            *_actions(m, lang),
        ],
        className="matters-card matters-item" + (" is-overdue" if overdue else ""),
        **_attrs({"data-matter": m["matter_id"], "data-stage": m.get("stage", "")}),
    )


@callback(
    Output("matters-list", "children"),
    Output("matters-list", "data-count"),
    Input("matters-tick", "data"),
    Input("matters-filter", "value"),
    Input("matters-interval", "n_intervals"),
    Input("session", "data"),
    State("matters-lang", "data"),
)
def _list(tick: int, flt: str, _n: int | None, session: Any, lang: str) -> Any:
    """The worker's matters, newest first, by the chosen filter."""
    if not _token(session):
        return [], "0"
    params = {"unfinished": "?unfinished=1&limit=100", "overdue": "?overdue=1&limit=100"}.get(flt, "?limit=100")
    status, data = api("GET", "/matters" + params, session)
    if status != 200:
        return html.Div(_explain(status, data, lang), className="matters-msg matters-msg-bad"), "0"
    items = data.get("matters", [])
    if not items:
        return html.Div(t("matters.none", lang), className="matters-empty"), "0"
    return [card(m, lang) for m in items], str(len(items))


@callback(
    Output("matters-msg", "children"),
    Output("matters-msg", "className"),
    Output("matters-tick", "data", allow_duplicate=True),
    Input({"type": "matters-act", "matter": ALL, "op": ALL}, "n_clicks"),
    State({"type": "matters-note", "matter": ALL}, "value"),
    State({"type": "matters-note", "matter": ALL}, "id"),
    State("matters-tick", "data"),
    State("session", "data"),
    State("matters-lang", "data"),
    prevent_initial_call=True,
)
def _act(clicks: list[int | None], notes: list[str | None], note_ids: list[dict[str, str]], tick: int,
         session: Any, lang: str) -> Any:
    """One tap on a card: the next list, a star rating, or a report up (which needs a reason)."""
    trig = ctx.triggered_id
    if not isinstance(trig, dict) or not any(c for c in clicks or []):
        return no_update, no_update, no_update
    fired = next((c for c, i in zip(clicks, ctx.inputs_list[0], strict=False) if i["id"] == trig), None)
    if not fired:
        return no_update, no_update, no_update
    mid, op = trig["matter"], trig["op"]
    note = next((v or "" for v, i in zip(notes, note_ids, strict=False) if i["matter"] == mid), "").strip()
    bad = "matters-msg matters-msg-bad"
    if op.startswith("rate-"):
        status, data = api("POST", f"/matters/{mid}/evaluate", session, {"satisfaction": int(op[5:])})
        done = "evaluated"
    elif op.startswith("report-"):
        if not note:
            return t("matters.err.reason", lang), bad, no_update
        status, data = api("POST", f"/matters/{mid}/handovers", session, {
            "step": "report", "to": op[7:], "reason": note, "request_id": f"{mid}-{op}-{tick}",
        })
        done = "report"
    else:
        status, data = api("POST", f"/matters/{mid}/stages", session, {"stage": op, "note": note})
        done = op
    if status != 200:
        return _explain(status, data, lang), bad, (tick or 0) + 1
    return t(f"matters.ok.{done}", lang), "matters-msg matters-msg-ok", (tick or 0) + 1


clientside_callback(
    """
    function (lang) {
        // An explicit ?lang= is remembered for the other pages.
        var m = (window.location.search || '').match(/[?&]lang=([^&]+)/);
        return m ? decodeURIComponent(m[1]) : window.dash_clientside.no_update;
    }
    """,
    Output("lang", "data", allow_duplicate=True),
    Input("matters-lang", "data"),
    prevent_initial_call="initial_duplicate",
)

clientside_callback(
    """
    function (photo) {
        // The form was cleared (recorded): the camera control lets its thumbnail go too.
        var api = window.wartimeMattersCapture;
        if (api && !photo) { api.clear(); }
        return window.dash_clientside.no_update;
    }
    """,
    Output("matters-capture-sync", "data"),
    Input("matters-photo-data", "data"),
)
