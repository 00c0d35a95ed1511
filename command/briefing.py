"""The daily wartime briefing (战时日报): what the command centre reads at 08:00.

`compose` turns the control state, a progress snapshot of one operation and
the time of issue into a `BriefingIssued` event whose content is plain JSON:
totals against targets, what changed since the previous briefing, one row per
child of the scope (towns for a county operation), the slowest of them, the
projected completion, alerts and their response times, secretaries and
vacancies. The content travels in the log, so a briefing is stored once and
reads the same forever; `render_html` and `render_csv` make the downloads.
Pure: time comes in as arguments.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from command import bounds
from command.alerts import Progress
from command.bounds import strip_controls
from command.cells import inert_cell
from command.events import BriefingIssued
from command.localtime import local_date, local_minute
from command.operations import Operation

if TYPE_CHECKING:
    from command.fold import Briefing, ControlState

__all__ = ["LABELS", "SLOWEST", "briefing_id", "compose", "local_time", "render_csv", "render_html"]


SLOWEST = 5


def local_time(ms: int | None) -> str:
    """An instant as local wall time for people, ``YYYY-MM-DD HH:MM`` ("-" for none, or one out of bounds
    in content logged before the bounds: command.bounds.readable_time)."""
    ms = bounds.readable_time(ms)
    return "-" if ms is None else local_minute(ms)


def briefing_id(operation: str, date: str) -> str:
    """One briefing per operation and local day: the id says which."""
    return f"{operation}-{date.replace('-', '')}"


def _percent(done: int, target: int) -> float | None:
    return round(100.0 * done / target, 1) if target > 0 else None


def _row(op: Operation, progress: Progress, grid: str, name: str, last: int | None) -> dict[str, Any]:
    targets = op.target_of(grid)
    totals = {c: int(progress.of(op.id, grid).get(c, 0)) for c in op.counters}
    head = op.counters[0]
    return {
        "grid": grid,
        "name": name,
        "targets": targets,
        "totals": totals,
        "percent": _percent(totals[head], targets.get(head, 0)),
        "last_report": last,
    }


def compose(
    state: ControlState,
    op: Operation,
    progress: Progress,
    now: int,
    previous: Briefing | None = None,
    date: str | None = None,
) -> BriefingIssued:
    """The briefing of one operation issued at `now`, named by `date` (default: the local date of `now`).

    A run caught up after a restart passes the date of the 08:00 it stands for.
    """
    tree = state.tree
    assert tree is not None, "a briefing needs a registry"
    date = date or local_date(now)
    since = previous.issued_at if previous is not None else op.launched_at
    scope = op.scope
    head = op.counters[0]
    top = _row(op, progress, scope, tree[scope].name, progress.last_of(op.id, scope))
    prev_totals: Mapping[str, int] = (previous.content.get("totals") or {}) if previous is not None else {}
    since_last = {c: top["totals"][c] - int(prev_totals.get(c, 0)) for c in op.counters}
    rows = [_row(op, progress, k, tree[k].name, progress.last_of(op.id, k)) for k in tree.children[scope]]
    ranked = sorted((r for r in rows if r["percent"] is not None), key=lambda r: (r["percent"], r["grid"]))
    elapsed = max(now - op.launched_at, 1)
    done, target = top["totals"][head], top["targets"].get(head, 0)
    projected = None
    if 0 < done < target:
        projected = now + int((target - done) * elapsed / done)
    elif target and done >= target:
        projected = now
    in_scope = [a for a in state.alerts.values() if tree.is_within(a.grid, scope) or a.operation == op.id]
    recent = [a for a in in_scope if a.raised_at > since]
    acked = [a for a in recent if a.acked_at is not None]
    by_kind: dict[str, int] = {}
    for a in in_scope:
        if a.open:
            by_kind[a.kind] = by_kind.get(a.kind, 0) + 1
    secretaries = [s for g, s in state.secretaries.items() if g in tree and tree.is_within(g, scope)]
    content: dict[str, Any] = {
        "operation": {
            "id": op.id, "name": op.name, "kind": op.kind, "scope": scope, "scope_name": tree[scope].name,
            "launched_at": op.launched_at, "deadline": op.deadline,
        },
        "date": date,
        "issued_at": now,
        "period": [since, now],
        "counters": list(op.counters),
        "targets": top["targets"],
        "totals": top["totals"],
        "percent": top["percent"],
        "since_last": since_last,
        "projected_at": projected,
        "on_pace": None if op.deadline is None or not target else (projected is not None and projected <= op.deadline),
        "rows": rows,
        "slowest": [r["grid"] for r in ranked[:SLOWEST]],
        "alerts": {
            "open": sum(by_kind.values()),
            "open_by_kind": dict(sorted(by_kind.items())),
            "raised": len(recent),
            "acknowledged": len(acked),
            "mean_ack_minutes": (
                round(sum((a.acked_at or 0) - a.raised_at for a in acked) / len(acked) / 60_000, 1) if acked else None
            ),
        },
        "secretaries": {
            "installed": sum(1 for s in secretaries if not s.acting),
            "acting": sum(1 for s in secretaries if s.acting),
            "vacancies": sum(1 for g in state.vacancies if g in tree and tree.is_within(g, scope)),
        },
    }
    return BriefingIssued(briefing=briefing_id(op.id, date), operation=op.id, date=date, content=content)


LABELS: Mapping[str, tuple[str, str]] = {
    "title": ("战时日报", "Daily wartime briefing"),
    "operation": ("战时任务", "Operation"),
    "scope": ("范围", "Scope"),
    "deadline": ("截止时间", "Deadline"),
    "issued": ("发布时间", "Issued"),
    "totals": ("累计", "Total"),
    "target": ("目标", "Target"),
    "since_last": ("较上期", "Since last"),
    "percent": ("完成率", "Done"),
    "projected": ("预计完成", "Projected completion"),
    "on_pace": ("按期", "On pace"),
    "behind": ("滞后", "Behind"),
    "grid": ("网格", "Grid"),
    "last_report": ("最近上报", "Last report"),
    "slowest": ("进度最慢", "Slowest"),
    "alerts": ("预警", "Alerts"),
    "open": ("未解除", "Open"),
    "raised": ("本期新增", "Raised this period"),
    "acknowledged": ("已签收", "Acknowledged"),
    "mean_ack": ("平均签收用时（分钟）", "Mean time to acknowledge (min)"),
    "installed": ("临时党支部书记", "Temporary secretaries"),
    "acting": ("代理书记", "Acting secretaries"),
    "vacancies": ("空缺", "Vacancies"),
}


def _l(key: str, lang: str) -> str:
    zh, en = LABELS[key]
    return en if lang == "en" else zh


def render_html(content: Mapping[str, Any], lang: str = "zh-CN") -> str:
    """A self-contained, printable HTML page of a briefing (every value escaped)."""
    e = html.escape
    op = content["operation"]
    counters = list(content["counters"])
    targets, totals, delta = content["targets"], content["totals"], content["since_last"]
    pace = content.get("on_pace")
    pace_text = "-" if pace is None else _l("on_pace" if pace else "behind", lang)
    head_rows = "".join(
        f"<tr><th>{e(c)}</th><td>{totals.get(c, 0)}</td><td>{targets.get(c, '-')}</td>"
        f"<td>{delta.get(c, 0):+d}</td></tr>"
        for c in counters
    )
    grid_rows = "".join(
        f"<tr><td>{e(r['grid'])}</td><td>{e(r['name'])}</td>"
        + "".join(f"<td>{r['totals'].get(c, 0)} / {r['targets'].get(c, '-')}</td>" for c in counters)
        + f"<td>{'-' if r['percent'] is None else r['percent']}%</td><td>{e(local_time(r['last_report']))}</td></tr>"
        for r in content["rows"]
    )
    al, sec = content["alerts"], content["secretaries"]
    title = f"{_l('title', lang)} · {e(op['name'])} · {e(content['date'])}"
    return strip_controls(f"""<!doctype html>
