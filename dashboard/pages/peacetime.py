"""`/peacetime`: the peacetime view of the big screen — residents' matters at a glance.

What a command centre shows between emergencies (平时): the matters grid workers
opened and closed today, the totals by category and by tier, the share closed
inside the grid ("small matters stay in the grid" — Qingcao: 102 of 144), the
completion rate against the Dongchang benchmark (> 95%), the five lists as a
funnel, and the overdue matters — listed, and as red marks on the map.

The map is the board's idea: a Plotly `map` subplot with a blank style (no
tiles, nothing fetched) and the county's own polygons from the registry, at
the finest of small / medium / large / town grids that stays under a few
thousand polygons; each is shaded by how many matters came from it. The figure
is built once when the page opens; every refresh (`REFRESH_MS`) patches the
shading and the overdue marks (`dash.Patch`), never re-sending geometry.

Data comes from the HTTP API in-process (`dashboard.api_field.call_api`):
``GET /api/v1/matters/map`` once, ``GET /api/v1/matters/summary`` on every
refresh — the same token check and scope as any client. A wall opens it with a
kiosk link (``/peacetime?scope=QC01&token=…``, minted by ``POST /api/v1/kiosk``)
or after logging in. Dark, legible across a room: every size is in em of the
page, whose font size follows the viewport (16 px at 1920×1080).

Stable hooks: ``#peace-map``; ``[data-kpi=KEY]`` with ``data-value`` for
``matters_total``, ``opened_today``, ``closed_today``, ``completion_rate``
(percent, one decimal), ``closed_in_grid``, ``to_village``, ``to_town``,
``overdue``, ``satisfaction``; ``[data-level=TIER]`` and ``[data-stage=STAGE]``
with ``data-value``; ``[data-mode]``.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import dash
import plotly.graph_objects as go
from dash import Input, Output, Patch, State, callback, dcc, html, no_update

import dashboard.api_matters  # noqa: F401  (registers the category, list and tier strings)
from command.localtime import local_datetime
from dashboard.api_field import call_api
from dashboard.components.map import MAP_STYLE
from dashboard.components.session import login_form, register_login
from dashboard.i18n import lang_of, register, t

dash.register_page(__name__, path="/peacetime", title="平时网格治理 · Peacetime board")

REFRESH_MS = 10_000
BACKGROUND = "#06101c"
GRAPH_CONFIG: Any = {"displayModeBar": False, "responsive": True, "doubleClick": False}
BENCHMARK = 0.95
"""Dongchang's published completion rate of matters (> 95%): the tile turns green above it."""
OVERDUE_LISTED = 8
SHADES = [[0.0, "#14243a"], [0.001, "#17405a"], [0.35, "#1a7f8a"], [0.7, "#3cc0a8"], [1.0, "#f2c94c"]]
"""Matters per area: the sea-dark of an empty grid, then teal to gold."""

