"""Registry import and export: every bad row by line, nothing half-loaded, stable bytes."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from command import registry
from command.errors import RegistryError
from command.grids import CentralHousehold, Grid, GridKind, GridTree, Level
from command.registry import load_geometry, load_registry, write_registry

HEADER = "code,name,level,kind,parent,households,population,first_leader,leader,phone"
GOOD = [
    "C,平安县,county,comprehensive,,30,90,,王一,13800000000",
    "T1,平安镇,town,comprehensive,C,30,90,,李二,",
    "T1-L01,石门村,large,comprehensive,T1,30,90,,,",
    "T1-L01-M01,大塘屯,medium,comprehensive,T1-L01,30,90,,,",
    "T1-L01-M01-S01,大塘屯第一网格,small,comprehensive,T1-L01-M01,30,90,张三,,",
    "T1-L01-M01-S01-W01,一号微网格,micro,comprehensive,T1-L01-M01-S01,20,60,,,",
    "T1-L01-M01-S01-W02,二号微网格,micro,comprehensive,T1-L01-M01-S01,10,30,,,",
]


def write_csv(path: Path, rows: Sequence[str], header: str = HEADER, encoding: str = "utf-8") -> Path:
    """A CSV file from literal lines, as an office would save it."""
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode(encoding))
    return path


def refusal(path: Path) -> RegistryError:
    """Load a file that must be refused and hand back the error."""
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    return info.value


def lines_of(err: RegistryError) -> list[int]:
    """The line numbers an error points at."""
    return [e.line for e in err.errors]


def reason_at(err: RegistryError, line: int) -> str:
    """Every reason given for one line, joined, for substring checks."""
    return " | ".join(e.reason for e in err.errors if e.line == line)


# ------------------------------------------------------------------------ good files


def test_a_valid_csv_loads_into_a_full_tree(tmp_path: Path) -> None:
    tree = load_registry(write_csv(tmp_path / "grids.csv", GOOD))
    assert len(tree) == 7
    assert tree.root == "C"
    assert tree.town_of("T1-L01-M01-S01-W02") == "T1"
    assert tree["T1-L01-M01-S01"].first_leader == "张三"
    assert tree["C"].phone == "13800000000"
    assert tree["T1"].phone is None


def test_a_utf8_bom_and_crlf_line_endings_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "grids.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join([HEADER, *GOOD]) + "\r\n").encode())
    assert len(load_registry(path)) == 7


def test_columns_may_come_in_any_order_and_case_with_extra_columns_ignored(
    tmp_path: Path,
) -> None:
    header = "Name,CODE,remark,level,kind,parent,households,population,first_leader"
    rows = [
        "平安县,C,x,county,comprehensive,,0,0,",
        "平安镇,T1,y,town,comprehensive,C,0,0,",
    ]
    tree = load_registry(write_csv(tmp_path / "grids.csv", rows, header))
    assert tree["T1"].name == "平安镇"


def test_a_directory_loads_the_grids_csv_inside_it(tmp_path: Path) -> None:
    write_csv(tmp_path / "grids.csv", GOOD)
    assert load_registry(tmp_path).root == "C"


def test_dedicated_grids_may_hang_under_a_town_or_a_large_grid(tmp_path: Path) -> None:
    rows = [
        *GOOD,
        "T1-D01,平安中学,small,dedicated,T1,0,800,,,",
        "T1-D02,工业园,large,dedicated,T1,0,900,,,",
        "T1-D02-D01,园区一区,small,dedicated,T1-D02,0,900,,,",
        "T1-L01-D01,石门小学,small,dedicated,T1-L01,0,200,,,",
    ]
    tree = load_registry(write_csv(tmp_path / "grids.csv", rows))
    assert tree.count(Level.SMALL, GridKind.DEDICATED) == 3


def test_levels_may_be_skipped_going_down(tmp_path: Path) -> None:
    rows = [*GOOD[:2], "T1-S01,社区第一网格,small,comprehensive,T1,0,0,赵四,,"]
    assert load_registry(write_csv(tmp_path / "grids.csv", rows))["T1-S01"].first_leader == "赵四"


def test_formula_looking_names_are_kept_as_plain_text(tmp_path: Path) -> None:
    rows = [*GOOD[:2], 'T1-S01,"=HYPERLINK(""http://x"",""y"")",small,comprehensive,T1,0,0,,,']
    rows.append("T1-S02,+1-2,small,comprehensive,T1,0,0,@SUM(A1),,")
    tree = load_registry(write_csv(tmp_path / "grids.csv", rows))
    assert tree["T1-S01"].name == '=HYPERLINK("http://x","y")'
    assert tree["T1-S02"].name == "+1-2"
    assert tree["T1-S02"].first_leader == "@SUM(A1)"


def test_central_households_beside_the_grids_file_are_loaded(tmp_path: Path) -> None:
    write_csv(tmp_path / "grids.csv", GOOD)
    (tmp_path / "central_households.csv").write_text(
        "code,micro_grid,head,linked_households\nH1,T1-L01-M01-S01-W01,陈五,7\n"
    )
    tree = load_registry(tmp_path / "grids.csv")
    assert tree.central_households == (CentralHousehold("H1", "T1-L01-M01-S01-W01", "陈五", 7),)


def test_progress_is_reported_up_to_the_total(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    load_registry(write_csv(tmp_path / "grids.csv", GOOD), lambda done, total: calls.append((done, total)))
    assert calls[-1] == (7, 7)


# ------------------------------------------------------------------------ refusals by line


def test_an_unknown_parent_is_reported_on_its_line(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, "X1,孤儿,micro,comprehensive,NOPE,1,1,,,"]))
    assert lines_of(err) == [9]
    assert "unknown parent NOPE" in reason_at(err, 9)
    assert err.errors[0].field == "parent"


def test_a_cycle_is_reported_on_every_row_of_the_loop(tmp_path: Path) -> None:
    rows = [
        *GOOD,
        "A,甲,micro,comprehensive,B,1,1,,,",
        "B,乙,micro,comprehensive,A,1,1,,,",
    ]
    err = refusal(write_csv(tmp_path / "grids.csv", rows))
    assert "cycle: A → B → A" in reason_at(err, 9)
    assert "cycle: A → B → A" in reason_at(err, 10)


def test_a_grid_that_is_its_own_parent_is_a_cycle(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, "A,甲,micro,comprehensive,A,1,1,,,"]))
    assert "cycle" in reason_at(err, 9)


def test_a_duplicate_code_is_reported_on_the_second_line_naming_the_first(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, GOOD[3]]))
    assert lines_of(err) == [9]
    assert "duplicate code T1-L01-M01 (first on line 5)" in reason_at(err, 9)


def test_a_bad_level_is_reported_with_the_allowed_levels(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, "X,甲,village,comprehensive,T1,1,1,,,"]))
    assert "level 'village' is not one of county, town, large, medium, small, micro" in reason_at(err, 9)


def test_a_bad_kind_is_reported(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, "X,甲,large,special,T1,1,1,,,"]))
    assert "kind 'special'" in reason_at(err, 9)


def test_a_negative_population_is_reported(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, "X,甲,large,comprehensive,T1,1,-5,,,"]))
    assert "population -5 is negative" in reason_at(err, 9)


def test_a_non_integer_households_value_is_reported(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, "X,甲,large,comprehensive,T1,12.5,1,,,"]))
    assert "households '12.5' is not a whole number" in reason_at(err, 9)


def test_a_first_leader_on_a_non_small_grid_is_refused(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, "X,甲,medium,comprehensive,T1-L01,1,1,钱六,,"]))
    assert "first_leader is only for small grids; this is a medium grid" in reason_at(err, 9)


def test_a_micro_grid_under_a_micro_grid_is_refused(tmp_path: Path) -> None:
    row = "X,甲,micro,comprehensive,T1-L01-M01-S01-W01,1,1,,,"
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, row]))
    assert "a micro grid cannot sit under T1-L01-M01-S01-W01" in reason_at(err, 9)


def test_a_dedicated_grid_at_its_parents_level_is_refused(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, "X,学校,large,dedicated,T1-L01,1,1,,,"]))
    assert "a parent must be at a higher level" in reason_at(err, 9)


def test_a_grid_directly_under_the_county_is_refused(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, "X,甲,large,comprehensive,C,1,1,,,"]))
    assert "must lie in a town" in reason_at(err, 9)


def test_a_second_row_without_parent_is_refused(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, "C2,又一县,county,comprehensive,,1,1,,,"]))
    assert "only the county (line 2) may have no parent" in reason_at(err, 9)


def test_a_registry_without_a_county_is_refused(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", GOOD[1:]))
    assert "unknown parent C" in reason_at(err, 2)
    assert any("no county" in e.reason for e in err.errors)


def test_an_empty_code_and_an_empty_name_are_reported(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, ",甲,large,comprehensive,T1,1,1,,,",
                                                     "X,,large,comprehensive,T1,1,1,,,"]))  # fmt: skip
    assert "empty code" in reason_at(err, 9)
    assert "empty name" in reason_at(err, 10)


def test_every_bad_row_is_reported_not_just_the_first(tmp_path: Path) -> None:
    rows = [
        *GOOD,
        "X1,甲,micro,comprehensive,NOPE,1,1,,,",
        "X2,乙,hamlet,comprehensive,T1,1,1,,,",
        "X3,丙,large,comprehensive,T1,-1,x,,,",
    ]
    err = refusal(write_csv(tmp_path / "grids.csv", rows))
    assert sorted(set(lines_of(err))) == [9, 10, 11]
    assert len(reason_at(err, 11).split(" | ")) == 2


def test_line_numbers_count_line_breaks_inside_quoted_fields(tmp_path: Path) -> None:
    rows = [*GOOD, 'X1,"两行\n名字",large,comprehensive,T1,1,1,,,', "X2,乙,large,comprehensive,NOPE,1,1,,,"]
    err = refusal(write_csv(tmp_path / "grids.csv", rows))
    assert "control characters" in reason_at(err, 9)
    assert "unknown parent NOPE" in reason_at(err, 11)


def test_a_missing_column_refuses_the_whole_file_at_the_header(tmp_path: Path) -> None:
    header = HEADER.replace("population,", "")
    err = refusal(write_csv(tmp_path / "grids.csv", ["C,县,county,comprehensive,,1,,,"], header))
    assert lines_of(err) == [1]
    assert "missing column(s): population" in err.errors[0].reason


def test_a_gbk_file_is_read_as_gb18030_and_says_so(tmp_path: Path) -> None:
    notes: list[str] = []
    tree = load_registry(write_csv(tmp_path / "grids.csv", GOOD, encoding="gbk"), notes=notes)
    assert tree.county.name == "平安县" and tree.grids["T1-L01-M01-S01"].first_leader == "张三"
    assert any("GB18030" in n for n in notes), notes


def test_a_latin1_file_is_not_taken_for_gbk(tmp_path: Path) -> None:
    rows = ["C,Comt\u00e9 de Caf\u00e9,county,comprehensive,,0,0,,,"]
    err = refusal(write_csv(tmp_path / "grids.csv", rows, encoding="latin-1"))
    assert "not UTF-8" in str(err) and lines_of(err) == [2]


def test_a_latin1_file_is_refused_at_its_first_non_utf8_line(tmp_path: Path) -> None:
    rows = [
        "C,County,county,comprehensive,,0,0,,,",
        "T1,Town,town,comprehensive,C,0,0,,,",
        "T1-S01,Caf\u00e9 grid,small,comprehensive,T1,0,0,,,",
    ]
    err = refusal(write_csv(tmp_path / "grids.csv", rows, encoding="latin-1"))
    assert "not UTF-8" in str(err) and "Latin-1" in str(err)
    assert lines_of(err) == [4]


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "MAX_FILE_BYTES", 100)
    err = refusal(write_csv(tmp_path / "grids.csv", GOOD))
    assert "limit" in str(err)


def test_an_overlong_field_is_refused_and_the_csv_field_limit_restored(tmp_path: Path) -> None:
    before = csv.field_size_limit()
    long_name = "名" * (registry.MAX_FIELD_CHARS + 1)
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, f"X,{long_name},large,comprehensive,T1,1,1,,,"]))
    assert lines_of(err) == [9]
    assert csv.field_size_limit() == before


def test_a_name_over_200_characters_is_refused(tmp_path: Path) -> None:
    err = refusal(write_csv(tmp_path / "grids.csv", [*GOOD, f"X,{'名' * 201},large,comprehensive,T1,1,1,,,"]))
    assert "name longer than 200 characters" in reason_at(err, 9)


def test_an_unsupported_file_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "grids.txt"
    path.write_text(HEADER)
    assert "unsupported file type" in str(refusal(path))


def test_a_refused_file_raises_and_returns_nothing(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    result: GridTree | None = None
    with pytest.raises(RegistryError):
        result = load_registry(
            write_csv(tmp_path / "grids.csv", [*GOOD, "X,甲,large,comprehensive,NOPE,1,1,,,"]),
            lambda done, total: calls.append((done, total)),
        )
    assert result is None
    assert (9, 9) not in calls  # completion is never reported for a refused file


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("H1,T1-L01-M01-S01-W01,陈五,11", "linked_households 11 is outside 5–10"),
        ("H1,T1-L01-M01-S01-W01,陈五,4", "linked_households 4 is outside 5–10"),
        ("H1,T1-L01-M01-S01,陈五,7", "T1-L01-M01-S01 is a small grid"),
        ("H1,NOPE,陈五,7", "unknown micro grid NOPE"),
        ("H1,T1-L01-M01-S01-W01,,7", "empty head"),
    ],
)
def test_a_bad_central_household_is_reported_on_its_line(tmp_path: Path, row: str, reason: str) -> None:
    write_csv(tmp_path / "grids.csv", GOOD)
    ch = tmp_path / "central_households.csv"
    ch.write_text(f"code,micro_grid,head,linked_households\nH0,T1-L01-M01-S01-W01,陈四,5\n{row}\n")
    err = refusal(tmp_path / "grids.csv")
    assert err.args[0].startswith("central_households.csv")
    assert reason in reason_at(err, 3)


def test_bad_rows_in_both_files_are_reported_together(tmp_path: Path) -> None:
    write_csv(tmp_path / "grids.csv", [*GOOD, "X,甲,large,comprehensive,NOPE,1,1,,,"])
    (tmp_path / "central_households.csv").write_text(
        "code,micro_grid,head,linked_households\nH1,T1-L01-M01-S01-W01,陈五,99\n"
    )
    err = refusal(tmp_path / "grids.csv")
    reasons = [str(e) for e in err.errors]
    assert reasons[0].startswith("line 9")
    assert reasons[1].startswith("line 2") and "central_households.csv" in reasons[1]


# ------------------------------------------------------------------------ XLSX and GeoJSON


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]], header: str = HEADER) -> Path:
    """A workbook whose first sheet holds the registry; a second sheet must be ignored."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header.split(","))
    for row in rows:
        sheet.append(list(row))
    book.create_sheet("notes").append(["code"])
    book.save(path)
    return path


