"""Grid maps from GIS files (地图导入): features with foreign property names and CRSs → a registry.

What a GIS department hands a county office — a zipped Shapefile, KML, a GeoJSON from a
web map — holds features whose properties are named its own way, coordinates in its own
CRS (often CGCS2000, EPSG:4490, or a projected Gauss–Krüger zone) or in GCJ-02. This
module turns such features into registry rows and WGS 84 polygons:

* `FieldMap` says which property is the code, the name, the parent, the level…
  (`--code-field` … or a mapping file); unmapped properties are matched by their
  Chinese labels (`command.labels`); a missing kind means comprehensive and missing
  figures mean 0.
* `to_wgs84` reprojects with pyproj (always x = longitude) and/or undoes GCJ-02.
* `repair` runs `shapely.make_valid` on every polygon and says which feature it mended.
* `check_nesting` measures, in an equal-area projection (Lambert azimuthal centred on the
  data), how much of a child lies outside its parent and how much siblings overlap:
  warnings with the area involved, refusals only when gross (over half the child).

Where the I/O is: this module gets property dicts and WKB bytes and never opens a file.
Opening files and driving GDAL (pyogrio) lives in `dashboard.mapfiles`, the CLI's side,
because `command/` has no I/O. pyproj's CRS database is reference data read by the
library, like Unicode tables, not a user's file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from command import gcj02, labels
from command.errors import RegistryError, RowError
from command.grids import GridTree
from command.registry import COLUMNS, WHOLE_FILE, Progress, tree_from_records

__all__ = [
    "GROSS_SHARE",
    "NOISE_M2",
    "NOISE_SHARE",
    "STORED_DECIMALS",
    "WGS84",
    "FieldMap",
    "MapImport",
    "areas_m2",
    "assemble",
    "check_nesting",
    "equal_area",
    "geojson",
    "is_kind",
    "is_level",
    "looks_geographic",
    "outline_of",
    "parse_crs",
    "parse_mapping",
    "records",
    "repair",
    "to_wgs84",
    "transformer_for",
]

WGS84 = CRS.from_epsg(4326)
# Stored coordinates: 8 decimals (≈ 1 mm), so areas survive storage within a square metre.
STORED_DECIMALS = 8
# A child more than this share outside its parent (or overlapping a sibling) is refused.
GROSS_SHARE = 0.5
# Below this (m², or this share of the smaller grid) a mismatch is drawing noise, not reported.
NOISE_M2 = 1.0
NOISE_SHARE = 0.001

_OPTION_COLUMNS = ("code", "name", "parent", "level", "kind", "households", "population",
                   "first_leader", "leader", "phone")


@dataclass(frozen=True)
class FieldMap:
    """Which property holds which registry column; `level`/`kind` fix one value for every feature."""

    code: str = ""
    name: str = ""
    parent: str = ""
    level_field: str = ""
    kind_field: str = ""
    level: str = ""
    kind: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)  # other columns → property names
    crs: str = ""
    gcj02: bool = False

    def source_of(self, column: str) -> str:
        """The property named for `column`, '' when the options say nothing."""
        named = {"code": self.code, "name": self.name, "parent": self.parent,
                 "level": self.level_field, "kind": self.kind_field}.get(column, "")
        return named or self.fields.get(column, "")

    def merged(self, other: FieldMap) -> FieldMap:
        """These options over `other`'s (command-line options win over a mapping file)."""
        values: dict[str, Any] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            values[f.name] = {**theirs, **mine} if f.name == "fields" else (mine or theirs)
        return FieldMap(**values)