register({
    "peace.title": ("平时网格治理 · 民情事项", "Peacetime · residents' matters"),
    "peace.slogan": ("小事不出网格 · 大事不出村", "Small matters stay in the grid, big ones in the village"),
    "peace.mode.peacetime": ("平时状态", "Peacetime"),
    "peace.mode.wartime": ("战时状态 · 平时事项照常计数", "Wartime · peacetime matters still counted"),
    "peace.mode.partial": ("{n} 个网格处于战时", "{n} grids in wartime"),
    "peace.updated": ("更新于 {t}（北京时间）", "Updated {t} (Beijing time, UTC+8)"),
    "peace.lang": ("English", "中文"),
    "peace.kpi.opened_today": ("今日新增", "Opened today"),
    "peace.kpi.closed_today": ("今日办结", "Closed today"),
    "peace.kpi.matters_total": ("事项总数", "Matters"),
    "peace.kpi.completion_rate": ("办结率", "Completion"),
    "peace.kpi.closed_in_grid": ("网格内办结", "Closed in the grid"),
    "peace.kpi.to_village": ("上报村级", "Passed to village"),
    "peace.kpi.to_town": ("上报镇级", "Passed to town"),
    "peace.kpi.overdue": ("超期未办", "Overdue"),
    "peace.kpi.satisfaction": ("群众满意度", "Satisfaction"),
    "peace.kpi.of_total": ("占 {p}", "{p} of all"),
    "peace.kpi.benchmark": ("目标 > 95%", "target > 95%"),
    "peace.kpi.county": ("另县级部门 {n}", "+{n} county"),
    "peace.kpi.open": ("在办 {n}", "{n} open"),
    "peace.kpi.rated": ("{n} 件评单", "{n} rated"),
    "peace.map": ("事项分布与超期事项", "Where matters come from · overdue"),
    "peace.map.legend": ("色深：事项数 · 红点：超期未办", "shade: matters · red: overdue"),
    "peace.map.hover": ("事项 {total} · 在办 {open} · 超期 {overdue}", "{total} matters, {open} open, {overdue} late"),
    "peace.tiers": ("办理层级", "Where matters were settled"),
    "peace.tiers.share": ("网格内办结", "closed in the grid"),
    "peace.lists": ("一事五单", "One matter, five lists"),
    "peace.categories": ("按类别", "By category"),
    "peace.cat.closed": ("已办结", "closed"),
    "peace.cat.open": ("在办", "open"),
    "peace.overdue": ("超期事项", "Overdue matters"),
    "peace.overdue.none": ("没有超期事项", "Nothing overdue"),
    "peace.overdue.hours": ("超期 {h} 小时", "{h} h over"),
    "peace.overdue.days": ("超期 {d} 天", "{d} d over"),
    "peace.overdue.more": ("另有 {n} 件", "{n} more"),
    "peace.none": ("暂无数据", "No data yet"),
})

KPIS = ("opened_today", "closed_today", "matters_total", "completion_rate", "closed_in_grid", "to_village",
        "to_town", "overdue", "satisfaction")


def _attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """data-* attributes for Dash components (typed loosely on purpose)."""
    return attrs


def _token(session: Any, kiosk: Any) -> str | None:
    if isinstance(kiosk, str) and kiosk:
        return kiosk
    token = session.get("token") if isinstance(session, dict) else None
    return token if isinstance(token, str) else None


def _cfg(cfg: Any) -> dict[str, str]:
    """The page's settings as a callback receives them: a forged or null store reads as no settings."""
    if not isinstance(cfg, dict):
        return {}
    return {k: v for k, v in cfg.items() if isinstance(k, str) and isinstance(v, str)}


def _scoped(path: str, cfg: dict[str, str]) -> str:
    scope = cfg.get("scope") or ""
    return path + (f"?{urlencode({'scope': scope})}" if scope else "")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _clock(ms: int | None) -> str:
    if not ms:
        return ""
    return local_datetime(ms).strftime("%Y-%m-%d %H:%M:%S")


