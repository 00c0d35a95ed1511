"""After-action review API: the report in four formats, the state at an instant, the decisive events.

* ``GET /api/v1/operations/{id}/report?format=html|pdf|xlsx|csv&lang=zh-CN|en`` —
  the after-action report file (`dashboard.reports`), same log → same bytes;
* ``GET /api/v1/operations/{id}/state?at=MS[&grid=CODE]`` — the operation as it
  stood at ms ``at`` (totals of the grid and its children, mode, secretaries,
  vacancies, open alerts), folded from the log (`streams.history`);
* ``GET /api/v1/operations/{id}/timeline?lang=`` — the decisive events with the
  operation's span, for the review page's list.

Any role may read what lies in its scope; the report is for leadership (viewers).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from command.access import Role, require_read
from command.errors import InvalidRequest
from command.households import may_see_personal
from command.operations import operation_of
from command.timetravel import operation_view
from dashboard import audit
from dashboard.api import Backend, handler
from dashboard.i18n import lang_of
from dashboard.reports import FORMATS, filename, render_report, timeline_text
from streams.history import history_for

__all__ = ["register"]


def _at(value: str | None) -> int:
    if value is None or not value.strip().lstrip("-").isdigit():
        raise InvalidRequest("at must be an instant in epoch milliseconds", field="at")
    return int(value)


def register(api: Blueprint, backend: Backend) -> None:
    """Add the review routes to the /api/v1 blueprint."""

    def _operation(op: str) -> Any:
        actor = backend.actor()
        with backend.lock:
            county = backend.county
            st = county.refresh()
            operation = operation_of(st, op)
            require_read(actor, county.tree, operation.scope, field="operation")
        return county, operation

    @api.get("/operations/<op>/report")
    @handler
    def review_report(op: str) -> Any:
        fmt = request.args.get("format", "html")
        if fmt not in FORMATS:
            raise InvalidRequest(f"format must be one of: {', '.join(FORMATS)}", field="format")
        lang = lang_of(request.args.get("lang"))
        county, operation = _operation(op)
        actor = backend.actor()
        personal = (fmt == "xlsx" and actor.role == Role.COMMANDER
                    and may_see_personal(actor, county.tree, operation.scope))
        data = render_report(county, op, fmt, lang, personal=personal)
        if personal:
            audit.record(backend.client, county.code, "export", actor=actor.username,
                         source=audit.source_address(), method="GET", path=request.path, status=200,
                         detail=f"households personal data in report {op} format={fmt}")
        resp = Response(data, status=200, mimetype=FORMATS[fmt].split(";")[0])
        resp.headers["Content-Type"] = FORMATS[fmt]
        resp.headers["Content-Disposition"] = f'attachment; filename="{filename(op, fmt, lang)}"'
        return resp

    @api.get("/operations/<op>/state")
    @handler
    def review_state(op: str) -> Any:
        at = _at(request.args.get("at"))
        county, operation = _operation(op)
        grid = request.args.get("grid") or operation.scope
        actor = backend.actor()
        require_read(actor, county.tree, grid)
        hist = history_for(county.client, county.code)
        hist.ensure_snapshots()
        return operation_view(hist.state_at(at), op, grid)

    @api.get("/operations/<op>/timeline")
    @handler
    def review_timeline(op: str) -> Any:
        lang = lang_of(request.args.get("lang"))
        county, operation = _operation(op)
        hist = history_for(county.client, county.code)
        report = hist.report(op)
        names = {g: county.tree[g].name for g in county.tree.grids}
        end = operation.closed_at if operation.closed_at is not None else report.as_of
        return {
            "operation": op,
            "start": report.switch_at if report.switch_at is not None else operation.launched_at,
            "launched_at": operation.launched_at,
            "end": end,
            "as_of": report.as_of,
            "items": [
                {"ms": it.ms, "kind": it.kind, "count": it.count, "params": dict(it.params),
                 "text": timeline_text(it, lang, names)}
                for it in report.timeline
            ],
        }
