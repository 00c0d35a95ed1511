"""Real maps (issue 17): importing 7,400 polygons of real complexity, and the wall drawing them.

The county is Pingnan's tree tiled over a ragged 2,048-vertex outline
(`generate(outline=…)`), every border bent (`command.borders.natural_borders`) so that
every leaf polygon has at least 100 vertices and borders stay shared. It is written as
a county GIS office sends it — a zipped Shapefile, DBF in GBK without a .cpg, .prj in
CGCS2000 (EPSG:4490), its own field names — and imported through `wartime import`'s
own path (`dashboard.loading.import_registry` → `dashboard.mapfiles`):

* ``import_s``: reading the Shapefile (GDAL), reprojecting, repairing, the nesting and
  overlap checks, validation, the registry event and the projection — wall clock;
* ``import_read_s``: the reading and checking part alone (`read_map`);
* ``polygons``, ``vertices``: what was imported (a count check, not a speed);
* ``first_map_ms``, ``first_map_warm_ms``, ``update_bytes_*``, ``report_to_dom_*``: the
  wall over that county, measured exactly as `bench.bench_board` measures Pingnan
  (its functions are reused: same browser, same probes).

``--dense`` measures instead a county of 49,062 leaf polygons (profile ``pingnan-dense``:
Pingnan's small grids drawn down to ten times the micro grids, 51,432 polygons in all), imported
the same way, for the level of detail: ``dense_*`` figures of the county's wall and of one town's
(``first_map_ms`` cold, the map parts' bytes, the vertices drawn), and screenshots of both kept in
``--shots DIR`` to look at.

``python -m bench.bench_maps [--quick] [--dense]`` runs it alone and prints the figures.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pyogrio.raw
import shapely

from bench.bench_board import CHROMIUM_ARGS, PASSWORD, _first_loads, measure_wall
from bench.bench_core import embedded_redis, leaf_grids
from bench.bench_http import request, start_server
from command.borders import natural_borders, ragged_outline
from command.generate import generate
from command.grids import GridTree
from command.mapimport import FieldMap
from streams.server import connect

TARGETS: dict[str, tuple[str, float]] = {
    "first_map_ms": ("<=", 3000.0),
    "update_bytes_max": ("<=", 5000.0),
}
FIELDS = FieldMap(code="WGBM", name="WGMC", parent="SJBM", level_field="CJ", kind_field="LX",
                  fields={"households": "HS", "population": "RK"})
_LEVEL_ZH = {"county": "县", "town": "镇", "large": "大网格", "medium": "中网格", "small": "小网格", "micro": "微网格"}
_KIND_ZH = {"comprehensive": "综合网格", "dedicated": "专属网格"}


def say(msg: str) -> None:
    print(f"[maps] {msg}", flush=True)


def real_county() -> tuple[GridTree, dict[str, Any]]:
    """Pingnan over a ragged outline, every leaf bent to ≥ 100 vertices."""
    tree, geometry = generate("pingnan", outline=ragged_outline((110.5, 23.55), (0.26, 0.32)))
    leaves = {g for g in tree.grids if not tree.children[g]}
    return tree, natural_borders(geometry, leaves, outline=tree.root)


def write_office_shapefile(tree: GridTree, geometry: dict[str, Any], folder: Path) -> Path:
    """The county as a GIS office mails it: zipped .shp/.shx/.dbf (GBK, no .cpg)/.prj (CGCS2000)."""
    rows = tree.rows()
    columns = [
        np.array([r["code"] for r in rows], dtype=object),
        np.array([r["name"] for r in rows], dtype=object),
        np.array([_LEVEL_ZH[str(r["level"])] for r in rows], dtype=object),
        np.array([_KIND_ZH[str(r["kind"])] for r in rows], dtype=object),
        np.array([r["parent"] or "" for r in rows], dtype=object),
        np.array([r["households"] for r in rows], dtype=np.int64),
        np.array([r["population"] for r in rows], dtype=np.int64),
    ]
    shapes = [shapely.to_wkb(shapely.geometry.shape(geometry[r["code"]])) for r in rows]
    shp = folder / "pingnan_grids.shp"
    pyogrio.raw.write(str(shp), np.array(shapes, dtype=object), columns,
                      ["WGBM", "WGMC", "CJ", "LX", "SJBM", "HS", "RK"], driver="ESRI Shapefile",
                      geometry_type="Polygon", crs="EPSG:4490", encoding="GBK")
    out = folder / "pingnan_grids.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(folder.glob("pingnan_grids.*")):
            if part.suffix.lower() in (".shp", ".shx", ".dbf", ".prj"):
                archive.write(part, f"平南县网格/{part.name}")
    return out


def seed(redis_url: str, archive: Path) -> tuple[str, str, list[str], dict[str, float]]:
    """Flush; import the Shapefile as `wartime import` does; a commander, wartime, mass testing."""
    from command.access import Actor, Role
    from command.modes import SwitchRequest
    from dashboard.auth import Accounts
    from dashboard.loading import import_registry
    from dashboard.mapfiles import read_map
    from streams.projector import Projector

    client = connect(redis_url)
    client.flushall()
    t0 = time.perf_counter()
    loaded = read_map(archive, FIELDS)
    read_s = time.perf_counter() - t0
    vertices = sum(len(ring) for g in loaded.geometry.values() for ring in g["coordinates"][0:1])
    t0 = time.perf_counter()
    notes: list[str] = []
    county = import_registry(client, archive, quiet=True, options=FIELDS, notes=notes)
    import_s = time.perf_counter() - t0
    for note in notes[:4]:
        say(f"note: {note}")
    tree = county.tree
    actor = Actor("bench-commander", Role.COMMANDER, tree.root)
    Accounts(county).add("bench-commander", PASSWORD, "commander", tree.root, actor)
    county.switch(actor, SwitchRequest(tree.root, "wartime", "epidemic", "II", "benchmark"))
    now = int(time.time() * 1000)
    op = county.launch(actor, "mass_testing", tree.root, "全员核酸检测", now + 3 * 86_400_000,
                       operation="op-maps").event.operation  # type: ignore[attr-defined]
    Projector(client, tree.root, consumer="bench-seed", publish=False).catch_up(timeout_s=120)
    figures = {"import_s": round(import_s, 2), "import_read_s": round(read_s, 2),
               "polygons": float(len(loaded.geometry)), "vertices": float(vertices)}
    return tree.root, op, leaf_grids(tree), figures


def run(redis_url: str, quick: bool, *, rate: int = 1000, probes: int = 100, loads: int = 3,
        workers: int = 2) -> dict[str, float]:
    """Make the county, import it, serve it, then the wall's figures."""

    if quick:
        probes, loads = min(probes, 30), 1
    t0 = time.perf_counter()
    tree, geometry = real_county()
    leaves = [g for g in tree.grids if not tree.children[g]]
    say(f"made {len(geometry)} polygons in {time.perf_counter() - t0:.1f} s; the smallest leaf has "
        f"{min(len(geometry[c]['coordinates'][0]) for c in leaves)} vertices")
    with tempfile.TemporaryDirectory(prefix="bench-maps-") as tmp:
        archive = write_office_shapefile(tree, geometry, Path(tmp))
        say(f"wrote {archive.name}: {archive.stat().st_size / 1e6:.1f} MB")
        code, op, cells, figures = seed(redis_url, archive)
        say(f"imported {code}: {figures}")
        first, warm, live = measure_wall(redis_url, Path(tmp), workers, code, op, cells, loads, rate, probes)
    first.sort()
    return {**figures, "first_map_ms": round(first[len(first) // 2], 1), "first_map_max_ms": round(first[-1], 1),
            "first_map_warm_ms": round(warm, 1), **live}


def run_dense(redis_url: str, shots: Path) -> dict[str, float]:
    """The wall of a 49,062-polygon county and of one of its towns: first loads, bytes, screenshots."""
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    tree, geometry = generate("pingnan-dense")
    say(f"made {len(geometry)} polygons in {time.perf_counter() - t0:.1f} s")
    shots.mkdir(parents=True, exist_ok=True)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-maps-dense-") as tmp:
        archive = write_office_shapefile(tree, geometry, Path(tmp))
        code, _op, _cells, figures = seed(redis_url, archive)
        out.update({f"dense_{k}": v for k, v in figures.items()})
        town = max(tree.towns, key=lambda t: sum(1 for _ in tree.leaves(t)))
        server = start_server(redis_url, Path(tmp), 2)
        try:
            _, login = request(server.port, "POST", "/api/v1/session",
                               {"username": "bench-commander", "password": PASSWORD})
            chromium = os.environ.get("WARTIME_CHROMIUM") or "/usr/bin/chromium"
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
                for name, scope in (("county", code), ("town", town)):
                    _, kiosk = request(server.port, "POST", "/api/v1/kiosk", {"scope": scope}, login["token"])
                    url = f"http://127.0.0.1:{server.port}/?token={kiosk['token']}"
                    n = sum(1 for _ in tree.leaves(scope))
                    first, _ = _first_loads(browser, url, 1, n, shot=shots / f"dense-{name}.png")
                    out[f"dense_{name}_cells"] = float(n)
                    out[f"dense_{name}_first_map_ms"] = first[0]
                    for kind in ("cells.json", "outline.geojson"):
                        digest = _digest(redis_url, code)
                        status, raw = _get_bytes(server.port, f"/api/v1/board/geo/{digest}/{scope}/{kind}",
                                                 login["token"])
                        out[f"dense_{name}_{kind.split('.')[0]}_bytes"] = float(len(raw)) if status == 200 else -1.0
                        if kind == "cells.json" and status == 200:
                            out[f"dense_{name}_vertices_drawn"] = float(len(msgspec.json.decode(raw)["xy"]) // 2)
                browser.close()
        finally:
            server.stop()
    say(f"screenshots: {shots}/dense-county.png, dense-town.png")
    return out


def _digest(redis_url: str, code: str) -> str:
    from streams.readmodel import ControlView

    view = ControlView(connect(redis_url), code)
    view.refresh()
    return view.state.geometry or "none"


def _get_bytes(port: int, path: str, token: str) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redis", default=None, help="an empty Redis to use (default: a throwaway embedded one)")
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--probes", type=int, default=100)
    ap.add_argument("--loads", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dense", action="store_true", help="the 49,062-polygon county instead (level of detail)")
    ap.add_argument("--shots", type=Path, default=Path(tempfile.gettempdir()) / "bench-maps-shots")
    args = ap.parse_args(argv)
    say(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    def go(url: str) -> dict[str, float]:
        if args.dense:
            return run_dense(url, args.shots)
        return run(url, args.quick, rate=args.rate, probes=args.probes, loads=args.loads)

    if args.redis:
        figures = go(args.redis)
    else:
        with embedded_redis() as url:
            figures = go(url)
    from bench.run import machine_info, print_results

    say(f"load average {os.getloadavg()[0]:.1f} at the end")
    print_results({"maps": figures}, {"maps": TARGETS}, machine=machine_info())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