<html lang="{'en' if lang == 'en' else 'zh-CN'}"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #999;padding:4px 8px;text-align:left}}</style></head><body>
<h1>{title}</h1>
<p>{_l('operation', lang)}: {e(op['name'])} ({e(op['kind'])}) · {_l('scope', lang)}: {e(op['scope_name'])}
({e(op['scope'])}) · {_l('deadline', lang)}: {e(local_time(op['deadline']))} ·
{_l('issued', lang)}: {e(local_time(content['issued_at']))}</p>
<table><tr><th></th><th>{_l('totals', lang)}</th><th>{_l('target', lang)}</th><th>{_l('since_last', lang)}</th></tr>
{head_rows}</table>
<p>{_l('percent', lang)}: {'-' if content['percent'] is None else content['percent']}% ·
{_l('projected', lang)}: {e(local_time(content['projected_at']))} · {e(pace_text)}</p>
<p>{_l('slowest', lang)}: {e('、'.join(content['slowest']) or '-')}</p>
<table><tr><th>{_l('grid', lang)}</th><th></th>{''.join(f'<th>{e(c)}</th>' for c in counters)}
<th>{_l('percent', lang)}</th><th>{_l('last_report', lang)}</th></tr>{grid_rows}</table>
<h2>{_l('alerts', lang)}</h2>
<p>{_l('open', lang)}: {al['open']} · {_l('raised', lang)}: {al['raised']} · {_l('acknowledged', lang)}:
{al['acknowledged']} · {_l('mean_ack', lang)}: {'-' if al['mean_ack_minutes'] is None else al['mean_ack_minutes']}</p>
<p>{_l('installed', lang)}: {sec['installed']} · {_l('acting', lang)}: {sec['acting']} ·
{_l('vacancies', lang)}: {sec['vacancies']}</p>
</body></html>
""")


def render_csv(content: Mapping[str, Any]) -> str:
    """The per-grid table of a briefing as CSV (UTF-8, one header row)."""
    counters = list(content["counters"])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["grid", "name", *counters, *(f"{c}_target" for c in counters), "percent", "last_report"])
    op = content["operation"]
    for r in [{"grid": op["scope"], "name": op["scope_name"], "totals": content["totals"],
               "targets": content["targets"], "percent": content["percent"], "last_report": None},
              *content["rows"]]:
        w.writerow([
            r["grid"], inert_cell(r["name"]),
            *(r["totals"].get(c, 0) for c in counters),
            *(r["targets"].get(c, "") for c in counters),
            "" if r["percent"] is None else r["percent"],
            local_time(r["last_report"]) if r["last_report"] else "",
        ])
    return buf.getvalue()