def xlsx_rows(lines: Sequence[str]) -> list[list[Any]]:
    """CSV lines as spreadsheet cells, numbers as numbers."""
    out: list[list[Any]] = []
    for line in lines:
        cells: list[Any] = next(csv.reader([line]))
        cells[5], cells[6] = int(cells[5]), float(cells[6])  # Excel often stores 90 as 90.0
        out.append([c if c != "" else None for c in cells])
    return out


def test_an_xlsx_registry_loads_like_the_same_csv(tmp_path: Path) -> None:
    from_csv = load_registry(write_csv(tmp_path / "grids.csv", GOOD))
    (tmp_path / "x").mkdir()
    from_xlsx = load_registry(write_xlsx(tmp_path / "x" / "grids.xlsx", xlsx_rows(GOOD)))
    assert from_xlsx == from_csv


def test_xlsx_formulas_are_read_as_text_never_evaluated(tmp_path: Path) -> None:
    rows = [*xlsx_rows(GOOD[:2]), ["T1-S01", "=1+1", "small", "comprehensive", "T1", 0, 0]]
    tree = load_registry(write_xlsx(tmp_path / "grids.xlsx", rows))
    assert tree["T1-S01"].name == "=1+1"


def test_xlsx_errors_point_at_spreadsheet_rows(tmp_path: Path) -> None:
    rows = [*xlsx_rows(GOOD), [None] * 10, ["X", "甲", "large", "comprehensive", "NOPE", 1, 1]]
    err = refusal(write_xlsx(tmp_path / "grids.xlsx", rows))
    assert lines_of(err) == [10]


