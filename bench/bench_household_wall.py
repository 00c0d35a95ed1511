"""The wall and a household's status (issue 16): from the field's POST to the wall's unreached count.

Setup (not timed): generated Pingnan with its roster (~310,000 households), in
wartime, a flood-evacuation operation over the county; `wartime serve` (2
workers); the wall opened through a kiosk link in headless Chromium at 1920×1080.

Timed:

* ``hhw_status_to_wall_p50_ms`` / ``_max_ms`` — a household status ``POST
  /api/v1/operations/{id}/households`` (one unreached household each probe,
  sequential) until the wall's ``[data-kpi=unreached_households] data-value`` has
  fallen by one (a MutationObserver in the page, same machine clock). The panel
  is a snapshot panel (one log position with the rest of the wall, DESIGN §7.6):
  the live push moves the wall's position, the board fetches its snapshot again
  once the figures are quiet, and the panel follows it;
* ``hhw_snapshot_ms`` — ``GET /api/v1/board`` of the county with the households
  panel (median of 5, caches warm), and ``hhw_snapshot_first_ms`` the first one
  after the roster (it reads the roster's vulnerable households once per town).

``python -m bench.bench_household_wall`` runs it alone and prints the figures.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_core import run_alone
from bench.bench_http import request, start_server
from command.access import Actor, Role
from command.generate import generate
from command.household_roster import generate_households
from command.modes import SwitchRequest
from dashboard.auth import Accounts
from streams.county import County
from streams.projector import Projector
from streams.server import connect

TARGETS: dict[str, tuple[str, float]] = {"hhw_status_to_wall_p50_ms": ("<=", 5000.0)}
OPERATION = "hhw-bench"
PASSWORD = "bench-password-1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

WATCH = """() => {
  window.__hhw = [];
  const seen = (n) => window.__hhw.push([Date.now(), parseInt(n.getAttribute('data-value'), 10)]);
  new MutationObserver(() => {
    const n = document.querySelector('[data-kpi=unreached_households]');
    if (n) { seen(n); }
  }).observe(document.getElementById('board-hh'), {subtree: true, childList: true, attributes: true});
}"""


def _seed(redis_url: str) -> tuple[Any, list[str]]:
    client = connect(redis_url)
    client.flushall()
    tree, _ = generate("pingnan", geometry=False)
    county = County(client, tree.root)
    actor = Actor("bench-commander", Role.COMMANDER, tree.root)
    county.load_registry(tree, None, actor, source="bench")
    county.switch(actor, SwitchRequest(tree.root, "wartime", "flood", "II", "bench"))
    county.launch(actor, "flood_evacuation", tree.root, "转移 benchmark", operation=OPERATION)
    roster = generate_households(tree)
    county.load_households(roster, actor)
    Projector(client, tree.root, consumer="bench", publish=False).catch_up(1800)
    Accounts(county).add("hhw-bench", PASSWORD, "commander", tree.root, actor)
    print(f"[household wall] {tree.root}: {len(roster):,} households", flush=True)
    return tree, [h.code for h in random.Random(11).sample(roster, 200)]


def run(redis_url: str, quick: bool = False) -> dict[str, float]:
    """Seed Pingnan with its roster, serve it, open the wall, then probe status → wall."""
    from playwright.sync_api import sync_playwright

    tree, codes = _seed(redis_url)
    probes = 5 if quick else 20
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-hhw-") as d:
        server = start_server(redis_url, Path(d), 2)
        try:
            _, login = request(server.port, "POST", "/api/v1/session", {"username": "hhw-bench", "password": PASSWORD})
            token = login["token"]
            t0 = time.perf_counter()
            st, _ = request(server.port, "GET", "/api/v1/board", None, token)
            out["hhw_snapshot_first_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            took = []
            for _ in range(5):
                t0 = time.perf_counter()
                st, snap = request(server.port, "GET", "/api/v1/board", None, token)
                took.append((time.perf_counter() - t0) * 1000)
            assert st == 200 and snap["households"]["total"] > 0, st
            out["hhw_snapshot_ms"] = round(statistics.median(took), 1)
            _, kiosk = request(server.port, "POST", "/api/v1/kiosk", {"scope": tree.root}, token)
            chromium = os.environ.get("WARTIME_CHROMIUM") or "/usr/bin/chromium"
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1920, "height": 1080})
                page.goto(f"http://127.0.0.1:{server.port}/?token={kiosk['token']}")
                page.wait_for_selector("#board-panel-hh:not([hidden]) [data-kpi=unreached_households]",
                                       timeout=180_000)
                page.evaluate(WATCH)
                lat = []
                for n, code in enumerate(codes[:probes]):
                    time.sleep(1.0)
                    before = int(page.get_attribute("[data-kpi=unreached_households]", "data-value") or 0)
                    start = time.time() * 1000
                    st, body = request(server.port, "POST", f"/api/v1/operations/{OPERATION}/households",
                                       {"report_id": f"hhw-{n}", "household": code, "status": "evacuated"}, token)
                    assert st == 201, body
                    page.wait_for_function(
                        "(b) => { const n = document.querySelector('[data-kpi=unreached_households]');"
                        " return n && parseInt(n.getAttribute('data-value'), 10) <= b - 1; }",
                        arg=before, timeout=60_000)
                    seen = page.evaluate("(b) => (window.__hhw.find(r => r[1] <= b - 1) || [Date.now()])[0]", before)
                    page.evaluate("() => { window.__hhw = []; }")
                    lat.append(seen - start)
                browser.close()
            lat.sort()
            print(f"[household wall] status → wall over {len(lat)} probes: p50 {statistics.median(lat):.0f} ms, "
                  f"max {lat[-1]:.0f} ms", flush=True)
            out["hhw_status_to_wall_p50_ms"] = round(statistics.median(lat), 1)
            out["hhw_status_to_wall_max_ms"] = round(lat[-1], 1)
        finally:
            server.stop()
    return out


def main() -> int:
    """Run alone on a throwaway embedded Redis (or --redis URL, which is flushed)."""
    return run_alone(__doc__ or "", run, TARGETS)


if __name__ == "__main__":
    raise SystemExit(main())
