"""`/review`: after-action review (复盘) — replay an operation minute by minute, export the report.

Choose an operation; the time slider (or play, at a chosen speed) shows the map,
the totals and the cumulative curve as they stood at that instant, computed from
the log by `streams.history` (snapshots only make it faster), and the decisive
events (switches, installations, vacancies filled, alerts, launch, close) are a
list whose items move the replay to their instant. The report downloads in four
formats through `dashboard.reports`.

Figures are built once per operation; moving in time patches them (`Patch`:
the map's colours, the curve's "so far" trace and the time marker), never
rebuilds them. Playback runs in the browser (a clientside callback advances the
slider; the server answers each new instant). No business logic here: the
callbacks call `History`, `command.timetravel` and `dashboard.reports`.
"""

from __future__ import annotations

from typing import Any

import dash
import plotly.graph_objects as go
from dash import ALL, Input, Output, Patch, State, callback, clientside_callback, dcc, html, no_update

from command import bounds
from command.access import Actor, require_read, within_scope
from command.errors import CommandRejected
from command.operations import COUNTERS
from command.timetravel import leaf_completion, operation_view
from dashboard.components.axes import clock_format, curve_end
from dashboard.components.session import actor_of, backend, login_form, register_login
from dashboard.i18n import lang_of, register, t
from dashboard.reports import filename as report_filename
from dashboard.reports import fmt_duration, fmt_time, render_report, timeline_text
from streams.history import history_for

dash.register_page(__name__, path="/review", title="复盘 · After-action review", name="review")

register({
    "review.title": ("复盘 · 战时任务回放", "After-action review"),
    "review.operation": ("选择战时任务", "Choose an operation"),
    "review.play": ("▶ 播放", "▶ Play"),
    "review.pause": ("⏸ 暂停", "⏸ Pause"),
    "review.speed": ("速度", "Speed"),
    "review.speed.auto": ("30秒播完", "whole in 30 s"),
    "review.at": ("回放时刻", "Replay at"),
    "review.since_launch": ("启动后 {d}", "{d} after launch"),
    "review.before_launch": ("任务尚未启动", "before the launch"),
    "review.timeline": ("关键事件", "Decisive events"),
    "review.zone": ("北京时间（UTC+8）", "Beijing time (UTC+8)"),
    "review.export": ("导出复盘报告", "Export the report"),
    "review.map": ("网格完成率（%）", "Grid completion (%)"),
    "review.curve": ("累计进度", "Cumulative progress"),
    "review.so_far": ("截至回放时刻", "so far"),
    "review.whole": ("全程", "whole operation"),
    "review.no_geometry": ("无网格边界数据", "No grid polygons in the registry"),
    "review.secretaries": ("书记在岗", "Secretaries"),
    "review.vacancies": ("空缺", "Vacancies"),
    "review.open_alerts": ("未解除预警", "Open alerts"),
    "review.mode": ("状态", "Mode"),
    "review.none": ("暂无战时任务", "No operation yet"),
})

_PACE: dict[str, tuple[int, list[int], list[int]]] = {}
"""Per operation: the report's launch time and its cumulative headline series (to cut at an instant)."""

SPEEDS = [("auto", "review.speed.auto"), (60, "60×"), (600, "600×"), (3600, "3600×"), (1, "1×")]
TICK_MS = 500
_HIDE = {"display": "none"}
_SHOW: dict[str, str] = {}


def _data(**attrs: str) -> dict[str, Any]:
    """HTML data-* attributes for Dash components (stable hooks for tests and styles)."""
    return {"data-" + k.replace("_", "-"): v for k, v in attrs.items()}