def layout(scope: str | None = None, lang: str | None = None, token: str | None = None, **_: Any) -> html.Div:
    """The frame; the first callback builds the map once, the next ones keep every panel current."""
    lang = lang_of(lang)
    other = "en" if lang == "zh-CN" else "zh-CN"
    query = "&".join(f"{k}={v}" for k, v in (("scope", scope), ("token", token), ("lang", other)) if v)
    return html.Div(
        [
            dcc.Store(id="peace-cfg", data={"scope": scope or "", "lang": lang, "token": token or ""}),
            dcc.Store(id="peace-areas", data=[]),
            dcc.Interval(id="peace-tick", interval=REFRESH_MS),
            html.Header(
                [
                    html.Div([
                        html.H1(t("peace.title", lang), className="pc-title"),
                        html.Div(id="peace-scope", className="pc-scope"),
                    ], className="pc-head"),
                    html.Div(t("peace.slogan", lang), className="pc-slogan"),
                    html.Div([
                        html.Span(id="peace-mode", className="pc-mode", **_attrs({"data-mode": ""})),
                        html.Span(id="peace-updated", className="pc-updated"),
                        dcc.Link(t("peace.lang", lang), href=f"/peacetime?{query}", className="pc-lang"),
                    ], className="pc-tools"),
                ],
                className="pc-top",
            ),
            html.Div(login_form("peace", lang), id="peace-login-wrap", className="pc-login"),
            html.Main(
                [
                    html.Div(id="peace-kpis", className="pc-kpis"),
                    html.Div(
                        [
                            html.Section(
                                [
                                    html.Div([
                                        html.H2(t("peace.map", lang), className="pc-h2"),
                                        html.Span(t("peace.map.legend", lang), className="pc-legend"),
                                    ], className="pc-panel-head"),
                                    dcc.Graph(id="peace-map", figure=_empty_figure(), config=GRAPH_CONFIG,
                                              className="pc-map"),
                                ],
                                className="pc-panel pc-map-panel",
                            ),
                            html.Div(
                                [
                                    html.Section([html.H2(t("peace.tiers", lang), className="pc-h2"),
                                                  html.Div(id="peace-tiers")], className="pc-panel"),
                                    html.Section([html.H2(t("peace.lists", lang), className="pc-h2"),
                                                  html.Div(id="peace-lists")], className="pc-panel"),
                                ],
                                className="pc-col",
                            ),
                            html.Div(
                                [
                                    html.Section([html.H2(t("peace.categories", lang), className="pc-h2"),
                                                  html.Div(id="peace-categories")], className="pc-panel"),
                                    html.Section([html.H2(t("peace.overdue", lang), className="pc-h2"),
                                                  html.Div(id="peace-overdue")],
                                                 className="pc-panel pc-overdue-panel"),
                                ],
                                className="pc-col",
                            ),
                        ],
                        className="pc-body",
                    ),
                ],
                id="peace-app",
                className="pc-app",
            ),
        ],
        id="peace-root",
        className="peace",
        lang=lang,
    )


register_login("peace")


def _empty_figure() -> go.Figure:
    fig = go.Figure()
    fig.update_layout(paper_bgcolor=BACKGROUND, plot_bgcolor=BACKGROUND, margin={"l": 0, "r": 0, "t": 0, "b": 0},
                      xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def _bounds(geojson: dict[str, Any]) -> tuple[float, float, float, float] | None:
    xs: list[float] = []
    ys: list[float] = []
    for f in geojson.get("features", []):
        geo = f.get("geometry") or {}
        polys = [geo.get("coordinates", [])] if geo.get("type") == "Polygon" else geo.get("coordinates", [])
        for poly in polys:
            for x, y, *_ in (poly[0] if poly else []):
                xs.append(x)
                ys.append(y)
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None


def _zoom(box: tuple[float, float, float, float], width_px: float = 860, height_px: float = 700) -> float:
    """The web-mercator zoom that fits a box in the map panel."""
    w, s, e, n = box
    merc = lambda lat: math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))  # noqa: E731
    zx = math.log2(width_px / 512 * 360 / max(e - w, 1e-6))
    zy = math.log2(height_px / 512 * 2 * math.pi / max(abs(merc(n) - merc(s)), 1e-9))
    return max(0.0, min(zx, zy) - 0.1)


