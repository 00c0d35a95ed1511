"""The document model the report writers share: sections with pairs, paragraphs, tables and charts."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Section", "Table"]


@dataclass
class Table:
    """A table of display strings with a sheet name and the raw frame behind it (for XLSX)."""

    key: str
    header: list[str]
    rows: list[list[str]]
    raw: pd.DataFrame | None = None
    widths: list[float] | None = None
    full_rows: list[list[str]] | None = None
    """Rows with personal data in full, written only to the XLSX of a reader allowed them."""


@dataclass
class Section:
    """A heading with paragraphs, key–value pairs, tables and charts, in that order."""

    title: str
    pairs: list[tuple[str, str]] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[tuple[str, list[str]]] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