def test_a_damaged_xlsx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "grids.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    assert "not a valid .xlsx" in str(refusal(path))


def square(x: float, y: float) -> dict[str, Any]:
    """A small square polygon as GeoJSON."""
    ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def geojson_registry(path: Path, lines: Sequence[str]) -> dict[str, dict[str, Any]]:
    """A FeatureCollection with the CSV lines as properties and a square per grid."""
    features, shapes = [], {}
    for i, line in enumerate(lines):
        cells = next(csv.reader([line]))
        props: dict[str, Any] = dict(zip(HEADER.split(","), cells, strict=True))
        props["households"] = int(props["households"])
        props["population"] = int(props["population"])
        props["parent"] = props["parent"] or None
        shapes[props["code"]] = square(110 + i / 10, 23.5)
        features.append({"type": "Feature", "properties": props, "geometry": shapes[props["code"]]})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return shapes


def test_a_geojson_registry_loads_its_tree_and_its_geometry(tmp_path: Path) -> None:
    shapes = geojson_registry(tmp_path / "grids.geojson", GOOD)
    assert load_registry(tmp_path / "grids.geojson") == load_registry(write_csv(tmp_path / "grids.csv", GOOD))
    assert load_geometry(tmp_path / "grids.geojson") == shapes
    assert load_geometry(tmp_path / "grids.csv") == shapes  # found beside the CSV


