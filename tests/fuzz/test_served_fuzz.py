"""Every route of a real `wartime serve` (gunicorn, its asgi worker, the report fast path) under hostile input.

The routes are read from the app's URL map (API, Dash endpoints, component suites,
pages), so a route added later is fuzzed too. Each gets the same hostile inputs:
integers beyond Python's 4,300-digit limit, lone surrogates, control characters,
deeply nested JSON, wrong types, nulls, invalid UTF-8, over-long paths — in the
body, in the path and in the query. For every request:

* never a 5xx;
* a refusal under /api/ is the JSON error body of DESIGN §5;
* a refusal changed nothing (`Env.fingerprint`: every stream's length and last
  entry, idempotency keys, accounts).

The counts (requests, by status) go to tests/artifacts/hostile-tally.json ("fuzz-served").
"""

from __future__ import annotations

import json
import random
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import Served, start_server
from tests.fuzz.scale import examples
from tests.security.env import LEAF, Env, build_env
from tests.security.tally import tally

SERVED = tally("fuzz-served")

BIG = "9" * 4301
NESTED = "[" * 5000 + "]" * 5000
TEXTS = ['"\\ud800"', '"a\\udfffb"', '"\\u0000\\u001b[2J\\r\\n"', '"' + "长" * 3000 + '"', '"\\u202e=1+1"',
         "null", "true", BIG, "-" + BIG, "1e999", "-1", str(2**63), "[]", "{}", '[null, {"a": []}]']
"""JSON values put in every field."""
RAW = [BIG.encode(), NESTED.encode(), b'{"a":' * 3000 + b"1" + b"}" * 3000, b"\xff\xfe{", b"\xed\xa0\x80",
       b'{"x": "\xed\xa0\x80"}', b"", b"null", b"[]", b'"\\ud800"', b"{" + b'"k":1,' * 2000 + b'"k":2}']
"""Whole bodies."""
FIELDS = ["report_id", "grid", "counts", "note", "reason", "scope", "mode", "incident", "level", "kind", "name",
          "deadline", "targets", "person", "username", "password", "stage", "satisfaction", "step", "to",
          "department", "weights", "quarter", "adjustments", "matter_id", "category", "description", "reporter",
          "reported_at", "concerns", "output", "outputs", "inputs", "state", "changedPropIds"]
PATH_VALUES = ["%ED%A0%80", "%00", "%0d%0aX-Injected:%201", "..%2F..%2Fetc%2Fpasswd", "A" * 9000, "%FF%FE",
               "\u202e", BIG[:500], "null", "op-%F0%9F%98%80"]


@pytest.fixture(scope="module")
def setup(redis_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, Served]]:
    mp = pytest.MonkeyPatch()
    mp.setenv("WARTIME_ALERT_EVERY_S", "86400")  # no scheduled alert appends while we compare logs
    env = build_env(redis_server.url)
    served = start_server(redis_server.url, Path(tmp_path_factory.mktemp("served-fuzz")))
    try:
        yield env, served
    finally:
        served.stop()
        mp.undo()


def _bodies(rng: random.Random) -> list[bytes]:
    out = list(RAW)
    for _ in range(6):
        fields = rng.sample(FIELDS, rng.randint(1, 4))
        out.append(("{" + ",".join(f'"{f}": {rng.choice(TEXTS)}' for f in fields) + "}").encode())
    out.append(json.dumps({"report_id": "fz\n", "grid": LEAF, "counts": {"sampled": 1}}).encode())
    out.append(('{"report_id": "fz-big", "grid": "%s", "counts": {"sampled": %s}}' % (LEAF, BIG)).encode())  # noqa: UP031
    return out


def _paths(rule: Any, env: Env, rng: random.Random) -> list[str]:
    known = {"op": env.op_county, "code": "TC01", "alert": "vacancy:TC01", "round_id": "2025Q2",
             "matter": "m-1", "evaluation": "e-1", "briefing": "b-1", "digest": "x", "scope": "TC"}
    out = []
    for value in [None, *rng.sample(PATH_VALUES, 3)]:
        path = rule.rule
        for name in rule.arguments:
            v = known.get(name, "x") if value is None else value
            path = path.replace(f"<path:{name}>", v).replace(f"<{name}>", v)
            path = path.replace(f"<string:{name}>", v)
        out.append(path)
    return out


def _fingerprint(env: Env) -> Any:
    return env.fingerprint()


