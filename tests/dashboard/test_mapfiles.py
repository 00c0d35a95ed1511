"""GIS files as a county's GIS office writes them (pyogrio/GDAL, like QGIS or ArcGIS): each imports exactly."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, shape

from command import gcj02
from command.errors import RegistryError
from command.grids import Level
from command.mapimport import FieldMap, areas_m2
from dashboard.mapfiles import load_mapping, read_map
from streams.readmodel import ControlView
from streams.server import EmbeddedRedis, connect, resolve
from tests.dashboard.mapcounty import Place, geodesic_m2, places

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = FieldMap(code="BM", name="MC", parent="SJBM", level_field="JB")
FIELD_OPTIONS = ("--code-field", "BM", "--name-field", "MC", "--parent-field", "SJBM", "--level-field", "JB")


def write_layer(path: Path, rows: Sequence[Place], *, driver: str, crs: str | None, encoding: str | None = None,
                project: Transformer | None = None, names: Sequence[str] = ("BM", "MC", "JB", "SJBM", "户数")) -> Path:
    """One polygon layer with the GIS office's own field names, written by GDAL."""
    shapes = [p.shape for p in rows]
    if project is not None:
        shapes = [shapely.transform(s, lambda xy: np.column_stack(project.transform(xy[:, 0], xy[:, 1])))
                  for s in shapes]
    columns = [
        np.array([p.code for p in rows], dtype=object),
        np.array([p.name for p in rows], dtype=object),
        np.array([p.level for p in rows], dtype=object),
        np.array([p.parent for p in rows], dtype=object),
        np.array([p.households for p in rows], dtype=np.int64),
    ]
    pyogrio.raw.write(str(path), np.array([shapely.to_wkb(s) for s in shapes], dtype=object), columns, list(names),
                      driver=driver, geometry_type="Polygon", crs=crs, encoding=encoding)
    return path


def zip_shapefile(shp: Path, out: Path, *, drop: Sequence[str] = (".cpg",)) -> Path:
    """Zip a Shapefile's parts in a folder, as it is mailed; offices' DBFs rarely come with a .cpg."""
    with zipfile.ZipFile(out, "w") as archive:
        for part in sorted(shp.parent.glob(shp.stem + ".*")):
            if part.suffix.lower() not in drop:
                archive.write(part, f"网格/{part.name}")
    return out


def check_county(loaded: object, rows: Sequence[Place], tolerance_deg: float = 1e-7) -> None:
    """Right codes, parents, levels and names; every area within 1 m² of the original's geodesic area."""
    tree = loaded.tree  # type: ignore[attr-defined]
    geometry = loaded.geometry  # type: ignore[attr-defined]
    assert sorted(tree.grids) == sorted(p.code for p in rows)
    for p in rows:
        grid = tree.grids[p.code]
        assert grid.name == p.name
        assert (grid.parent or "") == p.parent
        assert grid.households == p.households
    assert tree.grids["GP"].level == Level.COUNTY and tree.grids["GP02"].level == Level.TOWN
    assert tree.grids["GP01-L01"].level == Level.LARGE
    stored = {code: shape(g) for code, g in geometry.items()}
    areas = areas_m2(stored)
    for p in rows:
        assert abs(areas[p.code] - geodesic_m2(p.shape)) < 1.0, (p.code, areas[p.code], geodesic_m2(p.shape))
        assert shapely.equals_exact(shapely.normalize(stored[p.code]), shapely.normalize(p.shape), tolerance_deg)
        assert shapely.is_ccw(stored[p.code].exterior)  # type: ignore[attr-defined]  # RFC 7946 orientation


@pytest.fixture(scope="module")
def county() -> list[Place]:
    return places()


def test_a_zipped_shapefile_with_a_gbk_dbf_and_a_cgcs2000_prj_imports_exactly(tmp_path: Path, county) -> None:
    (tmp_path / "shp").mkdir()
    shp = write_layer(tmp_path / "shp" / "grids.shp", county, driver="ESRI Shapefile", crs="EPSG:4490",
                      encoding="GBK")
    assert "China_Geodetic_Coordinate_System_2000" in shp.with_suffix(".prj").read_text()  # as ArcGIS writes it
    assert "西山镇".encode("gbk") in shp.with_suffix(".dbf").read_bytes()
    loaded = read_map(zip_shapefile(shp, tmp_path / "grids.zip"), OPTIONS)
    check_county(loaded, county)
    said = " | ".join(loaded.notes)
    assert "read as GBK" in said and "China Geodetic Coordinate System 2000" in said