def parse_mapping(data: bytes, source: str) -> FieldMap:
    """A mapping file: JSON ``{"code": "GRID_ID", "name": "MC", …, "level": "small", "crs": "EPSG:4490"}``.

    Keys are registry columns (values: property names) or the options ``level_field``,
    ``kind_field``, ``fixed_level``, ``fixed_kind``, ``crs``, ``gcj02``. A ``level`` or
    ``kind`` value that is itself a level or kind (``small``, ``小网格``) fixes it.
    """
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError([RowError(WHOLE_FILE, f"mapping file is not UTF-8 JSON: {exc}")], source=source) from None
    if not isinstance(doc, dict) or not all(isinstance(k, str) for k in doc):
        raise RegistryError([RowError(WHOLE_FILE, "mapping file must be one JSON object")], source=source)
    allowed = {*_OPTION_COLUMNS, "level_field", "kind_field", "fixed_level", "fixed_kind", "crs", "gcj02"}
    unknown = sorted(set(doc) - allowed)
    if unknown:
        reason = f"unknown key(s) {', '.join(unknown)}; use {', '.join(sorted(allowed))}"
        raise RegistryError([RowError(WHOLE_FILE, reason, unknown[0])], source=source)
    text = {k: str(v) for k, v in doc.items() if k != "gcj02" and v is not None}
    level, level_field = text.get("fixed_level", ""), text.get("level_field", "")
    kind, kind_field = text.get("fixed_kind", ""), text.get("kind_field", "")
    if "level" in text:
        level, level_field = (text["level"], level_field) if is_level(text["level"]) else (level, text["level"])
    if "kind" in text:
        kind, kind_field = (text["kind"], kind_field) if is_kind(text["kind"]) else (kind, text["kind"])
    others = {c: text[c] for c in _OPTION_COLUMNS if c in text and c not in ("code", "name", "parent", "level", "kind")}
    return FieldMap(code=text.get("code", ""), name=text.get("name", ""), parent=text.get("parent", ""),
                    level_field=level_field, kind_field=kind_field, level=level, kind=kind,
                    fields=others, crs=text.get("crs", ""), gcj02=bool(doc.get("gcj02", False)))


def is_level(value: str) -> bool:
    """Whether `value` names a level (code name or Chinese label)."""
    return labels.level_value(value) in {"county", "town", "large", "medium", "small", "micro"}


def is_kind(value: str) -> bool:
    """Whether `value` names a kind (code name or Chinese label)."""
    return labels.kind_value(value) in {"comprehensive", "dedicated"}


def _cell(value: Any) -> str:
    """A property value as registry text (integral floats from DBF numbers lose their '.0')."""
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN: a DBF null
            return ""
        if value.is_integer():
            return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return str(value).strip()


def records(
    properties: Sequence[Mapping[str, Any]], options: FieldMap, source: str
) -> list[tuple[int, dict[str, str]]]:
    """Registry cells per feature (1-based feature numbers), by the options, then by labels."""
    names = list(dict.fromkeys(k for props in properties[:1] for k in props))
    missing = [
        (opt, prop) for opt, prop in (
            ("--code-field", options.code), ("--name-field", options.name), ("--parent-field", options.parent),
            ("--level-field", options.level_field), ("--kind-field", options.kind_field),
            *((f"field {c}", p) for c, p in options.fields.items()),
        ) if prop and properties and prop not in names
    ]
    if missing:
        shown = ", ".join(f"{opt} {prop!r}" for opt, prop in missing)
        raise RegistryError([RowError(WHOLE_FILE, f"no such property: {shown}; the file has {', '.join(names)}",
                                      "mapping")], source=source)
    by_label: dict[str, str] = {}
    for prop in names:
        column = labels.column(prop, COLUMNS)
        if column is not None and column not in by_label:
            by_label[column] = prop
    out: list[tuple[int, dict[str, str]]] = []
    for number, props in enumerate(properties, start=1):
        cells: dict[str, str] = {}
        for column in COLUMNS:
            prop = options.source_of(column) or by_label.get(column, "")
            cells[column] = _cell(props.get(prop)) if prop else ""
        if options.level:
            cells["level"] = options.level
        if options.kind:
            cells["kind"] = options.kind
        if not cells["kind"] and not options.kind_field and "kind" not in by_label:
            cells["kind"] = "comprehensive"
        out.append((number, cells))
    return out


# ---------------------------------------------------------------------------- geometry