def layout(lang: str | None = None, op: str | None = None, **_: Any) -> html.Div:
    """The page frame; the session decides between the login form and the review."""
    lang = lang_of(lang)
    other = "en" if lang == "zh-CN" else "zh-CN"
    return html.Div(
        [
            dcc.Store(id="review-lang", data=lang),
            dcc.Store(id="review-want-op", data=op),
            dcc.Store(id="review-events", data=[]),
            dcc.Store(id="review-span", data=None),
            dcc.Interval(id="review-tick", interval=TICK_MS, disabled=True),
            dcc.Download(id="review-download"),
            html.Header(
                [
                    html.H1(t("review.title", lang), className="rv-title"),
                    html.A(t("language", lang), href=f"/review?lang={other}", className="rv-lang",
                           **_data(lang=other)),
                ],
                className="rv-header",
            ),
            html.Div(login_form("review", lang), id="review-login-wrap", className="rv-login", style=_HIDE),
            html.Main(
                [
                    html.Div(
                        [
                            dcc.Dropdown(id="review-op", placeholder=t("review.operation", lang), clearable=False,
                                         className="rv-op"),
                            html.Div(
                                [html.Span(t("review.export", lang), className="rv-export-label")]
                                + [html.Button(f.upper(), id=f"review-export-{f}", n_clicks=0,
                                               className="rv-export", **_data(format=f))
                                   for f in ("html", "pdf", "xlsx", "csv")],
                                className="rv-exports",
                            ),
                        ],
                        className="rv-bar",
                    ),
                    html.Div(
                        [
                            html.Button(t("review.play", lang), id="review-play", n_clicks=0, className="rv-play",
                                        **_data(action="play")),
                            dcc.Dropdown(id="review-speed", clearable=False, value="auto", className="rv-speed",
                                         options=[{"label": t(lbl, lang) if lbl.startswith("review.") else lbl,
                                                   "value": v} for v, lbl in SPEEDS]),
                            html.Div(dcc.Slider(id="review-slider", min=0, max=1, value=1, step=1, marks=None,
                                                updatemode="mouseup"), className="rv-slider"),
                            html.Div(id="review-time", className="rv-time", **_data(at="")),
                        ],
                        className="rv-controls",
                    ),
                    html.Div(id="review-kpis", className="rv-kpis"),
                    html.Div(
                        [
                            dcc.Graph(id="review-map", className="rv-map", config={"displaylogo": False},
                                      figure=go.Figure()),
                            dcc.Graph(id="review-curve", className="rv-curve", config={"displaylogo": False},
                                      figure=go.Figure()),
                            html.Aside(
                                [html.H2(t("review.timeline", lang)), html.Ol(id="review-timeline",
                                                                             className="rv-timeline")],
                                className="rv-side",
                            ),
                        ],
                        className="rv-grid",
                    ),
                ],
                id="review-main",
                className="rv-main",
                style=_HIDE,
            ),
        ],
        className="rv-page",
    )


register_login("review")


def _actor(session: Any) -> Actor | None:
    try:
        return actor_of(session)
    except CommandRejected:
        return None


@callback(
    Output("review-login-wrap", "style"),
    Output("review-main", "style"),
    Output("review-op", "options"),
    Output("review-op", "value"),
    Input("session", "data"),
    State("review-want-op", "data"),
    State("review-lang", "data"),
)
def _show(session: Any, want: str | None, lang: str) -> Any:
    """Login form without a valid session; otherwise the operations the user may review."""
    actor = _actor(session)
    if actor is None:
        return _SHOW, _HIDE, [], None
    county = backend().county
    st = county.refresh()
    tree = county.tree
    ops = [o for o in sorted(st.operations.values(), key=lambda o: (-o.launched_at, o.id))
           if within_scope(actor, tree, o.scope)]
    options = [{"label": f"{o.name} · {t(o.kind, lang)} · {fmt_time(o.launched_at)}", "value": o.id} for o in ops]
    value = want if want in {o.id for o in ops} else (ops[0].id if ops else None)
    return _HIDE, _SHOW, options, value


