"""Bounds (取值范围) on every value that enters an event, defined once.

A value in the log stays there for good: every reader (fold, reports, pages)
meets it again on every replay. So every command checks what it puts into an
event against these bounds at the door — times inside a sane calendar window,
counters and targets within what a county can hold, text of a bounded length
that encodes as UTF-8, lists of a bounded size — and refuses with a 4xx naming
the field. Readers that meet an old value outside them (written before these
checks) clamp it with `readable_time` / `readable_count` instead of dying.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sized
from typing import Annotated

import msgspec

from command.errors import InvalidRequest, TooLarge

__all__ = [
    "MAX_ACCURACY_M",
    "MAX_HOUSEHOLDS",
    "MAX_HOUSEHOLD_SIZE",
    "MAX_INCREMENT",
    "MAX_ITEMS",
    "MAX_LINE",
    "MAX_PHOTO_BYTES",
    "MAX_SMALL_COUNT",
    "MAX_TARGET",
    "MAX_TEXT",
    "MAX_TIME_MS",
    "MIN_TIME_MS",
    "Increment",
    "Location",
    "check_unicode",
    "count",
    "escape_controls",
    "integer",
    "items",
    "location",
    "photo_digest",
    "photo_image",
    "readable_count",
    "readable_counts",
    "readable_time",
    "strip_controls",
    "text",
    "time_ms",
]

MIN_TIME_MS = 946_684_800_000
"""2000-01-01T00:00:00Z: no command of this system refers to an earlier instant."""
MAX_TIME_MS = 4_102_444_800_000
"""2100-01-01T00:00:00Z: nor to a later one (and every date library can still render it)."""

MAX_TARGET = 100_000_000
"""A target or total of one grid: more people than any county holds (the largest have a few million)."""
MAX_INCREMENT = 1_000_000
"""One report's increment (or correction) of one counter."""
Increment = Annotated[int, msgspec.Meta(ge=-MAX_INCREMENT, le=MAX_INCREMENT)]
"""An increment as typed decoders of the log take it (out of range: the report is unreadable, skipped)."""
MAX_SMALL_COUNT = 10_000
"""Small tallies typed by a person (concerns raised in a contact round, …)."""

MAX_TEXT = 2_000
"""Free text (a reason, a description) unless the field says less."""
MAX_LINE = 200
"""A one-line value: a name, a person, a category, a department."""
MAX_ITEMS = 10_000
"""Entries of a list or mapping inside one event (targets, weights, …)."""
MAX_HOUSEHOLD_SIZE = 99
"""People in one household of a roster (户籍人口): the largest registered households have a few dozen."""
MAX_HOUSEHOLDS = 10_000_000
"""Households of one county's roster (the largest Chinese counties have a few million people)."""

_CONTROL = frozenset(chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))) | {"\u2028", "\u2029"}
_MULTILINE_OK = frozenset("\t\n\r")


def integer(value: object, field: str, lo: int, hi: int) -> int:
    """An integer within [lo, hi] (booleans are not integers), or a 422 naming the field."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{field} must be an integer", field=field)
    if not lo <= value <= hi:
        raise InvalidRequest(f"{field} must be between {lo} and {hi}", field=field)
    return value


def count(value: object, field: str, hi: int = MAX_TARGET) -> int:
    """A non-negative count of at most `hi` (a target, a tally)."""
    return integer(value, field, 0, hi)


def time_ms(value: object, field: str) -> int:
    """An instant in epoch milliseconds inside the calendar window [2000, 2100)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{field} must be an integer (epoch milliseconds)", field=field)
    if not MIN_TIME_MS <= value < MAX_TIME_MS:
        raise InvalidRequest(f"{field} must be a time between 2000 and 2100 (epoch milliseconds)", field=field)
    return value


