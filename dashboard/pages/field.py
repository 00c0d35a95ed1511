"""`/field`: the grid leader's page — phone first, works with one bar of signal or none.

Dash renders the frame (header, login form, the language link) and hands the
rest to assets/field.js, because reporting must work offline: every report
gets its `report_id` on the phone when the leader taps submit, goes into a
queue in localStorage and is sent in order to ``POST /api/v1/operations/{id}/reports``
with the session's bearer token, retried with backoff until the server
acknowledges it (201, or 200 ``duplicate``) or refuses it (4xx). The server
deduplicates report ids per operation, so a resent report never counts twice.
The grids, operations, targets and progress come from ``GET /api/v1/field/mine``
and are kept in localStorage too, so a reload with no network still shows them;
a service worker (assets/field-sw.js) keeps the page itself loadable offline.

Wiring: one clientside callback passes the session store (the app shell's
`session`, in localStorage) and this page's strings to ``wartimeField.boot``;
it shows the login form or the field view. Logging in is the shared login
component's server callback. Free text (notes, reasons, names) is only ever
put in the DOM with ``textContent``.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, clientside_callback, dcc, html

from dashboard import households_i18n  # noqa: F401 - registers the household list's strings
from dashboard.components.session import login_form, register_login
from dashboard.i18n import lang_of, register, t, table

dash.register_page(__name__, path="/field", title="战时上报 · Field reports")

register({
    "field.title": ("战时上报", "Field reports"),
    "field.subtitle": ("网格长 · 进度上报", "Grid leader · progress reports"),
    "field.queue": ("待发送", "to send"),
    "field.queue.none": ("已全部发送", "All sent"),
    "field.online": ("在线", "Online"),
    "field.offline": (
        "离线：上报会保存在手机上，联网后自动发送",
        "Offline: reports are kept on this phone and sent when the network returns",
    ),
    "field.sending": ("正在发送…", "Sending…"),
    "field.retry_in": ("网络不畅，{s} 秒后重试", "Network trouble; retrying in {s} s"),
    "field.retry_now": ("立即重试", "Retry now"),
    "field.logout": ("退出", "Log out"),
    "field.lang": ("English", "中文"),
    "field.loading": ("正在加载…", "Loading…"),
    "field.cached": ("离线数据，更新于 {t}", "Offline copy from {t}"),
    "field.my_grids": ("我的网格", "My grids"),
    "field.no_grids": ("您的范围内没有可上报的网格", "No grid in your scope takes reports"),
    "field.truncated": ("范围较大，只列出前 {n} 个网格", "Large scope: only the first {n} grids are listed"),
    "field.ops_n": ("{n} 项任务进行中", "{n} open operation(s)"),
    "field.operations": ("进行中的战时任务", "Open operations"),
    "field.no_operations": (
        "当前没有进行中的战时任务。任务发布后会显示在这里。",
        "No open operation here. New operations appear here.",
    ),
    "field.not_wartime": ("该网格处于平时状态", "This grid is in peacetime"),
    "field.deadline": ("截止 {t}", "Due {t}"),
    "field.overdue": ("已超过截止时间", "Past the deadline"),
    "field.left_h": ("剩余 {h} 小时 {m} 分", "{h} h {m} min left"),
    "field.left_m": ("剩余 {m} 分钟", "{m} min left"),
    "field.target": ("目标", "target"),
    "field.pending": ("待发送 {n}", "{n} to send"),
    "field.grid_total": ("{name} 合计", "{name} total"),
    "field.report": ("上报", "Report"),
    "field.increment": ("本次新增", "Add now"),
    "field.remove": ("本次减少", "Remove now"),
    "field.note": ("备注（可选）", "Note (optional)"),
    "field.note_ph": ("例如：3号楼已完成", "e.g. building 3 done"),
    "field.correction": ("更正（减少已报数量）", "Correction (remove counted numbers)"),
    "field.locate": ("附上我的位置（可选）", "Attach my location (optional)"),
    "field.locating": ("正在定位…", "locating…"),
    "field.located": ("精度约 {m} 米", "accurate to about {m} m"),
    "field.no_location": ("无法定位，上报不带位置", "no location: the report goes without one"),
    "field.photo": ("现场照片（可选）", "Photo (optional)"),
    "field.photo_take": ("拍照", "Take a photo"),
    "field.photo_again": ("重拍", "Retake"),
    "field.photo_drop": ("不用这张照片", "Remove the photo"),
    "field.photo_wait": ("正在处理照片…", "preparing the photo…"),
    "field.photo_bad": ("无法读取这张照片，请重拍", "this photo cannot be read: take it again"),
    "field.photo_ready": ("已压缩为 {w}×{h}，约 {kb} KB", "resized to {w}×{h}, about {kb} KB"),
    "field.photo_full": ("手机存储已满，照片未能保存", "the phone's storage is full: the photo was not kept"),
    "field.reason": ("更正原因（必填）", "Reason for the correction (required)"),
    "field.reason_ph": ("例如：重复登记", "e.g. entered twice"),
    "field.submit": ("提交上报", "Submit report"),
    "field.submit_correction": ("提交更正", "Submit correction"),
    "field.err.empty": ("请至少填写一项数量", "Enter at least one number"),
    "field.err.reason": ("更正必须填写原因", "A correction needs a reason"),
    "field.err.number": ("请填写非负整数", "Enter whole numbers, 0 or more"),
    "field.saved": ("已保存，正在发送", "Saved, sending"),
    "field.sent": ("已发送，服务器已确认", "Sent and confirmed by the server"),
    "field.saved_offline": ("已保存在手机上，联网后自动发送", "Saved on this phone; it will be sent when online"),
    "field.recent": ("最近上报", "Recent reports"),
    "field.recent.none": ("还没有上报记录", "No reports yet"),
    "field.state.queued": ("待发送", "Waiting"),
    "field.state.acked": ("已确认", "Confirmed"),
    "field.state.refused": ("被拒绝", "Refused"),
    "field.state.duplicate": ("已确认（重复提交）", "Confirmed (resent)"),
    "field.others_queued": (
        "另有 {n} 条其他账号的上报等待该账号登录后发送",
        "{n} report(s) of another account wait for it to log in",
    ),
    "field.readonly": ("查看账号不能上报", "Viewer accounts cannot report"),
    "field.expired": (
        "登录已过期，请重新登录。未发送的上报已保留。",
        "Session expired, please log in again. Unsent reports are kept.",
    ),
    "field.err.403": ("无权在该网格上报（不在您的管辖范围内）", "You may not report on this grid (outside your scope)"),
    "field.err.404": ("任务或网格不存在", "Unknown operation or grid"),
    "field.err.closed": ("任务已结束，不能再上报", "The operation is closed; it takes no more reports"),
    "field.err.mode": ("该网格不在战时状态", "This grid is not in wartime"),
    "field.err.below_zero": ("更正后数量不能小于零", "A correction cannot take a count below zero"),
    "field.err.too_large": ("内容过长", "Too long"),
    "field.err.invalid": ("上报内容无效", "Invalid report"),
    "field.scope": ("范围", "Scope"),
    "field.secretary": ("书记", "Secretary"),
    "field.acting": ("代理", "acting"),
})

KEYS = (
    "sampled", "hazard_points_checked", "people_evacuated", "households_checked", "hazards_found",
    "hazards_eliminated", "people_persuaded", "mass_testing", "flood_evacuation", "fire_hazard_check",
    "peacetime", "wartime", "epidemic", "flood", "fire", "other", "level.I", "level.II", "level.III",
    "level.IV", "county", "town", "large", "medium", "small", "micro", "commander", "leader", "viewer",
    "login.expired", "over_target",
)


def _attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """data-* and aria-* attributes for Dash components (typed loosely on purpose)."""
    return attrs


def strings(lang: str) -> dict[str, str]:
    """The strings field.js renders with, in one language."""
    all_ = table(lang)
    return {k: v for k, v in all_.items() if k.startswith(("field.", "hh.")) or k in KEYS}


def layout(lang: str | None = None, **_: Any) -> html.Div:
    """The frame; field.js fills `field-app` and keeps `[data-queue]` current."""
    explicit = lang if lang in ("zh-CN", "en") else None
    lang = lang_of(lang)
    other = "en" if lang == "zh-CN" else "zh-CN"
    return html.Div(
        [
            dcc.Store(id="field-strings", data=strings(lang)),
            dcc.Store(id="field-lang", data=lang),
            dcc.Store(id="field-lang-query", data=explicit),
            dcc.Store(id="field-boot"),
            html.Header(
                [
                    html.Div(
                        [
                            html.Div(t("field.title", lang), className="field-brand"),
                            html.Div(id="field-who", className="field-who"),
                        ],
                        className="field-head",
                    ),
                    html.Div(
                        [
                            html.Span(id="field-queue", className="field-queue",
                                      title=t("field.queue", lang),
                                      **_attrs({"data-queue": "", "data-value": "0", "aria-live": "polite"})),
                            dcc.Link(t("field.lang", lang), href=f"/field?lang={other}",
                                     className="field-lang", id="field-lang-link"),
                            html.Button(t("field.logout", lang), id="field-logout", className="field-logout",
                                        n_clicks=0, **_attrs({"data-action": "logout"})),
                        ],
                        className="field-tools",
                    ),
                ],
                className="field-top",
            ),
            html.Div(id="field-net", className="field-net", role="status"),
            html.Div(login_form("field", lang), id="field-login-wrap", className="field-login-wrap"),
            html.Main(id="field-app", className="field-app"),
        ],
        id="field-root",
        className="field-page",
        lang=lang,
    )


register_login("field")

clientside_callback(
    """
    function (session, strings, lang) {
        var show = {display: 'block'}, hide = {display: 'none'};
        var api = window.wartimeField;
        if (api) { api.boot(session, strings || {}, lang || 'zh-CN'); }
        var inside = !!(session && session.token);
        return [inside ? hide : show, inside ? show : hide, inside ? {} : hide, Date.now()];
    }
    """,
    Output("field-login-wrap", "style"),
    Output("field-app", "style"),
    Output("field-logout", "style"),
    Output("field-boot", "data"),
    Input("session", "data"),
    State("field-strings", "data"),
    State("field-lang", "data"),
)

clientside_callback(
    """
    function (query, stored) {
        // ?lang= wins and is remembered for the other pages; without it, the remembered language.
        var nu = window.dash_clientside.no_update;
        if (query) { return [query, nu]; }
        if (stored && stored !== 'zh-CN') { return [nu, '?lang=' + stored]; }
        return [nu, nu];
    }
    """,
    Output("lang", "data", allow_duplicate=True),
    Output("url", "search", allow_duplicate=True),
    Input("field-lang-query", "data"),
    State("lang", "data"),
    prevent_initial_call="initial_duplicate",
)
