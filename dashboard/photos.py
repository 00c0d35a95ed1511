"""Photos of reports and matters at the door, and ``GET /photos/<digest>`` (listed in `dashboard.app.ROUTES`).

A command that may carry a photo (a field report, a matter) takes it in the
JSON body as ``photo_image``: the image in base64, or a ``data:image/...;base64,``
URL as a browser's canvas makes it. `streams.photos.photo_in` decodes it and checks it at the
door (`command.bounds.photo_image`: size, JPEG/PNG magic bytes), refusing with a
4xx naming ``photo_image`` before anything is stored or appended; the command then
validates, stores the image (`streams.photos.store`) and appends its event, which
names the photo by digest only.

``GET /photos/<digest>`` answers the image to whoever may read a report or a
matter it was taken with (`command.access.require_photo`), with its type and a
private, immutable cache rule (the URL is the content's digest).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint

from command import bounds
from command.access import require_photo
from command.errors import InvalidRequest, UnknownEndpoint
from dashboard.api import Backend
from dashboard.intake import Blob, Call, Routes
from streams import photos
from streams.photos import photo_in

__all__ = ["CACHE", "photo_in", "register", "serve"]

CACHE = "private, max-age=31536000, immutable"
"""A photo's URL names its content: a browser may keep it, a shared cache never."""


def register(api: Blueprint, backend: Backend) -> None:
    """``GET /photos/<digest>`` on the intake's table."""
    routes = Routes()

    @routes.get("/photos/<digest>")
    def get_photo(c: Call, digest: str) -> Any:
        return serve(backend, c, digest, ())

    routes.register(api, backend)


def serve(backend: Backend, c: Call, digest: str, grids: Iterable[str]) -> Any:
    """A photo for the caller of `c` (a `dashboard.intake.Call`)."""
    digest = bounds.photo_digest(digest, "digest") or ""
    if not digest:
        raise InvalidRequest("digest is required", field="digest")
    with backend.lock:
        county = backend.county
        county.refresh()
        tree = county.tree
    kept = photos.load(backend.client, county.code, digest)
    if kept is None:
        raise UnknownEndpoint(f"no photo {digest}", field="digest")
    kiosk = c.session is not None and c.session.kind == "kiosk"
    require_photo(c.actor, tree, [*kept.grids, *grids], kiosk=kiosk)
    return Blob(kept.data, kept.mime, (("Cache-Control", CACHE), ("X-Content-Type-Options", "nosniff")))