def test_a_projected_gauss_kruger_shapefile_without_prj_needs_crs_and_is_reprojected(tmp_path: Path, county) -> None:
    (tmp_path / "shp").mkdir()
    to_gk = Transformer.from_crs("EPSG:4326", "EPSG:4546", always_xy=True)  # CGCS2000 3° GK CM 111E
    shp = write_layer(tmp_path / "shp" / "gk.shp", county, driver="ESRI Shapefile", crs="EPSG:4546",
                      encoding="UTF-8", project=to_gk)
    archive = zip_shapefile(shp, tmp_path / "gk.zip", drop=(".prj",))
    with pytest.raises(RegistryError) as info:
        read_map(archive, OPTIONS)
    assert "--crs" in str(info.value)
    loaded = read_map(archive, FieldMap(**{**OPTIONS.__dict__, "crs": "EPSG:4546"}))
    check_county(loaded, county)
    assert any("3-degree Gauss-Kruger CM 111E" in n for n in loaded.notes)


def test_a_kml_and_a_kmz_with_chinese_property_names_import_without_options(tmp_path: Path, county) -> None:
    kml = write_layer(tmp_path / "grids.kml", county, driver="LIBKML", crs="EPSG:4326",
                      names=("编码", "Name", "层级", "上级", "户数"))
    check_county(read_map(kml, FieldMap()), county, tolerance_deg=1e-8)
    kmz = tmp_path / "grids.kmz"
    with zipfile.ZipFile(kmz, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(kml, "doc.kml")
    check_county(read_map(kmz, FieldMap()), county, tolerance_deg=1e-8)


def test_a_gcj02_geojson_from_a_web_map_with_a_mapping_file_lands_on_wgs84(tmp_path: Path, county) -> None:
    features = []
    for p in county:
        xy = np.array(p.shape.exterior.coords)
        lon, lat = gcj02.from_wgs84(xy[:, 0], xy[:, 1])
        features.append({"type": "Feature", "properties": {"id": p.code, "title": p.name, "pid": p.parent or None,
                                                           "grade": p.level, "hs": p.households},
                         "geometry": {"type": "Polygon", "coordinates": [np.column_stack([lon, lat]).tolist()]}})
    web = tmp_path / "amap.geojson"
    web.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"code": "id", "name": "title", "parent": "pid", "level": "grade",
                                   "households": "hs", "gcj02": True}))
    loaded = read_map(web, load_mapping(mapping))
    check_county(loaded, county, tolerance_deg=1e-8)
    # Without --gcj02 the same file lands hundreds of metres off: the conversion is what makes it right.
    plain = FieldMap(code="id", name="title", parent="pid", level_field="grade", fields={"households": "hs"})
    off = read_map(web, plain)
    first = np.array(shape(off.geometry["GP"]).exterior.coords)[0]  # type: ignore[attr-defined]
    assert np.hypot(*(first - np.array(county[0].shape.exterior.coords)[0])) > 1e-3


def test_broken_features_are_refused_by_feature_number(tmp_path: Path, county) -> None:
    (tmp_path / "shp").mkdir()
    bad = list(county)
    bad[4] = Place("GP01-L02", "北岭村", "大网格", "NOPE", 15, bad[4].shape)
    bad[5] = Place("GP02-L01", "湖滨社区", "巨网格", "GP02", 25, bad[5].shape)
    shp = write_layer(tmp_path / "shp" / "bad.shp", bad, driver="ESRI Shapefile", crs="EPSG:4490", encoding="GBK")
    with pytest.raises(RegistryError) as info:
        read_map(zip_shapefile(shp, tmp_path / "bad.zip"), OPTIONS)
    lines = {e.line: e.reason for e in info.value.errors}
    assert "unknown parent NOPE" in lines[5] and "巨网格" in lines[6], lines


def test_a_bow_tie_is_repaired_and_a_child_outside_its_parent_warned_in_square_metres(
    tmp_path: Path, county
) -> None:
    rows = list(county)
    x0, y0, x1, y1 = rows[3].shape.bounds
    bow = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])  # a self-crossing ring, as digitised by hand
    rows[3] = Place(rows[3].code, rows[3].name, rows[3].level, rows[3].parent, rows[3].households, bow)
    moved = shapely.affinity.translate(rows[4].shape, xoff=0.002)  # ~200 m east: partly in the other town
    rows[4] = Place(rows[4].code, rows[4].name, rows[4].level, rows[4].parent, rows[4].households, moved)
    (tmp_path / "shp").mkdir()
    shp = write_layer(tmp_path / "shp" / "hand.shp", rows, driver="ESRI Shapefile", crs="EPSG:4490",
                      names=("编码", "Name", "层级", "上级", "户数"))
    loaded = read_map(shp, FieldMap())
    said = " | ".join(loaded.notes)
    assert "feature 4: invalid ring repaired (Self-intersection" in said, said
    assert "line 5: GP01-L02 lies" in said and "outside its parent GP01" in said and "m²" in said, said
    assert shapely.is_valid(shape(loaded.geometry["GP01-L01"]))