def parse_crs(crs_text: str, source: str) -> CRS:
    """A CRS from `--crs` or a file (EPSG:N, WKT, PROJ); an unknown one refuses the file."""
    try:
        return CRS.from_user_input(crs_text)
    except CRSError as exc:
        raise RegistryError([RowError(WHOLE_FILE, f"unknown CRS {crs_text[:80]!r}: {exc}", "crs")],
                            source=source) from None


def transformer_for(crs_text: str, source: str) -> Transformer | None:
    """A transformer from the file's CRS to WGS 84 (lon, lat); None when it already is WGS 84."""
    crs = parse_crs(crs_text, source)
    if crs.equals(WGS84, ignore_axis_order=True):
        return None
    return Transformer.from_crs(crs, WGS84, always_xy=True)


def to_wgs84(
    shapes: Sequence[BaseGeometry | None], transformer: Transformer | None, gcj: bool
) -> list[BaseGeometry | None]:
    """Reproject (pyproj) and then, for web-map data, undo GCJ-02; vertex by vertex."""
    out = list(shapes)
    if transformer is not None:
        def project(xy: np.ndarray) -> np.ndarray:
            x, y = transformer.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        out = [None if g is None else shapely.transform(g, project) for g in out]
    if gcj:
        out = [None if g is None else shapely.transform(g, gcj02.to_wgs84_xy) for g in out]
    return out


def looks_geographic(shapes: Sequence[BaseGeometry | None]) -> bool:
    """Whether every coordinate could be a longitude and latitude (a projected file has metres)."""
    boxes = [g.bounds for g in shapes if g is not None and not g.is_empty]
    if not boxes:
        return True
    b = np.array(boxes)
    return bool(b[:, 0].min() >= -180 and b[:, 2].max() <= 180 and b[:, 1].min() >= -90 and b[:, 3].max() <= 90)


def repair(
    shapes: Sequence[BaseGeometry | None], errors: list[RowError], notes: list[str], source: str
) -> list[BaseGeometry | None]:
    """Polygonal parts only; invalid rings mended by `make_valid`, each mend noted by feature."""
    out: list[BaseGeometry | None] = []
    for number, shape in enumerate(shapes, start=1):
        if shape is None or shape.is_empty:
            out.append(None)
            continue
        if shape.geom_type not in ("Polygon", "MultiPolygon"):
            errors.append(RowError(number, f"geometry type {shape.geom_type}: grids are Polygon or MultiPolygon",
                                   "geometry"))
            out.append(None)
            continue
        if not shape.is_valid:
            why = shapely.is_valid_reason(shape)
            fixed = _polygonal(shapely.make_valid(shape))
            if fixed is None:
                errors.append(RowError(number, f"invalid polygon that cannot be mended ({why})", "geometry"))
                out.append(None)
                continue
            notes.append(f"{source}: feature {number}: invalid ring repaired ({why})")
            shape = fixed
        out.append(shape)
    return out


