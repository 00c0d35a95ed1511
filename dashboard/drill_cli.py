"""`wartime drill OPERATION --speed N [--scenario FILE] [--name TEXT] [--detach]` (issue 19, DESIGN §7.4).

Starts a drill of a recorded operation (or of a scenario file alone, OPERATION
``-``) and runs it in the foreground: it prints the drill's id and the wall's
address (``/?drill=ID``), then a line per drill minute or so (the drill's clock
and its headline total), and at the end the drill report's figures beside the
recorded ones. Ctrl-C stops the drill. With ``--detach`` it only starts it: a
running `wartime serve` carries it on (the first request naming the drill picks
its runner up). The scenario format is in docs/drills.md.
"""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path
from typing import Any

from command.drills import scenario_from_text
from command.errors import InvalidRequest
from command.localtime import local_datetime
from dashboard.loading import cli_actor

__all__ = ["add_parser", "cmd_drill"]


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("drill", parents=[common], help="rehearse a recorded operation (演练), nothing live touched")
    s.add_argument("operation", help="the recorded operation to replay ('-' for a scenario file alone)")
    s.add_argument("--speed", type=int, default=None, help="× the wall clock, 1 to 600 (default: the scenario's)")
    s.add_argument("--scenario", type=Path, default=None, help="a scenario file (JSON): objectives and injects")
    s.add_argument("--name", default="", help="the drill's name")
    s.add_argument("--detach", action="store_true", help="start it and leave it to `wartime serve`")
    s.add_argument("--interval", type=float, default=0.25, help=argparse.SUPPRESS)
    s.set_defaults(fn=cmd_drill)


def cmd_drill(args: argparse.Namespace) -> int:
    from dashboard.audit import record_cli
    from streams.county import County
    from streams.drills import DrillRunner, Drills, drill_report
    from streams.server import connect, resolve

    scenario = None
    if args.scenario is not None:
        try:
            text = args.scenario.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidRequest(f"cannot read {args.scenario}: {exc.strerror}", field="scenario") from exc
        scenario = scenario_from_text(text)
    speed = args.speed if args.speed is not None else (scenario.speed if scenario and scenario.speed else None)
    if speed is None:
        raise InvalidRequest("--speed is required (1 to 600), or a scenario that sets one", field="speed")
    client = connect(resolve(args.data, args.redis))
    county = County.current(client)
    drills = Drills(client, county.code)
    source = "" if args.operation == "-" else args.operation
    d = drills.create(county, cli_actor(county.code), source, speed, args.name, scenario)
    record_cli(client, county.code, f"drill {args.operation} --speed {speed}", event=d.drill_id)
    print(json.dumps({"drill_id": d.drill_id, "wall": f"/?drill={d.drill_id}", "speed": d.speed,
                      "operation": source or None, "injects": len(d.scenario.injects)}, ensure_ascii=False),
          flush=True)
    if args.detach:
        return 0
    runner = DrillRunner(drills, d.drill_id, consumer=f"{d.drill_id}-cli")
    stop = threading.Event()
    shown = -1
    try:
        while not stop.is_set():
            runner.step()
            now = drills.get(d.drill_id)
            minute = int(now.minute(drills.wall()))
            if minute != shown:
                shown = minute
                print(f"{local_datetime(now.clock(drills.wall())):%m-%d %H:%M} 演练 · DRILL minute {minute} "
                      f"· {runner.replayed:,} events replayed · {now.state}", flush=True)
            if not now.live:
                break
            stop.wait(args.interval)
    except KeyboardInterrupt:
        drills.stop(d.drill_id)
        print("stopped", flush=True)
    finally:
        runner.close()
    if source:
        rep = drill_report(drills, d.drill_id)
        side = {k: {f: rep[k][f] for f in ("total", "target", "time_to", "alerts_raised", "ack_median")}
                for k in ("recorded", "drill")}
        print(json.dumps({"drill_id": d.drill_id, **side, "decisions": {k: len(v) for k, v in
                                                                        rep["decisions"].items()}},
                         ensure_ascii=False), flush=True)
    return 0
