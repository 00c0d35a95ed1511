"""`wartime`: the command line of DESIGN.md §5.

Every subcommand takes `--data DIR` (default ./wartime-data) and `--redis URL`
(default: the embedded Redis of that data directory, started if need be).
Commands that change the county act as ``cli:<login name>``, a county
commander: whoever can run this program on the server owns the county.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from command.errors import CommandRejected, RegistryError, Unavailable
from command.localtime import parse_instant
from command.mapimport import FieldMap
from dashboard.loading import cli_actor


def _client(args: argparse.Namespace) -> Any:
    from streams.server import connect, resolve

    return connect(resolve(args.data, args.redis))


def _county(args: argparse.Namespace) -> Any:
    from streams.county import County

    return County.current(_client(args))


# -- generate / import ----------------------------------------------------------------


def grid_counts(tree: Any) -> str:
    """The one grid-count story (README, console, map): which number counts what."""
    kinds: dict[str, int] = {}
    towns = set(tree.towns)
    for code in tree.grids:
        if code != tree.root and code not in towns:
            kind = str(tree[code].kind)
            kinds[kind] = kinds.get(kind, 0) + 1
    comp, ded = kinds.get("comprehensive", 0), kinds.get("dedicated", 0)
    leaves = sum(1 for code in tree.grids if not tree.children[code] and code != tree.root and code not in towns)
    return (f"grids: {comp:,} comprehensive + {ded:,} dedicated = {comp + ded:,}; "
            f"registry rows with the county and its {len(towns)} towns: {len(tree):,} (the console's units); "
            f"leaf grids (nothing under them, drawn on the map): {leaves:,}")


def cmd_generate(args: argparse.Namespace) -> int:
    from command.generate import generate, summary
    from command.registry import write_registry
    from dashboard.loading import progress_bar
    from dashboard.mapfiles import read_outline

    t0 = time.monotonic()
    outline = None
    if args.outline:
        notes: list[str] = []
        outline = read_outline(Path(args.outline), FieldMap(crs=args.crs or "", gcj02=args.gcj02), notes)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    bar = progress_bar(3, f"generate {args.profile}")
    tree, geometry = generate(args.profile, seed=args.seed, outline=outline)
    bar.update(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_registry(tree, out, geometry)
    from command.household_roster import generate_households, write_households

    write_households(generate_households(tree, seed=args.seed), out)
    bar.update(2)
    bar.close()
    print(json.dumps(summary(tree), ensure_ascii=False, indent=2))
    print(grid_counts(tree))
    print(f"wrote {out}/grids.csv, grids.geojson, central_households.csv, households.csv "
          f"in {time.monotonic() - t0:.1f} s")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from command.generate import summary
    from dashboard.loading import import_registry
    from dashboard.mapfiles import load_mapping

    options = FieldMap(
        code=args.code_field or "", name=args.name_field or "", parent=args.parent_field or "",
        level_field=args.level_field or "", kind_field=args.kind_field or "",
        level=args.level or "", kind=args.kind or "", crs=args.crs or "", gcj02=args.gcj02,
    )
    if args.mapping:
        options = options.merged(load_mapping(Path(args.mapping)))
    if not Path(args.file).exists():
        print(f"error: {args.file}: no such file; nothing was loaded", file=sys.stderr)
        return 1
    client = _client(args)
    notes: list[str] = []
    from command.household_roster import is_household_file

    if is_household_file(args.file):  # a household roster (DESIGN §7.3), onto the county loaded before
        from dashboard.loading import import_households

        county, n = import_households(client, Path(args.file), notes=notes)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        from dashboard.audit import record_cli

        record_cli(client, county.code, f"import {Path(args.file).name}", detail=f"{n} households")
        print(f"loaded {n} households into county {county.code}")
        return 0
    county = import_registry(client, Path(args.file), options=options, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    from dashboard.audit import record_cli

    record_cli(client, county.code, f"import {Path(args.file).name}", detail=f"{len(county.tree)} rows")
    print(json.dumps(summary(county.tree), ensure_ascii=False, indent=2))
    print(grid_counts(county.tree))
    print(f"loaded county {county.code}: {len(county.tree)} rows")
    return 0


# -- commands -------------------------------------------------------------------------


def cmd_switch(args: argparse.Namespace) -> int:
    """``wartime switch``: the console's switch command, through the same intake (validated, audited)."""
    from dashboard.api import Backend
    from dashboard.api_control import ROUTES
    from dashboard.intake import Intake

    county = _county(args)
    intake = Intake(Backend(county.client, county), [ROUTES])
    answer = intake.submit(
        cli_actor(county.code), "modes",
        {"scope": args.scope, "mode": args.to, "incident": args.incident, "level": args.level,
         "reason": args.reason or ""},
        source="local", method="CLI", path=f"switch {args.scope} --to {args.to}",
    )
    if answer.status >= 400:
        return _refused(answer.body)
    print(json.dumps({k: answer.body[k] for k in ("event_id", "grids_switched", "secretaries_installed",
                                                   "vacancies", "released")}, ensure_ascii=False))
    return 0


