"""Hypothesis fuzzing of every /api/v1 route: bodies, query parameters, path ids, tokens, sources.

The routes are read from the app's URL map, so a route added later is fuzzed
too. Inputs mix what the API expects (real grid codes, operation ids, kinds,
counters) with what an attacker sends (wrong types, huge and deeply nested
JSON, NaN, lone surrogates, markup, formulas, path tricks, binary bodies, odd
content types, forged tokens). For every input:

* the answer is never a 5xx — the server was not up-ended;
* a refusal (4xx) is a JSON ``{error: {code, message}}`` naming what was wrong;
* a refusal changed nothing: the log, the idempotency keys, the accounts, the
  grants and the signing key are exactly as before (`Env.fingerprint`).

How many inputs ran is counted per route in tests/artifacts/hostile-tally.json.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from command.access import Actor, Role
from streams.server import EmbeddedRedis
from tests.fuzz.scale import examples
from tests.security.env import LEAF, OTHER_LEAF, TOWN2_LEAF, Env, build_env
from tests.security.tally import tally

FUZZ = tally("fuzz-api")
OUTCOMES = tally("fuzz-api-outcomes")

HOSTILE = [
    "", " ", "\x00", "\n", "\ud800", "\udfff", "\ufeff", "\u202e", "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>", "=1+1", "=cmd|'/c calc'!A0", "@SUM(A1)", "../../../etc/passwd",
    "..%2f..%2f", "%00", "' OR '1'='1", "{{7*7}}", "${jndi:ldap://x/a}", "A" * 5000, "长" * 600,
    "-1", "1e309", "NaN", "null", "true", "0x10", "9" * 40, "TC", "TC01", LEAF, "op-", "*", "?", "#", "wt:{TC}:users",
]
KEYS = [
    "report_id", "grid", "counts", "note", "reason", "scope", "mode", "incident", "level", "kind", "name",
    "deadline", "targets", "person", "username", "password", "dry_run", "request_id", "round", "concerns",
    "category", "description", "reporter", "photo", "reported_at", "stage", "satisfaction", "step", "to",
    "department", "weights", "quarter", "adjustments", "matter_id",
]
QUERY_KEYS = [
    "grid", "scope", "op", "format", "lang", "open", "token", "round", "operation", "original", "dry_run", "at",
    "stage", "category", "level", "overdue", "since", "until", "limit", "offset", "quarter",
]
COUNTERS = ["sampled", "people_evacuated", "hazard_points_checked", "households_checked", "hazards_found", "x"]
CONTENT_TYPES = ["application/json", "application/json; charset=utf-16", "text/plain", "application/xml",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]


@pytest.fixture(scope="module")
def env(redis_server: EmbeddedRedis) -> Iterator[Env]:
    yield build_env(redis_server.url)


def _known(env: Env) -> list[Any]:
    grids = [LEAF, OTHER_LEAF, TOWN2_LEAF, "TC", "TC01", "TC02", "TC01-L1-M1-S2", "TC02-L2-M2-S2-W2"]
    return [*grids, env.op_county, env.op_town2, "mass_testing", "flood_evacuation", "fire_hazard_check",
            "wartime", "peacetime", "epidemic", "flood", "I", "II", "IV", "V", "html", "csv", "xlsx", "pdf", "json",
            "en", "zh-CN", "2025Q2", "1", "0", 1, 0, -1, 10**6, 10**7, True, False, None, "none"]


text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), text)
json_value = st.recursive(scalar, lambda c: st.lists(c, max_size=4) | st.dictionaries(text, c, max_size=4),
                          max_leaves=12)


def raw_bodies() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=200),
        st.sampled_from([
            b"[" * 30_000, b'{"a":' * 20_000, b"[" * 70_000, b"x" * 70_000, b"\xff\xfe\x00{", b"\xef\xbb\xbf{}",
            '{"report_id":"a"}'.encode("utf-16"), b'{"a":1,"a":2}', b"{}" * 3, b"nul\x00l", b"1e99999", b"-0",
            b'"\\ud800"', b'{"counts":{"sampled":1e999}}', b"[]", b"null", b"true", b'""',
        ]),
    )


@st.composite
def requests_(draw: st.DrawFn, env: Env, rules: list[Any]) -> dict[str, Any]:
    known = _known(env)
    rule = draw(st.sampled_from(rules))
    methods = sorted(rule.methods - {"OPTIONS"})
    method = draw(st.sampled_from(methods))
    args = {}
    for name in rule.arguments:
        v = draw(st.one_of(st.sampled_from([k for k in known if isinstance(k, str)]), text))
        args[name] = urllib.parse.quote(v.encode("utf-8", "surrogatepass"), safe="/" if name == "unknown" else "")
    path = rule.rule
    for name, v in args.items():
        path = path.replace(f"<{name}>", v).replace(f"<path:{name}>", v)
    path = path.replace("<string:", "<").replace("<path:", "<")
    value = st.one_of(st.sampled_from(known), json_value)
    counts = st.dictionaries(st.one_of(st.sampled_from(COUNTERS), text), st.one_of(st.integers(-20, 20), scalar),
                             max_size=3)
    body_dict = st.dictionaries(st.sampled_from(KEYS), st.one_of(value, counts), max_size=8)
    body_kind = draw(st.sampled_from(["none", "dict", "dict", "json", "raw"])) if method != "GET" else "none"
    body: bytes | None = None
    if body_kind == "dict":
        body = json.dumps(draw(body_dict)).encode()
    elif body_kind == "json":
        body = json.dumps(draw(json_value)).encode()
    elif body_kind == "raw":
        body = draw(raw_bodies())
    query = draw(st.dictionaries(st.one_of(st.sampled_from(QUERY_KEYS), text),
                                 st.one_of(st.sampled_from([str(k) for k in known]), text), max_size=4))
    return {
        "method": method, "path": path, "rule": rule.rule, "body": body, "query": query,
        "who": draw(st.sampled_from(["commander", "town1", "leader", "viewer", "exporter", None, "garbage",
                                     "expired", "kiosk"])),
        "content_type": draw(st.sampled_from(CONTENT_TYPES)),
        "source": str(draw(st.ip_addresses())),
    }


def _token(env: Env, who: str | None) -> str | None:
    if who is None:
        return None
    if who == "garbage":
        return "eyJ1IjoiY29tbWFuZGVyIn0.AAAA"
    if who == "expired":
        return env.token("commander", ttl_s=-5)
    if who == "kiosk":
        return str(env.accounts.issue(Actor("commander", Role.VIEWER, "TC"), kind="kiosk"))
    return env.token(who)


def _q(v: Any) -> str:
    return urllib.parse.quote(str(v).encode("utf-8", "surrogatepass"), safe="")


def check(env: Env, req: dict[str, Any]) -> int:
    """Send one fuzzed request and check the three promises; returns the status."""
    before = env.fingerprint()
    headers = {"Content-Type": req["content_type"]} if req["content_type"] else {}
    tok = _token(env, req["who"])
    if tok is not None:
        headers["Authorization"] = f"Bearer {tok}"
    query = "&".join(f"{_q(k)}={_q(v)}" for k, v in req["query"].items())  # bytes a browser could send
    r = env.client.open(req["path"], method=req["method"], data=req["body"], headers=headers,
                        query_string=query, environ_base={"REMOTE_ADDR": req["source"]})
    FUZZ.add(f"{req['method']} {req['rule']}")
    OUTCOMES.add(str(r.status_code))
    assert r.status_code < 500, (req["method"], req["path"], req["query"], (req["body"] or b"")[:200],
                                 r.status_code, r.get_data()[:300])
    if r.status_code >= 400 and req["method"] != "HEAD":
        err = (r.get_json(silent=True) or {}).get("error")
        assert isinstance(err, dict) and isinstance(err.get("code"), str) and isinstance(err.get("message"), str), (
            req["path"], r.status_code, r.get_data()[:300])
        assert env.fingerprint() == before, ("a refused request changed state", req["method"], req["path"],
                                            (req["body"] or b"")[:200], r.status_code, r.get_data()[:300])
    return int(r.status_code)


def _api_rules(env: Env) -> list[Any]:
    return [r for r in env.app.server.url_map.iter_rules() if r.rule.startswith("/api/v1")]


def test_every_api_route_answers_any_input_without_a_5xx_and_refusals_change_nothing(env: Env) -> None:
    rules = _api_rules(env)
    assert len(rules) > 40
    for rule in sorted(rules, key=lambda r: r.rule):  # every route, whatever the draw

        @settings(max_examples=examples(10), deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.function_scoped_fixture])
        @given(req=requests_(env, [rule]))
        def one_route(req: dict[str, Any]) -> None:
            check(env, req)

        one_route()
    reached = {k.split(" ", 1)[1] for k in FUZZ.counts}
    assert {r.rule for r in rules} - reached == set()


def test_requests_across_all_routes_answer_without_a_5xx_and_refusals_change_nothing(env: Env) -> None:
    rules = _api_rules(env)

    @settings(max_examples=examples(300), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(req=requests_(env, rules))
    def run(req: dict[str, Any]) -> None:
        check(env, req)

    run()


@st.composite
def report_bodies(draw: st.DrawFn, env: Env) -> dict[str, Any]:
    body: dict[str, Any] = {
        "report_id": draw(st.one_of(st.from_regex(r"[A-Za-z0-9_.:\-]{1,100}", fullmatch=True), text, scalar)),
        "grid": draw(st.one_of(st.sampled_from([LEAF, OTHER_LEAF, TOWN2_LEAF, "TC01-L1-M1-S1", "TC"]), text, scalar)),
        "counts": draw(st.one_of(
            st.dictionaries(st.sampled_from(COUNTERS), st.integers(-(10**7), 10**7), min_size=1, max_size=2),
            st.dictionaries(st.one_of(st.sampled_from(COUNTERS), text), scalar, max_size=3), json_value)),
    }
    for k in ("note", "reason"):
        if draw(st.booleans()):
            body[k] = draw(st.one_of(text, scalar, st.text(min_size=490, max_size=510)))
    for k in draw(st.lists(st.sampled_from(list(body)), max_size=2)):
        body.pop(k, None)
    return body


def test_report_bodies_are_counted_exactly_or_refused_without_a_trace(env: Env) -> None:
    """Near-valid reports: an accepted one appends exactly one entry, a refused one nothing."""
    from streams.keys import TownKeys

    towns = [TownKeys(t).log for t in env.tree.towns]

    @settings(max_examples=examples(250), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(body=report_bodies(env), who=st.sampled_from(["commander", "leader", "town1", "viewer"]),
           op=st.sampled_from([env.op_county, env.op_town2]))
    def run(body: dict[str, Any], who: str, op: str) -> None:
        before = sum(env.redis.xlen(t) for t in towns)
        status = check(env, {"method": "POST", "path": f"/api/v1/operations/{op}/reports",
                             "rule": "/api/v1/operations/<op>/reports (near-valid)", "body": json.dumps(body).encode(),
                             "query": {}, "who": who, "content_type": "application/json", "source": "10.1.1.1"})
        after = sum(env.redis.xlen(t) for t in towns)
        assert after - before == (1 if status == 201 else 0), (status, body)

    run()


def test_login_answers_any_body_with_401_or_422(env: Env) -> None:
    @settings(max_examples=examples(60), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(body=st.one_of(
        st.fixed_dictionaries({"username": st.one_of(st.sampled_from(["commander", "viewer", ""]), text, scalar),
                               "password": st.one_of(text, scalar, json_value)}),
        json_value.map(lambda v: {"username": v}), st.dictionaries(text, json_value, max_size=3)),
        source=st.ip_addresses())
    def run(body: Any, source: Any) -> None:
        status = check(env, {"method": "POST", "path": "/api/v1/session", "rule": "/api/v1/session (login)",
                             "body": json.dumps(body).encode(), "query": {}, "who": None,
                             "content_type": "application/json", "source": str(source)})
        assert status in (400, 401, 413, 422)

    run()
