"""API routes of the command board (issue 4): its snapshot and its static polygons.

Added to the /api/v1 blueprint by `register` (listed in `dashboard.app.ROUTES`):

| method and path | answer |
| --- | --- |
| `GET /board?scope=GRID&op=ID&lang=en` | the board's snapshot (`dashboard.components.board_model`) |
| `GET /board/geo/{digest}/{scope}/cells.geojson` | the scope's leaf polygons, ``id`` = cell index |
| `GET /board/geo/{digest}/{scope}/outline.geojson` | borders of the scope's children and the scope |

Scope ``~`` in a geo URL means the caller's own scope (a page opened without
``?scope=``). The GeoJSON is addressed by the registry's geometry digest, so it never
changes under one URL: it is sent once with a long private cache lifetime and
an ETag, and a new registry gets new URLs. Both need a token in scope, like
every read (``Authorization: Bearer`` or ``?token=`` for a kiosk link).
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, Response, request

from command.access import require_read
from command.errors import UnknownGrid
from dashboard.i18n import lang_of

__all__ = ["MINE", "register"]


MINE = "~"
"""Scope segment meaning "the caller's own scope" (a page that opens without ?scope=)."""


def register(api: Blueprint, backend: Any) -> None:
    """Add the routes to the blueprint."""
    from dashboard.api import handler
    from dashboard.components import board_model
    from dashboard.components.map import map_part
    from streams.county import now_ms

    @api.get("/board")
    @handler
    def board() -> Any:
        actor = backend.actor()
        t0 = time.perf_counter()
        now = now_ms()
        with board_model.READER.county(backend.client, backend.county.code) as county:
            snap = board_model.snapshot(
                county, actor, request.args.get("scope") or None, request.args.get("op") or None,
                lang_of(request.args.get("lang")), now, tiles=False,
            )
            client, code, tree = county.client, county.code, county.tree
        t1 = time.perf_counter()
        snap["tiles"] = board_model.kind_tiles(client, code, tree, snap["ops"], now)
        t2 = time.perf_counter()
        timing = f"view;dur={(t1 - t0) * 1000:.1f}, series;dur={(t2 - t1) * 1000:.1f}"
        return Response(json.dumps(snap, ensure_ascii=False, separators=(",", ":")), mimetype="application/json",
                        headers={"Server-Timing": timing})

    def _geo(digest: str, scope: str, kind: str) -> Any:
        actor = backend.actor()
        mine = scope == MINE
        with board_model.READER.county(backend.client, backend.county.code) as county:
            current = county.state.geometry or "none"
            tree = county.tree
        if mine:
            scope = actor.scope or tree.root
        require_read(actor, tree, scope, field="scope")
        if current != digest:
            raise UnknownGrid(f"no geometry {digest} in the current registry", field="digest")
        # Outside the reader's lock: a part is read (or made, once) under its digest, which never changes.
        data = map_part(county, digest, scope, kind)
        etag = f'"{digest}-{scope}-{kind}"'
        # Under "~" the same URL means different scopes to different users: always revalidate.
        headers = {"ETag": etag, "Cache-Control": "private, no-cache" if mine else "private, max-age=86400"}
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers=headers)
        return Response(data, mimetype="application/json" if kind == "packed" else "application/geo+json",
                        headers=headers)

    @api.get("/board/geo/<digest>/<scope>/cells.geojson")
    @handler
    def board_cells(digest: str, scope: str) -> Any:
        return _geo(digest, scope, "cells")

    @api.get("/board/geo/<digest>/<scope>/cells.json")
    @handler
    def board_cells_packed(digest: str, scope: str) -> Any:
        return _geo(digest, scope, "packed")

    @api.get("/board/geo/<digest>/<scope>/outline.geojson")
    @handler
    def board_outline(digest: str, scope: str) -> Any:
        return _geo(digest, scope, "outline")
