"""Households of an operation over HTTP (DESIGN §7.3): set a status, list a grid's households.

* ``POST /api/v1/operations/{id}/households`` ``{report_id, household, status, note?}`` → 201
  ``{event_id}``; the same body again → 200 ``{event_id, duplicate: true}``; the same
  report_id with another body → 409 ``report_id_reused``. Through `dashboard.intake.Intake`
  (`submit_household_status`): the reports' one way in, group commit and audit entry.
* ``GET /api/v1/operations/{id}/households?grid=CODE&status=unreached|reached|…&vulnerable=1
  &central_household=CODE&offset=0&limit=100`` → ``{grid, total, by_status, unreached, items: [{code, micro_grid,
  central_household, address, head, size, phone, vulnerable, status}], offset, limit, matched,
  next_offset}``: unreached households first, vulnerable ones first among them, a page of
  at most `MAX_LIMIT`. Names and phones are masked (张*明, 138****1234) except for the
  household's own grid leaders and the commanders of its scope; a read that unmasked any
  leaves a ``personal`` entry in the audit trail (actor, source, grid, how many — never the data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, current_app, request

from command.access import require_read, within_scope
from command.errors import InvalidRequest
from command.households import STATUSES, UNREACHED
from command.operations import operation_of
from dashboard import audit
from dashboard.api import Backend, read_body
from dashboard.intake import Call, Routes, intake_of, response_of

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "register"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _int_arg(args: Mapping[str, str], name: str, default: int, hi: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= hi:
        raise InvalidRequest(f"{name} must be a whole number 0–{hi}", field=name)
    return int(raw)


ROUTES = Routes()


@ROUTES.get("/operations/<op>/households")
def list_households(c: Call, op: str) -> Any:
    """A grid's households in an operation, a page at a time, masked but for who may see them."""
    actor, backend = c.actor, c.backend
    status = c.args.get("status") or None
    if status is not None and status != UNREACHED and status not in STATUSES:
        raise InvalidRequest(f"status must be {UNREACHED} or one of {', '.join(STATUSES)}", field="status")
    vulnerable = c.args.get("vulnerable") in ("1", "true", "yes")
    offset = _int_arg(c.args, "offset", 0, 10_000_000)
    limit = _int_arg(c.args, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    with backend.lock:
        county = backend.county
        st = county.refresh(250)
        operation = operation_of(st, op)
        tree = county.tree
        default = operation.scope if within_scope(actor, tree, operation.scope) else actor.scope
        grid = c.args.get("grid") or default
        tree[grid]
        require_read(actor, tree, grid)
    central = c.args.get("central_household") or None  # a central household's own 5–10
    page = county.households.listing(tree, actor, op, grid, status=status, vulnerable=vulnerable,
                                     central_household=central, offset=offset, limit=limit)
    if page.unmasked:
        audit.record_soon(backend.client, county.code, "personal", actor=actor.username,
                          source=audit.source_address(), method="GET",
                          path=f"/api/v1/operations/{op}/households", status=200,
                          detail=f"households operation={op} grid={grid} unmasked={page.unmasked}")
    return page.to_json(offset, limit)


def register(api: Blueprint, backend: Backend) -> None:
    """Add the household routes to the /api/v1 blueprint: the reads on the intake's table, the status
    write through the intake's report path (`Intake.submit_household_status`)."""
    ROUTES.register(api, backend)

    @api.post("/operations/<op>/households")
    def set_household_status(op: str) -> Response:
        intake = intake_of(current_app)
        answer = intake.receive(
            request.headers.get("Authorization", ""), op,
            lambda: read_body(request.stream.read, request.content_length),
            source=audit.source_address(), path=request.path, submit=intake.submit_household_status,
        )
        request.environ["wartime.audited"] = True  # the intake wrote the entry
        return response_of(answer)