def map_figure(geojson: dict[str, Any], lang: str) -> tuple[go.Figure, list[str]]:
    """The map: our polygons shaded by matters (trace 0) and the overdue marks (trace 1); blank style."""
    areas = [str(f["id"]) for f in geojson.get("features", [])]
    names = [str(f.get("properties", {}).get("name", "")) for f in geojson.get("features", [])]
    box = _bounds(geojson)
    center = {"lat": (box[1] + box[3]) / 2, "lon": (box[0] + box[2]) / 2} if box else {"lat": 0, "lon": 0}
    fig = go.Figure([
        go.Choroplethmap(
            geojson=geojson, locations=areas, z=[0] * len(areas), zmin=0, zmax=1,
            colorscale=SHADES, showscale=False, marker={"line": {"width": 0.6, "color": "#2b4a6e"}, "opacity": 0.92},
            text=names, customdata=[[0, 0, 0]] * len(areas),
            hovertemplate="<b>%{text}</b><br>" + t("peace.map.hover", lang, total="%{customdata[0]}",
                                                   open="%{customdata[1]}", overdue="%{customdata[2]}")
            + "<extra></extra>",
        ),
        go.Scattermap(
            lat=[], lon=[], mode="markers", text=[], hovertemplate="%{text}<extra></extra>",
            marker={"size": 20, "color": "#ff4d4f", "opacity": 0.95},
        ),
    ])
    fig.update_layout(
        map={"style": MAP_STYLE, "center": center, "zoom": _zoom(box) if box else 1},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        paper_bgcolor=BACKGROUND,
        showlegend=False,
        uirevision="peace-map",
        dragmode="pan",
        hoverlabel={"bgcolor": "#0e1d33", "bordercolor": "#3d6fa8", "font": {"size": 16, "color": "#e8f1ff"}},
    )
    return fig, areas


@callback(
    Output("peace-login-wrap", "style"),
    Output("peace-app", "style"),
    Output("peace-map", "figure"),
    Output("peace-areas", "data"),
    Input("session", "data"),
    Input("peace-cfg", "data"),
)
def _open(session: Any, cfg: Any) -> Any:
    """Login form, or the page with its map built once (polygons of the scope, unshaded)."""
    show, hide = {"display": "block"}, {"display": "none"}
    cfg = _cfg(cfg)
    token = _token(session, cfg.get("token"))
    if not token:
        return show, hide, no_update, no_update
    status, data = call_api("GET", _scoped("/matters/map", cfg), token)
    if status == 401:
        return show, hide, no_update, no_update
    if status != 200:
        return hide, {}, _empty_figure(), []
    lang = lang_of(cfg.get("lang"))
    fig, areas = map_figure(data.get("geojson") or {}, lang)
    status, summary = call_api("GET", _scoped("/matters/summary", cfg), token)
    if status == 200:  # shaded from the start: a wall must not depend on the first patch landing
        _paint(fig, summary, areas, lang)
    return hide, {}, fig, areas


def _paint(fig: Any, s: dict[str, Any], areas: list[str], lang: str) -> None:
    """Shade the areas and place the overdue marks, on a figure or on a `Patch` of it."""
    by_area = s.get("by_area", {})
    z = [by_area.get(a, [0, 0, 0])[0] for a in areas]
    fig["data"][0]["z"] = z
    fig["data"][0]["zmax"] = max([1, *z])
    fig["data"][0]["customdata"] = [by_area.get(a, [0, 0, 0]) for a in areas]
    marks = [o for o in s["overdue"] if o.get("lat") is not None]
    fig["data"][1]["lat"] = [o["lat"] for o in marks]
    fig["data"][1]["lon"] = [o["lon"] for o in marks]
    fig["data"][1]["text"] = [
        f"{o['grid_name']}<br>{t('matters.cat.' + o['category'], lang)} · {_over(o['hours_over'], lang)}"
        for o in marks
    ]


def _kpi(key: str, value: str, raw: Any, lang: str, sub: str = "", tone: str = "") -> html.Div:
    return html.Div(
        [
            html.Div(t(f"peace.kpi.{key}", lang), className="pc-kpi-label"),
            html.Div(value, className="pc-kpi-value"),
            html.Div(sub, className="pc-kpi-sub"),
        ],
        className=f"pc-kpi {tone}".strip(),
        **_attrs({"data-kpi": key, "data-value": str(raw)}),
    )