def _refused(body: dict[str, Any]) -> int:
    """An intake's refusal as the CLI prints it (as `main` prints a refusal raised)."""
    err = body.get("error") or {}
    if err.get("code") == "unavailable":
        print(f"unavailable: {err.get('message')}", file=sys.stderr)
        return 1
    where = f" [{err['field']}]" if err.get("field") else ""
    print(f"refused{where}: {err.get('message')}", file=sys.stderr)
    return 1


def cmd_replay(args: argparse.Namespace) -> int:
    from dashboard.loading import progress_bar
    from streams.readmodel import current_county
    from streams.replay import rebuild

    client = _client(args)
    code = current_county(client)
    if code is None:
        print("nothing to replay: no county loaded", file=sys.stderr)
        return 1
    until = parse_instant(args.until) if args.until else None
    total = sum(client.xlen(s) for s in _streams(client, code))
    bar = progress_bar(total, "replay")
    t0 = time.monotonic()
    n = rebuild(client, code, until=until, progress=bar.update)
    bar.close()
    print(f"replayed {n} events in {time.monotonic() - t0:.1f} s" + (f" up to {args.until}" if until else ""))
    return 0


def _streams(client: Any, county: str) -> list[str]:
    from streams.log import EventLog
    from streams.readmodel import ControlView

    view = ControlView(client, county)
    view.refresh()
    towns = view.tree.towns if view.tree else ()
    return EventLog(client, county, towns).streams()


def cmd_users(args: argparse.Namespace) -> int:
    from dashboard.auth import Accounts

    county = _county(args)
    accounts = Accounts(county)
    if args.action == "list":
        for u in accounts.list():
            grant = "\tpersonal_data" if u.get("personal_data") else ""
            print(f"{u['username']}\t{u['role']}\t{u['scope']}{grant}")
        return 0
    from dashboard import audit

    source = f"cli:{getpass.getuser()}"
    if args.action == "remove":
        removed = accounts.remove(args.name)
        audit.record(county.client, county.code, "account", actor=source, source="local",
                     detail=f"remove {args.name}" + ("" if removed else " (no such user)"))
        print("removed" if removed else "no such user")
        return 0
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    accounts.add(args.name, password, args.role, args.scope, cli_actor(county.code),
                 personal_data=args.personal_data)
    audit.record(county.client, county.code, "account", actor=source, source="local",
                 detail=f"add {args.name} role={args.role} scope={args.scope} personal_data={args.personal_data}")
    grant = " (may export personal data)" if args.personal_data else ""
    print(f"user {args.name}: {args.role} of {args.scope}{grant}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from dashboard.reports import render_report

    county = _county(args)
    data = render_report(county, args.operation, args.format, args.lang)
    Path(args.out).write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes)")
    return 0


