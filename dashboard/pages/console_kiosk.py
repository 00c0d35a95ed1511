"""The console's wall links (kiosk links, dashboard.kiosk): make one, list the live ones, revoke any.

A link fixes what its wall shows: the scope, the language, TV mode (no selectors) and, optionally,
a playlist of views rotated at an interval (`assets/wall-playlist.js`). The link just made is shown
with a copy button, its QR code (SVG drawn here with segno, nothing fetched) and its expiry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flask
import segno
from dash import ALL, Input, Output, State, callback, clientside_callback, dcc, html, no_update

from command.localtime import local_datetime
from dashboard.i18n import register, t
from dashboard.pages.console_kit import (
    _attrs,
    _button,
    _card,
    _clicked,
    _expired,
    _log,
    _token,
    api,
    explain,
)

register({
    "console.kiosk_tv": ("电视模式（隐藏选择器）", "TV mode (no selectors)"),
    "console.kiosk_lang": ("大屏语言", "Wall language"),
    "console.kiosk_play": ("轮播（可选）：网格编码或页面，逗号分隔",
                           "Playlist (optional): grid codes or pages, comma-separated"),
    "console.kiosk_every": ("轮播间隔（秒）", "Every (seconds)"),
    "console.kiosk_copy": ("复制链接", "Copy link"),
    "console.kiosk_copied": ("已复制", "Copied"),
    "console.kiosk_expires": ("有效至 {when}", "valid until {when}"),
    "console.kiosk_qr": ("用手机扫码打开此大屏链接", "Scan to open this wall link"),
})


def _kiosk_card(lang: str) -> html.Section:
    return _card(
        t("console.kiosk", lang),
        html.P(t("console.kiosk_hint", lang), className="console-hint"),
        html.Div([
            dcc.Checklist(id="console-kiosk-tv", options=[{"label": t("console.kiosk_tv", lang), "value": "tv"}],
                          value=["tv"], className="console-check"),
            html.Label([t("console.kiosk_lang", lang), dcc.Dropdown(
                id="console-kiosk-lang",
                options=[{"label": "中文", "value": "zh-CN"}, {"label": "English", "value": "en"}],
                value=lang, clearable=False, searchable=False, className="console-kiosk-lang")]),
            dcc.Input(id="console-kiosk-play", type="text", placeholder=t("console.kiosk_play", lang),
                      className="console-input", debounce=False),
            html.Label([t("console.kiosk_every", lang), dcc.Input(
                id="console-kiosk-every", type="number", min=5, max=3600, step=1, value=30,
                className="console-input console-kiosk-every")]),
        ], className="console-kiosk-opts"),
        _button(t("console.kiosk_btn", lang), "console-kiosk", "kiosk", "ghost"),
        html.Div(id="console-kiosk-out", className="console-kiosk-out"),
        html.H3(t("console.kiosk_live", lang), className="console-subhead"),
        html.Div(id="console-kiosk-list", className="console-kiosk-list", **_attrs({"data-kiosk-list": ""})),
        id_="console-kiosk-card",
    )



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
    State("console-kiosk-tv", "value"),
    State("console-kiosk-lang", "value"),
    State("console-kiosk-play", "value"),
    State("console-kiosk-every", "value"),
    prevent_initial_call=True,
)
def _kiosk(n: int, scope: str, view: Any, session: Any, lang: str, tv: Any, wall_lang: Any, play: Any,
           every: Any) -> Any:
    """Mint a read-only kiosk link for a wall screen showing this scope, with its settings."""
    if not n:
        return no_update, no_update, no_update, no_update
    ask: dict[str, Any] = {"scope": scope, "tv": bool(tv), "lang": wall_lang or lang}
    views = [v.strip() for v in str(play or "").replace("，", ",").split(",") if v.strip()]
    if views:
        ask["play"] = views
        ask["every"] = every if isinstance(every, int) else 30
    status, data = api("POST", "/kiosk", session, ask)
    if status != 201:
        return no_update, no_update, _log(False, explain("kiosk", status, data, lang)), _expired(status)
    url = flask.request.host_url.rstrip("/") + str(data.get("url", ""))
    expires = (data.get("link") or {}).get("expires")
    out = [
        html.Div([
            dcc.Input(value=url, readOnly=True, className="console-input console-kiosk-url", id="console-kiosk-url"),
            html.Button(t("console.kiosk_copy", lang), id="console-kiosk-copy", n_clicks=0,
                        className="console-btn console-btn-ghost console-btn-sm",
                        **_attrs({"data-action": "kiosk-copy", "data-copied": t("console.kiosk_copied", lang)})),
        ], className="console-row", **_attrs({"data-kiosk-url": url})),
        html.Div([
            html.Img(src=qr_svg(url), alt=t("console.kiosk_qr", lang), className="console-kiosk-qr",
                     **_attrs({"data-kiosk-qr": ""})),
            html.Div([
                html.Span(t("console.kiosk_expires", lang, when=_when(expires)), className="console-hint",
                          **_attrs({"data-kiosk-valid-until": str(expires or "")})),
                html.Span(t("console.kiosk_qr", lang), className="console-hint"),
            ], className="console-kiosk-facts"),
        ], className="console-kiosk-made"),
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


def qr_svg(url: str) -> str:
    """The link as a QR code: an SVG data URI, drawn here (no service asked)."""
    return str(segno.make(url, error="m").svg_data_uri(scale=4, border=2, dark="#0b1c36", light="#ffffff"))


def _when(epoch_s: Any) -> str:
    return local_datetime(int(epoch_s) * 1000).strftime("%Y-%m-%d %H:%M") if epoch_s else "—"


clientside_callback(
    """
    function (n) {
        if (!n) { return window.dash_clientside.no_update; }
        var input = document.getElementById('console-kiosk-url');
        var button = document.getElementById('console-kiosk-copy');
        if (!input) { return window.dash_clientside.no_update; }
        var done = function () { if (button) { button.textContent = button.getAttribute('data-copied'); } };
        if (navigator.clipboard && window.isSecureContext) {
            navigator.clipboard.writeText(input.value).then(done, function () {});
        } else {  // plain http on a county's own network: the old way still copies
            input.select();
            try { if (document.execCommand('copy')) { done(); } } catch (e) { /* nothing to copy with */ }
        }
        return window.dash_clientside.no_update;
    }
    """,
    Output("console-kiosk-copy", "title"),
    Input("console-kiosk-copy", "n_clicks"),
    prevent_initial_call=True,
)


def _day(epoch_s: Any) -> str:
    return local_datetime(int(epoch_s) * 1000).strftime("%Y-%m-%d") if epoch_s else "—"


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
