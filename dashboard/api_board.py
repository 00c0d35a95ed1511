"""API routes of the command board (issue 4): its snapshot and its static polygons.

Added to the /api/v1 blueprint by `register` (listed in `dashboard.api.EXTENSIONS`):

| method and path | answer |
| --- | --- |
| `GET /board?scope=GRID&op=ID&lang=en` | the board's snapshot (`dashboard.components.board_model`) |
| `GET /board/geo/{digest}/{scope}/cells.geojson` | the scope's leaf polygons, ``id`` = cell index (scope ``~``: the caller's) |
| `GET /board/geo/{digest}/{scope}/outline.geojson` | borders of the scope's children and the scope |

The GeoJSON is addressed by the registry's geometry digest, so it never
changes under one URL: it is sent once with a long private cache lifetime and
an ETag, and a new registry gets new URLs. Both need a token in scope, like
every read (``Authorization: Bearer`` or ``?token=`` for a kiosk link).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from command.access import require_read
from command.errors import UnknownGrid
from dashboard.i18n import lang_of


MINE = "~"
"""Scope segment meaning "the caller's own scope" (a page that opens without ?scope=)."""


def register(api: Blueprint, backend: Any) -> None:
    """Add the routes to the blueprint."""
    from dashboard.api import handler
    from dashboard.components import board_model
    from dashboard.components.map import cells_geojson, outline_geojson
    from streams.county import now_ms

    @api.get("/board")
    @handler
    def board() -> Any:
        actor = backend.actor()
        with board_model.READER.county(backend.client, backend.county.code) as county:
            return board_model.snapshot(
                county, actor, request.args.get("scope") or None, request.args.get("op") or None,
                lang_of(request.args.get("lang")), now_ms(),
            )

    def _geo(digest: str, scope: str, kind: str) -> Any:
        actor = backend.actor()
        mine = scope == MINE
        with board_model.READER.county(backend.client, backend.county.code) as county:
            st = county.state
            tree = county.tree
            if mine:
                scope = actor.scope or tree.root
            require_read(actor, tree, scope, field="scope")
            if (st.geometry or "none") != digest:
                raise UnknownGrid(f"no geometry {digest} in the current registry", field="digest")
            geometry = county.view.geometry()
        make = cells_geojson if kind == "cells" else outline_geojson
        data = make(tree, geometry, scope, digest)
        etag = f'"{digest}-{scope}-{kind}"'
        # Under "~" the same URL means different scopes to different users: always revalidate.
        headers = {"ETag": etag, "Cache-Control": "private, no-cache" if mine else "private, max-age=86400"}
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers=headers)
        return Response(data, mimetype="application/geo+json", headers=headers)

    @api.get("/board/geo/<digest>/<scope>/cells.geojson")
    @handler
    def board_cells(digest: str, scope: str) -> Any:
        return _geo(digest, scope, "cells")

    @api.get("/board/geo/<digest>/<scope>/outline.geojson")
    @handler
    def board_outline(digest: str, scope: str) -> Any:
        return _geo(digest, scope, "outline")
