"""Hostile registry files: every importer (CSV, XLSX, GeoJSON) answers with a clear error or a right tree.

Hypothesis mutates a small, valid registry — hostile cells (formulas, markup,
control characters, quotes, delimiters, very long text), wrong encodings, odd
line endings, truncation, NUL bytes, duplicated headers — and builds GeoJSON and
XLSX files from arbitrary JSON and cell values. Fixed cases add what a generator
rarely finds: billion-laughs and external-entity XML inside an XLSX, a zip bomb,
a file over the size limit, JSON nested 100 000 deep, a 20 000-column CSV.

For every file: `load_registry` returns a tree whose text cells are exactly
what the file held (nothing evaluated) or raises `RegistryError` listing bad
rows by line — never another exception; and `wartime import` of a refused file
leaves the county loaded before exactly as it was.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from command.errors import RegistryError
from command.registry import COLUMNS, load_registry
from streams.server import EmbeddedRedis
from tests.conftest import make_tree
from tests.fuzz.scale import examples
from tests.security.env import Env, build_env
from tests.security.tally import tally

ROOT = Path(__file__).resolve().parents[2]
FUZZ = tally("fuzz-registry")
HOSTILE_CELLS = [
    "=1+1", "=HYPERLINK(\"http://evil.example\",\"点我\")", "+SUM(A1:A9)", "-2+3", "@cmd", "=cmd|'/c calc'!A0",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"", "\"\"", "a,b", "a;b", "a\tb", "a\nb",
    "a\rb", "\x00", "\x1b[31m", "\u202e反转", "\ufeff", "  padded  ", "长" * 300, "x" * 11_000, "-5", "1.5",
    "99999999999", "county", "TOWN", "", "NULL", "None", "../../x", "%s%s%s", "{}", "[]",
]
ENCODINGS = ["utf-8", "utf-8-sig", "gbk", "utf-16", "latin-1", "cp1252", "utf-32"]


@pytest.fixture(scope="module")
def env(redis_server: EmbeddedRedis) -> Iterator[Env]:
    yield build_env(redis_server.url)


def _base_rows() -> list[dict[str, str]]:
    tree = make_tree(towns=1, larges=1, mediums=1, smalls=2, micros=2)
    rows = []
    for r in tree.rows():
        rows.append({c: "" if r.get(c) is None else str(getattr(r.get(c), "value", r.get(c))) for c in COLUMNS})
    return rows


BASE = _base_rows()


def attempt(path: Path, env: Env | None = None) -> Any:
    """Load a file; a refusal must be a RegistryError by line, and importing it must change nothing."""
    FUZZ.add(path.suffix.lstrip(".") or "file")
    try:
        tree = load_registry(path)
    except RegistryError as exc:
        assert exc.errors and exc.message
        for e in exc.errors:
            assert isinstance(e.line, int) and e.line >= 0 and e.reason
        if env is not None:
            from dashboard.loading import import_registry

            before = env.fingerprint()
            with pytest.raises(RegistryError):
                import_registry(env.county.client, path, quiet=True)
            assert env.fingerprint() == before
        return exc
    return tree


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, list[dict[str, str]]]:
    rows = [dict(r) for r in BASE]
    for _ in range(draw(st.integers(0, 4))):
        row = draw(st.sampled_from(rows))
        cell = st.one_of(st.sampled_from(HOSTILE_CELLS), st.text(max_size=30))
        row[draw(st.sampled_from(list(COLUMNS)))] = draw(cell)
    columns = list(COLUMNS)
    if draw(st.booleans()):
        columns = draw(st.permutations(columns))
    if draw(st.integers(0, 5)) == 0:
        columns = [*columns[:-2], columns[0]]  # a duplicated header, two missing
    delimiter = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])),
                   quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONE])), escapechar="\\")
    w.writerow(columns)
    for r in rows:
        w.writerow([r.get(c, "") for c in columns])
    text = buf.getvalue()
    data = text.encode(draw(st.sampled_from(ENCODINGS)), errors="ignore")
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    if cut is not None:
        data = data[:cut]
    if draw(st.integers(0, 6)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\x00" + data[at:]
    return data, rows


def test_csv_registries_load_exactly_or_are_refused_by_line(env: Env, tmp_path: Path) -> None:
    @settings(max_examples=examples(200), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(f=csv_files())
    def run(f: tuple[bytes, list[dict[str, str]]]) -> None:
        data, rows = f
        path = tmp_path / "grids.csv"
        path.write_bytes(data)
        out = attempt(path, env)
        if not isinstance(out, RegistryError):  # accepted: names are the text of the file, nothing evaluated
            want = {r["code"].strip(): r["name"].strip() for r in rows}
            assert {c: g.name for c, g in out.grids.items()} == {c: want[c] for c in out.grids}

    run()


@st.composite
def xlsx_files(draw: st.DrawFn) -> tuple[Any, list[list[Any]]]:
    import openpyxl

    cell = st.one_of(st.sampled_from(HOSTILE_CELLS[:12]), st.text(max_size=20), st.integers(-10, 10**12),
                     st.floats(allow_nan=False), st.booleans(), st.none(), st.datetimes())
    rows: list[list[Any]] = [list(COLUMNS)] + [[r[c] for c in COLUMNS] for r in BASE]
    for _ in range(draw(st.integers(0, 4))):
        rows[draw(st.integers(0, len(rows) - 1))][draw(st.integers(0, len(COLUMNS) - 1))] = draw(cell)
    if draw(st.integers(0, 4)) == 0:
        rows.append([draw(cell) for _ in range(draw(st.integers(0, 30)))])
    wb = openpyxl.Workbook()
    ws = wb.active
    if draw(st.integers(0, 5)) == 0:
        ws.title = "empty first"
        ws = wb.create_sheet("data")
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    for r in rows:  # (a spreadsheet program cannot save control characters either)
        ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in r])
    return wb, rows


def test_xlsx_registries_never_evaluate_a_formula_and_are_refused_by_row(env: Env, tmp_path: Path) -> None:
    @settings(max_examples=examples(60), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(f=xlsx_files())
    def run(f: tuple[Any, list[list[Any]]]) -> None:
        wb, rows = f
        path = tmp_path / "grids.xlsx"
        try:
            wb.save(path)
        except ValueError:  # openpyxl refuses some cell values itself: nothing to import
            return
        out = attempt(path, env)
        if not isinstance(out, RegistryError):
            names = {str(r[0]).strip(): r[1] for r in rows[1:] if r and r[0] is not None}
            for code, g in out.grids.items():
                if isinstance(names.get(code), str) and names[code].startswith("="):
                    assert g.name == names[code]  # the formula's text, not its value

    run()


@st.composite
def geojson_files(draw: st.DrawFn) -> bytes:
    scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.sampled_from(HOSTILE_CELLS[:14]))
    anything = st.recursive(scalar, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c,
                                                                                         max_size=4), max_leaves=15)
    ring = [[0, 0], [0, 1], [1, 1], [0, 0]]
    features: list[Any] = []
    for r in BASE:
        props: dict[str, Any] = dict(r)
        geom: Any = {"type": "Polygon", "coordinates": [ring]}
        if draw(st.integers(0, 3)) == 0:
            props[draw(st.sampled_from(list(COLUMNS)))] = draw(anything)
        if draw(st.integers(0, 4)) == 0:
            geom = draw(st.one_of(anything, st.fixed_dictionaries({
                "type": st.sampled_from(["Polygon", "MultiPolygon", "Point", "GeometryCollection"]),
                "coordinates": anything})))
        features.append({"type": "Feature", "properties": props, "geometry": geom})
    if draw(st.integers(0, 5)) == 0:
        features.append(draw(anything))
    doc: Any = {"type": "FeatureCollection", "features": features}
    if draw(st.integers(0, 8)) == 0:
        doc = draw(anything)
    depth = draw(st.sampled_from([0, 0, 0, 50, 900, 5000]))
    text = json.dumps(doc, allow_nan=True)
    if depth:
        text = text.replace('"features": [', '"features": [' + "[" * depth, 1) + "]" * depth
    return text.encode("utf-8")


def test_geojson_registries_load_or_are_refused_whatever_the_json(env: Env, tmp_path: Path) -> None:
    @settings(max_examples=examples(200), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(data=geojson_files())
    def run(data: bytes) -> None:
        path = tmp_path / "grids.geojson"
        path.write_bytes(data)
        attempt(path, env)

    run()


# -- fixed hostile files ------------------------------------------------------------------------


def _good_xlsx(path: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(COLUMNS))
    for r in BASE:
        ws.append([r[c] for c in COLUMNS])
    wb.save(path)
    return path


def _replace_member(src: Path, dst: Path, member: str, payload: bytes) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item, payload if item.filename == member else zin.read(item.filename))
    return dst


def _lol(root: str, inner: str) -> bytes:
    ents = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    return (f'<?xml version="1.0"?><!DOCTYPE lolz [{ents}]>'
            f'<{root} xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{inner}</{root}>').encode()


SHEET = "xl/worksheets/sheet1.xml"


def _hostile_files(tmp: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    good = _good_xlsx(tmp / "good.xlsx")
    cell = '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData>'
    files["billion laughs in a sheet"] = _replace_member(good, tmp / "lol-sheet.xlsx", SHEET, _lol("worksheet", cell))
    files["billion laughs in the workbook"] = _replace_member(good, tmp / "lol-wb.xlsx", "xl/workbook.xml",
                                                              _lol("workbook", "<sheets/>"))
    xxe = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
           b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
           b'<c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>')
    files["external entity (XXE)"] = _replace_member(good, tmp / "xxe.xlsx", SHEET, xxe)
    files["broken sheet XML"] = _replace_member(good, tmp / "broken.xlsx", SHEET, b"<worksheet><sheetData>")
    bomb = tmp / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z, z.open(SHEET, "w", force_zip64=True) as f:
        for _ in range(1100):
            f.write(b"\0" * (1 << 20))
    files["zip bomb (1.1 GB inflated)"] = bomb
    (tmp / "notzip.xlsx").write_bytes(b"PK\x03\x04 this is not a zip")
    files["not a zip"] = tmp / "notzip.xlsx"
    (tmp / "trunc.xlsx").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["truncated xlsx"] = tmp / "trunc.xlsx"
    for suffix in ("csv", "geojson", "xlsx"):
        huge = tmp / f"huge.{suffix}"
        with open(huge, "wb") as f:
            f.truncate(201 * 1024 * 1024)  # sparse: 201 MB on paper, nothing on disk
        files[f"huge {suffix} (201 MB)"] = huge
    (tmp / "deep.geojson").write_text("[" * 100_000)
    files["JSON nested 100 000 deep"] = tmp / "deep.geojson"
    header = ",".join(COLUMNS)
    (tmp / "longfield.csv").write_text(header + "\nTC," + "x" * 10_000_000 + ",county,comprehensive,,0,0,\n")
    files["a 10 MB field"] = tmp / "longfield.csv"
    (tmp / "wide.csv").write_text(header + "," + ",".join(f"c{i}" for i in range(20_000)) + "\n")
    files["20 000 columns"] = tmp / "wide.csv"
    rows = "\n".join(f"=X{i},<b>{i}</b>,nope,nope,=A1,-1,x,=1" for i in range(50_000))
    (tmp / "bad-rows.csv").write_text(header + "\n" + rows + "\n")
    files["50 000 bad rows"] = tmp / "bad-rows.csv"
    # GBK is read as such now (zh-CN Excel's CSV); Latin-1 is still neither UTF-8 nor Chinese.
    (tmp / "latin1.csv").write_bytes((header + "\nTC,Comt\u00e9 test,county,comprehensive,,0,0,\n").encode("latin-1"))
    files["Latin-1 encoding"] = tmp / "latin1.csv"
    (tmp / "u16.csv").write_bytes((header + "\nTC,测试县,county,comprehensive,,0,0,\n").encode("utf-16"))
    files["UTF-16 encoding"] = tmp / "u16.csv"
    (tmp / "empty.csv").write_bytes(b"")
    files["empty file"] = tmp / "empty.csv"
    (tmp / "bom-only.csv").write_bytes(b"\xef\xbb\xbf")
    files["BOM only"] = tmp / "bom-only.csv"
    return files


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _hostile_files(tmp_path_factory.mktemp("hostile"))


def test_fixed_hostile_files_are_refused_with_a_clear_reason(env: Env, hostile: dict[str, Path]) -> None:
    files = hostile
    reasons = {}
    for what, path in files.items():
        out = attempt(path, env)
        assert isinstance(out, RegistryError), what
        reasons[what] = out.message
    assert "inflates" in reasons["zip bomb (1.1 GB inflated)"]
    assert "limit is 200 MB" in reasons["huge csv (201 MB)"]
    assert "not UTF-8" in reasons["Latin-1 encoding"] and "not UTF-8" in reasons["UTF-16 encoding"]
    assert "nested too deeply" in reasons["JSON nested 100 000 deep"]
    assert "amplification" in reasons["billion laughs in a sheet"] or "entity" in reasons["billion laughs in a sheet"]
    assert "root:" not in reasons["external entity (XXE)"]  # /etc/passwd was not read into a cell
    assert "(+" in reasons["50 000 bad rows"]  # every bad row counted, the first twenty shown


def test_wartime_import_refuses_hostile_files_and_changes_nothing(
    env: Env, hostile: dict[str, Path], tmp_path: Path
) -> None:
    files = hostile
    for what in ("billion laughs in a sheet", "JSON nested 100 000 deep", "Latin-1 encoding"):
        before = env.fingerprint()
        out = subprocess.run([sys.executable, "-m", "dashboard.cli", "import", str(files[what]),
                              "--redis", env.url], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env={"WARTIME_NO_PROGRESS": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        FUZZ.add("wartime import (CLI)")
        assert out.returncode == 1, (what, out.stderr[-500:])
        assert out.stderr.startswith("refused:") and "Traceback" not in out.stderr, out.stderr[-500:]
        assert env.fingerprint() == before
