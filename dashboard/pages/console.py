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
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import dash
import flask
from dash import ALL, Input, Output, Patch, State, callback, clientside_callback, ctx, dcc, html, no_update

from command.operations import COUNTERS, REGISTRY_TARGETS
from dashboard.api_field import call_api
from dashboard.components.session import login_form, register_login
from dashboard.i18n import lang_of, register, t

dash.register_page(__name__, path="/console", title="战时指挥台 · Command console")

PREFIX = "console"
REFRESH_MS = 10_000
DEFAULT_HOURS = 72
REGISTRY_DEFAULT = {counter: column for counter, column in REGISTRY_TARGETS.values()}
"""Counters whose default target per grid is a registry column (shown as the placeholder)."""

register({
    "console.title": ("战时指挥台", "Command console"),
    "console.subtitle": ("平战结合 · 指挥长", "Peacetime–wartime · commander"),
    "console.lang": ("English", "中文"),
    "console.board": ("指挥大屏", "Command board"),
    "console.logout": ("退出", "Log out"),
    "console.tree": ("选择范围", "Choose a scope"),
    "console.goto_ph": ("输入网格编码", "Grid code"),
    "console.goto": ("前往", "Go"),
    "console.legend.partial": ("部分战时", "Partly wartime"),
    "console.readonly": ("只读：只有指挥长可以操作", "Read only: only commanders can act"),
    "console.leader_hint": ("网格长请使用上报页面", "Grid leaders report from the field page"),
    "console.field_link": ("前往上报页面 →", "Open the field page →"),
    "console.stat.grids": ("网格", "Grids"),
    "console.stat.wartime": ("战时网格", "In wartime"),
    "console.stat.secretaries": ("临时书记", "Secretaries"),
    "console.stat.vacancies": ("空缺", "Vacancies"),
    "console.stat.population": ("人口", "Population"),
    "console.partial": ("部分战时（{n}/{total}）", "Partly wartime ({n}/{total})"),
    "console.mode": ("战时状态", "Wartime status"),
    "console.mode.peace": ("平时状态，可切换为战时。", "In peacetime; can switch to wartime."),
    "console.mode.war": ("自 {since} 起处于战时状态", "In wartime since {since}"),
    "console.mode.partial": (
        "部分网格处于战时，可将其余网格一并切换为战时。",
        "Part of this scope is in wartime; the rest can be switched too.",
    ),
    "console.switch": ("切换为战时", "Switch to wartime"),
    "console.incident": ("突发事件类型", "Incident"),
    "console.level": ("应急响应等级", "Response level"),
    "console.reason": ("切换原因", "Reason"),
    "console.reason_ph": ("例如：县应急指挥部通知，启动Ⅱ级响应", "e.g. county headquarters order: level II response"),
    "console.preview": ("预览切换", "Preview the switch"),
    "console.change_level": ("调整响应等级", "Change the response level"),
    "console.apply_level": ("调整等级", "Change level"),
    "console.stand_down": ("解除战时状态", "Stand down"),
    "console.stand_down_hint": (
        "解除前须先结束范围内进行中的任务。",
        "Close the open operations in this scope before standing down.",
    ),
    "console.confirm": ("确认", "Confirm"),
    "console.cancel": ("取消", "Cancel"),
    "console.confirm.switch": ("确认切换为战时？", "Switch to wartime?"),
    "console.confirm.switch.lines": (
        "{scope}：{grids} 个网格进入战时（{incident} · {level}）；"
        "{installed} 名第一小网格长任临时党支部书记；"
        "{vacancies} 个小网格无第一小网格长，成为空缺，需任命代理书记。",
        "{scope}: {grids} grids enter wartime ({incident} · {level}); "
        "{installed} first small-grid leaders become temporary branch secretaries; "
        "{vacancies} small grids have none and become vacancies to fill with acting secretaries.",
    ),
    "console.confirm.standdown": ("确认解除战时状态？", "Stand down?"),
    "console.confirm.standdown.lines": (
        "{scope}：{grids} 个网格恢复平时状态，{released} 个临时书记或空缺随之解除。",
        "{scope}: {grids} grids return to peacetime; {released} secretaries and vacancies are released.",
    ),
    "console.confirm.close": ("确认结束任务？", "Close the operation?"),
    "console.confirm.close.lines": (
        "任务「{name}」结束后不再接受上报，总数将被锁定。",
        "Operation “{name}” will take no more reports; its totals freeze.",
    ),
    "console.people": ("临时党支部书记与空缺", "Secretaries and vacancies"),
    "console.people.peace": ("平时状态下不设临时党支部书记。", "No temporary secretaries in peacetime."),
    "console.vacancies": ("空缺（{n}）", "Vacancies ({n})"),
    "console.no_vacancies": ("没有空缺，每个小网格都有书记。", "No vacancy: every small grid has a secretary."),
    "console.person_ph": ("代理书记姓名", "Acting secretary's name"),
    "console.appoint": ("任命", "Appoint"),
    "console.secretaries": ("在任书记（{n}）", "Secretaries in office ({n})"),
    "console.acting": ("代理", "acting"),
    "console.more": ("另有 {n} 条未列出", "{n} more not listed"),
    "console.since": ("自 {t}", "since {t}"),
    "console.operations": ("战时任务", "Operations"),
    "console.no_operations": ("该范围内还没有战时任务。", "No operation in this scope yet."),
    "console.launch": ("发布任务", "Launch an operation"),
    "console.kind": ("任务类型", "Kind"),
    "console.op_name": ("任务名称", "Name"),
    "console.op_name_ph": ("例如：第一轮全员核酸检测", "e.g. mass testing, round 1"),
    "console.hours": ("时限（小时）", "Time limit (hours)"),
    "console.deadline_at": ("截止：{t}", "Due: {t}"),
    "console.targets": ("目标（留空按登记数据）", "Targets (blank: from the registry)"),
    "console.target_default": ("默认 {n}（按{col}）", "default {n} ({col})"),
    "console.target_none": ("不设目标", "no target"),
    "console.col.population": ("人口", "population"),
    "console.col.households": ("户数", "households"),
    "console.launch_btn": ("发布任务", "Launch"),
    "console.launch_hint": (
        "该范围须全部处于战时状态才能发布任务。",
        "The whole scope must be in wartime to launch an operation.",
    ),
    "console.close_op": ("结束任务", "Close"),
    "console.op.open": ("进行中", "Open"),
    "console.op.closed": ("已结束", "Closed"),
    "console.op.due": ("截止 {t}", "due {t}"),
    "console.op.overdue": ("已超时", "overdue"),
    "console.op.here": ("本范围：{name}", "In this scope: {name}"),
    "console.alerts": ("预警", "Alerts"),
    "console.no_alerts": ("没有未处理的预警。", "No open alert."),
    "console.ack": ("确认", "Acknowledge"),
    "console.acked_by": ("已由 {who} 确认", "Acknowledged by {who}"),
    "console.kiosk": ("大屏链接", "Wall link"),
    "console.kiosk_hint": (
        "为值班大屏生成只读长期链接，无需在大屏前输入密码；可随时撤销。",
        "A long-lived read-only link for a wall screen: nobody types a password in front of the room. Revocable.",
    ),
    "console.kiosk_btn": ("生成大屏链接", "Make a wall link"),
    "console.kiosk_revoke": ("撤销此链接", "Revoke this link"),
    "console.kiosk_revoked": ("大屏链接已撤销。", "Wall link revoked."),
    "console.kiosk_live": ("在用的大屏链接", "Live wall links"),
    "console.kiosk_none": ("没有在用的大屏链接。", "No live wall link."),
    "console.kiosk_by": ("创建人 {who}", "made by {who}"),
    "console.kiosk_until": ("有效至 {day}", "until {day}"),
    "console.kiosk_reads": ("创建人权限已变更，现仅显示「{scope}」",
                            "its maker's rights changed: now shows “{scope}” only"),
    "console.kiosk_withdraw": ("撤销", "Revoke"),
    "console.ok.kiosk_withdrawn": ("已撤销「{scope}」的大屏链接。", "Wall link for “{scope}” revoked."),
    "console.result": ("操作结果", "Results"),
    "console.nothing_yet": ("操作结果会显示在这里。", "Results of your actions appear here."),
    # results
    "console.ok.switch": (
        "已切换为战时：{grids} 个网格进入战时状态，"
        "{installed} 名第一小网格长任临时党支部书记，{vacancies} 个空缺待任命。",
        "Switched to wartime: {grids} grids, {installed} secretaries installed, {vacancies} vacancies to fill.",
    ),
    "console.ok.standdown": (
        "已解除战时状态：{grids} 个网格恢复平时。",
        "Stood down: {grids} grids back in peacetime.",
    ),
    "console.ok.level": (
        "响应等级已调整为{level}（{grids} 个网格）。",
        "Response level changed to {level} ({grids} grids).",
    ),
    "console.ok.appoint": (
        "已任命 {person} 为「{grid}」代理书记。",
        "{person} appointed acting secretary of “{grid}”.",
    ),
    "console.ok.launch": ("已发布任务「{name}」。", "Operation “{name}” launched."),
    "console.ok.close": (
        "任务「{name}」已结束。最终数据：{totals}",
        "Operation “{name}” closed. Final totals: {totals}",
    ),
    "console.ok.ack": ("已确认预警：{kind} · {grid}", "Alert acknowledged: {kind} · {grid}"),
    "console.ok.kiosk": ("已生成「{scope}」的大屏链接。", "Wall link made for “{scope}”."),
    "console.cancelled": ("已取消，未做任何更改。", "Cancelled; nothing changed."),
    # refusals
    "console.err.expired": ("登录已过期，请重新登录。", "Your session expired; please log in again."),
    "console.err.forbidden": ("您无权执行此操作：超出您的角色或管辖范围。", "Not allowed: outside your role or scope."),
    "console.err.not_commander": ("只有指挥长可以执行此操作。", "Only a commander can do this."),
    "console.err.unknown_grid": ("找不到网格「{code}」。", "No grid “{code}”."),
    "console.err.unknown": ("找不到该对象，可能已被删除。", "Not found; it may be gone."),
    "console.err.already_war": (
        "该范围已全部处于战时状态。如需调整，请修改响应等级。",
        "This scope is already entirely in wartime; change the response level instead.",
    ),
    "console.err.not_war": ("该范围不在战时状态。", "This scope is not in wartime."),
    "console.err.open_ops": (
        "范围内还有进行中的任务{names}，请先结束任务再解除战时状态。",
        "Operations are still open here{names}; close them before standing down.",
    ),
    "console.err.launch_peace": (
        "该范围尚未全部进入战时状态，请先切换为战时再发布任务。",
        "This scope is not entirely in wartime; switch it to wartime before launching.",
    ),
    "console.err.has_secretary": ("该小网格已有书记，无需任命。", "This small grid has a secretary already."),
    "console.err.grid_peace": ("该网格不在战时状态。", "This grid is not in wartime."),
    "console.err.closed": ("该任务已经结束。", "This operation is closed already."),
    "console.err.acked": ("该预警已被确认。", "This alert was acknowledged already."),
    "console.err.person": ("请填写代理书记的姓名。", "Enter the acting secretary's name."),
    "console.err.name": ("请填写任务名称。", "Enter the operation's name."),
    "console.err.kind": ("请选择任务类型。", "Choose the kind of operation."),
    "console.err.hours": ("时限须为正整数（小时）。", "The time limit must be a whole number of hours."),
    "console.err.target": ("目标须为非负整数。", "Targets must be whole numbers, 0 or more."),
    "console.err.too_long": ("内容过长：{detail}", "Too long: {detail}"),
    "console.err.invalid": ("输入有误：{detail}", "Invalid input: {detail}"),
    "console.err.unavailable": (
        "服务暂时不可用（数据库连接中断），请稍后重试。",
        "The service is unavailable right now (database link down); try again shortly.",
    ),
    "console.err.other": ("操作未完成：{detail}", "Not done: {detail}"),
    "console.alert.vacancy": ("空缺", "Vacancy"),
    "console.alert.stall": ("进度停滞", "Stalled grid"),
    "console.alert.pace": ("进度滞后", "Behind pace"),
    "console.alert.over_target": ("超出目标", "Over target"),
    "console.alert.silent_secretary": ("书记未响应", "Silent secretary"),
})

