"""`/`: the command board (指挥大屏) for the video wall — "一图统揽", live and unattended.

Dash renders the frame: header, panels, the map (`#grid-map`, a `dcc.Graph`
with a transparent cartesian frame over the canvas the polygons are drawn on,
see `dashboard.components.map`), the two charts, the selectors and the login
form. `assets/board.js` fills it: it fetches the snapshot (``GET
/api/v1/board``) and the static polygons, opens the live push
(`assets/live.js` → `streams.live`) and applies every update to the DOM, the
map's canvas and the charts directly — no round trip to a Dash callback for
live numbers, and never a rebuilt figure. The map needs neither the snapshot
nor Plotly to be drawn: the config carries the colour bands (palette, legend,
texts: `dashboard.components.bands`, the one definition) and the scope's box,
so the first complete map waits only for the polygons and the hub's state.

The URL is the wall's bookmark: ``/?scope=PN03&op=op-…&lang=en`` (scope: the
county, a town or any grid; op: one operation, else every open one in the
scope). A kiosk link adds ``&token=…`` (minted by ``POST /api/v1/kiosk``): the
page adopts it as its session, so a wall needs no typing and survives reloads
and restarts. Selectors, breadcrumbs and clicks on the map change the URL
(history push), and Dash pages renders the frame again for the new query.
The kiosk token stays this tab's (in its URL), never the browser's session:
another tab of the same browser keeps its own login and scope.

TV mode (``&tv=1``): the selectors and the language button are hidden (`.b-tv`).

Map measure (``&map=reach``): for an operation whose households the wall shows
(the households panel's rule, `dashboard.components.board_households`), the
map and the bars by child are coloured by household reach (入户覆盖率:
households with a status / households, per cell and per child, from the
snapshot's read) instead of the operation's counter; a small selector on the
map panel (hidden in TV mode) switches it, and a kiosk link or playlist view
fixes it with the parameter (`assets/board-reach.js`).
A playlist (``&play=PN,PN01,/peacetime&every=30``) rotates the views at an
interval: `assets/wall-playlist.js`, on every page of the app.

Stable hooks (DESIGN.md §5): `#grid-map`; `[data-kpi=COUNTER]` with
`data-value`; `[data-mode]` = peacetime | wartime. board.js also marks
`#grid-map[data-map-state=complete]` with `data-polygons` once every polygon is
drawn and coloured, and `#board-root[data-conn]` = connecting | live | lost.

One instant (DESIGN §7.6): `#board[data-as-of]` is the log position (control
and town stream ids, `streams.position.encode`) that the panels on view
reflect; every panel (`.b-panel`) carries its own `data-as-of`, and one that
shows an older position marks itself `[data-stale]`. The live panels take each
update of the push together, in one task; the bars carry
`[data-child=CODE][data-value]`.
"""

from __future__ import annotations

from typing import Any

import dash
import flask
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from command.errors import CommandRejected
from command.localtime import OFFSET_MS
from dashboard.components.bands import browser_rules
from dashboard.components.board_households import households_panel
from dashboard.components.board_model import READER, labels, search
from dashboard.components.charts import curve_figure
from dashboard.components.drill_banner import banner as drill_banner
from dashboard.components.map import base_figure
from dashboard.components.session import actor_of, backend, login_form, register_login
from dashboard.i18n import lang_of, t

dash.register_page(__name__, path="/", title="战时指挥大屏 · Command board", name="board")

MEASURES = ("reach",)
"""What the map can be coloured by besides the operation's counter (``?map=reach``: household reach)."""

GRAPH_CONFIG: Any = {"displayModeBar": False, "responsive": True, "doubleClick": False}

CURVE_FIGURE: dict[str, Any] = curve_figure().to_plotly_json()
"""The (empty) curve's figure, built once at import: Plotly's validators cost a worker's first page load
a third of a second, and board.js fills the traces anyway."""


def _attrs(**data: str) -> Any:
    """HTML attributes Dash passes through (``data-*``, ``aria-*``); typed loosely on purpose."""
    return {k.replace("_", "-"): v for k, v in data.items()}


def _panel(key: str, title: Any, body: Any, lang: str, extra: Any = None, cls: str = "") -> html.Section:
    """A panel with its title and freshness mark (board.js keeps the mark's age current)."""
    return html.Section(
        [
            html.Div(
                [
                    html.H2(title, className="b-panel-title", id=f"board-{key}-title"),
                    extra if extra is not None else html.Span(),
                    html.Span(
                        [html.I(className="b-dot"), html.Span(t("board.connecting", lang), className="b-age-text")],
                        className="b-age", **_attrs(data_age_for=key),
                    ),
                ],
                className="b-panel-head",
            ),
            html.Div(body, className="b-panel-body"),
        ],
        className=f"b-panel b-panel-{key} {cls}".strip(),
        id=f"board-panel-{key}",
    )


