"""The board's progress curve: cumulative progress against the pace the deadline asks for.

The figure is built once per page with its traces empty and its theme set; the
page script fills and updates it with `Plotly.update` (new arrays for four
small traces — never a rebuilt figure). Trace order is part of the contract
with ``assets/board.js``: 0 = reported so far (cumulative), 1 = the even pace
from launch to the target at the deadline, 2 = the pace still needed from now
to the deadline, 3 = the target line.

(The totals by town are plain HTML bars, drawn by the script: a wall's 20-odd
rows re-sort and grow with CSS at no cost, where a chart would re-lay its axes
on every update.)
"""

from __future__ import annotations

import plotly.graph_objects as go

FONT = "Noto Sans SC, Noto Sans CJK SC, sans-serif"
INK = "#d6e4f5"
MUTED = "#7f97b5"
GRID = "rgba(120, 160, 210, 0.14)"


def _theme(fig: go.Figure) -> go.Figure:
    fig.update_layout(
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"family": FONT, "color": INK, "size": 14},
        margin={"l": 8, "r": 16, "t": 4, "b": 4},
        showlegend=False,
        hoverlabel={"bgcolor": "#0e1d33", "bordercolor": "#3d6fa8", "font": {"family": FONT, "color": "#e8f1ff"}},
        uirevision="board",
    )
    return fig


def curve_figure() -> go.Figure:
    """Cumulative progress of the map's operation against the pace the deadline asks for."""
    fig = go.Figure([
        go.Scatter(x=[], y=[], mode="lines", line={"color": "#3fb6ff", "width": 3},
                   fill="tozeroy", fillcolor="rgba(63,182,255,0.16)", name="done",
                   hovertemplate="%{x|%m-%d %H:%M}<br>%{y:,}<extra></extra>"),
        go.Scatter(x=[], y=[], mode="lines", line={"color": "#8aa0bd", "width": 2, "dash": "dot"}, name="pace",
                   hoverinfo="skip"),
        go.Scatter(x=[], y=[], mode="lines", line={"color": "#f5a524", "width": 2.5, "dash": "dash"}, name="need",
                   hoverinfo="skip"),
        go.Scatter(x=[], y=[], mode="lines", line={"color": "rgba(255,255,255,0.35)", "width": 1}, name="target",
                   hoverinfo="skip"),
    ])
    fig.update_xaxes(type="date", showgrid=False, tickfont={"color": MUTED}, fixedrange=True,
                     tickformat="%m-%d %H:%M", nticks=5)
    fig.update_yaxes(showgrid=True, gridcolor=GRID, tickfont={"color": MUTED}, fixedrange=True,
                     rangemode="tozero", tickformat="~s")
    return _theme(fig)
