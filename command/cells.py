"""Spreadsheet safety: a cell no spreadsheet program will run as a formula.

Text that starts like a formula (``= + - @``, tab or CR) gets a leading
apostrophe; numbers, negative ones included, stay as they are. Every CSV and
XLSX the program writes (reports, briefings, the personal-data export) passes
its text cells through `inert_cell`.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["FORMULA_START", "inert_cell"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d[\d,]*(\.\d+)?%?")


def inert_cell(value: Any) -> Any:
    """The value, with an apostrophe in front when it is text starting like a formula (numbers stay)."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value
