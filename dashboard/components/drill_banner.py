"""The mark of a drill's world (演练 · DRILL) on every page that acts in one, and the console's drill card.

`banner(drill, lang)` is what the board renders above its frame for ``/?drill=ID``;
`assets/drill.js` keeps its clock and state current and adds the same banner to
any other page opened in a drill (console, field), so no page of a drill can be
taken for a live one. `card(lang)` is the console's small card to start, pause,
resume and stop a drill (assets/drill.js drives it through /api/v1/drills).
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from command.drills import BANNER, MAX_SPEED, MIN_SPEED
from dashboard.i18n import register, t

__all__ = ["banner", "card"]

register({
    "drill.banner": ("非真实事件 · 数据不计入实战", "not a real emergency; nothing counts live"),
    "drill.clock": ("演练时钟", "drill clock"),
    "drill.speed": ("倍速", "speed"),
    "drill.state.running": ("进行中", "running"),
    "drill.state.paused": ("已暂停", "paused"),
    "drill.state.stopped": ("已停止", "stopped"),
    "drill.state.finished": ("已结束", "finished"),
    "drill.card": ("演练", "Drills"),
    "drill.from": ("复盘的行动", "recorded operation"),
    "drill.name": ("演练名称", "drill name"),
    "drill.start": ("开始演练", "start drill"),
    "drill.pause": ("暂停", "pause"),
    "drill.resume": ("继续", "resume"),
    "drill.stop": ("停止", "stop"),
    "drill.open": ("打开演练大屏", "open the drill wall"),
    "drill.none": ("暂无演练", "no drills"),
})


def _attrs(**data: str) -> Any:
    return {k.replace("_", "-"): v for k, v in data.items()}


def banner(drill: str, lang: str) -> html.Div:
    """The banner of a drill's page: unmistakable, on top, with the drill's clock and state (drill.js fills them)."""
    return html.Div(
        [
            html.Strong(BANNER, className="drill-banner-mark"),
            html.Span(t("drill.banner", lang), className="drill-banner-text"),
            html.Span([t("drill.clock", lang), " ", html.Span("—", className="drill-banner-clock")],
                      className="drill-banner-time"),
            html.Span("", className="drill-banner-state"),
        ],
        className="drill-banner", role="alert", id="drill-banner",
        **_attrs(data_drill=drill, aria_live="polite"),
    )


def card(lang: str) -> html.Section:
    """The console's drill card: start a drill of an operation at a speed; pause, resume, stop the listed ones."""
    return html.Section(
        [
            html.H3(t("drill.card", lang)),
            html.Div(
                [
                    dcc.Input(id="drill-from", placeholder=t("drill.from", lang), className="drill-input"),
                    dcc.Input(id="drill-name", placeholder=t("drill.name", lang), className="drill-input"),
                    dcc.Input(id="drill-speed", type="number", min=MIN_SPEED, max=MAX_SPEED, value=60,
                              className="drill-input drill-speed"),
                    html.Button(t("drill.start", lang), className="drill-btn", **_attrs(data_drill_action="start")),
                ],
                className="drill-form",
            ),
            html.Ol(className="drill-list", **_attrs(data_empty=t("drill.none", lang))),
            html.Div(className="drill-msg", role="status"),
        ],
        className="drill-card", id="drill-card",
        **_attrs(data_labels="|".join(t(k, lang) for k in ("drill.pause", "drill.resume", "drill.stop", "drill.open"))),
    )