# ------------------------------------------------------------------------ through the command line


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "data"
    yield d
    EmbeddedRedis(d.resolve()).stop()


def wartime(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dashboard.cli", *args, "--data", str(data)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={"WARTIME_NO_PROGRESS": "1", "PATH": "/usr/bin:/bin", "HOME": str(data.parent),
                               "PYTHONPATH": str(ROOT)})


def test_wartime_import_takes_a_zipped_shapefile_with_field_options(data: Path, tmp_path: Path, county) -> None:
    (tmp_path / "shp").mkdir()
    bad = [*county[:4], Place("GP01-L02", "北岭村", "大网格", "NOPE", 15, county[4].shape), county[5]]
    refused = wartime("import", str(zip_shapefile(
        write_layer(tmp_path / "shp" / "bad.shp", bad, driver="ESRI Shapefile", crs="EPSG:4490", encoding="GBK"),
        tmp_path / "bad.zip")), *FIELD_OPTIONS,
        data=data)
    assert refused.returncode == 1 and "line 5 (parent): unknown parent NOPE" in refused.stderr, refused.stderr
    client = connect(resolve(str(data)))
    assert not any(k.startswith(b"wt:{GP") for k in client.keys("*"))  # nothing half-loaded
    shp = write_layer(tmp_path / "shp" / "grids.shp", county, driver="ESRI Shapefile", crs="EPSG:4490",
                      encoding="GBK")
    done = wartime("import", str(zip_shapefile(shp, tmp_path / "grids.zip")),
                   *FIELD_OPTIONS, data=data)
    assert done.returncode == 0, done.stderr
    assert "loaded county GP: 6 rows" in done.stdout
    assert "note: grids.zip: the DBF does not name its encoding and is not UTF-8; read as GBK" in done.stderr
    view = ControlView(client, "GP")
    view.refresh()
    assert view.tree is not None and view.tree.grids["GP01-L02"].parent == "GP01"
    stored = view.geometry()
    assert set(stored) == {p.code for p in county}
    areas = areas_m2({c: shape(g) for c, g in stored.items()})
    assert all(abs(areas[p.code] - geodesic_m2(p.shape)) < 1.0 for p in county)


def test_wartime_generate_tiles_an_outline_from_a_zipped_shapefile(data: Path, tmp_path: Path, county) -> None:
    (tmp_path / "shp").mkdir()
    shp = write_layer(tmp_path / "shp" / "outline.shp", county[:1], driver="ESRI Shapefile", crs="EPSG:4490",
                      encoding="GBK")
    out = tmp_path / "reg"
    gen = wartime("generate", "--profile", "qingcao", "--outline", str(zip_shapefile(shp, tmp_path / "outline.zip")),
                  "--out", str(out), data=data)
    assert gen.returncode == 0, gen.stderr
    geometry = json.loads((out / "grids.geojson").read_text())
    shapes = {f["properties"]["code"]: shape(f["geometry"]) for f in geometry["features"]}
    assert shapes["QC"].symmetric_difference(county[0].shape).area < county[0].shape.length * 1e-7
    towns = [g for code, g in shapes.items() if len(code) == 4]
    assert shapely.union_all(towns).symmetric_difference(shapes["QC"]).area == pytest.approx(0, abs=1e-12)
    imp = wartime("import", str(out / "grids.csv"), data=data)
    assert imp.returncode == 0 and "loaded county QC" in imp.stdout, imp.stderr


def test_the_demo_county_can_be_tiled_over_a_real_outline(redis_url: str, tmp_path: Path, county) -> None:
    from dashboard.demo import prepare

    ring = [(float(x), float(y)) for x, y in county[0].shape.exterior.coords[:-1]]
    demo, users = prepare(connect(redis_url), "qingcao", tmp_path, "demo-password-1", 1_700_000_000_000,
                          outline=ring)
    view = ControlView(connect(redis_url), demo.code)
    view.refresh()
    geometry = view.geometry()
    assert geometry and users
    leaves = [g for g in view.tree.grids if not view.tree.children[g]]  # type: ignore[union-attr]
    assert min(len(geometry[c]["coordinates"][0]) for c in leaves) >= 100  # bent, real-looking borders
    outline = shape(geometry[demo.code])
    assert outline.symmetric_difference(county[0].shape).area < county[0].shape.length * 1e-6
