"""The report's charts (pace, by unit): matplotlib in the shipped CJK font, deterministic bytes."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from command.report import Report
from dashboard.components.axes import curve_end, elapsed_unit, unit_label
from dashboard.i18n import t

__all__ = ["FONT_NAME", "FONT_PATH", "charts"]

FONT_PATH = Path(__file__).resolve().parents[2] / "assets" / "fonts" / "wqy-microhei-gb2312.ttf"
FONT_NAME = "WenQuanYi Micro Hei GB2312"

_MPL_LOCK = threading.Lock()


def _mpl() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import font_manager

    if FONT_NAME not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(FONT_PATH))
    return matplotlib


def charts(r: Report, lang: str, fmt: str) -> dict[str, bytes]:
    """The report's charts as SVG (HTML) or PNG (PDF) bytes."""
    with _MPL_LOCK:
        mpl = _mpl()
        from matplotlib.figure import Figure

        rc = {
            "font.family": [FONT_NAME],
            "svg.hashsalt": "wartime-report",
            "svg.fonttype": "path",
            "axes.unicode_minus": False,
            "font.size": 9,
            "path.simplify": True,
        }
        out: dict[str, bytes] = {}
        with mpl.rc_context(rc):
            out["pace"] = _save(_pace_chart(Figure(figsize=(7.2, 3.2)), r, lang), fmt)
            out["towns"] = _save(_towns_chart(Figure(figsize=(7.2, max(2.2, 0.22 * len(r.towns) + 1.0))), r, lang), fmt)
        return out


def _save(fig: Any, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "svg":
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    else:
        fig.savefig(buf, format="png", dpi=160, metadata={"Software": None}, bbox_inches="tight")
    return buf.getvalue()


def _pace_chart(fig: Any, r: Report, lang: str) -> Any:
    ax = fig.subplots()
    head = r.counters[0]
    times = r.pace["time"].tolist() if len(r.pace) else []
    end, deadline_inside = curve_end(r.launched_at, max([r.launched_at, *times, r.closed_at or 0]), r.deadline)
    per, unit = elapsed_unit(end - r.launched_at)  # the axis spans the data, not a far deadline
    ax.set_xlim(0, (end - r.launched_at) / per)
    if len(r.pace):
        xs = [(v - r.launched_at) / per for v in [r.launched_at, *times]]
        for i, c in enumerate(r.counters):
            ys = [0, *r.pace[c].tolist()]
            ax.step(xs, ys, where="post", label=t(c, lang), linewidth=2.0 if i == 0 else 1.2)
        target = r.summary[r.summary["counter"] == head]["target"].iloc[0]
        if r.deadline and pd.notna(target):
            dl = (r.deadline - r.launched_at) / per
            ax.plot([0, dl], [0, float(target)], linestyle="--", color="#888888", label=t("rpt.chart.deadline", lang))
            if deadline_inside:
                ax.axvline(dl, color="#888888", linewidth=0.8)
        if pd.notna(target):
            ax.axhline(float(target), color="#cc3333", linewidth=0.8, linestyle=":", label=t("rpt.chart.target", lang))
    ax.set_xlabel(unit_label(unit, lang))
    ax.set_title(t("rpt.chart.pace", lang))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def _towns_chart(fig: Any, r: Report, lang: str) -> Any:
    ax = fig.subplots()
    df = r.towns.iloc[::-1]
    vals = [float(v) if pd.notna(v) else 0.0 for v in df["completion"]]
    ax.barh(list(df["name"]), vals, color=["#2e7d32" if v >= 90 else "#f9a825" if v >= 50 else "#c62828" for v in vals])
    ax.axvline(90, color="#555555", linewidth=0.8, linestyle="--")
    ax.set_title(t("rpt.chart.towns", lang))
    ax.grid(True, axis="x", alpha=0.3)
    return fig
