"""Grid registries (网格台账): read the files county offices keep, write the ones we generate.

Design:

* **All or nothing.** `load_registry` parses the whole file, checks every row and the
  shape of the tree, and either returns a complete `GridTree` or raises one
  `RegistryError` listing *every* bad row — never a half-loaded tree.
* **Lines as a person sees them.** For CSV, `RowError.line` is the editor line on which
  the record starts (the header is line 1); for XLSX it is the spreadsheet row number;
  for GeoJSON it is the 1-based feature number. Whole-file problems (size, encoding,
  structure) use line 0 unless a more precise line is known.
* **Cells are text.** Nothing is ever evaluated: a name such as ``=SUM(A1)`` is a name.
  XLSX is opened with formulas left as their text.
* **What offices save.** zh-CN Excel saves "CSV" in GBK: a file that is not UTF-8 is read
  as GB18030 (a superset of GBK) when that decodes it to Chinese text, and a note says so.
  Headers may be the Chinese labels (网格编码, 名称, 层级… see `command.labels`), levels
  and kinds may be written in Chinese (县, 镇, 小网格, 综合网格), and title rows above the
  header (a merged title cell in XLSX) are skipped with a note naming them.
* **Bounded.** Files over `MAX_FILE_BYTES`, XLSX archives that inflate beyond
  `MAX_XLSX_INFLATED_BYTES`, and CSV fields over `MAX_FIELD_CHARS` are refused with a
  clear reason instead of exhausting memory.
* **Deterministic output.** `write_registry` writes rows in the tree's pre-order (the
  registry order), `\\n` line endings, UTF-8 without BOM, coordinates rounded to 7
  decimals and compact JSON, so the same tree always gives the same bytes.

Registry files: ``grids.csv`` / ``grids.xlsx`` (first sheet) / ``grids.geojson`` (columns
in ``properties``), and an optional ``central_households.csv`` beside them.

Why one module: CSV, XLSX and GeoJSON go through one row checker and
one tree check, so that "all or nothing" and "lines as a person sees them"
hold the same way for every format; the per-format readers are short.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from command import labels
from command.errors import RegistryError, RowError
from command.grids import CentralHousehold, Grid, GridKind, GridTree, Level

__all__ = [
    "CENTRAL_HOUSEHOLDS_CSV",
    "CENTRAL_HOUSEHOLD_COLUMNS",
    "COLUMNS",
    "COORD_DECIMALS",
    "GRIDS_CSV",
    "GRIDS_GEOJSON",
    "GRIDS_XLSX",
    "MAX_COUNT",
    "MAX_FIELD_CHARS",
    "MAX_FILE_BYTES",
    "MAX_XLSX_INFLATED_BYTES",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "WHOLE_FILE",
    "Progress",
    "load_geometry",
    "load_registry",
    "write_registry",
]


Progress = Callable[[int, int], None]
_E = TypeVar("_E", Level, GridKind)

REQUIRED_COLUMNS = (
    "code",
    "name",
    "level",
    "kind",
    "parent",
    "households",
    "population",
    "first_leader",
)
OPTIONAL_COLUMNS = ("leader", "phone")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
CENTRAL_HOUSEHOLD_COLUMNS = ("code", "micro_grid", "head", "linked_households")

GRIDS_CSV = "grids.csv"
GRIDS_XLSX = "grids.xlsx"
GRIDS_GEOJSON = "grids.geojson"
CENTRAL_HOUSEHOLDS_CSV = "central_households.csv"

WHOLE_FILE = 0
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_XLSX_INFLATED_BYTES = 1024 * 1024 * 1024
MAX_FIELD_CHARS = 10_000
MAX_COUNT = 1_000_000_000
LINKED_MIN, LINKED_MAX = 5, 10
COORD_DECIMALS = 7  # ~1 cm: real boundaries have vertices closer than 1 m; generated ones carry 5

_MAX_LEN = {
    "code": 64,
    "parent": 64,
    "name": 200,
    "first_leader": 64,
    "leader": 64,
    "phone": 32,
    "micro_grid": 64,
    "head": 64,
}
# Codes travel in URLs, Redis keys (inside {hash tags}) and file names: keep them plain.
# The header is the first row naming at least this many known columns; rows above it are titles.
HEADER_MIN_KNOWN = 3
MAX_TITLE_ROWS = 10
_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_INT_RE = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class _Row:
    """One record as read, before any checking: where it came from and its raw text cells."""

    line: int
    cells: Mapping[str, str]


@dataclass(slots=True)
class _Parsed:
    """Row values that passed their own checks (None where a value was bad)."""

    line: int
    code: str
    name: str
    level: Level | None
    kind: GridKind | None
    parent: str | None  # "" for none, None when the cell itself was bad
    households: int | None
    population: int | None
    first_leader: str
    leader: str
    phone: str


# ---------------------------------------------------------------------------- reading


def load_registry(
    path: str | Path, progress: Progress | None = None, notes: list[str] | None = None
) -> GridTree:
    """Read a CSV, XLSX or GeoJSON registry (or a directory holding one) into a validated tree.

    `notes` (when given) receives what the reader decided on the user's behalf: the encoding
    used, title rows skipped.
    """
    source = _resolve(Path(path))
    said: list[str] = [] if notes is None else notes
    rows = _read_rows(source, notes=said)
    ch_path = source.with_name(CENTRAL_HOUSEHOLDS_CSV)
    ch_rows = (
        _read_rows(ch_path, CENTRAL_HOUSEHOLD_COLUMNS, CENTRAL_HOUSEHOLD_COLUMNS, said)
        if ch_path != source and ch_path.is_file()
        else []
    )
    return _validate(rows, ch_rows, source.name, progress)


def tree_from_records(
    records: Sequence[tuple[int, Mapping[str, str]]], source: str, progress: Progress | None = None
) -> GridTree:
    """Validate rows read elsewhere (a GIS file's features: number, text cells) with the same checks."""
    rows = [_Row(line, {c: cells.get(c, "") for c in COLUMNS}) for line, cells in records]
    return _validate(rows, [], source, progress)


def load_geometry(path: str | Path) -> dict[str, dict[str, Any]]:
    """Polygons by grid code from ``grids.geojson`` at or beside `path`; {} when there is none."""
    p = Path(path)
    if p.is_dir():
        p = p / GRIDS_GEOJSON
    elif p.suffix.lower() not in (".geojson", ".json"):
        p = p.with_name(GRIDS_GEOJSON)
    if not p.is_file():
        return {}
    features = _read_features(p)
    out: dict[str, dict[str, Any]] = {}
    errors: list[RowError] = []
    for number, feature in features:
        props = feature.get("properties")
        code = _cell_text(props.get("code")) if isinstance(props, dict) else ""
        geometry = feature.get("geometry")
        if not code:
            errors.append(RowError(number, "feature without properties.code", "code"))
            continue
        if geometry is None:
            continue
        problem = _geometry_problem(geometry)
        if problem:
            errors.append(RowError(number, problem, "geometry"))
        elif code in out:
            errors.append(RowError(number, f"second geometry for {code}", "code"))
        else:
            out[code] = geometry
    if errors:
        raise RegistryError(errors, source=p.name)
    return out


def _resolve(path: Path) -> Path:
    """A directory stands for the registry file inside it, CSV preferred."""
    if path.is_dir():
        for name in (GRIDS_CSV, GRIDS_XLSX, GRIDS_GEOJSON):
            if (path / name).is_file():
                return path / name
        _refuse(path.name, f"no {GRIDS_CSV}, {GRIDS_XLSX} or {GRIDS_GEOJSON} in this directory")
    if not path.is_file():
        _refuse(path.name, "no such file")
    if path.suffix.lower() not in (".csv", ".xlsx", ".geojson", ".json"):
        _refuse(path.name, "unsupported file type: use .csv, .xlsx or .geojson")
    return path


def _refuse(source: str, reason: str, line: int = WHOLE_FILE, field: str | None = None) -> Any:
    """Raise a whole-file refusal; typed Any so callers can `return _refuse(...)`."""
    raise RegistryError([RowError(line, reason, field)], source=source)


def _read_rows(
    path: Path,
    required: Sequence[str] = REQUIRED_COLUMNS,
    known: Sequence[str] = COLUMNS,
    notes: list[str] | None = None,
) -> list[_Row]:
    """Dispatch on the file type; every reader yields text cells keyed by known column names."""
    _check_size(path)
    suffix = path.suffix.lower()
    said: list[str] = [] if notes is None else notes
    if suffix == ".csv":
        return _read_csv(path, required, known, said)
    if suffix == ".xlsx":
        return _read_xlsx(path, required, known, said)
    return _read_geojson_rows(path, known)


def _check_size(path: Path) -> None:
    """Refuse before reading anything that would not fit comfortably in memory."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        _refuse(
            path.name,
            f"file is {size / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES // (1024 * 1024)} MB",
        )


def _decode(path: Path, notes: list[str] | None = None) -> str:
    """The file's text: UTF-8 (BOM or not), else GB18030/GBK when `notes` allows it (CSV)."""
    return decode_text(path.read_bytes(), path.name, notes)


def decode_text(data: bytes, source: str, notes: list[str] | None = None) -> str:
    """UTF-8 with or without BOM; else GB18030 if that gives Chinese text (noted); else refused.

    GB18030 decodes many byte strings, so it is taken only when every non-ASCII character it
    yields is a CJK ideograph, CJK punctuation or a full-width form — what a GBK registry
    holds — and never for JSON (`notes` None), which is UTF-8 by definition.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        if notes is not None:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError:
                text = ""
            if text and all(ord(ch) < 128 or _looks_chinese(ch) for ch in text):
                notes.append(f"{source}: not UTF-8; read as GB18030 (GBK), as zh-CN Excel saves CSV")
                return text
        return _refuse(
            source,
            "file is not UTF-8 (GBK/GB18030 or Latin-1?): save it as 'CSV UTF-8' and import it again",
            line,
        )


def _looks_chinese(ch: str) -> bool:
    """CJK ideographs, CJK symbols and punctuation, full-width forms, middle dot and the like."""
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF  # CJK unified ideographs
        or 0x3400 <= o <= 0x4DBF  # extension A
        or 0x3000 <= o <= 0x303F  # CJK symbols and punctuation
        or 0xFF00 <= o <= 0xFFEF  # full-width forms
        or 0x2010 <= o <= 0x2027  # dashes, quotes, ellipsis
        or o in (0x00B7, 0x00D7, 0x2116, 0x2160, 0x2161, 0x2162, 0x2163, 0x3007)  # · × № Ⅰ–Ⅳ 〇
    )


def _header(
    raw: Sequence[Any], source: str, line: int, required: Sequence[str], known: Sequence[str]
) -> dict[int, str]:
    """Map column positions to known column names; a missing required column refuses the file."""
    positions: dict[int, str] = {}
    seen: set[str] = set()
    errors: list[RowError] = []
    for i, cell in enumerate(raw):
        name = labels.column(_cell_text(cell), known)
        if name is not None:
            if name in seen:
                errors.append(RowError(line, f"column {name!r} appears twice", name))
            seen.add(name)
            positions[i] = name
    missing = [c for c in required if c not in seen]
    if missing:
        errors.append(RowError(line, f"missing column(s): {', '.join(missing)}", missing[0]))
    if errors:
        raise RegistryError(errors, source=source)
    return positions


def _known_count(raw: Sequence[Any], known: Sequence[str]) -> int:
    """How many cells of a row name a known column: a header names several, a title none."""
    return len([cell for cell in raw if labels.column(_cell_text(cell), known) is not None])


def _is_header(raw: Sequence[Any], known: Sequence[str], seen_rows: int) -> bool:
    """The first row naming a few known columns is the header; past the title allowance, any row."""
    return seen_rows >= MAX_TITLE_ROWS or _known_count(raw, known) >= min(HEADER_MIN_KNOWN, len(known))


def _note_titles(source: str, titles: list[int], header_line: int, notes: list[str]) -> None:
    """Say which rows above the header were taken for titles and skipped."""
    if titles:
        shown = ", ".join(str(t) for t in titles)
        notes.append(f"{source}: skipped title row(s) on line {shown}; the header is on line {header_line}")


@contextlib.contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """csv's field limit is process-wide: set ours only while parsing, then put it back."""
    old = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _read_csv(path: Path, required: Sequence[str], known: Sequence[str], notes: list[str]) -> list[_Row]:
    """Parse CSV text, remembering the editor line on which each record starts."""
    text = _decode(path, notes)
    first = "\n".join(text.split("\n", MAX_TITLE_ROWS + 1)[:MAX_TITLE_ROWS + 1])
    delimiter = max((",", "\t", ";"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[_Row] = []
    positions: dict[int, str] | None = None
    errors: list[RowError] = []
    titles: list[int] = []
    prev = width = 0
    with _field_limit(MAX_FIELD_CHARS):
        while True:
            start = prev + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                errors.append(
                    RowError(
                        start,
                        f"unreadable CSV ({exc}); a field may exceed {MAX_FIELD_CHARS} "
                        "characters or a quote may be unclosed",
                    )
                )
                raise RegistryError(errors, source=path.name) from None
            prev = reader.line_num
            if not any(c.strip() for c in record):
                continue
            if positions is None:
                if not _is_header(record, known, len(titles)):
                    titles.append(start)
                    continue
                positions = _header(record, path.name, start, required, known)
                _note_titles(path.name, titles, start, notes)
                width = len(record)
                continue
            if len(record) > width and any(c.strip() for c in record[width:]):
                errors.append(RowError(start, f"{len(record)} fields but the header has {width}"))
            cells = {name: record[i] for i, name in positions.items() if i < len(record)}
            rows.append(_Row(start, cells))
    if positions is None:
        if titles:
            _refuse(path.name, f"no header row: no line names the columns {', '.join(required)}", titles[0])
        _refuse(path.name, "empty file: no header row")
    if errors:
        raise RegistryError(errors, source=path.name)
    return rows


def _read_xlsx(path: Path, required: Sequence[str], known: Sequence[str], notes: list[str]) -> list[_Row]:
    """First sheet, header after any title rows; formulas are read as their text."""
    import openpyxl  # heavy import, only when a spreadsheet is actually read

    try:
        with zipfile.ZipFile(path) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return _refuse(path.name, "not a valid .xlsx file (save it as Excel Workbook .xlsx)")
    if inflated > MAX_XLSX_INFLATED_BYTES:
        _refuse(path.name, f"workbook inflates to {inflated / 1e6:.0f} MB; refusing to open it")
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for damaged files
        return _refuse(path.name, f"cannot open workbook: {exc}")
    rows: list[_Row] = []
    try:
        if not workbook.worksheets:
            _refuse(path.name, "workbook has no sheet")
        sheet = workbook.worksheets[0]
        positions: dict[int, str] | None = None
        titles: list[int] = []
        for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            if not any(_cell_text(v) for v in values):
                continue
            if positions is None:
                if not _is_header(values, known, len(titles)):
                    titles.append(number)
                    continue
                positions = _header(values, path.name, number, required, known)
                _note_titles(path.name, titles, number, notes)
                continue
            cells = {n: _cell_text(values[i]) for i, n in positions.items() if i < len(values)}
            rows.append(_Row(number, cells))
    finally:
        workbook.close()
    if positions is None:
        if titles:
            _refuse(path.name, f"no header row: no row names the columns {', '.join(required)}", titles[0])
        _refuse(path.name, "first sheet is empty: no header row")
    return rows


def _read_features(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Features of a FeatureCollection with their 1-based numbers."""
    text = _decode(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return _refuse(path.name, f"not valid JSON: {exc.msg}", exc.lineno)
    except RecursionError:
        return _refuse(path.name, "JSON nested too deeply (no registry needs that)")
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        _refuse(path.name, "not a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        _refuse(path.name, "FeatureCollection without a features list")
    out: list[tuple[int, dict[str, Any]]] = []
    errors: list[RowError] = []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
            errors.append(RowError(number, "feature without a properties object"))
        else:
            out.append((number, feature))
    if errors:
        raise RegistryError(errors, source=path.name)
    return out


def _read_geojson_rows(path: Path, known: Sequence[str]) -> list[_Row]:
    """One row per feature; absent properties count as empty cells, geometry is checked."""
    rows: list[_Row] = []
    errors: list[RowError] = []
    for number, feature in _read_features(path):
        props: dict[str, Any] = {}
        for k, v in feature["properties"].items():
            props.setdefault(labels.column(str(k), known) or str(k).strip().lower(), v)
        geometry = feature.get("geometry")
        if geometry is not None:
            problem = _geometry_problem(geometry)
            if problem:
                errors.append(RowError(number, problem, "geometry"))
        rows.append(_Row(number, {c: _cell_text(props.get(c)) for c in known}))
    if errors:
        raise RegistryError(errors, source=path.name)
    return rows


def _geometry_problem(geometry: Any) -> str:
    """Why a GeoJSON geometry cannot be drawn as a grid area ('' when it can)."""
    if not isinstance(geometry, dict):
        return "geometry is not an object"
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon"):
        return f"geometry type {kind!r}: grids are Polygon or MultiPolygon"
    polygons = [coords] if kind == "Polygon" else coords
    if not isinstance(polygons, list) or not polygons:
        return "geometry without coordinates"
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            return "polygon without rings"
        for ring in polygon:
            if not isinstance(ring, list) or len(ring) < 4:
                return "polygon ring with fewer than 4 positions"
            for pos in ring:
                if (
                    not isinstance(pos, list)
                    or len(pos) < 2
                    or not all(
                        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in pos[:2]
                    )
                ):
                    return "polygon position is not [lon, lat]"
    return ""


def _cell_text(value: Any) -> str:
    """Any cell value as stripped text; integral floats (spreadsheets) lose their '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# ---------------------------------------------------------------------------- checking


def _text(cells: Mapping[str, str], name: str, line: int, errors: list[RowError]) -> str | None:
    """A free-text cell; None (with an error) when too long or holding control characters."""
    value = cells.get(name, "").strip()
    limit = _MAX_LEN.get(name)
    if limit is not None and len(value) > limit:
        errors.append(RowError(line, f"{name} longer than {limit} characters", name))
        return None
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        errors.append(RowError(line, f"{name} contains control characters (line breaks…)", name))
        return None
    return value


def _required(cells: Mapping[str, str], name: str, line: int, errors: list[RowError]) -> str | None:
    """A text cell that must not be empty."""
    value = _text(cells, name, line, errors)
    if value == "":
        errors.append(RowError(line, f"empty {name}", name))
        return None
    return value


def _count(cells: Mapping[str, str], name: str, line: int, errors: list[RowError]) -> int | None:
    """A non-negative whole number; empty means 0 (unknown)."""
    value = cells.get(name, "").strip()
    if not value:
        return 0
    if value.startswith("-") and _INT_RE.fullmatch(value[1:]):
        errors.append(RowError(line, f"{name} {value} is negative", name))
        return None
    if not _INT_RE.fullmatch(value):
        errors.append(RowError(line, f"{name} {value[:40]!r} is not a whole number", name))
        return None
    number = int(value)
    if number > MAX_COUNT:
        errors.append(RowError(line, f"{name} {number} is implausibly large", name))
        return None
    return number


def _member(enum: type[_E], raw: str, line: int, name: str, errors: list[RowError]) -> _E | None:
    """A value from a closed list (case-insensitive), or an error naming the allowed ones."""
    value = raw.strip().lower()
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        errors.append(RowError(line, f"{name} {value[:40]!r} is not one of {allowed}", name))
        return None


def _parse_grid(row: _Row, errors: list[RowError]) -> _Parsed:
    """Check one grid row on its own (no other rows needed)."""
    c, line = row.cells, row.line
    code = _required(c, "code", line, errors)
    if code is not None and not _CODE_RE.fullmatch(code):
        errors.append(RowError(line, f"code {code!r}: use letters, digits, '-', '_' or '.' only", "code"))
    name = _required(c, "name", line, errors)
    level = _member(Level, labels.level_value(c.get("level", "")), line, "level", errors)
    kind = _member(GridKind, labels.kind_value(c.get("kind", "")), line, "kind", errors)
    parent = _text(c, "parent", line, errors)
    households = _count(c, "households", line, errors)
    population = _count(c, "population", line, errors)
    first_leader = _text(c, "first_leader", line, errors) or ""
    if first_leader and level is not None and level != Level.SMALL:
        errors.append(
            RowError(
                line,
                f"first_leader is only for small grids; this is a {level.value} grid",
                "first_leader",
            )
        )
    return _Parsed(
        line=line,
        code=code or "",
        name=name or "",
        level=level,
        kind=kind,
        parent=parent,
        households=households,
        population=population,
        first_leader=first_leader,
        leader=_text(c, "leader", line, errors) or "",
        phone=_text(c, "phone", line, errors) or "",
    )


def _check_tree(parsed: list[_Parsed], errors: list[RowError]) -> dict[str, _Parsed]:
    """Uniqueness, the single county root, known parents, levels going down, no cycles."""
    by_code: dict[str, _Parsed] = {}
    for p in parsed:
        if not p.code:
            continue
        first = by_code.get(p.code)
        if first is not None:
            errors.append(RowError(p.line, f"duplicate code {p.code} (first on line {first.line})", "code"))
        else:
            by_code[p.code] = p

    roots = [p for p in by_code.values() if p.parent == ""]
    county = next((p for p in roots if p.level == Level.COUNTY), roots[0] if roots else None)
    if county is None:
        errors.append(RowError(WHOLE_FILE, "no county: exactly one row must have an empty parent"))
    for p in roots:
        if p is county:
            if p.level is not None and p.level != Level.COUNTY:
                errors.append(RowError(p.line, "the row with an empty parent must be the county", "level"))
        else:
            assert county is not None
            errors.append(
                RowError(
                    p.line,
                    f"empty parent: only the county (line {county.line}) may have no parent",
                    "parent",
                )
            )
    for p in by_code.values():
        if not p.parent:
            continue
        if p.level == Level.COUNTY:
            errors.append(RowError(p.line, "the county cannot have a parent", "parent"))
        up = by_code.get(p.parent)
        if up is None:
            errors.append(RowError(p.line, f"unknown parent {p.parent[:64]}", "parent"))
        elif up is p:
            errors.append(RowError(p.line, f"cycle: {p.code} is its own parent", "parent"))
        elif p.level is not None and up.level is not None:
            if up.level.depth >= p.level.depth:
                errors.append(
                    RowError(
                        p.line,
                        f"a {p.level.value} grid cannot sit under {up.code}, a "
                        f"{up.level.value}: a parent must be at a higher level",
                        "parent",
                    )
                )
            elif up.level == Level.COUNTY and p.level != Level.TOWN:
                errors.append(
                    RowError(
                        p.line,
                        f"a {p.level.value} grid must lie in a town, not directly under the county",
                        "parent",
                    )
                )
    _check_cycles(by_code, errors)
    return by_code


def _check_cycles(by_code: Mapping[str, _Parsed], errors: list[RowError]) -> None:
    """Report every row on a parent loop (A → B → … → A), each with the loop spelled out."""
    state: dict[str, int] = {}  # 1 on the current walk, 2 finished
    for start in by_code:
        walk: list[str] = []
        code: str | None = start
        while code is not None and code in by_code and state.get(code) is None:
            state[code] = 1
            walk.append(code)
            parent = by_code[code].parent
            code = parent if parent and parent != code else None
        if code is not None and state.get(code) == 1:
            loop = walk[walk.index(code) :]
            shown = " → ".join([*loop, loop[0]])
            for member in loop:
                errors.append(RowError(by_code[member].line, f"cycle: {shown}", "parent"))
        for c in walk:
            state[c] = 2


def _parse_central_households(
    rows: list[_Row], grids: Mapping[str, _Parsed], errors: list[RowError]
) -> list[CentralHousehold]:
    """Central households must hang under an existing micro grid and link 5–10 households."""
    out: list[CentralHousehold] = []
    seen: dict[str, int] = {}
    for row in rows:
        c, line = row.cells, row.line
        code = _required(c, "code", line, errors)
        if code is not None and code in seen:
            errors.append(RowError(line, f"duplicate code {code} (first on line {seen[code]})", "code"))
        elif code is not None:
            seen[code] = line
        micro = _required(c, "micro_grid", line, errors)
        grid = grids.get(micro) if micro is not None else None
        if micro is not None and grid is None:
            errors.append(RowError(line, f"unknown micro grid {micro}", "micro_grid"))
        elif grid is not None and grid.level is not None and grid.level != Level.MICRO:
            errors.append(
                RowError(
                    line,
                    f"{micro} is a {grid.level.value} grid; central households hang under micro grids",
                    "micro_grid",
                )
            )
        head = _required(c, "head", line, errors)
        linked = _count(c, "linked_households", line, errors)
        if linked is not None and not LINKED_MIN <= linked <= LINKED_MAX:
            errors.append(
                RowError(
                    line,
                    f"linked_households {linked} is outside {LINKED_MIN}–{LINKED_MAX}",
                    "linked_households",
                )
            )
        if code is not None and micro is not None and head is not None and linked is not None:
            out.append(CentralHousehold(code, micro, head, linked))
    return out


def _grid(p: _Parsed) -> Grid:
    """The record of a row that passed every check."""
    assert p.level is not None and p.kind is not None
    assert p.households is not None and p.population is not None
    return Grid(
        code=p.code,
        name=p.name,
        level=p.level,
        kind=p.kind,
        parent=p.parent or None,
        households=p.households,
        population=p.population,
        first_leader=p.first_leader or None,
        leader=p.leader or None,
        phone=p.phone or None,
    )


def _validate(rows: list[_Row], ch_rows: list[_Row], source: str, progress: Progress | None) -> GridTree:
    """Every check over every row, then either a whole tree or one error listing all of them."""
    total = len(rows) + len(ch_rows)
    errors: list[RowError] = []
    parsed: list[_Parsed] = []
    for i, row in enumerate(rows, start=1):
        parsed.append(_parse_grid(row, errors))
        if progress is not None and i % 1000 == 0:
            progress(i, total)
    by_code = _check_tree(parsed, errors)
    ch_errors: list[RowError] = []
    households = _parse_central_households(ch_rows, by_code, ch_errors)
    if errors and ch_errors:
        # Two files in one refusal: say which file each central-household line is in.
        prefix = f"{CENTRAL_HOUSEHOLDS_CSV}: "
        ch_errors = [RowError(e.line, prefix + e.reason, e.field) for e in ch_errors]
        source = f"{source} + {CENTRAL_HOUSEHOLDS_CSV}"
    elif ch_errors:
        source = CENTRAL_HOUSEHOLDS_CSV
    if errors or ch_errors:
        ordered = sorted(errors, key=lambda e: e.line) + sorted(ch_errors, key=lambda e: e.line)
        raise RegistryError(ordered, source=source)
    tree = GridTree.build((_grid(p) for p in by_code.values()), households)
    if progress is not None:
        progress(total, total)
    return tree


# ---------------------------------------------------------------------------- writing


def write_registry(
    tree: GridTree, out_dir: Path, geometry: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Path]:
    """Write grids.csv, central_households.csv and (with geometry) grids.geojson, byte-stable."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = tree.rows()
    written = [
        _write_atomic(out_dir / GRIDS_CSV, _csv_text(COLUMNS, rows)),
        _write_atomic(
            out_dir / CENTRAL_HOUSEHOLDS_CSV,
            _csv_text(CENTRAL_HOUSEHOLD_COLUMNS, [h.to_row() for h in tree.central_households]),
        ),
    ]
    if geometry is not None:
        written.append(_write_atomic(out_dir / GRIDS_GEOJSON, _geojson_text(rows, geometry)))
    return written


def _plain(value: Any) -> Any:
    """Enum members and None as plain JSON/CSV values."""
    if isinstance(value, Level | GridKind):
        return value.value
    return value


def _csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV with `\\n` endings and empty cells for None."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _plain(row.get(c)) for c in columns])
    return buf.getvalue()


def _round_coords(value: Any) -> Any:
    """Fixed `COORD_DECIMALS` rounding, recursively, so equal geometry always prints the same."""
    if isinstance(value, list | tuple):
        return [_round_coords(v) for v in value]
    if isinstance(value, float):
        rounded = round(value, COORD_DECIMALS)
        return 0.0 if rounded == 0 else rounded
    return value


def _geojson_text(rows: Sequence[Mapping[str, Any]], geometry: Mapping[str, Mapping[str, Any]]) -> str:
    """A FeatureCollection with one feature per line, in registry order, for diffable files."""
    lines = []
    for row in rows:
        shape = geometry.get(row["code"])
        feature = {
            "type": "Feature",
            "properties": {c: _plain(row.get(c)) for c in COLUMNS},
            "geometry": None
            if shape is None
            else {"type": shape["type"], "coordinates": _round_coords(shape["coordinates"])},
        }
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def _write_atomic(path: Path, text: str) -> Path:
    """Write beside the target and rename, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; registries are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