def _geometry(scope: str | None) -> tuple[str | None, tuple[float, float, float, float] | None]:
    """The registry's geometry version and the scope's bounds (public enough: no names, no numbers)."""
    try:
        county = backend().county
        with READER.county(backend().client, county.code) as c:
            tree = c.tree
            code = scope if scope and scope in tree else tree.root
            return c.state.geometry, c.view.geometry_index().bounds(code, tree.leaves(code))
    except CommandRejected:
        return None, None


def _token_scope(token: str | None) -> str | None:
    """The scope of a wall's link token (a kiosk link to a town frames the town), None if not valid."""
    if not token or not isinstance(token, str):
        return None
    try:
        return str(backend().accounts.verify(token).actor.scope) or None
    except CommandRejected:
        return None


def _config(
    scope: str | None, op: str | None, lang: str, token: str | None, geo: str | None,
    box: tuple[float, float, float, float] | None = None, measure: str | None = None,
) -> dict[str, Any]:
    """What board.js needs to start: the query, the live push's address, the geometry's version and box."""
    app_config = flask.current_app.config.get("WARTIME_CONFIG")
    return {
        "scope": scope or None,
        "op": op or None,
        "lang": lang,
        "token": token or None,
        "live_port": getattr(app_config, "live_port", None),
        "live_url": getattr(app_config, "live_url", None),
        "geo": geo,
        "bounds": list(box) if box else None,
        "map": measure if measure in MEASURES else None,
        "bands": browser_rules(lang),
        "labels": labels(lang),
        "zone_offset_ms": OFFSET_MS,
    }


def layout(
    scope: str | None = None, op: str | None = None, lang: str | None = None, token: str | None = None,
    drill: str | None = None, tv: str | None = None, **query: Any,
) -> html.Div:
    """The frame of the board for one query; board.js fills it (``drill``: a drill's wall, DESIGN §7.4)."""
    lang = lang_of(lang)
    drill = drill if isinstance(drill, str) and drill.startswith("drill-") and len(drill) <= 20 else None
    tv_mode = tv not in (None, "", "0")
    other = "en" if lang == "zh-CN" else "zh-CN"
    geo, box = _geometry(scope or _token_scope(token))
    header = html.Header(
        [
            html.Div(
                [
                    html.Div(className="b-emblem", **_attrs(aria_hidden="true")),
                    html.Div(
                        [
                            html.Div(id="board-county", className="b-county"),
                            html.Div(t("board.title", lang), className="b-title"),
                        ],
                        className="b-brand-text",
                    ),
                ],
                className="b-brand",
            ),
            html.Div(
                [
                    html.Span(id="board-mode", className="b-badge"),
                    html.Div(
                        [
                            html.Div(id="board-incident", className="b-incident"),
                            html.Div(id="board-elapsed", className="b-elapsed"),
                        ],
                        className="b-mode-text",
                    ),
                ],
                className="b-mode",
            ),
            html.Nav(id="board-crumbs", className="b-crumbs", **_attrs(aria_label=t("board.scope", lang))),
            html.Div(
                [
                    dcc.Dropdown(id="board-scope", options=[], value=scope, clearable=False, searchable=True,
                                 placeholder=t("board.search", lang), className="b-select b-select-scope",
                                 optionHeight=36),
                    dcc.Dropdown(id="board-op", options=[], value=op or "", clearable=False, searchable=False,
                                 placeholder=t("board.all_ops", lang), className="b-select b-select-op"),
                    html.Button(t("language", lang), id="board-lang", n_clicks=0, className="b-lang",
                                **_attrs(data_lang=other)),
                ],
                className="b-controls",
            ),
            html.Div(
                [
                    html.Div(
                        [html.I(className="b-dot"), html.Span(t("board.connecting", lang), id="board-conn-text")],
                        id="board-conn", className="b-conn", role="status", **_attrs(aria_live="polite"),
                    ),
                    html.Div(id="board-clock", className="b-clock"),
                ],
                className="b-status",
            ),
        ],
        className="b-head",
    )
    lost = html.Div(
        [html.Strong(t("board.lost", lang)), html.Span(id="board-lost-retry")],
        id="board-lost", className="b-lost", role="alert",
    )
    left = html.Div(
        [
            _panel("kpi", t("operation", lang), html.Div(id="board-tiles", className="b-tiles"), lang),
            _panel("sec", t("board.secretaries", lang), html.Div(id="board-sec", className="b-sec"), lang),
            _panel("alerts", t("board.alerts", lang), html.Div(id="board-alerts", className="b-alerts"), lang,
                   extra=html.Span(id="board-alert-count", className="b-count")),
        ],
        className="b-col b-col-left",
    )
    centre = html.Div(
        [
            _panel(
                "map", t("board.map", lang),
                [
                    html.Canvas(id="board-map-canvas", className="b-map-canvas", **_attrs(aria_hidden="true")),
                    dcc.Graph(id="grid-map", figure=base_figure(box), config={**GRAPH_CONFIG, "scrollZoom": True},
                              className="b-map", style={"height": "100%", "width": "100%"}),
                    html.Div(id="board-legend", className="b-legend"),
                    html.Div(id="board-map-msg", className="b-map-msg"),
                    html.Div(id="board-measure", className="b-measure", role="group",
                             hidden=True, **_attrs(aria_label=t("board.measure", lang))),
                    html.Div(id="board-tip", className="b-tip", role="tooltip"),
                ],
                lang, extra=html.Span(id="board-map-sub", className="b-sub"), cls="b-panel-mapwrap",
            ),
            _panel("feed", t("board.feed", lang), html.Ol(id="board-feed", className="b-feed"), lang),
        ],
        className="b-col b-col-centre",
    )
    right = html.Div(
        [
            _panel(
                "bars", html.Span(id="board-bars-title-text"),
                [html.Ol(id="board-bars", className="b-bars"), html.Div(id="board-sum", className="b-sum")],
                lang,
            ),
            _panel(
                "curve", t("board.curve", lang),
                dcc.Graph(id="board-curve", figure=CURVE_FIGURE, config=GRAPH_CONFIG, className="b-chart",
                          style={"height": "100%", "width": "100%"}),
                lang,
                extra=html.Div(
                    [
                        html.Span(t("board.curve_done", lang), className="b-key b-key-done"),
                        html.Span(t("board.curve_pace", lang), className="b-key b-key-pace"),
                        html.Span(t("board.curve_need", lang), className="b-key b-key-need"),
                    ],
                    className="b-keys",
                ),
            ),
            _panel("slow", t("board.slowest", lang), html.Div(id="board-slow", className="b-slow"), lang),
            households_panel(_panel, lang),
        ],
        className="b-col b-col-right",
    )
    return html.Div(
        [
            dcc.Store(id="board-config", data=_config(scope, op, lang, token, geo, box, query.get("map"))),
            dcc.Store(id="board-boot"),
            html.Div(
                html.Div(login_form("board", lang), className="b-login-card"),
                id="board-signin", className="b-login",
            ),
            *([drill_banner(drill, lang)] if drill else []),
            html.Div([header, lost, html.Main([left, centre, right], id="board", className="b-grid")],
                     id="board-frame", className="b-frame"),
        ],
        id="board-root",
        className=" ".join(["board", *(["board-drill"] if drill else []), *(["b-tv"] if tv_mode else [])]),
        lang=lang,
        **_attrs(data_conn="connecting", **({"data_drill": drill} if drill else {})),
    )