def test_every_served_route_answers_hostile_input_without_a_5xx_and_refusals_change_nothing(
    setup: tuple[Env, Served],
) -> None:
    env, served = setup
    rng = random.Random(14)
    rules = sorted((r for r in env.app.server.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule)
    assert len(rules) > 45
    tokens = {u: env.token(u) for u in ("commander", "town1", "leader", "viewer")}
    by_status: Counter[str] = Counter()
    failures: list[Any] = []
    http = requests.Session()
    bodies = _bodies(rng)
    per_rule = examples(12)
    for rule in rules:
        methods = sorted((rule.methods or set()) - {"OPTIONS", "HEAD"})
        for path in _paths(rule, env, rng):
            for method in methods:
                picks = rng.sample(bodies, min(per_rule, len(bodies))) if method != "GET" else [b""] * 2
                for raw in picks:
                    query = {rng.choice(["grid", "scope", "format", "lang", "at", "limit", "open", "token"]):
                             rng.choice(["\ud800", BIG, "\x00\x1b", "-1", "html", "A" * 3000])}
                    qs = urllib.parse.urlencode(query, encoding="utf-8", errors="surrogatepass")
                    who = rng.choice([*tokens, None])
                    headers = {"Content-Type": rng.choice(["application/json", "text/plain", ""])}
                    if who:
                        headers["Authorization"] = f"Bearer {tokens[who]}"
                    before = _fingerprint(env)
                    try:
                        r = http.request(method, f"{served.url}{path}?{qs}", data=raw or None, headers=headers,
                                         timeout=60)
                    except requests.ConnectionError:  # a closed keep-alive after a refusal: once more
                        http = requests.Session()
                        r = http.request(method, f"{served.url}{path}?{qs}", data=raw or None, headers=headers,
                                         timeout=60)
                    by_status[str(r.status_code)] += 1
                    SERVED.add(str(r.status_code))
                    where = (method, path[:120], qs[:80], raw[:80], r.status_code, r.content[:200])
                    if r.status_code >= 500:
                        failures.append(("5xx", *where))
                        continue
                    if r.status_code < 400:
                        continue
                    if path.startswith("/api/"):
                        try:
                            err = r.json()["error"]
                            assert isinstance(err["code"], str) and isinstance(err["message"], str)
                        except (ValueError, KeyError, TypeError, AssertionError):
                            failures.append(("not the JSON error body", *where))
                    if _fingerprint(env) != before:
                        failures.append(("a refusal changed state", *where))
    total = sum(by_status.values())
    print(f"served fuzz: {total} requests over {len(rules)} routes; by status {dict(sorted(by_status.items()))}")
    assert not failures, sorted({(f[0], f[1], f[2]) for f in failures})[:20]
    assert total > 1000


VALUES: list[Any] = [None, [], {}, "", "\ud800", "\x00\x1b[2J", "A" * 5000, 10**300, -(10**18), 1e308, -1, 0, True,
                     [None], {"a": {"b": [1, "x"]}}, [[[[[[]]]]]], "TC01", "op-x", "2025Q2"]
"""Values put in a callback's inputs and state (what a forged request or a stale browser store sends)."""


def _dep(spec: str) -> dict[str, Any]:
    ident, _, prop = spec.rpartition(".")
    return {"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop.split("@")[0]}


def _is_pattern(dep: dict[str, Any]) -> bool:
    """A pattern-matching dependency (its id holds ALL, MATCH or ALLSMALLER): sent as an empty list."""
    ident = dep.get("id")
    return isinstance(ident, dict) and any(isinstance(v, list | dict) or v in ("ALL", "MATCH", "ALLSMALLER")
                                           for v in ident.values())


def test_every_callback_takes_hostile_values_without_a_5xx(setup: tuple[Env, Served]) -> None:
    """Each page callback, called as a browser would but with null, wrong-typed and hostile values."""
    env, served = setup
    rng = random.Random(7)
    http = requests.Session()
    for page in ("/", "/console", "/field", "/review", "/peacetime", "/field/matters"):
        http.get(served.url + page, timeout=60)  # pages register their callbacks on import
    callbacks = dict(env.app.callback_map)
    assert len(callbacks) > 20
    session = {"token": env.token("town1"), "username": "town1", "role": "commander", "scope": "TC01"}
    by_status: Counter[str] = Counter()
    failures = []
    for output, spec in sorted(callbacks.items()):
        outputs = [_dep(o) for o in output.strip(".").split("...")] if output.startswith("..") else [_dep(output)]
        deps = {"inputs": spec.get("inputs", []), "state": spec.get("state", [])}
        for _ in range(examples(8)):
            body: dict[str, Any] = {"output": output, "outputs": outputs if len(outputs) > 1 else outputs[0]}
            for kind, items in deps.items():
                body[kind] = []
                for d in items:
                    dep = {"id": d["id"], "property": d["property"]}
                    if _is_pattern(dep):
                        body[kind].append([])
                        continue
                    value = session if d["id"] == "session" and rng.random() < 0.5 else rng.choice(VALUES)
                    body[kind].append({**dep, "value": value})
            first = body["inputs"][0] if body["inputs"] and isinstance(body["inputs"][0], dict) else None
            body["changedPropIds"] = [f"{first['id']}.{first['property']}"] if first else []
            raw = json.dumps(body, ensure_ascii=True).encode("utf-8", "surrogatepass")
            r = http.post(f"{served.url}/_dash-update-component", data=raw, timeout=60,
                          headers={"Content-Type": "application/json"})
            by_status[str(r.status_code)] += 1  # 404: a clientside callback (it runs in the browser only)
            SERVED.add(f"callback {r.status_code}")
            if r.status_code >= 500:
                failures.append((output[:100], raw[:300], r.content[:200]))
    print(f"callback fuzz: {sum(by_status.values())} requests over {len(callbacks)} callbacks; "
          f"by status {dict(sorted(by_status.items()))}")
    assert not failures, "\n".join(sorted({f[0] for f in failures}))
