"""Photos taken with reports and matters, kept in Redis by content digest, out of the log.

An event names a photo by its sha256 only (`command.bounds.photo_digest`); the
bytes live under `streams.keys.CountyKeys.photo`, a hash of the image, its
MIME type and one ``grid:<code>`` field per grid it was recorded on (the scope
rule `command.access.require_photo` reads them). The command stores the photo
after validating and before appending its event, so an event never names a
photo that is not there; the same bytes sent again (a resend, a retry) write
nothing new: `HSETNX` keeps the first copy.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from command import bounds
from command.errors import InvalidRequest, TooLarge
from streams.keys import CountyKeys
from streams.server import Client

__all__ = ["FIELD", "Photo", "StoredPhoto", "load", "photo_in", "photo_of", "store"]

FIELD = "photo_image"
"""A command's body field of a photo: base64, or a ``data:image/...;base64,`` URL as a canvas makes it."""
_PREFIXES = ("data:image/jpeg;base64,", "data:image/png;base64,")


@dataclass(frozen=True, slots=True)
class Photo:
    """An image checked at the door (`command.bounds.photo_image`), not yet stored."""

    data: bytes
    digest: str
    mime: str


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    """A photo as kept: its bytes, MIME type and the grids it was recorded on."""

    data: bytes
    mime: str
    grids: tuple[str, ...]


def photo_of(data: bytes, field: str = "photo_image") -> Photo:
    """Bytes checked (size, JPEG/PNG magic) and digested; a 4xx naming `field` otherwise."""
    digest, mime = bounds.photo_image(data, field)
    return Photo(data, digest, mime)


def photo_in(data: Mapping[str, Any], field: str = FIELD) -> Photo | None:
    """The photo a body carries (none when absent or empty), checked at the door; else a 4xx naming it."""
    value = data.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a base64 JPEG or PNG image", field=field)
    for prefix in _PREFIXES:
        if value.startswith(prefix):
            value = value[len(prefix):]
            break
    if len(value) > (bounds.MAX_PHOTO_BYTES * 4) // 3 + 8:
        raise TooLarge(f"{field} is larger than {bounds.MAX_PHOTO_BYTES} bytes", field=field)
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{field} is not valid base64", field=field) from None
    return photo_of(raw, field)


def store(client: Client, county: str, photo: Photo, grid: str) -> bool:
    """Keep `photo` as recorded on `grid`; True when its bytes were new (a resend stores nothing twice)."""
    key = CountyKeys(county).photo(photo.digest)
    pipe = client.pipeline(transaction=True)
    pipe.hsetnx(key, "image", photo.data)
    pipe.hsetnx(key, "type", photo.mime)
    pipe.hsetnx(key, f"grid:{grid}", 1)
    new, _, _ = pipe.execute()
    return bool(new)


def load(client: Client, county: str, digest: str) -> StoredPhoto | None:
    """The photo of `digest`, or None when none is kept."""
    raw = client.hgetall(CountyKeys(county).photo(digest))
    if not raw:
        return None
    fields = {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}
    image = fields.get("image")
    if not isinstance(image, bytes):
        return None
    mime = fields.get("type", b"image/jpeg")
    grids = tuple(k[5:] for k in fields if k.startswith("grid:"))
    return StoredPhoto(image, mime.decode() if isinstance(mime, bytes) else str(mime), grids)
