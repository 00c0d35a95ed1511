"""`wartime demo`: a whole county at war on one laptop, with nothing to install.

Steps, each skipped when the data directory already has it (a second run
resumes the same county): embedded Redis → generated registry → accounts →
wartime switch (epidemic, level II) → mass testing over the county plus a flood
evacuation and a fire-hazard check in some towns → the full server and a field
simulator at N× real time.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import secrets
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from command.access import Actor, Role
from command.modes import SwitchRequest
from command.operations import OperationState
from streams.county import County

__all__ = ["DEMO_USERS", "demo_password", "prepare", "run_demo"]


DEMO_USERS = ("demo-commander", "demo-leader", "demo-viewer")


def _simulator_main(redis_url: str, speed: float) -> None:
    from streams.server import connect

    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    from dashboard.simulator import FieldSimulator

    county = County.current(connect(redis_url))
    actor = Actor("demo-simulator", Role.COMMANDER, county.code)
    FieldSimulator(county, actor, speed=speed).run(stop)


def prepare(
    client: Any, profile: str, data: Path, password: str, now_ms: int,
    outline: list[tuple[float, float]] | None = None,
) -> tuple[County, dict[str, str]]:
    """Load, switch and launch (idempotently); returns the county and the demo accounts' scopes.

    With `outline` (a real county boundary, WGS 84) the profile's county is tiled over it and
    its borders bent like real ones (`command.borders`), in place of the generated blob.
    """
    from command.borders import natural_borders
    from command.generate import generate
    from command.household_roster import HOUSEHOLDS_CSV, generate_households, write_households
    from command.registry import write_registry
    from dashboard.auth import Accounts
    from dashboard.loading import import_households, import_registry
    from streams.readmodel import current_county

    code = current_county(client)
    if code is None:
        reg = data / (f"registry-{profile}" if outline is None else f"registry-{profile}-outline")
        if not (reg / "grids.csv").exists():
            print(f"generating the {profile} county…", flush=True)
            tree, geometry = generate(profile, outline=outline)
            if outline is not None:
                geometry = natural_borders(geometry, {g for g in tree.grids if not tree.children[g]}, outline=tree.root)
            write_registry(tree, reg, geometry)
            write_households(generate_households(tree), reg)
        source = reg / "grids.geojson" if (reg / "grids.geojson").exists() else reg / "grids.csv"
        county = import_registry(client, source)
        if (reg / HOUSEHOLDS_CSV).exists():  # the household roster (DESIGN §7.3), fictitious like the rest
            import_households(client, reg / HOUSEHOLDS_CSV)
    else:
        county = County(client, code)
    tree = county.tree
    system = Actor("demo-setup", Role.COMMANDER, tree.root)
    leader_grid = next(
        (g for g in tree.small_grids(tree.root)
         if tree[g].first_leader and tree[g].kind == "comprehensive" and tree.children[g]),
        next(g for g in tree.small_grids(tree.root) if tree[g].first_leader),
    )
    scopes = {"demo-commander": ("commander", tree.root), "demo-leader": ("leader", leader_grid),
              "demo-viewer": ("viewer", tree.root)}
    accounts = Accounts(county)
    for name, (role, scope) in scopes.items():
        accounts.add(name, password, role, scope, system)
    st = county.refresh()
    if tree.root not in st.wartime:
        county.switch(system, SwitchRequest(tree.root, "wartime", "epidemic", "II", "演示：突发疫情 (demo)"))
    st = county.refresh()
    kinds = {o.kind for o in st.operations.values() if o.state == OperationState.OPEN}
    day = 86_400_000
    towns = list(tree.towns)
    if "mass_testing" not in kinds:
        county.launch(system, "mass_testing", tree.root, "全员核酸检测", now_ms + 3 * day)
    if "flood_evacuation" not in kinds and len(towns) > 1:
        county.launch(system, "flood_evacuation", towns[1], "防汛转移 · Flood evacuation", now_ms + 2 * day,
                      {"hazard_points_checked": 169, "people_evacuated": 200})
    if "fire_hazard_check" not in kinds and len(towns) > 2:
        county.launch(system, "fire_hazard_check", towns[2], "火灾隐患排查 · Fire-hazard check", now_ms + 5 * day)
    return county, {k: f"{v[0]} · {v[1]}" for k, v in scopes.items()}


def demo_password() -> str:
    """WARTIME_DEMO_PASSWORD, else a fresh one (printed once by the demo)."""
    return os.environ.get("WARTIME_DEMO_PASSWORD") or secrets.token_urlsafe(9)


def _wait_until_answering(url: str, timeout: float = 120.0) -> None:
    """Poll `url` until the server answers at all (any HTTP status), or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answered, if only to say it is degraded
        except OSError:
            time.sleep(0.2)


def run_demo(args: argparse.Namespace) -> int:
    """Everything in one command; stops cleanly on Ctrl-C or SIGTERM, with the embedded Redis it started."""
    from streams.server import EmbeddedRedis, resolve

    data = Path(args.data).resolve()
    # The demo ends the embedded redis-server it started itself (Ctrl-C, SIGTERM); one it found running stays.
    own_redis = not (args.redis or os.environ.get("WARTIME_REDIS_URL")) and not EmbeddedRedis(data).running()
    url = resolve(data, args.redis)
    try:
        return _run(args, data, url)
    finally:
        if own_redis:
            EmbeddedRedis(data).stop()


def _run(args: argparse.Namespace, data: Path, url: str) -> int:
    from dashboard.server import build
    from streams.county import now_ms
    from streams.server import connect

    client = connect(url)
    password = demo_password()
    outline = None
    if getattr(args, "outline", None):
        from command.mapimport import FieldMap
        from dashboard.mapfiles import read_outline

        notes: list[str] = []
        outline = read_outline(Path(args.outline), FieldMap(crs=args.crs or "", gcj02=args.gcj02), notes)
        for note in notes:
            print(f"note: {note}", flush=True)
    _, users = prepare(client, args.profile, data, password, now_ms(), outline=outline)
    # The demo owns its embedded redis-server as `wartime serve` does: restarted if it dies (AOF keeps the data).
    embedded = None if (args.redis or os.environ.get("WARTIME_REDIS_URL")) else data
    sup, live = build(url, args.host, args.port, workers=args.workers, embedded=embedded, state=data)
    sup.add("simulator", _simulator_main, url, args.speed)

    def ready() -> None:
        _wait_until_answering(f"http://{args.host}:{args.port}/api/v1/health")  # the address works once printed
        print("", flush=True)
        print(f"  战时指挥大屏 · Wartime command board:  http://{args.host}:{args.port}/", flush=True)
        print(f"  field page: http://{args.host}:{args.port}/field   console: /console   review: /review")
        print(f"  live push: ws://{args.host}:{live}/live   data: {data}   redis: {url}")
        print("  demo accounts (password shown once):")
        for name, what in users.items():
            print(f"    {name:<16} {what}")
        print(f"    password: {password}")
        print(f"  field simulator at {args.speed:g}× real time; Ctrl-C stops everything", flush=True)

    mp.set_start_method("spawn", force=True)
    sup.run(on_ready=ready)
    return 0
