"""Loading a registry file into the county it describes: what `wartime import` and the demo share.

Kept out of the CLI so that the demo (and tests) can load a county without
importing the command line, which sits on top of everything.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

from command.access import Actor, Role
from command.errors import StateConflict
from command.household_roster import load_households
from command.mapimport import FieldMap
from command.registry import load_geometry, load_registry
from dashboard.components.map import prepare_wall
from dashboard.mapfiles import is_map_file, read_map
from streams.county import County
from streams.projector import Projector

__all__ = ["cli_actor", "import_households", "import_registry", "progress_bar"]


def progress_bar(total: int | None, desc: str) -> Any:
    """A progress bar on stderr for long work (silenced by WARTIME_NO_PROGRESS)."""
    from tqdm import tqdm  # only commands that show progress pay for it

    quiet = bool(os.environ.get("WARTIME_NO_PROGRESS"))
    return tqdm(total=total, desc=desc, unit=" rows", disable=quiet, leave=True, file=sys.stderr, mininterval=0.2)


def cli_actor(county: str) -> Actor:
    """Whoever runs the program on the server: ``cli:<login name>``, a county commander."""
    return Actor(f"cli:{getpass.getuser()}", Role.COMMANDER, county)


def import_registry(
    client: Any,
    path: Path,
    actor: Actor | None = None,
    quiet: bool = False,
    options: FieldMap | None = None,
    notes: list[str] | None = None,
) -> County:
    """Load a registry file into the county it describes (all or nothing), and project it.

    A GIS file (zipped Shapefile, KML/KMZ, GeoJSON with `options` naming its properties)
    goes through `dashboard.mapfiles`; `notes` receives what the readers decided (encoding,
    title rows, CRS, repaired rings, children outside their parent).
    """
    bar = None if quiet else progress_bar(None, f"import {path.name}")

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    said: list[str] = [] if notes is None else notes
    try:
        if is_map_file(path, options or FieldMap()):
            loaded = read_map(path, options or FieldMap(), progress=progress)
            tree, geometry = loaded.tree, loaded.geometry
            said.extend(loaded.notes)
        else:
            tree = load_registry(path, progress=progress, notes=said)
            geometry = load_geometry(path)
    except BaseException:
        if bar is not None:  # a refused file leaves no half-drawn bar behind the refusal
            bar.leave = False
            bar.close()
        raise
    if bar is not None:
        bar.close()
    county = County(client, tree.root)
    county.load_registry(tree, geometry, actor or cli_actor(tree.root), source=path.name)
    Projector(client, tree.root, consumer="import", publish=False).catch_up()
    if geometry:
        prepare_wall(county, geometry)  # the first wall opens at once, in every worker
    return county


def import_households(
    client: Any, path: Path, actor: Actor | None = None, notes: list[str] | None = None
) -> tuple[County, int]:
    """Load a household roster (households.csv) onto the county loaded before; all or nothing, projected."""
    try:
        county = County.current(client)
    except LookupError as exc:
        raise StateConflict(f"{exc} (grids first, then households)", field="file") from None
    roster = load_households(path, county.tree, notes)
    county.load_households(roster, actor or cli_actor(county.code))
    Projector(client, county.code, consumer="import", publish=False).catch_up()
    return county, len(roster)