def test_geojson_errors_point_at_feature_numbers(tmp_path: Path) -> None:
    geojson_registry(tmp_path / "grids.geojson", [*GOOD, "X,甲,large,comprehensive,NOPE,1,1,,,"])
    assert lines_of(refusal(tmp_path / "grids.geojson")) == [8]


def test_a_geojson_feature_with_a_point_geometry_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "grids.geojson"
    geojson_registry(path, GOOD)
    doc = json.loads(path.read_text())
    doc["features"][2]["geometry"] = {"type": "Point", "coordinates": [110, 23]}
    path.write_text(json.dumps(doc))
    err = refusal(path)
    assert lines_of(err) == [3]
    assert "Point" in err.errors[0].reason


def test_load_geometry_is_empty_when_there_is_no_geojson(tmp_path: Path) -> None:
    assert load_geometry(write_csv(tmp_path / "grids.csv", GOOD)) == {}


# ------------------------------------------------------------------------ writing


def test_write_registry_writes_lf_utf8_files_that_load_back_equal(tmp_path: Path) -> None:
    tree = load_registry(write_csv(tmp_path / "grids.csv", GOOD))
    shapes = {"C": square(110.123456789, 23.5)}
    out = tmp_path / "out"
    write_registry(tree, out, shapes)
    data = (out / "grids.csv").read_bytes()
    assert b"\r" not in data and not data.startswith(b"\xef\xbb\xbf")
    assert load_registry(out / "grids.csv") == tree
    assert load_registry(out / "grids.geojson") == tree
    assert load_geometry(out)["C"]["coordinates"][0][0] == [110.1234568, 23.5]  # 7 decimals (~1 cm)
    assert set(load_geometry(out)) == {"C"}