def _map_figure(county: Any, scope: str, leaves: list[str], z: list[float | None], lang: str) -> go.Figure:
    geometry = county.view.geometry()
    feats = [{"type": "Feature", "id": g, "properties": {}, "geometry": geometry[g]} for g in leaves if g in geometry]
    fig = go.Figure()
    if not feats:
        fig.add_annotation(text=t("review.no_geometry", lang), showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    else:
        lons: list[float] = []
        lats: list[float] = []
        for f in feats:
            geom = f["geometry"]
            rings = geom["coordinates"] if geom["type"] == "Polygon" else [r for p in geom["coordinates"] for r in p]
            for ring in rings:
                for x, y in ring:
                    lons.append(x)
                    lats.append(y)
        span = max(max(lons) - min(lons), max(lats) - min(lats), 1e-6)
        zoom = max(0.0, min(14.0, 8.6 - __import__("math").log2(span / 0.6)))
        names = {g: county.tree[g].name for g in leaves}
        keep = {f["id"] for f in feats}
        locs = [g for g in leaves if g in keep]
        zz = [v for g, v in zip(leaves, z, strict=True) if g in keep]
        fig.add_trace(go.Choroplethmap(
            geojson={"type": "FeatureCollection", "features": feats},
            locations=locs, z=[v if v is not None else 0 for v in zz], featureidkey="id",
            text=[names[g] for g in locs], hovertemplate="%{text}<br>%{z:.1f}%<extra></extra>",
            zmin=0, zmax=100, colorscale=[[0, "#b71c1c"], [0.5, "#f9a825"], [0.9, "#7cb342"], [1, "#1b5e20"]],
            marker={"line": {"width": 0.3, "color": "#ffffff"}}, colorbar={"title": {"text": "%"}, "thickness": 10},
        ))
        fig.update_layout(map={"style": "white-bg", "zoom": zoom,
                               "center": {"lon": (min(lons) + max(lons)) / 2, "lat": (min(lats) + max(lats)) / 2}})
    fig.update_layout(margin={"l": 0, "r": 0, "t": 30, "b": 0}, title={"text": t("review.map", lang), "x": 0.01},
                      uirevision=scope)
    return fig


def _curve_figure(report: Any, lang: str) -> go.Figure:
    head = report.counters[0]
    xs = [fmt_time(report.launched_at).replace(" ", "T"), *[fmt_time(v).replace(" ", "T") for v in report.pace["time"]]]
    ys = [0, *[int(v) for v in report.pace[head]]]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"shape": "hv", "color": "#bbbbbb", "width": 1},
                             name=t("review.whole", lang)))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"shape": "hv", "color": "#b71c1c", "width": 2.5},
                             name=t("review.so_far", lang)))
    target = report.summary.loc[0, "target"]
    if report.deadline and target == target and target is not None:
        fig.add_trace(go.Scatter(x=[xs[0], fmt_time(report.deadline).replace(" ", "T")], y=[0, float(target)],
                                 mode="lines", line={"dash": "dash", "color": "#777777"},
                                 name=t("rpt.chart.deadline", lang)))
    last = max([report.launched_at, *[int(v) for v in report.pace["time"]], report.closed_at or 0])
    end, _inside = curve_end(report.launched_at, last, report.deadline)
    fig.update_xaxes(type="date", range=[xs[0], fmt_time(end).replace(" ", "T")],
                     tickformat=clock_format(end - report.launched_at), hoverformat="%Y-%m-%d %H:%M:%S",
                     title={"text": t("review.zone", lang)})
    fig.update_layout(
        title={"text": f"{t('review.curve', lang)} · {t(head, lang)}", "x": 0.01},
        margin={"l": 50, "r": 10, "t": 36, "b": 40}, legend={"orientation": "h", "y": -0.2},
        shapes=[{"type": "line", "xref": "x", "yref": "paper", "x0": xs[-1], "x1": xs[-1], "y0": 0, "y1": 1,
                 "line": {"color": "#1565c0", "width": 1.5}}],
        uirevision=report.operation,
    )
    return fig