def _polygonal(shape: BaseGeometry) -> BaseGeometry | None:
    """The polygons of a `make_valid` result (it may add stray lines and points); None if none."""
    if shape.geom_type in ("Polygon", "MultiPolygon"):
        return None if shape.is_empty else shape
    parts = [g for g in getattr(shape, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return None if merged.is_empty else merged


def equal_area(shapes: Mapping[str, BaseGeometry]) -> dict[str, BaseGeometry]:
    """The same shapes in metres of a Lambert azimuthal equal-area projection centred on them."""
    if not shapes:
        return {}
    b = np.array([g.bounds for g in shapes.values()])
    lon0 = (b[:, 0].min() + b[:, 2].max()) / 2
    lat0 = (b[:, 1].min() + b[:, 3].max()) / 2
    laea = CRS.from_proj4(f"+proj=laea +lat_0={lat0:.6f} +lon_0={lon0:.6f} +ellps=WGS84 +units=m +no_defs")
    forward = Transformer.from_crs(WGS84, laea, always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = forward.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return {code: shapely.transform(g, project) for code, g in shapes.items()}


def areas_m2(shapes: Mapping[str, BaseGeometry]) -> dict[str, float]:
    """Area of each shape in square metres (equal-area projection)."""
    return {code: float(g.area) for code, g in equal_area(shapes).items()}


def check_nesting(
    shapes: Mapping[str, BaseGeometry],
    parents: Mapping[str, str | None],
    lines: Mapping[str, int],
    errors: list[RowError],
    warnings: list[str],
    source: str,
) -> None:
    """Children outside their parent and overlapping siblings: warned with m², refused when gross."""
    metric = equal_area(shapes)
    children: dict[str, list[str]] = {}
    for code, parent in parents.items():
        if parent and code in metric:
            children.setdefault(parent, []).append(code)
    for parent, kids in children.items():
        up = metric.get(parent)
        if up is not None:
            shapely.prepare(up)
            for code in kids:
                _outside(code, parent, metric[code], up, lines[code], errors, warnings, source)
        _overlaps(kids, metric, lines, errors, warnings, source)


def _noise(area: float, of: float) -> bool:
    """Too small to be anything but drawing noise."""
    return area <= NOISE_M2 or area <= NOISE_SHARE * of


def _outside(code: str, parent: str, shape: BaseGeometry, up: BaseGeometry, line: int,
             errors: list[RowError], warnings: list[str], source: str) -> None:
    """How much of one child lies outside its parent."""
    if shapely.contains(up, shape):
        return
    out = float(shapely.difference(shape, up).area)
    if _noise(out, shape.area):
        return
    share = out / shape.area if shape.area else 1.0
    text = f"{code} lies {out:,.0f} m² ({share:.1%}) outside its parent {parent}"
    if share > GROSS_SHARE:
        errors.append(RowError(line, text, "geometry"))
    else:
        warnings.append(f"{source}: line {line}: {text}")


def _overlaps(kids: Sequence[str], metric: Mapping[str, BaseGeometry], lines: Mapping[str, int],
              errors: list[RowError], warnings: list[str], source: str) -> None:
    """Pairs of siblings that overlap, found through an STR tree."""
    shapes = [metric[c] for c in kids]
    tree = shapely.STRtree(shapes)
    left, right = tree.query(shapes, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        a, b = shapes[i], shapes[j]
        both = float(shapely.intersection(a, b).area)
        small = min(a.area, b.area)
        if _noise(both, small):
            continue
        text = f"{kids[i]} and {kids[j]} overlap by {both:,.0f} m² ({both / small:.1%} of the smaller)"
        if small and both / small > GROSS_SHARE:
            errors.append(RowError(lines[kids[j]], text, "geometry"))
        else:
            warnings.append(f"{source}: line {lines[kids[j]]}: {text}")


def geojson(shape: BaseGeometry) -> dict[str, Any]:
    """A shape as GeoJSON: outer rings counter-clockwise (RFC 7946), lists, `STORED_DECIMALS` decimals."""
    if isinstance(shape, Polygon):
        shape = orient(shape, 1.0)
    elif isinstance(shape, MultiPolygon):
        shape = MultiPolygon([orient(part, 1.0) for part in shape.geoms])
    doc = mapping(shape)
    return {"type": doc["type"], "coordinates": _lists(doc["coordinates"])}


def _lists(value: Any) -> Any:
    """Nested tuples as lists, floats rounded."""
    if isinstance(value, tuple | list):
        if value and isinstance(value[0], float):
            return [round(v, STORED_DECIMALS) for v in value[:2]]
        return [_lists(v) for v in value]
    return value



def outline_of(
    wkbs: Sequence[bytes | None], file_crs: str, options: FieldMap, source: str, notes: list[str]
) -> list[tuple[float, float]]:
    """One county outline (WGS 84 open ring) from a layer: its polygons merged, the largest part's shell."""
    shapes: list[BaseGeometry | None] = [None if raw is None else shapely.from_wkb(raw) for raw in wkbs]
    crs_text = options.crs or file_crs
    if not crs_text and not looks_geographic(shapes):
        raise RegistryError([RowError(WHOLE_FILE, "the file has no CRS and its coordinates are not longitude/"
                                      "latitude: give --crs EPSG:N", "crs")], source=source)
    transformer = transformer_for(crs_text, source) if crs_text else None
    errors: list[RowError] = []
    shapes = repair(to_wgs84(shapes, transformer, options.gcj02), errors, notes, source)
    if errors:
        raise RegistryError(errors, source=source)
    polygons = [g for g in shapes if g is not None]
    if not polygons:
        raise RegistryError([RowError(WHOLE_FILE, "no polygon in the file to take as the outline")], source=source)
    merged = shapely.union_all(polygons)
    parts = sorted(getattr(merged, "geoms", [merged]), key=lambda g: -g.area)
    if len(parts) > 1:
        notes.append(f"{source}: the outline has {len(parts)} parts; the largest is tiled")
    shell = parts[0]
    if shell.interiors:
        notes.append(f"{source}: holes in the outline are tiled over (grids cover the whole county)")
    return [(float(x), float(y)) for x, y in shell.exterior.coords[:-1]]


@dataclass
class MapImport:
    """What a GIS file gave: the validated tree, WGS 84 polygons by code, notes and warnings."""

    tree: GridTree
    geometry: dict[str, dict[str, Any]]
    notes: list[str]
    areas_m2: dict[str, float]


def assemble(
    properties: Sequence[Mapping[str, Any]],
    wkbs: Sequence[bytes | None],
    file_crs: str,
    options: FieldMap,
    source: str,
    progress: Progress | None = None,
) -> MapImport:
    """Rows and polygons of a GIS layer → a whole registry or one refusal listing every bad feature."""
    notes: list[str] = []
    rows = records(properties, options, source)
    errors: list[RowError] = []
    shapes: list[BaseGeometry | None] = []
    for number, raw in enumerate(wkbs, start=1):
        try:
            shapes.append(None if raw is None else shapely.from_wkb(raw))
        except shapely.errors.GEOSException as exc:
            errors.append(RowError(number, f"unreadable geometry ({exc})", "geometry"))
            shapes.append(None)
    crs_text = options.crs or file_crs
    if options.crs and file_crs and not parse_crs(file_crs, source).equals(parse_crs(options.crs, source)):
        notes.append(f"{source}: --crs {options.crs} used instead of the file's own CRS")
    if not crs_text:
        if not looks_geographic(shapes):
            raise RegistryError([RowError(WHOLE_FILE, "the file has no CRS and its coordinates are not longitude/"
                                          "latitude (projected metres?): give --crs EPSG:N", "crs")], source=source)
        notes.append(f"{source}: no CRS in the file; coordinates taken as WGS 84 longitude/latitude")
    transformer = transformer_for(crs_text, source) if crs_text else None
    if transformer is not None:
        notes.append(f"{source}: reprojected from {parse_crs(crs_text, source).name} to WGS 84")
    if options.gcj02:
        notes.append(f"{source}: GCJ-02 (web map) coordinates converted to WGS 84")
    shapes = to_wgs84(shapes, transformer, options.gcj02)
    shapes = repair(shapes, errors, notes, source)
    if errors:
        raise RegistryError(sorted(errors, key=lambda e: e.line), source=source)
    tree = tree_from_records(rows, source, progress)
    by_code: dict[str, BaseGeometry] = {}
    lines: dict[str, int] = {}
    for (number, cells), shape in zip(rows, shapes, strict=True):
        lines[cells["code"]] = number
        if shape is not None:
            by_code[cells["code"]] = shape
    check_nesting(by_code, {c: g.parent for c, g in tree.grids.items()}, lines, errors, notes, source)
    if errors:
        raise RegistryError(sorted(errors, key=lambda e: e.line), source=source)
    return MapImport(tree, {c: geojson(g) for c, g in by_code.items()}, notes, areas_m2(by_code))
