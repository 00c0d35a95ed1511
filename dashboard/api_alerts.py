"""API routes of issue 7: one alert, its CAP export, daily briefings, contact rounds.

Added to the /api/v1 blueprint by `register` (listed in `dashboard.app.ROUTES`):

| method and path | answer |
| --- | --- |
| `GET /alerts/{id}` | the alert with its detail (count and grids under a roll-up) |
| `GET /alerts/{id}/cap[?original=1]` | OASIS CAP 1.2 XML (`application/cap+xml`) |
| `GET /briefings?operation=ID` | briefings (newest first) without their content |
| `GET /briefings/{id}?format=json|html|csv[&lang=en]` | one briefing; html/csv as a download |
| `GET /contact-rounds?round=2025Q2&scope=GRID` | a quarter's reminders and completions |
| `POST /contact-rounds/{round}/completions` | `{grid, note?, concerns?}` → 201 the record |

`GET /alerts` and `POST /alerts/{id}/ack` live in `dashboard/api.py`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from command import contact
from command.access import overlaps_scope, require_read
from command.briefing import render_csv, render_html
from command.cap import MIME, to_cap
from command.errors import InvalidRequest, NotAuthorised, UnknownAlert

__all__ = ["UnknownBriefing", "register"]


class UnknownBriefing(UnknownAlert):
    """A briefing id never issued (404 like an unknown alert)."""

    code = "unknown_briefing"


def register(api: Blueprint, backend: Any) -> None:
    """Add the routes to the blueprint."""
    from dashboard.api import body, handler

    def _alert(alert: str) -> Any:
        actor = backend.actor()
        county = backend.county
        st = county.refresh()
        a = st.alerts.get(alert)
        if a is None:
            raise UnknownAlert(f"unknown alert {alert!r}", field="alert")
        require_read(actor, county.tree, a.grid, field="alert")
        return county, st, a

    @api.get("/alerts/<alert>")
    @handler
    def get_alert(alert: str) -> Any:
        with backend.lock:
            _, _, a = _alert(alert)
            return a.to_json()

    @api.get("/alerts/<alert>/cap")
    @handler
    def alert_cap(alert: str) -> Any:
        with backend.lock:
            county, st, a = _alert(alert)
            geometry = county.view.geometry()
            xml = to_cap(a, st, county=county.code, geometry=geometry,
                         original=request.args.get("original") in ("1", "true"))
        resp = Response(xml, mimetype=MIME)
        resp.headers["Content-Disposition"] = f'inline; filename="{_filename(a.id)}.cap.xml"'
        return resp

    @api.get("/briefings")
    @handler
    def list_briefings() -> Any:
        actor = backend.actor()
        operation = request.args.get("operation") or None
        with backend.lock:
            county = backend.county
            st = county.refresh()
            tree = county.tree
            items = []
            for b in st.briefings.values():
                if operation is not None and b.operation != operation:
                    continue
                scope = b.content.get("operation", {}).get("scope", tree.root)
                if scope in tree and not _visible(actor, tree, scope):
                    continue
                items.append({
                    "id": b.id, "operation": b.operation, "date": b.date, "issued_at": b.issued_at,
                    "name": b.content.get("operation", {}).get("name"),
                    "url": f"/api/v1/briefings/{b.id}",
                })
        items.sort(key=lambda i: (i["date"], i["id"]), reverse=True)
        return {"briefings": items}

    @api.get("/briefings/<briefing>")
    @handler
    def get_briefing(briefing: str) -> Any:
        actor = backend.actor()
        fmt = request.args.get("format", "json")
        lang = request.args.get("lang", "zh-CN")
        if fmt not in ("json", "html", "csv"):
            raise InvalidRequest("format must be one of: json, html, csv", field="format")
        with backend.lock:
            county = backend.county
            st = county.refresh()
            b = st.briefings.get(briefing)
            if b is None:
                raise UnknownBriefing(f"unknown briefing {briefing!r}", field="briefing")
            scope = b.content.get("operation", {}).get("scope", county.tree.root)
            if scope in county.tree and not _visible(actor, county.tree, scope):
                raise NotAuthorised(f"{scope} is outside your scope {actor.scope}", field="briefing")
        if fmt == "json":
            return {"id": b.id, "operation": b.operation, "date": b.date, "issued_at": b.issued_at,
                    "content": dict(b.content)}
        if fmt == "html":
            resp = Response(render_html(b.content, lang), mimetype="text/html")
        else:
            resp = Response("\ufeff" + render_csv(b.content), mimetype="text/csv")
        resp.headers["Content-Disposition"] = f'attachment; filename="briefing-{_filename(b.id)}.{fmt}"'
        return resp

    @api.get("/contact-rounds")
    @handler
    def contact_rounds() -> Any:
        actor = backend.actor()
        with backend.lock:
            county = backend.county
            st = county.refresh()
            round_id = request.args.get("round") or contact.quarter_of(county.clock()).id
            scope = request.args.get("scope") or actor.scope or county.tree.root
            return contact.status(st, actor, round_id, scope)

    @api.post("/contact-rounds/<round_id>/completions")
    @handler
    def complete_round(round_id: str) -> Any:
        actor = backend.actor()
        data = body()
        grid = data.get("grid")
        if not isinstance(grid, str) or not grid:
            raise InvalidRequest("grid is required", field="grid")
        with backend.lock:
            county = backend.county
            st = county.refresh()
            ev = contact.complete(st, actor, round_id, grid, data.get("note", ""), data.get("concerns", 0))
            out = county.record(ev, actor, contact.event_key(ev))
            entry = county.state.contact[ev.round][ev.grid]
        return {
            "event_id": out.event_id, "round": ev.round, "grid": ev.grid, "leader": entry.leader,
            "completed_at": entry.completed_at, "completed_by": entry.completed_by,
            "note": entry.note, "concerns": entry.concerns,
        }, 201


def _visible(actor: Any, tree: Any, scope: str) -> bool:
    """An actor sees what overlaps its scope: inside it, or above it (a town sees a county briefing)."""
    return overlaps_scope(actor, tree, scope)


def _filename(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)