register_login("board")

clientside_callback(
    """
    function (session, cfg) {
        var api = window.wartimeBoard;
        var inside = !!((cfg && cfg.token) || (session && session.token));
        try { if (api) { api.boot(session, cfg || {}); } } catch (e) { console.error('board boot', e); }
        return [inside ? {display: 'none'} : {}, inside ? {} : {display: 'none'}, Date.now()];
    }
    """,
    Output("board-signin", "style"),
    Output("board-frame", "style"),
    Output("board-boot", "data"),
    Input("session", "data"),
    Input("board-config", "data"),
)

clientside_callback(
    """
    function (scope, op, clicks) {
        var api = window.wartimeBoard;
        var trig = (window.dash_clientside.callback_context.triggered || [])[0];
        if (!api || !trig) { return window.dash_clientside.no_update; }
        var id = trig.prop_id.split('.')[0];
        if (id === 'board-scope') { api.pick('scope', scope); }
        if (id === 'board-op') { api.pick('op', op); }
        if (id === 'board-lang' && clicks) { api.pick('lang'); }
        return window.dash_clientside.no_update;
    }
    """,
    Output("board-boot", "data", allow_duplicate=True),
    Input("board-scope", "value"),
    Input("board-op", "value"),
    Input("board-lang", "n_clicks"),
    prevent_initial_call=True,
)


@callback(
    Output("board-scope", "options"),
    Input("board-scope", "search_value"),
    State("board-scope", "options"),
    State("session", "data"),
    State("board-config", "data"),
    prevent_initial_call=True,
)
def _search_scope(text: str | None, options: list[dict[str, Any]] | None, session: Any, cfg: Any) -> Any:
    """Any grid of the actor's scope by name or code (the dropdown's own options are the path and children)."""
    if not text:
        return no_update
    token = (cfg or {}).get("token")
    try:
        actor = actor_of({"token": token} if token else session)
    except CommandRejected:
        return no_update
    with READER.county(backend().client, backend().county.code) as county:
        tree = county.tree
        hits = search(tree, text, actor.scope or tree.root)
    known = {o["value"] for o in options or []}
    extra = [{"label": f"{h['name']} · {h['code']}", "value": h["code"]} for h in hits if h["code"] not in known]
    return [*(options or []), *extra]