@callback(
    Output("review-slider", "min"),
    Output("review-slider", "max"),
    Output("review-slider", "step"),
    Output("review-slider", "value"),
    Output("review-map", "figure"),
    Output("review-curve", "figure"),
    Output("review-timeline", "children"),
    Output("review-events", "data"),
    Output("review-span", "data"),
    Input("review-op", "value"),
    State("session", "data"),
    State("review-lang", "data"),
    prevent_initial_call=True,
)
def _select(op: str | None, session: Any, lang: str) -> Any:
    """A new operation: its span, the map and curve drawn once, its decisive events."""
    actor = _actor(session)
    if actor is None or not op:
        return (no_update,) * 9
    county = backend().county
    st = county.refresh()
    operation = st.operations.get(op)
    if operation is None:
        return (no_update,) * 9
    require_read(actor, county.tree, operation.scope)
    hist = history_for(county.client, county.code)
    hist.ensure_snapshots()
    report = hist.report(op)
    start = min(report.switch_at or operation.launched_at, operation.launched_at)
    end = max(report.closed_at or report.as_of, operation.launched_at)
    tree = county.tree
    leaves = [g for g in tree.subtree(operation.scope) if not tree.children[g]]
    inst = hist.state_at(end)
    fig_map = _map_figure(county, operation.scope, leaves, leaf_completion(inst, op, leaves), lang)
    fig_curve = _curve_figure(report, lang)
    names = {g: tree[g].name for g in tree.grids}
    items = [
        html.Li(html.Button(
            [html.Time(fmt_time(it.ms), className="rv-ev-time"),
             html.Span(timeline_text(it, lang, names), className="rv-ev-text")],
            id={"type": "review-ev", "index": i}, n_clicks=0, className=f"rv-ev rv-ev-{it.kind}",
            **_data(ms=str(it.ms), kind=it.kind),
        ))
        for i, it in enumerate(report.timeline)
    ]
    head = report.counters[0]
    _PACE[op] = (report.launched_at, [int(v) for v in report.pace["time"]], [int(v) for v in report.pace[head]])
    step = max(1, (end - start) // 2000)
    span = {"start": start, "end": end, "launched_at": operation.launched_at, "leaves": leaves}
    return start, end, step, end, fig_map, fig_curve, items, [it.ms for it in report.timeline], span


@callback(
    Output("review-map", "figure", allow_duplicate=True),
    Output("review-curve", "figure", allow_duplicate=True),
    Output("review-kpis", "children"),
    Output("review-time", "children"),
    Output("review-time", "data-at"),
    Input("review-slider", "value"),
    State("review-op", "value"),
    State("review-span", "data"),
    State("session", "data"),
    State("review-lang", "data"),
    prevent_initial_call=True,
)
def _at(at: int | None, op: str | None, span: Any, session: Any, lang: str) -> Any:
    """The county at the chosen instant: patch the map colours, the curve, the totals."""
    actor = _actor(session)
    when = bounds.readable_time(at)  # a slider value from the browser: any number, or none
    if actor is None or not op or not isinstance(span, dict) or when is None:
        return (no_update,) * 5
    at = when
    county = backend().county
    hist = history_for(county.client, county.code)
    inst = hist.state_at(at)
    view = operation_view(inst, op)
    leaves = span["leaves"]
    geometry = county.view.geometry()
    z = [v if v is not None else 0 for g, v in zip(leaves, leaf_completion(inst, op, leaves), strict=True)
         if g in geometry]
    pmap = Patch()
    if z:
        pmap["data"][0]["z"] = z
    pcurve = Patch()
    x = fmt_time(int(at)).replace(" ", "T")
    pcurve["layout"]["shapes"][0]["x0"] = x
    pcurve["layout"]["shapes"][0]["x1"] = x
    kind = inst.control.operations[op].kind if op in inst.control.operations else None
    pace = _PACE.get(op)
    if pace is None:
        report = hist.report(op)
        kind = report.kind
        pace = _PACE[op] = (report.launched_at, [int(v) for v in report.pace["time"]],
                            [int(v) for v in report.pace[report.counters[0]]])
    launched_at, times, values = pace
    st = backend().county.state
    kind = kind or st.operations[op].kind
    head = COUNTERS[kind][0]
    xs = [fmt_time(launched_at).replace(" ", "T")]
    ys = [0]
    for tm, v in zip(times, values, strict=True):
        if tm > int(at):
            break
        xs.append(fmt_time(tm).replace(" ", "T"))
        ys.append(v)
    if int(at) >= launched_at:
        total = int(view.get("counts", {}).get(head, 0))
        xs.append(x)
        ys.append(total)
    pcurve["data"][1]["x"] = xs
    pcurve["data"][1]["y"] = ys
    tiles = []
    counters = COUNTERS.get(kind, ())
    for c in counters:
        n = int(view.get("counts", {}).get(c, 0))
        tgt = view.get("targets", {}).get(c)
        tiles.append(html.Div(
            [html.Div(t(c, lang), className="rv-kpi-label"),
             html.Div(f"{n:,}", className="rv-kpi-value"),
             html.Div(f"/ {tgt:,} · {100 * n / tgt:.1f}%" if tgt else "", className="rv-kpi-sub")],
            className="rv-kpi", **_data(review_kpi=c, value=str(n)),
        ))
    for key, value in (("review.mode", t(view.get("mode", "peacetime"), lang)),
                       ("review.secretaries", f"{view.get('secretaries', 0):,}"),
                       ("review.vacancies", f"{view.get('vacancies', 0):,}"),
                       ("review.open_alerts", f"{view.get('open_alerts', 0):,}")):
        tiles.append(html.Div([html.Div(t(key, lang), className="rv-kpi-label"),
                               html.Div(value, className="rv-kpi-value")],
                              className="rv-kpi rv-kpi-small", **_data(review_kpi=key.split(".")[1], value=value)))
    rel = int(at) - span["launched_at"]
    moment = t("review.since_launch", lang, d=fmt_duration(rel, lang)) if rel >= 0 else t("review.before_launch", lang)
    shown = f"{fmt_time(int(at))} {t('review.zone', lang)}  ·  {moment}"
    return pmap, pcurve, tiles, shown, str(int(at))


clientside_callback(
    """
    function(clicks, ticks, value, min, max, speed, disabled, lang) {
        const ctx = window.dash_clientside.callback_context;
        const trig = (ctx.triggered && ctx.triggered.length) ? ctx.triggered[0].prop_id : "";
        const no = window.dash_clientside.no_update;
        const labels = lang === "en" ? ["▶ Play", "⏸ Pause"] : ["▶ 播放", "⏸ 暂停"];
        if (trig.startsWith("review-play")) {
            if (disabled) {
                const start = (value >= max) ? min : value;
                return [start, false, labels[1]];
            }
            return [no, true, labels[0]];
        }
        if (trig.startsWith("review-tick")) {
            const step = speed === "auto" ? Math.max(1, (max - min) / 60) : Number(speed) * TICK;
            const next = Math.min(max, Math.round(value + step));
            if (next >= max) { return [max, true, labels[0]]; }
            return [next, false, no];
        }
        return [no, no, no];
    }
    """.replace("TICK", str(TICK_MS)),
    Output("review-slider", "value", allow_duplicate=True),
    Output("review-tick", "disabled"),
    Output("review-play", "children"),
    Input("review-play", "n_clicks"),
    Input("review-tick", "n_intervals"),
    State("review-slider", "value"),
    State("review-slider", "min"),
    State("review-slider", "max"),
    State("review-speed", "value"),
    State("review-tick", "disabled"),
    State("review-lang", "data"),
    prevent_initial_call=True,
)

clientside_callback(
    """
    function(clicks, events) {
        const ctx = window.dash_clientside.callback_context;
        if (!ctx.triggered || !ctx.triggered.length || !ctx.triggered[0].value) {
            return window.dash_clientside.no_update;
        }
        const id = JSON.parse(ctx.triggered[0].prop_id.split(".")[0]);
        return events[id.index];
    }
    """,
    Output("review-slider", "value", allow_duplicate=True),
    Input({"type": "review-ev", "index": ALL}, "n_clicks"),
    State("review-events", "data"),
    prevent_initial_call=True,
)


@callback(
    Output("review-download", "data"),
    Input("review-export-html", "n_clicks"),
    Input("review-export-pdf", "n_clicks"),
    Input("review-export-xlsx", "n_clicks"),
    Input("review-export-csv", "n_clicks"),
    State("review-op", "value"),
    State("session", "data"),
    State("review-lang", "data"),
    prevent_initial_call=True,
)
def _export(_h: int, _p: int, _x: int, _c: int, op: str | None, session: Any, lang: str) -> Any:
    """The report file of the chosen format, straight to the browser."""
    actor = _actor(session)
    trig = dash.callback_context.triggered_id
    if actor is None or not op or not isinstance(trig, str):
        return no_update
    fmt = trig.rsplit("-", 1)[1]
    county = backend().county
    county.refresh()
    require_read(actor, county.tree, county.state.operations[op].scope)
    data = render_report(county, op, fmt, lang)
    return dcc.send_bytes(data, report_filename(op, fmt, lang))