def kpis(s: dict[str, Any], lang: str) -> list[html.Div]:
    """The headline tiles, each with its `data-kpi` hook."""
    total = s["total"]
    levels = s["by_level"]
    rate = s["completion_rate"]
    share = s["in_grid_share"]
    sat = s["satisfaction"]
    share_of = lambda n: t("peace.kpi.of_total", lang, p=_pct(n / total if total else None))  # noqa: E731
    return [
        _kpi("opened_today", str(s["opened_today"]), s["opened_today"], lang),
        _kpi("closed_today", str(s["closed_today"]), s["closed_today"], lang),
        _kpi("matters_total", str(total), total, lang, t("peace.kpi.open", lang, n=s["open"])),
        _kpi("completion_rate", _pct(rate), "" if rate is None else f"{rate * 100:.1f}", lang,
             t("peace.kpi.benchmark", lang),
             "" if rate is None else ("pc-good" if rate > BENCHMARK else "pc-warn")),
        _kpi("closed_in_grid", str(s["in_grid"]), s["in_grid"], lang,
             t("peace.kpi.of_total", lang, p=_pct(share)), "pc-accent"),
        _kpi("to_village", str(levels["village"]), levels["village"], lang, share_of(levels["village"])),
        _kpi("to_town", str(levels["town"]), levels["town"], lang,
             t("peace.kpi.county", lang, n=levels["county"]) if levels["county"] else share_of(levels["town"])),
        _kpi("overdue", str(s["overdue_count"]), s["overdue_count"], lang, "",
             "pc-bad" if s["overdue_count"] else ""),
        _kpi("satisfaction", "—" if sat is None else f"{sat:.2f}", "" if sat is None else f"{sat:.2f}", lang,
             t("peace.kpi.rated", lang, n=s["evaluated"])),
    ]


def tiers(s: dict[str, Any], lang: str) -> list[Any]:
    """The share closed in the grid, and one stacked bar of where matters were settled."""
    total = s["total"] or 0
    levels = s["by_level"]
    segs = []
    rows = []
    for key in ("grid", "village", "town", "county"):
        n = levels.get(key, 0)
        width = 100 * n / total if total else 0
        if n:
            segs.append(html.Div(className=f"pc-seg pc-seg-{key}", style={"width": f"{width:.3f}%"}))
        rows.append(html.Div([
            html.I(className=f"pc-swatch pc-seg-{key}"),
            html.Span(t(f"matters.level.{key}", lang), className="pc-tier-name"),
            html.Span(str(n), className="pc-tier-n"),
            html.Span(_pct(n / total if total else None), className="pc-tier-p"),
        ], className="pc-tier-row", **_attrs({"data-level": key, "data-value": str(n)})))
    return [
        html.Div([
            html.Span(_pct(s["in_grid_share"]), className="pc-big"),
            html.Span(t("peace.tiers.share", lang) + f" · {s['in_grid']} / {total}", className="pc-big-sub"),
        ], className="pc-big-line"),
        html.Div(segs, className="pc-stack"),
        html.Div(rows, className="pc-tier-rows"),
    ]


def lists(s: dict[str, Any], lang: str) -> list[Any]:
    """The five lists as a funnel: how many matters reached each."""
    top = max(s["by_stage"].values() or [0]) or 1
    return [
        html.Div([
            html.Span(t(f"matters.stage.{k}", lang), className="pc-fn-name"),
            html.Div(html.Div(className="pc-fn-bar", style={"width": f"{100 * n / top:.2f}%"}),
                     className="pc-fn-track"),
            html.Span(str(n), className="pc-fn-n"),
        ], className="pc-fn-row", **_attrs({"data-stage": k, "data-value": str(n)}))
        for k, n in s["by_stage"].items()
    ]


