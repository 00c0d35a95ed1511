"""Households of Pingnan (~310,000): roster import, statuses/s through HTTP, read latency, Redis memory.

Setup (not timed): the generated Pingnan county loaded, switched to wartime, a
flood-evacuation operation launched; its generated roster (310,326 households)
written to a ``households.csv``.

Timed:

* ``hh_parse_s`` — reading and checking ``households.csv`` against the tree
  (`command.household_roster.load_households`, what ``wartime import`` does first);
* ``hh_append_s`` — appending the roster's events to the town streams and writing
  the personal data aside (`County.load_households`); ``hh_project_s`` — the
  projector folding them into the roster read models; ``hh_import_s`` the sum of the three;
* ``hh_mem_per_100k_mb`` — Redis ``used_memory`` grown by the load (log entries,
  read models, personal data), per 100,000 households; ``hh_status_mem_per_100k_mb``
  — grown by one status for each of 100,000 households (log + read models);
* ``hh_status_rps`` — statuses per second through HTTP (``POST
  /api/v1/operations/{id}/households`` on `wartime serve`, 32 client threads with
  keep-alive connections, each status a distinct household, some resent), and
  ``hh_status_p50_ms`` / ``hh_status_p99_ms`` their latency; afterwards the county's
  counts are checked against what was acknowledged (exactly once);
* ``hh_read_after_write_ms`` — from a status's 201 to the progress endpoint showing
  it (median of 20: projector plus read);
* ``hh_list_town_ms`` — one page of a town's unreached households, vulnerable first
  (``GET …/households?grid=TOWN&status=unreached``), median of 5.

A province (``WARTIME_BENCH_PROVINCE=N``, full run only): N generated Pingnans in one
Redis, each with its roster: ``hh_province_households``, ``hh_province_import_s`` and
``hh_province_mem_mb``, and ``hh_province_progress_ms`` (households roll-up of one county).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.bench_core import run_alone
from bench.bench_http import request, start_server
from command.access import Actor, Role
from command.generate import generate, province_county
from command.household_roster import generate_households, load_households, write_households
from command.modes import SwitchRequest
from dashboard.auth import Accounts
from streams.county import County
from streams.projector import Projector
from streams.server import Client, connect

TARGETS: dict[str, tuple[str, float]] = {"hh_import_s": ("<=", 60.0)}
OPERATION = "hh-bench"
PASSWORD = "bench-password-1"


def _used(client: Client) -> int:
    return int(client.info("memory")["used_memory"])


def _seed(client: Client, tree: Any) -> tuple[County, Actor]:
    county = County(client, tree.root)
    actor = Actor("bench-commander", Role.COMMANDER, tree.root)
    county.load_registry(tree, None, actor, source="bench")
    county.switch(actor, SwitchRequest(tree.root, "wartime", "flood", "II", "bench"))
    county.launch(actor, "flood_evacuation", tree.root, "转移 benchmark", operation=OPERATION)
    Projector(client, tree.root, consumer="bench", publish=False).catch_up(600)
    return county, actor


def _load(client: Client, county: County, actor: Actor, path: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    roster = load_households(path, county.tree)
    t1 = time.perf_counter()
    county.load_households(roster, actor)
    t2 = time.perf_counter()
    Projector(client, county.code, consumer="bench", publish=False).catch_up(1800)
    t3 = time.perf_counter()
    return {"n": len(roster), "parse": t1 - t0, "append": t2 - t1, "project": t3 - t2}


class _Conn:
    """One keep-alive connection of a client thread."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, json.dumps(body) if body is not None else None, self.headers)
                resp = self.conn.getresponse()
                return resp.status, json.loads(resp.read() or b"null")
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def _http_statuses(port: int, token: str, codes: list[str], threads: int) -> dict[str, Any]:
    """Every code gets one status (10 % sent twice); the answers and latencies."""
    rng = random.Random(3)
    jobs = [(f"b{i}", code, rng.choice(("reached", "evacuated", "safe_in_place"))) for i, code in enumerate(codes)]
    jobs += rng.sample(jobs, len(jobs) // 10)  # resends: duplicates
    rng.shuffle(jobs)
    chunks = [jobs[k::threads] for k in range(threads)]
    lat: list[float] = []
    created: dict[str, str] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def worker(part: list[tuple[str, str, str]]) -> None:
        conn = _Conn(port, token)
        mine: list[float] = []
        for rid, code, status in part:
            t = time.perf_counter()
            st, body = conn.call("POST", f"/api/v1/operations/{OPERATION}/households",
                                 {"report_id": rid, "household": code, "status": status})
            mine.append(time.perf_counter() - t)
            with lock:
                if st == 201:
                    created[code] = status
                elif st != 200:
                    errors.append(f"{st} {body}")
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    took = time.perf_counter() - t0
    assert not errors, errors[:5]
    lat.sort()
    return {"rps": len(jobs) / took, "p50": lat[len(lat) // 2] * 1000, "p99": lat[int(len(lat) * 0.99)] * 1000,
            "created": created, "sent": len(jobs)}


def _read_after_write(port: int, token: str, codes: list[str], root: str) -> float:
    conn = _Conn(port, token)
    took: list[float] = []
    for i, code in enumerate(codes):
        _, before = conn.call("GET", f"/api/v1/operations/{OPERATION}/progress?grid={root}")
        want = before["households"]["unreached"] - 1
        t0 = time.perf_counter()
        st, _ = conn.call("POST", f"/api/v1/operations/{OPERATION}/households",
                          {"report_id": f"w{i}", "household": code, "status": "reached"})
        assert st == 201
        while True:
            _, now = conn.call("GET", f"/api/v1/operations/{OPERATION}/progress?grid={root}")
            if now["households"]["unreached"] <= want:
                break
            time.sleep(0.002)
        took.append((time.perf_counter() - t0) * 1000)
    return statistics.median(took)


def _province(client: Client, counties: int) -> dict[str, float]:
    client.flushall()
    base = _used(client)
    households = 0
    t0 = time.perf_counter()
    last: County | None = None
    for k in range(1, counties + 1):
        tree, _ = province_county(k, geometry=False)
        county, actor = _seed(client, tree)
        roster = generate_households(tree, seed=k)
        county.load_households(roster, actor)
        Projector(client, tree.root, consumer="bench", publish=False).catch_up(1800)
        households += len(roster)
        last = county
        print(f"[households] province: county {k}/{counties} loaded ({households:,} households)", flush=True)
    took = time.perf_counter() - t0
    assert last is not None
    t1 = time.perf_counter()
    last.households.counts(last.tree, OPERATION, [last.tree.root, *last.tree.towns])
    return {"hh_province_households": float(households), "hh_province_import_s": round(took, 1),
            "hh_province_mem_mb": round((_used(client) - base) / 1e6, 1),
            "hh_province_progress_ms": round((time.perf_counter() - t1) * 1000, 1)}


def run(redis_url: str, quick: bool = False) -> dict[str, float]:
    """Pingnan's households: import, memory, HTTP statuses, read-after-write, listing (and a province)."""
    client = connect(redis_url)
    client.flushall()
    tree, _ = generate("pingnan", geometry=False)
    county, actor = _seed(client, tree)
    roster = generate_households(tree)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="wartime-hh-") as d:
        path = write_households(roster, Path(d))
        before = _used(client)
        load = _load(client, county, actor, path)
        grown = _used(client) - before
        print(f"[households] {load['n']:,} households: parse {load['parse']:.1f} s, append {load['append']:.1f} s, "
              f"project {load['project']:.1f} s, +{grown / 1e6:.0f} MB", flush=True)
        out.update({"hh_households": float(load["n"]), "hh_parse_s": round(load["parse"], 2),
                    "hh_append_s": round(load["append"], 2), "hh_project_s": round(load["project"], 2),
                    "hh_import_s": round(load["parse"] + load["append"] + load["project"], 2),
                    "hh_mem_per_100k_mb": round(grown / load["n"] * 1e5 / 1e6, 1)})
        Accounts(county).add("hh-bench", PASSWORD, "commander", tree.root, actor)
        server = start_server(redis_url, Path(d), workers=2)
        try:
            status, body = request(server.port, "POST", "/api/v1/session",
                                   {"username": "hh-bench", "password": PASSWORD})
            assert status == 200, body
            token = body["token"]
            rng = random.Random(7)
            codes = [h.code for h in rng.sample(roster, 3000 if quick else 100_000)]
            before = _used(client)
            got = _http_statuses(server.port, token, codes, threads=32)
            print(f"[households] {got['sent']:,} statuses over HTTP: {got['rps']:.0f}/s, "
                  f"p50 {got['p50']:.1f} ms, p99 {got['p99']:.1f} ms", flush=True)
            deadline = time.monotonic() + 300
            while True:  # the server's projector applies them; then the counts must be exact
                counts = county.households.counts(tree, OPERATION, [tree.root])[tree.root]
                if sum(counts.by_status.values()) >= len(got["created"]) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            want = {s: 0 for s in counts.by_status}
            for s in got["created"].values():
                want[s] += 1
            assert counts.by_status == want, (counts.by_status, want)
            grown = _used(client) - before
            out.update({"hh_status_rps": round(got["rps"], 1), "hh_status_p50_ms": round(got["p50"], 1),
                        "hh_status_p99_ms": round(got["p99"], 1),
                        "hh_status_mem_per_100k_mb": round(grown / len(codes) * 1e5 / 1e6, 1)})
            fresh = [h.code for h in roster if h.code not in got["created"]][:20]
            out["hh_read_after_write_ms"] = round(_read_after_write(server.port, token, fresh, tree.root), 1)
            conn = _Conn(server.port, token)
            town = tree.towns[0]
            took = []
            for _ in range(5):
                t0 = time.perf_counter()
                st, page = conn.call("GET", f"/api/v1/operations/{OPERATION}/households?grid={town}"
                                            "&status=unreached&limit=100")
                took.append((time.perf_counter() - t0) * 1000)
                assert st == 200 and page["items"], page
            out["hh_list_town_ms"] = round(statistics.median(took), 1)
        finally:
            server.stop()
    counties = int(os.environ.get("WARTIME_BENCH_PROVINCE", "0") or 0)
    if counties and not quick:
        out.update(_province(client, counties))
    return out


def main() -> int:
    """Run alone on a throwaway embedded Redis (or --redis URL, which is flushed)."""
    return run_alone(__doc__ or "", run, TARGETS)


if __name__ == "__main__":
    raise SystemExit(main())
