"""The wall on real shapes: a ragged county outline tiled with bent, shared borders, drawn in real Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from command.borders import natural_borders, ragged_outline
from command.generate import generate
from command.geoindex import GeoIndex
from streams.server import EmbeddedRedis
from tests.conftest import empty, seed_county, start_server

pytestmark = pytest.mark.browser

PROBE = """() => { const p = window.wartimeBoard.mapProbe();
    return {cells: p.cells, drawn: p.drawn, painted: p.painted, sized: p.cells - p.subpixel}; }"""


FILL = """() => { const W = window.wartimeBoardKit, v = W.B.map.view, g = W.B.geo.g, box = W.mapBox();
    return {w: (g.all[2] - g.all[0]) * v.s / box.w, h: (g.all[3] - g.all[1]) * v.s / box.h}; }"""
"""How much of the map panel the scope's cells span, across and down."""


def test_a_real_shaped_county_wall_draws_and_paints_every_cell_and_a_towns_link_frames_the_town(
    browser: Any, redis_server: EmbeddedRedis, tmp_path: Path, artifacts: Path
) -> None:
    empty(redis_server)
    tree, geometry = generate("qingcao", outline=ragged_outline((116.93, 31.12), (0.06, 0.05), seed=5))
    leaves = {g for g in tree.grids if not tree.children[g]}
    real = natural_borders(geometry, leaves, outline=tree.root)
    assert min(len(real[c]["coordinates"][0]) for c in leaves) >= 100
    seed_county(redis_server.url, tree, real)
    served = start_server(redis_server.url, tmp_path)
    try:
        kiosk = requests.post(f"{served.url}/api/v1/kiosk", json={"scope": tree.root},
                              headers=served.headers("commander"), timeout=10).json()["token"]
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        page = context.new_page()
        page.goto(f"{served.url}/?token={kiosk}")
        page.wait_for_selector("#grid-map[data-map-state=complete]", timeout=180_000)
        assert page.get_attribute("#grid-map", "data-polygons") == str(len(list(tree.leaves(tree.root))))
        probe = page.evaluate(PROBE)
        assert probe["drawn"] == probe["cells"] == len(leaves) and probe["painted"] == probe["sized"], probe
        page.wait_for_timeout(1500)
        page.screenshot(path=str(artifacts / "board-real-shapes-1920.png"))
        context.close()
        # A link to one town (its scope from the link, not the query) frames the town, not the county.
        town = min(tree.towns, key=lambda t: sum(1 for _ in tree.leaves(t)))  # small beside the county
        kiosk = requests.post(f"{served.url}/api/v1/kiosk", json={"scope": town},
                              headers=served.headers("commander"), timeout=10).json()["token"]
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        page = context.new_page()
        page.goto(f"{served.url}/?token={kiosk}")
        page.wait_for_selector("#grid-map[data-map-state=complete]", timeout=180_000)
        page.wait_for_function("() => window.wartimeBoardKit.B && window.wartimeBoardKit.B.snap")
        assert page.get_attribute("#grid-map", "data-polygons") == str(sum(1 for _ in tree.leaves(town)))
        framed = page.evaluate("() => window.wartimeBoardKit.B.cfg.bounds")
        assert framed == pytest.approx(list(GeoIndex.build(real).bounds(town, tree.leaves(town)) or ()))
        fill = page.evaluate(FILL)
        page.screenshot(path=str(artifacts / "board-real-shapes-town-1920.png"))
        assert max(fill["w"], fill["h"]) > 0.8, fill  # the county's frame left the town a third of the panel
        context.close()
    finally:
        served.stop()