def text(value: object, field: str, limit: int = MAX_TEXT, *, multiline: bool = True) -> str:
    """Text that encodes as UTF-8, of at most `limit` characters, without control characters.

    Tabs and line breaks are allowed in multi-line text only. `None` is the empty text.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be text", field=field)
    if len(value) > limit:
        raise TooLarge(f"{field} is longer than {limit} characters", field=field)
    if not value.isascii():
        check_unicode(value, field)
    if not value.isprintable():
        allowed = _MULTILINE_OK if multiline else frozenset()
        if any(ch in _CONTROL and ch not in allowed for ch in value):
            raise InvalidRequest(f"{field} holds control characters", field=field)
    return value


def check_unicode(value: str, field: str) -> None:
    """Refuse a string with a lone surrogate (it cannot be stored as UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(f"{field} is not valid Unicode (lone surrogate)", field=field) from None


def items(value: Sized, field: str, limit: int = MAX_ITEMS) -> None:
    """Refuse a list or mapping of more than `limit` entries."""
    if len(value) > limit:
        raise TooLarge(f"{field} has more than {limit} entries", field=field)


def readable_time(value: object) -> int | None:
    """An instant from an old event as a reader may use it: inside the window, else None (not shown)."""
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_TIME_MS <= value < MAX_TIME_MS:
        return None
    return value


def readable_count(value: object) -> int | None:
    """A count from an old event clamped into [0, MAX_TARGET]; None where it is not a number at all."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        value = int(value)
    if not isinstance(value, int):
        return None
    return min(max(value, 0), MAX_TARGET)


def _is_unshowable(ch: str) -> bool:
    return ch in _CONTROL or "\ud800" <= ch <= "\udfff"


def escape_controls(value: str) -> str:
    """`value` for a terminal line: control characters and lone surrogates written as visible escapes
    (``\\n``, ``\\x1b``, ``\\ud800``), so stored text can never forge a line or a terminal sequence."""
    if value.isprintable():
        return value
    return "".join(ch.encode("unicode_escape").decode("ascii") if _is_unshowable(ch) else ch for ch in value)


_STRIPPED = re.compile(
    "[" + "".join(re.escape(ch) for ch in sorted(_CONTROL - _MULTILINE_OK)) + "\ud800-\udfff]"
)
"""What `strip_controls` drops, as one character class: a document of 50 MB is one regex pass."""


def strip_controls(value: str) -> str:
    """`value` for an HTML or XML document: control characters (but tab and line breaks) and lone
    surrogates dropped — XML forbids them and browsers show them as garbage."""
    if value.isprintable():
        return value
    return _STRIPPED.sub("", value)


def readable_counts(counts: object) -> dict[str, int] | None:
    """A logged report's increments as every reader folds them, or None when it holds one that no
    command accepts (not an integer, beyond ±MAX_INCREMENT): such a report is skipped by all readers
    alike — projector, replay, review, reports — so that every total still agrees with every other."""
    if not isinstance(counts, dict):
        return None
    for k, v in counts.items():
        if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, int) or abs(v) > MAX_INCREMENT:
            return None
    return counts


MAX_ACCURACY_M = 10_000.0
"""A position fix vaguer than 10 km says nothing about which grid: refused."""

Location = tuple[float, float, float]
"""(latitude, longitude, accuracy in metres), WGS-84 as a phone's GPS gives it."""


def location(value: object, field: str = "location") -> Location | None:
    """An optional position ``{"lat", "lon", "accuracy"}``: none, or bounded finite degrees and metres.

    Rounded to 6 decimals (~0.1 m) and 1 m: the log keeps what a phone can know, no more.
    """
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{field} must be an object with lat, lon and accuracy", field=field)
    extra = sorted(set(value) - {"lat", "lon", "accuracy"})
    if extra:
        raise InvalidRequest(f"{field} takes only lat, lon and accuracy (not {', '.join(extra)})",
                             field=f"{field}.{extra[0]}")
    out: list[float] = []
    for key, lo, hi in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0), ("accuracy", 0.0, MAX_ACCURACY_M)):
        v = value.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or v != v or v in (float("inf"), float("-inf")):
            raise InvalidRequest(f"{field}.{key} must be a number", field=f"{field}.{key}")
        if not lo <= v <= hi:
            raise InvalidRequest(f"{field}.{key} must be between {lo:g} and {hi:g}", field=f"{field}.{key}")
        out.append(round(float(v), 6 if key != "accuracy" else 0))
    return out[0], out[1], out[2]



MAX_PHOTO_BYTES = 512 * 1024
"""Largest photo (bytes) taken with a report or a matter: a phone's camera picture resized in the
browser (longest side 1280 px, JPEG quality 0.7) is 100–300 KB; past this limit it is refused."""

_DIGEST = frozenset("0123456789abcdef")


def photo_digest(value: object, field: str = "photo") -> str | None:
    """An optional photo's content digest (sha256, 64 lowercase hex digits): none, or the digest."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) != 64 or not _DIGEST.issuperset(value):
        raise InvalidRequest(f"{field} must be a sha256 digest (64 lowercase hex digits)", field=field)
    return value


_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def photo_image(data: bytes, field: str = "photo_image") -> tuple[str, str]:
    """A photo's bytes checked at the door: at most `MAX_PHOTO_BYTES`, a JPEG or a PNG by its first
    bytes (what the name or the sender claims is not trusted). Its (sha256 digest, MIME type)."""
    if len(data) > MAX_PHOTO_BYTES:
        raise TooLarge(f"{field} is larger than {MAX_PHOTO_BYTES} bytes", field=field)
    mime = next((m for magic, m in _MAGIC if data.startswith(magic)), None)
    if mime is None or len(data) < 32:
        raise InvalidRequest(f"{field} must be a JPEG or PNG image", field=field)
    return hashlib.sha256(data).hexdigest(), mime