def test_write_registry_gives_the_same_bytes_twice(tmp_path: Path) -> None:
    tree = load_registry(write_csv(tmp_path / "grids.csv", GOOD))
    for name in ("a", "b"):
        write_registry(tree, tmp_path / name, {"C": square(110.1, 23.5)})
    for file in ("grids.csv", "central_households.csv", "grids.geojson"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


# ------------------------------------------------------------------------ property: round trip

_TEXT = (
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool)
)
_CODE = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,8}", fullmatch=True)
_COUNT = st.integers(min_value=0, max_value=10**6)


@st.composite
def trees(draw: st.DrawFn) -> GridTree:
    """Random valid trees: a county, 1–3 towns, grids hanging under any higher node."""
    codes = draw(st.lists(_CODE, min_size=3, max_size=25, unique=True))
    nodes: list[tuple[str, Level]] = [(codes[0], Level.COUNTY)]
    grids = [_grid(draw, codes[0], Level.COUNTY, None)]
    n_towns = draw(st.integers(1, min(3, len(codes) - 1)))
    for i, code in enumerate(codes[1:]):
        if i < n_towns:
            level, parent = Level.TOWN, codes[0]
        else:
            parent, parent_level = draw(st.sampled_from([n for n in nodes if n[1] != Level.COUNTY]))
            deeper = [lv for lv in Level if lv.depth > parent_level.depth]
            if not deeper:
                continue
            level = draw(st.sampled_from(deeper))
        nodes.append((code, level))
        grids.append(_grid(draw, code, level, parent))
    micros = [code for code, level in nodes if level == Level.MICRO]
    households = [
        CentralHousehold(f"H{i}", micro, draw(_TEXT), draw(st.integers(5, 10)))
        for i, micro in enumerate(micros)
        if draw(st.booleans())
    ]
    return GridTree.build(grids, households)


def _grid(draw: st.DrawFn, code: str, level: Level, parent: str | None) -> Grid:
    """One random grid row at a given place in the tree."""
    return Grid(
        code=code,
        name=draw(_TEXT),
        level=level,
        kind=draw(st.sampled_from(GridKind)),
        parent=parent,
        households=draw(_COUNT),
        population=draw(_COUNT),
        first_leader=draw(st.none() | _TEXT) if level == Level.SMALL else None,
        leader=draw(st.none() | _TEXT),
        phone=draw(st.none() | st.from_regex(r"1[358][0-9]{9}", fullmatch=True)),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees())
def test_any_valid_tree_round_trips_through_csv_and_geojson(tmp_path: Path, tree: GridTree) -> None:
    write_registry(tree, tmp_path, {tree.root: square(110, 23)})
    assert load_registry(tmp_path / "grids.csv") == tree
    assert load_registry(tmp_path / "grids.geojson") == tree