# -- servers --------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from dashboard.server import build
    from streams.server import resolve

    url = resolve(args.data, args.redis)
    embedded = None if (args.redis or os.environ.get("WARTIME_REDIS_URL")) else Path(args.data).resolve()
    if args.county:  # every child (workers, projectors, live, scheduler) inherits it
        os.environ["WARTIME_COUNTY"] = args.county
    sup, live = build(
        url, args.host, args.port, workers=args.workers, projectors=args.projectors,
        live_port=args.live_port, embedded=embedded, state=Path(args.data).resolve(),
    )
    print(f"wartime serving on http://{args.host}:{args.port}/  (live push on ws port {live}; redis {url})", flush=True)
    sup.run()
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """End the embedded redis-server of a data directory (it outlives the commands that started it)."""
    from streams.server import EmbeddedRedis

    server = EmbeddedRedis(Path(args.data).resolve())
    if not server.running():
        print(f"no embedded Redis running in {server.data}")
        return 0
    pid = server.pid()
    server.stop()
    if server.running():
        print(f"the embedded Redis in {server.data} (pid {pid}) did not stop", file=sys.stderr)
        return 1
    print(f"stopped the embedded Redis in {server.data} (pid {pid})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from dashboard.demo import run_demo

    return run_demo(args)


EXAMPLES: dict[str, str] = {
    "demo": "wartime demo --profile pingnan --speed 120\n"
            "  (Ctrl-C or SIGTERM stops the servers and the embedded Redis the demo started)",
    "serve": "wartime serve --data /srv/wartime --host 0.0.0.0 --port 8050 --workers 4",
    "generate": "wartime generate --profile pingnan --out ./pingnan\n"
                "  (Pingnan: 7,226 comprehensive grids, 7,391 with the 165 dedicated ones,\n"
                "   7,413 registry rows with the county and its 21 towns; the map draws the leaf grids)",
    "import": "wartime import ./pingnan/grids.csv\n"
              "wartime import towns.zip --code-field GRID_CODE --name-field NAME --level small --crs EPSG:4490",
    "switch": "wartime switch PN01 --to wartime --incident flood --level III --reason \"暴雨红色预警\"\n"
              "wartime switch PN01 --to peacetime",
    "report": "wartime report op-1a2b3c --format pdf --out op.pdf --lang zh-CN",
    "replay": "wartime replay --until 2022-03-15T18:00",
    "users": "echo 's3cret-pass' | wartime users add zhang --role commander --scope PN01\n"
             "wartime users list\nwartime users remove zhang",
    "audit": "wartime audit --kind login* --since 2022-03-15T00:00 --newest-first --limit 50",
    "drill": "wartime drill op-1a2b3c --speed 60 --scenario town-silent.json\n"
             "  (replays the recorded operation into a drill's own world; docs/drills.md has the scenario format)",
    "bench": "wartime bench --quick",
    "stop": "wartime stop --data ./wartime-data",
}
"""One example per command, shown under its --help."""


class _Help(argparse.RawDescriptionHelpFormatter):
    """An option's default after its help (when it has one worth saying); examples kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, "", argparse.SUPPRESS) or "default" in text or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    from command.generate import PROFILES
    from command.vocabulary import Incident, ResponseLevel

    profiles = sorted(PROFILES)
    incidents = [i.value for i in Incident]
    levels = [lv.value for lv in ResponseLevel]
    p = argparse.ArgumentParser(prog="wartime", description="Wartime command dashboard (战时指挥)",
                                formatter_class=_Help)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", default=os.environ.get("WARTIME_DATA", "./wartime-data"),
                        help="data directory (embedded Redis lives here)")
    common.add_argument("--redis", default=None, help="Redis URL instead of the embedded one")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    s = sub.add_parser(
        "demo", parents=[common], help="everything in one: county, wartime, operations, simulator, dashboard"
    )
    s.add_argument("--profile", default="pingnan", choices=profiles, help="which published county to generate")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on")
    s.add_argument("--port", type=int, default=8050, help="HTTP port")
    s.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    s.add_argument("--workers", type=int, default=2, help="HTTP worker processes")
    s.add_argument("--outline", help="tile this real county boundary (zipped Shapefile, KML/KMZ, GeoJSON)")
    s.add_argument("--crs", help="the outline file's CRS when it has none")
    s.add_argument("--gcj02", action="store_true", help="the outline's coordinates are GCJ-02")
    s.set_defaults(fn=cmd_demo)

    s = sub.add_parser("serve", parents=[common], help="the production server")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on")
    s.add_argument("--port", type=int, default=8050, help="HTTP port")
    s.add_argument("--workers", type=int, default=2, help="HTTP worker processes")
    s.add_argument("--projectors", type=int, default=1, help="projector processes (read models)")
    s.add_argument("--live-port", type=int, default=None, help="websocket port of the live push (default: free)")
    s.add_argument("--county", default=os.environ.get("WARTIME_COUNTY") or None,
                   help="the county to serve when the Redis holds several (default: the last one imported)")
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("generate", parents=[common], help="write a synthetic registry")
    s.add_argument("--profile", required=True, choices=profiles, help="which published county to generate")
    s.add_argument("--out", required=True, help="directory to write grids.csv, grids.geojson, households")
    s.add_argument("--seed", type=int, default=7, help="random seed (same seed, same county)")
    s.add_argument("--outline", help="tile this county boundary (zipped Shapefile, KML/KMZ, GeoJSON)")
    s.add_argument("--crs", help="the outline file's CRS when it has none, e.g. EPSG:4490")
    s.add_argument("--gcj02", action="store_true", help="the outline's coordinates are GCJ-02")
    s.set_defaults(fn=cmd_generate)

    s = sub.add_parser("import", parents=[common],
                       help="load a grid registry (CSV, XLSX, GeoJSON, zipped Shapefile, KML/KMZ)")
    s.add_argument("file", help="the registry file; refused whole (nothing loaded) when any row is bad")
    s.add_argument("--code-field", help="the property holding the grid code (GIS files)")
    s.add_argument("--name-field", help="the property holding the name")
    s.add_argument("--parent-field", help="the property holding the parent's code")
    s.add_argument("--level-field", help="the property holding the level (county…micro or 县…微网格)")
    s.add_argument("--kind-field", help="the property holding the kind")
    s.add_argument("--level", help="one level for every feature (e.g. small or 小网格)")
    s.add_argument("--kind", help="one kind for every feature (default comprehensive)")
    s.add_argument("--mapping", help="JSON file naming the properties (keys: code, name, parent, level…)")
    s.add_argument("--crs", help="the file's CRS when it has none (or a wrong one), e.g. EPSG:4490")
    s.add_argument("--gcj02", action="store_true", help="coordinates are GCJ-02 (Chinese web maps)")
    s.set_defaults(fn=cmd_import)

    s = sub.add_parser("switch", parents=[common], help="switch a scope to wartime or back")
    s.add_argument("scope", help="grid code of the scope (county, town or grid)")
    s.add_argument("--to", required=True, choices=["wartime", "peacetime"], help="the mode to switch to")
    s.add_argument("--incident", default=None, choices=incidents, help="the incident (needed for wartime)")
    s.add_argument("--level", default=None, choices=levels,
                   help="emergency response level, I gravest to IV (needed for wartime)")
    s.add_argument("--reason", default="", help="why, for the log")
    s.set_defaults(fn=cmd_switch)

    s = sub.add_parser("report", parents=[common], help="the after-action report")
    s.add_argument("operation", help="operation id")
    s.add_argument("--format", required=True, choices=["html", "pdf", "xlsx", "csv"], help="file format")
    s.add_argument("--out", required=True, help="file to write")
    s.add_argument("--lang", default="zh-CN", choices=["zh-CN", "en"], help="language of the report")
    s.set_defaults(fn=cmd_report)

    s = sub.add_parser("replay", parents=[common], help="rebuild read models from the log")
    s.add_argument("--until", default=None, help="epoch ms or ISO time (naive times are Asia/Shanghai)")
    s.set_defaults(fn=cmd_replay)

    s = sub.add_parser("users", parents=[common], help="accounts")
    s.add_argument("action", choices=["add", "list", "remove"], help="what to do")
    s.add_argument("name", nargs="?", help="login name (add, remove); the password is read from stdin or asked")
    s.add_argument("--role", choices=["commander", "leader", "viewer"], help="role of a new account")
    s.add_argument("--scope", help="grid code the account commands or reads")
    s.add_argument("--personal-data", action="store_true",
                   help="grant exports of personal data (leaders' phone numbers); separate from viewing")
    s.set_defaults(fn=cmd_users)

    from dashboard.audit import add_parser as add_audit_parser

    add_audit_parser(sub, common)

    from dashboard.drill_cli import add_parser as add_drill_parser

    add_drill_parser(sub, common)

    s = sub.add_parser("bench", parents=[common], help="run the benchmark suite and print figures")
    s.add_argument("--quick", action="store_true", help="smaller sizes, a minute instead of many")
    s.set_defaults(fn=lambda a: __import__("bench.run", fromlist=["main"]).main(a))

    s = sub.add_parser("stop", parents=[common], help="stop the embedded Redis of a data directory")
    s.set_defaults(fn=cmd_stop)

    for name, parser in sub.choices.items():
        parser.formatter_class = _Help
        parser.epilog = "example:\n  " + EXAMPLES[name].replace("\n", "\n  ")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.cmd == "users" and args.action in ("add", "remove") and not args.name:
        print("users add/remove needs a NAME", file=sys.stderr)
        return 2
    if args.cmd == "users" and args.action == "add" and not (args.role and args.scope):
        print("users add needs --role and --scope", file=sys.stderr)
        return 2
    try:
        return int(args.fn(args) or 0)
    except RegistryError as exc:
        where = f"{exc.source}: " if exc.source else ""
        print(f"refused: {where}{len(exc.errors)} bad row(s)", file=sys.stderr)
        for e in exc.errors:
            print(f"  {e}", file=sys.stderr)
        print("nothing was loaded: a registry is taken whole or not at all", file=sys.stderr)
        return 1
    except CommandRejected as exc:
        where = f" [{exc.field}]" if exc.field else ""
        print(f"refused{where}: {exc.message}", file=sys.stderr)
        return 1
    except Unavailable as exc:
        print(f"unavailable: {exc.message}", file=sys.stderr)
        return 1
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
