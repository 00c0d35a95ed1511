"""What county offices really have: GBK CSV, Chinese headers and levels, title rows; GCJ-02; nesting checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pytest
import shapely
from shapely.geometry import Polygon, box

from command import gcj02
from command.errors import RegistryError, RowError
from command.grids import GridKind, Level
from command.mapimport import FieldMap, assemble, check_nesting, parse_mapping, records
from command.registry import load_registry

ZH_HEADER = ["网格编码", "名称", "层级", "类型", "上级", "户数", "人口", "第一小网格长", "网格长"]
ZH_ROWS = [
    ["C", "平安县", "县", "综合网格", "", "20", "60", "", "王一"],
    ["T1", "平安镇", "镇（街道）", "综合网格", "C", "20", "60", "", "李二"],
    ["T1-L01", "石门村", "大网格", "综合网格", "T1", "20", "60", "", ""],
    ["T1-L01-M01", "大塘屯", "中网格", "综合网格", "T1-L01", "20", "60", "", ""],
    ["T1-L01-M01-S01", "大塘屯第一网格", "小网格", "综合网格", "T1-L01-M01", "20", "60", "张三", ""],
    ["T1-L01-M01-S01-W01", "一号微网格", "微网格", "综合网格", "T1-L01-M01-S01", "20", "60", "", ""],
    ["T1-L01-D01", "平安中学", "中网格", "专属网格", "T1-L01", "0", "0", "", ""],
]


def check_tree(path: Path, notes: list[str]) -> None:
    """The Chinese registry loaded with every level and kind translated."""
    tree = load_registry(path, notes=notes)
    assert tree.root == "C" and tree.county.name == "平安县"
    assert tree.grids["T1"].level == Level.TOWN
    assert tree.grids["T1-L01-M01-S01"].level == Level.SMALL
    assert tree.grids["T1-L01-M01-S01"].first_leader == "张三"
    assert tree.grids["T1-L01-D01"].kind == GridKind.DEDICATED
    assert tree.grids["T1-L01-M01-S01-W01"].parent == "T1-L01-M01-S01"
    assert tree.county.leader == "王一"


def test_a_gbk_csv_with_chinese_headers_and_levels_and_a_title_line_imports(tmp_path: Path) -> None:
    lines = ["平安县网格台账（2024年）,,,,,,,,", ",".join(ZH_HEADER), *(",".join(r) for r in ZH_ROWS)]
    path = tmp_path / "grids.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))  # as zh-CN Excel saves "CSV"
    notes: list[str] = []
    check_tree(path, notes)
    assert any("GB18030" in n for n in notes), notes
    assert any("title row(s) on line 1" in n and "header is on line 2" in n for n in notes), notes


def test_an_xlsx_with_a_merged_title_row_chinese_headers_and_levels_imports(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["平安县网格化管理台账"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(ZH_HEADER))
    sheet.append(["填报单位：平安县委政法委"])
    sheet.append(ZH_HEADER)
    for row in ZH_ROWS:
        sheet.append([int(v) if v.isdigit() else v for v in row])
    path = tmp_path / "grids.xlsx"
    book.save(path)
    notes: list[str] = []
    check_tree(path, notes)
    assert any("title row(s) on line 1, 2" in n and "line 3" in n for n in notes), notes


def test_a_bad_chinese_row_is_refused_on_its_spreadsheet_line(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["平安县网格化管理台账"])
    sheet.merge_cells("A1:I1")
    sheet.append(ZH_HEADER)
    for row in ZH_ROWS:
        sheet.append(row)
    sheet.append(["T1-X", "坏网格", "巨网格", "综合网格", "T1", "1", "1", "", ""])
    path = tmp_path / "grids.xlsx"
    book.save(path)
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    assert [e.line for e in info.value.errors] == [10]
    assert "巨网格" in info.value.errors[0].reason


def test_a_sheet_without_any_header_says_so_instead_of_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "grids.csv"
    path.write_text("平安县网格台账\n说明：见附件\n")
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    assert "no header row" in info.value.errors[0].reason and info.value.errors[0].line == 1


# ------------------------------------------------------------------------ GCJ-02


def test_gcj02_forward_matches_the_published_reference_point() -> None:
    # Tiananmen area, the reference value quoted by the common implementations of the formula.
    lon, lat = gcj02.from_wgs84(np.array([116.404]), np.array([39.915]))
    assert lon[0] == pytest.approx(116.41024449916938, abs=1e-12)
    assert lat[0] == pytest.approx(39.91640428150164, abs=1e-12)


def test_gcj02_inverse_lands_back_on_the_web_map_point_within_a_millimetre() -> None:
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(98, 125, 500), rng.uniform(18, 50, 500)
    g_lon, g_lat = gcj02.from_wgs84(lon, lat)
    assert float(np.max(np.hypot(g_lon - lon, g_lat - lat))) > 1e-3  # hundreds of metres of offset
    w_lon, w_lat = gcj02.to_wgs84(g_lon, g_lat)
    assert float(np.max(np.abs(w_lon - lon))) < 1e-8 and float(np.max(np.abs(w_lat - lat))) < 1e-8
    outside = gcj02.to_wgs84(np.array([2.35]), np.array([48.85]))  # Paris: untouched
    assert outside[0][0] == 2.35 and outside[1][0] == 48.85


# ------------------------------------------------------------------------ properties and nesting


def test_properties_named_otherwise_are_mapped_by_options_then_by_chinese_labels() -> None:
    props = [{"GRID_ID": "C", "MC": "县", "PID": None, "层级": "县", "户数": 5.0}]
    rows = records(props, FieldMap(code="GRID_ID", name="MC", parent="PID"), "f")
    assert rows == [(1, {"code": "C", "name": "县", "level": "县", "kind": "comprehensive", "parent": "",
                         "households": "5", "population": "", "first_leader": "", "leader": "", "phone": ""})]
    with pytest.raises(RegistryError) as info:
        records(props, FieldMap(code="BM"), "f")
    assert "--code-field 'BM'" in info.value.errors[0].reason and "GRID_ID" in info.value.errors[0].reason


def test_a_mapping_file_names_fields_and_fixes_a_level() -> None:
    m = parse_mapping('{"code": "BM", "name": "MC", "parent": "SJ", "level": "小网格", "crs": "EPSG:4490"}'.encode(),
                      "map.json")
    assert (m.code, m.name, m.parent, m.level, m.level_field, m.crs) == ("BM", "MC", "SJ", "小网格", "", "EPSG:4490")
    assert parse_mapping(b'{"level": "JB"}', "m").level_field == "JB"
    with pytest.raises(RegistryError):
        parse_mapping(b'{"colour": "x"}', "m")


def _square(x: float, y: float, size: float) -> Polygon:
    return box(x, y, x + size, y + size)


def test_a_child_outside_its_parent_and_overlapping_siblings_are_warned_with_square_metres() -> None:
    d = 0.01  # about a kilometre
    shapes = {
        "T": _square(110, 23, 2 * d),
        "A": box(110, 23, 110 + d, 23 + 2 * d),
        "B": box(110 + d - d / 10, 23, 110 + 2 * d + d / 10, 23 + 2 * d),  # overlaps A, sticks out of T
    }
    errors: list[RowError] = []
    warnings: list[str] = []
    check_nesting(shapes, {"T": None, "A": "T", "B": "T"}, {"T": 1, "A": 2, "B": 3}, errors, warnings, "f")
    assert not errors
    text = " | ".join(warnings)
    assert "line 3: B lies" in text and "outside its parent T" in text
    assert "A and B overlap by" in text and "m²" in text


def test_a_grossly_misplaced_child_is_refused_on_its_line() -> None:
    shapes = {"T": _square(110, 23, 0.01), "A": _square(111, 23, 0.01)}
    errors: list[RowError] = []
    check_nesting(shapes, {"T": None, "A": "T"}, {"T": 1, "A": 2}, errors, [], "f")
    assert [e.line for e in errors] == [2] and "outside its parent" in errors[0].reason


def test_a_bow_tie_is_repaired_and_noted_and_a_broken_feature_refused_by_number() -> None:
    county = box(110, 23, 110.02, 23.02)
    bow = Polygon([(110, 23), (110.02, 23.02), (110.02, 23), (110, 23.02)])
    props = [
        {"code": "C", "name": "县", "level": "county", "parent": ""},
        {"code": "T1", "name": "镇", "level": "town", "parent": "C"},
    ]
    out = assemble(props, [shapely.to_wkb(county), shapely.to_wkb(bow)], "EPSG:4326", FieldMap(), "f.geojson")
    assert any("feature 2: invalid ring repaired" in n for n in out.notes), out.notes
    assert out.geometry["T1"]["type"] == "MultiPolygon"
    line = shapely.to_wkb(shapely.LineString([(110, 23), (111, 24)]))
    with pytest.raises(RegistryError) as info:
        assemble(props, [shapely.to_wkb(county), line], "EPSG:4326", FieldMap(), "f.geojson")
    assert [e.line for e in info.value.errors] == [2] and "LineString" in info.value.errors[0].reason


def test_an_unknown_crs_is_refused_naming_it() -> None:
    props = [{"code": "C", "name": "县", "level": "county", "parent": ""}]
    with pytest.raises(RegistryError) as info:
        assemble(props, [shapely.to_wkb(box(110, 23, 110.01, 23.01))], "", FieldMap(crs="EPSG:99999999"), "f")
    assert info.value.errors[0].field == "crs" and "EPSG:99999999" in info.value.errors[0].reason
