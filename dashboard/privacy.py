"""Personal data: leaders' phone numbers leave the server only through a granted, audited export.

Registries hold the names and phone numbers of grid leaders. Names are part of
the command picture (a secretary is a person) and are shown to whoever may read
a grid; phone numbers are not shown anywhere:

* **Where they live.** `streams.county.County.load_registry` keeps phone numbers
  out of the event log — the log is kept forever, replayed and exported — in the
  hash ``wt:{COUNTY}:personal`` (grid code → phone), replaced whole by each
  registry load. No page, no read endpoint and no log line reads that hash.
* **The grant.** Exporting personal data is a right of its own, separate from
  viewing: the account flag ``personal_data``, set by ``wartime users add NAME
  --role R --scope GRID --personal-data``. A commander without it cannot export;
  an account with it exports inside its scope only. The flag is read from the
  account on every request, so re-adding the account without it withdraws the
  right at once. Kiosk links never carry it.
* **The export.** ``GET /api/v1/registry/export?scope=CODE&format=csv|json`` →
  one row per grid of the scope: code, name, level, parent, leader,
  first_leader, phone, households, population. CSV cells a spreadsheet would
  run as a formula (starting with ``= + - @``, tab or CR) get a leading
  apostrophe. Sent as an attachment with ``Cache-Control: no-store``.
* **Audited.** Every export — and every refused attempt — is an ``export`` /
  ``refused`` entry in the audit stream (dashboard.audit) with actor, source,
  scope, format and row count; never the data itself.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, request

from command.access import require_read
from command.cells import inert_cell
from command.errors import CommandRejected, InvalidRequest, NotAuthorised
from dashboard import audit
from dashboard.api import handler, status_of

__all__ = ["COLUMNS", "personal_rows", "register", "to_csv"]


COLUMNS = ("code", "name", "level", "parent", "leader", "first_leader", "phone", "households", "population")


def personal_rows(backend: Any, scope: str) -> list[dict[str, Any]]:
    """Rows of the registry under `scope`, with leaders' phone numbers from the personal hash."""
    county = backend.county
    tree = county.tree
    codes = list(tree.subtree(scope))
    phones = county.client.hmget(county.keys.personal, codes) if codes else []
    rows = []
    for code, phone in zip(codes, phones, strict=True):
        g = tree[code]
        rows.append({
            "code": g.code, "name": g.name, "level": g.level.value, "parent": g.parent or "",
            "leader": g.leader or "", "first_leader": g.first_leader or "",
            "phone": phone.decode() if isinstance(phone, bytes) else (phone or ""),
            "households": g.households, "population": g.population,
        })
    return rows


def to_csv(rows: list[dict[str, Any]]) -> str:
    """UTF-8 CSV (with BOM, for Excel) with formula-looking cells made inert."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([inert_cell(r[c]) for c in COLUMNS])
    return "\ufeff" + buf.getvalue()


def register(api: Blueprint, backend: Any) -> None:
    """Add the export route to the /api/v1 blueprint."""
    @api.get("/registry/export")
    @handler
    def export_personal_data() -> Any:
        session = backend.session()
        actor = session.actor
        fmt = request.args.get("format", "csv")
        county = backend.county

        def refuse(exc: CommandRejected) -> CommandRejected:
            audit.record(backend.client, county.code, "refused", actor=actor.username,
                         source=audit.source_address(), method="GET", path=request.path,
                         status=status_of(exc), code=exc.code, detail="personal data export")
            return exc

        if fmt not in ("csv", "json"):
            raise refuse(InvalidRequest("format must be csv or json", field="format"))
        if not backend.accounts.may_export_personal_data(session):
            raise refuse(NotAuthorised("exporting personal data needs its own grant "
                                       "(wartime users add … --personal-data)", field="authorization"))
        with backend.lock:
            county.refresh()
            tree = county.tree
            scope = request.args.get("scope") or actor.scope or tree.root
            try:
                require_read(actor, tree, scope, field="scope")
            except NotAuthorised as exc:
                raise refuse(exc) from None
            rows = personal_rows(backend, scope)
        audit.record(backend.client, county.code, "export", actor=actor.username, source=audit.source_address(),
                     method="GET", path=request.path, status=200,
                     detail=f"personal data scope={scope} format={fmt} rows={len(rows)}")
        if fmt == "json":
            resp = Response(_json_rows(rows), mimetype="application/json")
        else:
            resp = Response(to_csv(rows), mimetype="text/csv")
        resp.headers["Content-Disposition"] = f'attachment; filename="registry-{_safe(scope)}.{fmt}"'
        resp.headers["Cache-Control"] = "no-store"
        return resp


def _json_rows(rows: list[dict[str, Any]]) -> str:
    import json

    return json.dumps({"rows": rows}, ensure_ascii=False, separators=(",", ":"))


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)