INCIDENTS = ("epidemic", "flood", "fire", "other")
LEVELS = ("I", "II", "III", "IV")
KINDS = ("mass_testing", "flood_evacuation", "fire_hazard_check")


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
    d = datetime.fromtimestamp(ms / 1000)
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
    launch = html.Div(
        [
            html.H4(t("console.launch", lang), className="console-h4"),
            _label("console.kind", lang),
            _radio("console-kind", [(k, t(k, lang)) for k in KINDS], "mass_testing"),
            html.Div([name, hours], className="console-row console-row-fields"),
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


def _kiosk_card(lang: str) -> html.Section:
    return _card(
        t("console.kiosk", lang),
        html.P(t("console.kiosk_hint", lang), className="console-hint"),
        _button(t("console.kiosk_btn", lang), "console-kiosk", "kiosk", "ghost"),
        html.Div(id="console-kiosk-out", className="console-kiosk-out"),
        html.H3(t("console.kiosk_live", lang), className="console-subhead"),
        html.Div(id="console-kiosk-list", className="console-kiosk-list", **_attrs({"data-kiosk-list": ""})),
        id_="console-kiosk-card",
    )


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
        dcc.Store(id="console-kiosk-token", data=None),
        dcc.Store(id="console-kiosk-rev", data=0),
        dcc.Interval(id="console-interval", interval=REFRESH_MS),
    ]
    body = html.Section(
        [
            _confirm_box(lang),
            html.Div(id="console-result", className="console-result", role="status", **_attrs({"aria-live": "polite"})),
            html.Div(id="console-head", className="console-head"),
            html.Div(
                [
                    html.Div([_mode_card(lang),
                              _card(t("console.people", lang), html.Div(id="console-people"),
                                    id_="console-people-card")], className="console-col"),
                    html.Div([_ops_card(lang),
                              _card(t("console.alerts", lang), html.Div(id="console-alerts"),
                                    id_="console-alerts-card"),
                              _kiosk_card(lang)], className="console-col"),
                ],
                className="console-grid",
            ),
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


# -- actions ----------------------------------------------------------------------------


@callback(
    Output("console-confirm", "data", allow_duplicate=True),
    Output("console-log", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input("console-war-preview", "n_clicks"),
    State("console-scope", "data"),
    State("console-incident", "value"),
    State("console-level", "value"),
    State("console-reason", "value"),
    State("console-view", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _preview_switch(n: int, scope: str, incident: str, level: str, reason: str | None, view: Any,
                    session: Any, lang: str) -> Any:
    """Dry-run the switch and ask for confirmation with what it will do."""
    if not n:
        return no_update, no_update, no_update
    payload = {"scope": scope, "mode": "wartime", "incident": incident, "level": level, "reason": reason or ""}
    status, data = api("POST", "/modes?dry_run=1", session, payload)
    if status != 200:
        return None, _log(False, explain("switch", status, data, lang)), _expired(status)
    name = ((view or {}).get("grid") or {}).get("name", scope)
    confirm = {
        "action": "switch",
        "payload": {**payload, "request_id": f"console-{secrets.token_hex(8)}"},
        "title": t("console.confirm.switch", lang),
        "text": t("console.confirm.switch.lines", lang, scope=name, grids=data.get("grids_switched", 0),
                  installed=data.get("secretaries_installed", 0), vacancies=len(data.get("vacancies", [])),
                  incident=t(incident, lang), level=_level_label(level, lang)),
        "numbers": {"grids": data.get("grids_switched", 0), "installed": data.get("secretaries_installed", 0),
                    "vacancies": len(data.get("vacancies", []))},
    }
    return confirm, no_update, no_update


@callback(
    Output("console-confirm", "data", allow_duplicate=True),
    Output("console-log", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input("console-standdown", "n_clicks"),
    State("console-scope", "data"),
    State("console-view", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _preview_standdown(n: int, scope: str, view: Any, session: Any, lang: str) -> Any:
    """Dry-run the stand-down; refused here already while operations are open."""
    if not n:
        return no_update, no_update, no_update
    payload = {"scope": scope, "mode": "peacetime"}
    status, data = api("POST", "/modes?dry_run=1", session, payload)
    if status != 200:
        open_ops = [o["name"] for o in (view or {}).get("operations", []) if o.get("state") == "open"]
        return None, _log(False, explain("standdown", status, data, lang, open_ops=open_ops)), _expired(status)
    name = ((view or {}).get("grid") or {}).get("name", scope)
    confirm = {
        "action": "standdown",
        "payload": {**payload, "request_id": f"console-{secrets.token_hex(8)}"},
        "title": t("console.confirm.standdown", lang),
        "text": t("console.confirm.standdown.lines", lang, scope=name, grids=data.get("grids_switched", 0),
                  released=data.get("released", 0)),
        "numbers": {"grids": data.get("grids_switched", 0), "released": data.get("released", 0)},
    }
    return confirm, no_update, no_update


@callback(
    Output("console-confirm", "data", allow_duplicate=True),
    Input({"type": "console-close", "op": ALL}, "n_clicks"),
    State("console-view", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _ask_close(_: list[int], view: Any, lang: str) -> Any:
    """Closing freezes an operation's totals: ask first."""
    trig = ctx.triggered[0] if ctx.triggered else None
    if not trig or not trig.get("value") or not isinstance(ctx.triggered_id, Mapping):
        return no_update
    op_id = str(ctx.triggered_id["op"])
    name = next((o["name"] for o in (view or {}).get("operations", []) if o["id"] == op_id), op_id)
    return {
        "action": "close",
        "payload": {"op": op_id, "name": name},
        "title": t("console.confirm.close", lang),
        "text": t("console.confirm.close.lines", lang, name=name),
    }


@callback(
    Output("console-confirm-box", "style"),
    Output("console-confirm-text", "children"),
    Input("console-confirm", "data"),
)
def _show_confirm(confirm: Any) -> Any:
    """The confirmation box, with the numbers of the dry run."""
    if not confirm:
        return {"display": "none"}, []
    numbers = confirm.get("numbers") or {}
    return {"display": "block"}, [
        html.H3(str(confirm.get("title", "")), className="console-confirm-title"),
        html.P(str(confirm.get("text", "")), className="console-confirm-lines",
               **_attrs({f"data-{k}": str(v) for k, v in numbers.items()})),
    ]


def _totals_text(out: Mapping[str, Any], lang: str) -> str:
    totals = out.get("totals") or {}
    targets = out.get("targets") or {}
    parts = []
    for c, n in totals.items():
        tgt = targets.get(c)
        parts.append(f"{t(c, lang)} {_n(n)}" + (f" / {_n(tgt)}" if tgt is not None else ""))
    return "；".join(parts) if lang != "en" else "; ".join(parts)


@callback(
    Output("console-confirm", "data", allow_duplicate=True),
    Output("console-log", "data", allow_duplicate=True),
    Output("console-tick", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input("console-confirm-yes", "n_clicks"),
    Input("console-confirm-no", "n_clicks"),
    State("console-confirm", "data"),
    State("console-tick", "data"),
    State("console-view", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _confirmed(yes: int, no: int, confirm: Any, tick: int, view: Any, session: Any, lang: str) -> Any:
    """Do what was confirmed (or nothing, when cancelled), and say what happened."""
    if not confirm or not (yes or no):
        return no_update, no_update, no_update, no_update
    if ctx.triggered_id == "console-confirm-no":
        return None, _log(True, t("console.cancelled", lang)), no_update, no_update
    action = confirm.get("action")
    payload = dict(confirm.get("payload") or {})
    if action in ("switch", "standdown"):
        status, data = api("POST", "/modes", session, payload)
        if status == 200:
            if action == "switch":
                text = t("console.ok.switch", lang, grids=data.get("grids_switched", 0),
                         installed=data.get("secretaries_installed", 0), vacancies=len(data.get("vacancies", [])))
            else:
                text = t("console.ok.standdown", lang, grids=data.get("grids_switched", 0))
            return None, _log(True, text), (tick or 0) + 1, no_update
        open_ops = [o["name"] for o in (view or {}).get("operations", []) if o.get("state") == "open"]
        refusal = explain(str(action), status, data, lang, open_ops=open_ops)
        return None, _log(False, refusal), no_update, _expired(status)
    if action == "close":
        op = str(payload.get("op"))
        status, data = api("POST", f"/operations/{op}/close", session)
        if status == 200:
            text = t("console.ok.close", lang, name=payload.get("name", op), totals=_totals_text(data, lang))
            return None, _log(True, text), (tick or 0) + 1, no_update
        return None, _log(False, explain("close", status, data, lang)), (tick or 0) + 1, _expired(status)
    return None, no_update, no_update, no_update


@callback(
    Output("console-log", "data", allow_duplicate=True),
    Output("console-tick", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input("console-level-apply", "n_clicks"),
    State("console-scope", "data"),
    State("console-level-new", "value"),
    State("console-tick", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _change_level(n: int, scope: str, level: str, tick: int, session: Any, lang: str) -> Any:
    """Raise or lower the response level of the wartime part of the scope."""
    if not n:
        return no_update, no_update, no_update
    status, data = api("POST", "/levels", session, {"scope": scope, "level": level})
    if status == 200:
        return _log(True, t("console.ok.level", lang, level=_level_label(level, lang), grids=data.get("grids", 0))), \
            (tick or 0) + 1, no_update
    return _log(False, explain("level", status, data, lang)), no_update, _expired(status)


@callback(
    Output("console-log", "data", allow_duplicate=True),
    Output("console-tick", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input({"type": "console-appoint", "grid": ALL}, "n_clicks"),
    State({"type": "console-person", "grid": ALL}, "value"),
    State({"type": "console-person", "grid": ALL}, "id"),
    State("console-view", "data"),
    State("console-tick", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _appoint(_: list[int], people: list[str | None], ids: list[dict[str, str]], view: Any, tick: int,
             session: Any, lang: str) -> Any:
    """Fill a vacancy with an acting secretary."""
    trig = ctx.triggered[0] if ctx.triggered else None
    if not trig or not trig.get("value") or not isinstance(ctx.triggered_id, Mapping):
        return no_update, no_update, no_update
    grid = str(ctx.triggered_id["grid"])
    person = next((p for p, i in zip(people, ids, strict=False) if i.get("grid") == grid), None)
    status, data = api("POST", "/secretaries", session, {"grid": grid, "person": (person or "").strip()})
    if status == 201:
        name = next((v["name"] for v in (view or {}).get("vacancies", []) if v["grid"] == grid), grid)
        return _log(True, t("console.ok.appoint", lang, person=data.get("person", person), grid=name)), \
            (tick or 0) + 1, no_update
    return _log(False, explain("appoint", status, data, lang)), no_update, _expired(status)


@callback(
    Output("console-log", "data", allow_duplicate=True),
    Output("console-tick", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Output("console-op-name", "value"),
    Input("console-launch", "n_clicks"),
    State("console-scope", "data"),
    State("console-kind", "value"),
    State("console-op-name", "value"),
    State("console-hours", "value"),
    State({"type": "console-target", "counter": ALL}, "value"),
    State({"type": "console-target", "counter": ALL}, "id"),
    State("console-tick", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _launch(n: int, scope: str, kind: str, name: str | None, hours: Any, values: list[Any],
            ids: list[dict[str, str]], tick: int, session: Any, lang: str) -> Any:
    """Launch an operation over the scope with its targets and deadline."""
    if not n:
        return no_update, no_update, no_update, no_update
    if hours not in (None, "") and (not isinstance(hours, (int, float)) or hours <= 0 or int(hours) != hours):
        return _log(False, t("console.err.hours", lang)), no_update, no_update, no_update
    targets: dict[str, Any] = {}
    for v, i in zip(values, ids, strict=False):
        if v in (None, ""):
            continue
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        targets[i["counter"]] = v
    payload: dict[str, Any] = {"kind": kind, "scope": scope, "name": (name or "").strip(), "targets": targets}
    if hours:
        payload["deadline"] = int(time.time() * 1000 + int(hours) * 3_600_000)
    status, data = api("POST", "/operations", session, payload)
    if status == 201:
        return _log(True, t("console.ok.launch", lang, name=payload["name"])), (tick or 0) + 1, no_update, ""
    return _log(False, explain("launch", status, data, lang)), no_update, _expired(status), no_update


@callback(
    Output("console-log", "data", allow_duplicate=True),
    Output("console-tick", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input({"type": "console-ack", "alert": ALL}, "n_clicks"),
    State("console-view", "data"),
    State("console-tick", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _ack(_: list[int], view: Any, tick: int, session: Any, lang: str) -> Any:
    """Acknowledge an alert: the commander takes charge of it."""
    alert = _clicked("alert")
    if alert is None:
        return no_update, no_update, no_update
    status, data = api("POST", f"/alerts/{alert}/ack", session)
    if status == 200:
        a = next((x for x in (view or {}).get("alerts", []) if x["id"] == alert), data)
        text = t("console.ok.ack", lang, kind=t(f"console.alert.{data.get('kind')}", lang),
                 grid=a.get("grid_name") or data.get("grid"))
        return _log(True, text), (tick or 0) + 1, no_update
    return _log(False, explain("ack", status, data, lang)), (tick or 0) + 1, _expired(status)


@callback(
    Output("console-kiosk-out", "children"),
    Output("console-kiosk-token", "data"),
    Output("console-log", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Input("console-kiosk", "n_clicks"),
    State("console-scope", "data"),
    State("console-view", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _kiosk(n: int, scope: str, view: Any, session: Any, lang: str) -> Any:
    """Mint a read-only kiosk link for a wall screen showing this scope."""
    if not n:
        return no_update, no_update, no_update, no_update
    status, data = api("POST", "/kiosk", session, {"scope": scope})
    if status != 201:
        return no_update, no_update, _log(False, explain("kiosk", status, data, lang)), _expired(status)
    url = flask.request.host_url.rstrip("/") + str(data.get("url", ""))
    out = [
        html.Div(dcc.Input(value=url, readOnly=True, className="console-input console-kiosk-url",
                           id="console-kiosk-url"), **_attrs({"data-kiosk-url": url})),
        html.Div([
            html.A(url if len(url) < 60 else url[:57] + "…", href=url, target="_blank", rel="noopener",
                   className="console-link"),
            html.Button(t("console.kiosk_revoke", lang), id="console-kiosk-revoke", n_clicks=0,
                        className="console-btn console-btn-ghost console-btn-sm",
                        **_attrs({"data-action": "kiosk-revoke"})),
        ], className="console-row"),
    ]
    name = ((view or {}).get("grid") or {}).get("name", scope)
    made = {"token": data.get("token"), "id": (data.get("link") or {}).get("id")}
    return out, made, _log(True, t("console.ok.kiosk", lang, scope=name)), no_update


def _day(epoch_s: Any) -> str:
    return datetime.fromtimestamp(int(epoch_s)).strftime("%Y-%m-%d") if epoch_s else "—"


def _kiosk_row(link: Mapping[str, Any], lang: str) -> html.Div:
    """One live link: its scope, maker and expiry, what it reads if narrowed, and its revoke button."""
    name = str(link.get("scope_name") or link["scope"])
    facts: list[Any] = [
        html.Span(t("console.kiosk_by", lang, who=str(link.get("maker", ""))), className="console-hint"),
        html.Span(t("console.kiosk_until", lang, day=_day(link.get("expires"))), className="console-hint"),
    ]
    if link.get("reads") != link.get("scope"):
        facts.append(html.Span(t("console.kiosk_reads", lang, scope=str(link.get("reads_name") or link["reads"])),
                               className="console-note"))
    return html.Div(
        [
            html.Div([html.Strong(name), " ", html.Span(str(link["scope"]), className="console-code")],
                     className="console-kiosk-scope"),
            html.Div(facts, className="console-kiosk-facts"),
            html.Button(t("console.kiosk_withdraw", lang), id={"type": "console-kiosk-drop", "link": str(link["id"])},
                        n_clicks=0, className="console-btn console-btn-ghost console-btn-sm",
                        **_attrs({"data-action": "kiosk-withdraw", "data-link": str(link["id"])})),
        ],
        className="console-kiosk-link",
        **_attrs({"data-kiosk-link": str(link["id"]), "data-kiosk-scope": str(link["scope"]),
                  "data-kiosk-maker": str(link.get("maker", "")), "data-kiosk-expires": str(link.get("expires", ""))}),
    )


@callback(
    Output("console-kiosk-list", "children"),
    Input("console-scope", "data"),
    Input("console-kiosk-token", "data"),
    Input("console-kiosk-rev", "data"),
    Input("console-interval", "n_intervals"),
    State("session", "data"),
    State("console-lang", "data"),
)
def _kiosk_list(_: Any, __: Any, ___: Any, ____: Any, session: Any, lang: str) -> Any:
    """The live wall links of the commander's scope (refused for others: nothing shown, the card is hidden)."""
    if not _token(session):
        return []
    status, data = api("GET", "/kiosk", session)
    if status != 200:
        return []
    links = data.get("links", [])
    if not links:
        return html.P(t("console.kiosk_none", lang), className="console-hint")
    return [_kiosk_row(link, lang) for link in links]


@callback(
    Output("console-kiosk-out", "children", allow_duplicate=True),
    Output("console-kiosk-token", "data", allow_duplicate=True),
    Output("console-log", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Output("console-kiosk-rev", "data", allow_duplicate=True),
    Input("console-kiosk-revoke", "n_clicks"),
    State("console-kiosk-token", "data"),
    State("console-kiosk-rev", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _kiosk_revoke(n: int, made: Any, rev: int, session: Any, lang: str) -> Any:
    """Withdraw the link just made."""
    link = made.get("id") if isinstance(made, dict) else None
    if not n or not link:
        return no_update, no_update, no_update, no_update, no_update
    return _withdraw(str(link), made, rev, session, t("console.kiosk_revoked", lang), lang)


@callback(
    Output("console-kiosk-out", "children", allow_duplicate=True),
    Output("console-kiosk-token", "data", allow_duplicate=True),
    Output("console-log", "data", allow_duplicate=True),
    Output("console-auth", "data", allow_duplicate=True),
    Output("console-kiosk-rev", "data", allow_duplicate=True),
    Input({"type": "console-kiosk-drop", "link": ALL}, "n_clicks"),
    State("console-kiosk-token", "data"),
    State("console-kiosk-rev", "data"),
    State("session", "data"),
    State("console-lang", "data"),
    prevent_initial_call=True,
)
def _kiosk_drop(_: list[int], made: Any, rev: int, session: Any, lang: str) -> Any:
    """Withdraw any live link of the list (its walls stop at once)."""
    link = _clicked("link")
    if link is None:
        return no_update, no_update, no_update, no_update, no_update
    return _withdraw(link, made, rev, session, None, lang)


def _withdraw(link: str, made: Any, rev: int, session: Any, text: str | None, lang: str) -> Any:
    """DELETE one link, then list again; the link shown as just made is cleared when it is the one withdrawn."""
    status, data = api("DELETE", f"/kiosk/{link}", session)
    if status != 200:
        return no_update, no_update, _log(False, explain("kiosk", status, data, lang)), _expired(status), (rev or 0) + 1
    gone = data.get("withdrawn", {})
    text = text or t("console.ok.kiosk_withdrawn", lang, scope=str(gone.get("scope_name") or gone.get("scope", "")))
    if isinstance(made, dict) and made.get("id") == link:
        return [], None, _log(True, text), no_update, (rev or 0) + 1
    return no_update, no_update, _log(True, text), no_update, (rev or 0) + 1


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
