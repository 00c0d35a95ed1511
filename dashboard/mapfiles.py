"""GIS files off the disk (地图文件): zipped Shapefile, KML/KMZ, GeoJSON, read through GDAL (pyogrio).

This is the I/O half of `command.mapimport`: it opens the file, finds the layer (the one
.shp of a zip, every polygon layer of a KML), works out the DBF's encoding when the
Shapefile does not say it (no .cpg: GBK is what a zh-CN GIS office's DBF holds), and
hands property dicts, WKB and the file's CRS to `command.mapimport.assemble`, which
does the rest without touching a file. It sits in dashboard/ with the CLI, its only
caller, because command/ has no I/O and streams/ is the Redis side.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import pyogrio
import pyogrio.raw
from pyogrio.errors import DataSourceError, FieldError, GeometryError

from command.errors import RegistryError, RowError
from command.mapimport import FieldMap, MapImport, assemble, outline_of, parse_mapping
from command.registry import MAX_FILE_BYTES, MAX_XLSX_INFLATED_BYTES, WHOLE_FILE, Progress

MAP_SUFFIXES = (".zip", ".shp", ".kml", ".kmz", ".geojson", ".json")
_GDAL_ERRORS = (DataSourceError, FieldError, GeometryError, RuntimeError, ValueError)


def is_map_file(path: Path, options: FieldMap) -> bool:
    """Whether `wartime import` reads this file as a GIS layer (GeoJSON only when options name fields)."""
    suffix = path.suffix.lower()
    if suffix in (".zip", ".shp", ".kml", ".kmz"):
        return True
    return suffix in (".geojson", ".json") and options != FieldMap()


def load_mapping(path: Path) -> FieldMap:
    """A mapping file (JSON) from disk; see `command.mapimport.parse_mapping`."""
    if not path.is_file():
        raise RegistryError([RowError(WHOLE_FILE, "no such mapping file")], source=path.name)
    return parse_mapping(path.read_bytes()[: 1024 * 1024], path.name)


def read_map(path: Path, options: FieldMap, progress: Progress | None = None) -> MapImport:
    """Read a GIS file into a validated registry with WGS 84 polygons (all or nothing)."""
    source = path.name
    if not path.is_file():
        raise RegistryError([RowError(WHOLE_FILE, "no such file")], source=source)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise RegistryError(
            [RowError(WHOLE_FILE, f"file is {size / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB")],
            source=source,
        )
    notes: list[str] = []
    uri, encoding = _dataset(path, notes)
    properties, wkbs, crs = _read_layers(uri, encoding, source)
    result = assemble(properties, wkbs, crs, options, source, progress)
    result.notes[:0] = notes
    return result


def read_outline(path: Path, options: FieldMap, notes: list[str]) -> list[tuple[float, float]]:
    """A county outline (WGS 84) from any GIS file `read_map` takes; `notes` says what was done."""
    source = path.name
    if not path.is_file():
        raise RegistryError([RowError(WHOLE_FILE, "no such file")], source=source)
    uri, encoding = _dataset(path, notes)
    _, wkbs, crs = _read_layers(uri, encoding, source)
    return outline_of(wkbs, crs, options, source, notes)


def _dataset(path: Path, notes: list[str]) -> tuple[str, str | None]:
    """The GDAL path to open and the DBF encoding to force (None: let GDAL decide)."""
    suffix = path.suffix.lower()
    if suffix == ".shp":
        return str(path), _dbf_encoding(path.with_suffix(".cpg").is_file(), _read_prefix(path.with_suffix(".dbf")),
                                        path.name, notes)
    if suffix not in (".zip", ".kmz"):
        return str(path), None
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if sum(i.file_size for i in infos) > MAX_XLSX_INFLATED_BYTES:
                raise RegistryError([RowError(WHOLE_FILE, "archive inflates beyond 1 GB; refusing to open it")],
                                    source=path.name)
            names = [i.filename for i in infos if not i.is_dir() and "__MACOSX" not in i.filename]
            if suffix == ".kmz":
                kml = [n for n in names if n.lower().endswith(".kml")]
                if not kml:
                    raise RegistryError([RowError(WHOLE_FILE, "KMZ without a .kml inside")], source=path.name)
                inner = "doc.kml" if "doc.kml" in kml else kml[0]
                return f"/vsizip/{path.resolve()}/{inner}", None
            shps = [n for n in names if n.lower().endswith(".shp")]
            if len(shps) != 1:
                what = "no .shp" if not shps else f"{len(shps)} .shp files ({', '.join(shps[:5])})"
                raise RegistryError([RowError(WHOLE_FILE, f"the zip holds {what}; put one Shapefile in it")],
                                    source=path.name)
            stem = str(PurePosixPath(shps[0]).with_suffix(""))
            siblings = {n.lower(): n for n in names if str(PurePosixPath(n).with_suffix("")) == stem}
            for need in (".dbf", ".shx"):
                if stem.lower() + need not in siblings:
                    raise RegistryError(
                        [RowError(WHOLE_FILE, f"the Shapefile in the zip has no {need} beside {shps[0]}")],
                        source=path.name,
                    )
            dbf = siblings[stem.lower() + ".dbf"]
            with archive.open(dbf) as fh:
                head = fh.read(4 * 1024 * 1024)
            encoding = _dbf_encoding(stem.lower() + ".cpg" in siblings, head, path.name, notes)
            return f"/vsizip/{path.resolve()}/{shps[0]}", encoding
    except zipfile.BadZipFile:
        raise RegistryError([RowError(WHOLE_FILE, "not a valid zip archive")], source=path.name) from None


def _read_prefix(path: Path) -> bytes:
    """The first megabytes of a file (enough to tell a DBF's encoding)."""
    if not path.is_file():
        return b""
    with open(path, "rb") as fh:
        return fh.read(4 * 1024 * 1024)


def _dbf_encoding(has_cpg: bool, dbf: bytes, source: str, notes: list[str]) -> str | None:
    """A DBF without a .cpg or a language-driver byte is GBK when its text is not UTF-8."""
    if has_cpg or len(dbf) < 32:
        return None
    ldid = dbf[29]
    if ldid not in (0, 0x57):  # 0x57: "ANSI", i.e. whatever the machine used; both say nothing
        return None
    header_len = int.from_bytes(dbf[8:10], "little")
    body = dbf[header_len:]
    if all(b < 128 for b in body):
        return None
    try:
        body.decode("utf-8")
        notes.append(f"{source}: the DBF does not name its encoding; its text is UTF-8")
        return "UTF-8"
    except UnicodeDecodeError:
        notes.append(f"{source}: the DBF does not name its encoding and is not UTF-8; read as GBK (GB18030)")
        return "GB18030"


def _read_layers(uri: str, encoding: str | None, source: str) -> tuple[list[dict[str, Any]], list[bytes | None], str]:
    """Every feature of every layer (a KML has one per folder), properties and WKB, and the CRS."""
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(uri)]
    except _GDAL_ERRORS as exc:
        raise RegistryError([RowError(WHOLE_FILE, f"cannot open as a GIS file: {exc}")], source=source) from None
    properties: list[dict[str, Any]] = []
    wkbs: list[bytes | None] = []
    crs = ""
    for layer in layers:
        try:
            meta, _, geometry, data = pyogrio.raw.read(uri, layer=layer, encoding=encoding, force_2d=True)
        except _GDAL_ERRORS as exc:
            raise RegistryError([RowError(WHOLE_FILE, f"cannot read layer {layer}: {exc}")], source=source) from None
        if geometry is None or len(geometry) == 0:
            continue
        crs = crs or (meta.get("crs") or "")
        names: Sequence[str] = [str(n) for n in meta["fields"]]
        columns = [list(col) for col in data]
        for i in range(len(geometry)):
            properties.append({n: _plain(columns[k][i]) for k, n in enumerate(names)})
            wkbs.append(None if geometry[i] is None else bytes(geometry[i]))
    if not wkbs:
        raise RegistryError([RowError(WHOLE_FILE, "no features with geometry in the file")], source=source)
    return properties, wkbs, crs


def _plain(value: Any) -> Any:
    """numpy scalars as Python values."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