def categories(s: dict[str, Any], lang: str) -> list[Any]:
    """Closed and open matters per category, the busiest first."""
    cats = [(k, v) for k, v in s["by_category"].items() if v["total"]]
    cats.sort(key=lambda kv: (-kv[1]["total"], kv[0]))
    if not cats:
        return [html.Div(t("peace.none", lang), className="pc-empty")]
    top = cats[0][1]["total"] or 1
    rows = []
    for k, v in cats:
        rows.append(html.Div([
            html.Span(t(f"matters.cat.{k}", lang), className="pc-cat-name"),
            html.Div([
                html.Div(className="pc-cat-closed", style={"width": f"{100 * v['closed'] / top:.2f}%"}),
                html.Div(className="pc-cat-open", style={"width": f"{100 * v['open'] / top:.2f}%"}),
            ], className="pc-cat-track"),
            html.Span(f"{v['closed']}/{v['total']}", className="pc-cat-n"),
        ], className="pc-cat-row", **_attrs({"data-category": k, "data-value": str(v["total"])})))
    return rows


def _over(hours: int, lang: str) -> str:
    return t("peace.overdue.days", lang, d=hours // 24) if hours >= 48 else t("peace.overdue.hours", lang, h=hours)


def overdue(s: dict[str, Any], lang: str) -> list[Any]:
    """The longest-overdue matters first (escaped text, as every free text)."""
    items = s["overdue"]
    if not items:
        return [html.Div(t("peace.overdue.none", lang), className="pc-empty pc-ok")]
    rows = [
        html.Div([
            html.Div([
                html.Span(t(f"matters.cat.{o['category']}", lang), className="pc-od-cat"),
                html.Span(_over(o["hours_over"], lang), className="pc-od-late"),
            ], className="pc-od-head"),
            html.Div(o["description"], className="pc-od-desc"),
            html.Div(f"{o['grid_name']} · {t('matters.level.' + o['level'], lang)}", className="pc-od-where"),
        ], className="pc-od", **_attrs({"data-matter": o["matter_id"]}))
        for o in items[:OVERDUE_LISTED]
    ]
    if len(items) > OVERDUE_LISTED:
        rows.append(html.Div(t("peace.overdue.more", lang, n=len(items) - OVERDUE_LISTED), className="pc-more"))
    return rows


@callback(
    Output("peace-kpis", "children"),
    Output("peace-tiers", "children"),
    Output("peace-lists", "children"),
    Output("peace-categories", "children"),
    Output("peace-overdue", "children"),
    Output("peace-scope", "children"),
    Output("peace-mode", "children"),
    Output("peace-mode", "data-mode"),
    Output("peace-updated", "children"),
    Output("peace-map", "figure", allow_duplicate=True),
    Input("peace-areas", "data"),
    Input("peace-tick", "n_intervals"),
    State("session", "data"),
    State("peace-cfg", "data"),
    prevent_initial_call=True,
)
def _refresh(areas: Any, _n: Any, session: Any, cfg: Any) -> Any:
    """Every panel from one summary; the map only patched (shading and overdue marks)."""
    cfg = _cfg(cfg)
    token = _token(session, cfg.get("token"))
    lang = lang_of(cfg.get("lang"))
    if not token or not isinstance(areas, list) or not all(isinstance(a, str) for a in areas):
        return (no_update,) * 10
    status, s = call_api("GET", _scoped("/matters/summary", cfg), token)
    if status != 200:
        return (no_update,) * 10
    mode = s.get("mode", "peacetime")
    mode_text = t(f"peace.mode.{mode}", lang)
    if mode == "peacetime" and s.get("wartime_grids"):
        mode_text = t("peace.mode.partial", lang, n=s["wartime_grids"])
    patch = Patch()
    _paint(patch, s, areas, lang)
    return (
        kpis(s, lang), tiers(s, lang), lists(s, lang), categories(s, lang), overdue(s, lang),
        s.get("scope_name", ""), mode_text, mode, t("peace.updated", lang, t=_clock(s.get("now"))), patch,
    )
