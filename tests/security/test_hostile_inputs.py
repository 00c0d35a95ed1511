"""Issue 14 items 2, 3, 7 and 8: poison at the door and in the log, half a close, 500s that are 4xx.

Through the app `wartime serve` runs (Flask's test client over the real test Redis,
see tests/security/env.py). Every refusal must be the JSON error body of DESIGN §5
and change nothing (`Env.fingerprint`: every stream, idempotency keys, accounts).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from command.bounds import MAX_TARGET
from command.events import BriefingIssued, OperationClosed, OperationLaunched, ProgressReported, encode
from dashboard.audit import Entry, format_entry
from streams.alerting import issue_briefings
from streams.keys import TownKeys
from streams.projector import Projector
from streams.server import EmbeddedRedis
from tests.security.env import LEAF, TOWN2_LEAF, Env, build_env

BIG = "1" * 5000
"""An integer of more than Python's 4,300-digit int-string limit."""


@pytest.fixture
def env(redis_server: EmbeddedRedis) -> Iterator[Env]:
    yield build_env(redis_server.url)


def refused(r: Any, status: int | tuple[int, ...], field: str | None = None) -> dict[str, Any]:
    """The JSON error body of a refusal with that status (naming `field` when given)."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, r.get_data()[:300])
    assert r.mimetype == "application/json", r.get_data()[:300]
    err = r.get_json()["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str)
    if field is not None:
        assert err["field"] == field, err
    return dict(err)


def raw_post(env: Env, path: str, raw: str | bytes, user: str = "commander") -> Any:
    return env.call("POST", path, user, data=raw, headers={"Content-Type": "application/json"})


def closed_sets(env: Env) -> list[set[bytes]]:
    return [env.redis.smembers(TownKeys(t).closed) for t in env.tree.towns]


# -- item 2: poison at the door ------------------------------------------------------------


@pytest.mark.parametrize("extra", [
    {"deadline": 2**63}, {"deadline": -1}, {"deadline": 0}, {"deadline": 10**20},
    {"targets": {"sampled": 10**30}}, {"targets": {"sampled": MAX_TARGET + 1}},
    {"targets": {"TC01-L1": {"sampled": 10**30}}}, {"targets": {"sampled": -5}},
    {"name": "名" * 201}, {"name": "a\x00b"},
])
def test_each_poison_value_is_refused_with_422_and_changes_nothing(env: Env, extra: dict[str, Any]) -> None:
    before = env.fingerprint()
    r = env.call("POST", "/api/v1/operations", "commander",
                 json_body={"kind": "mass_testing", "scope": "TC01", "name": "核酸", **extra})
    field = next(iter(extra))
    err = refused(r, (413, 422))
    assert err["field"].startswith(field), err
    assert env.fingerprint() == before


def test_a_sane_deadline_and_target_are_accepted(env: Env) -> None:
    r = env.call("POST", "/api/v1/operations", "commander", json_body={
        "kind": "mass_testing", "scope": "TC01", "name": "核酸", "deadline": int(time.time() * 1000) + 86_400_000,
        "targets": {"sampled": 5000}})
    assert r.status_code == 201, r.get_data()


def test_bounds_hold_for_switches_appointments_matters_and_contact_rounds(env: Env) -> None:
    before = env.fingerprint()
    refused(env.call("POST", "/api/v1/modes", "commander",
                     json_body={"scope": "TC01", "mode": "peacetime", "reason": "x\x1b[2J"}), 422, "reason")
    vacancy = next(g for g in sorted(env.county.refresh().vacancies) if g.startswith("TC01"))
    refused(env.call("POST", "/api/v1/secretaries", "commander",
                     json_body={"grid": vacancy, "person": "张三\n李四"}), 422, "person")
    refused(env.call("POST", "/api/v1/matters", "commander", json_body={
        "grid": LEAF, "category": "dispute", "description": "漏水", "reported_at": 2**63}), 422, "reported_at")
    refused(env.call("POST", "/api/v1/matters", "commander", json_body={
        "grid": LEAF, "category": "dispute", "description": "漏水", "reporter": "a\u2028b"}), 422, "reporter")
    assert env.fingerprint() == before


# -- item 2: poison already in the log --------------------------------------------------------


def test_a_poisoned_launch_in_the_log_is_rendered_in_every_format_and_marked(env: Env, tmp_path: Path) -> None:
    """Events written before the bounds (appended here bypassing validation) never kill a reader."""
    now = int(time.time() * 1000)
    for op, deadline in (("op-p63", 2**63), ("op-pneg", -1)):
        ev = OperationLaunched(operation=op, kind="mass_testing", scope="TC01", name="旧事件", deadline=deadline,
                               targets={"sampled": 10**30, "TC01-L1": {"sampled": -7}})
        env.redis.xadd(env.county.keys.log, encode(ev, actor="old", at=now))
    town = TownKeys(env.tree.town_of(LEAF) or "").log
    bad = ProgressReported(operation="op-p63", grid=LEAF, counts={"sampled": 5}, report_id="old-1",
                           note="旧\x00备注\x1b[31m")
    env.redis.xadd(town, encode(bad, actor="old", at=now))
    Projector(env.county.client, "TC", consumer="poison", publish=False).catch_up()
    for op in ("op-p63", "op-pneg"):
        for fmt in ("html", "csv", "xlsx", "pdf"):
            r = env.call("GET", f"/api/v1/operations/{op}/report", "commander", query={"format": fmt})
            assert r.status_code == 200, (op, fmt, r.status_code, r.get_data()[:300])
            if fmt == "html":
                doc = r.get_data()
                assert b"\x00" not in doc and b"\x1b" not in doc
        progress = env.call("GET", f"/api/v1/operations/{op}/progress", "commander")
        assert progress.status_code == 200, progress.get_data()[:300]
        assert progress.get_json()["targets"]["sampled"] == MAX_TARGET  # clamped, not 10**30
        for what in ("timeline", "state"):
            r = env.call("GET", f"/api/v1/operations/{op}/{what}", "commander")
            assert r.status_code < 500, (what, r.get_data()[:300])
    listed = {o["id"]: o for o in env.call("GET", "/api/v1/operations", "town1").get_json()["operations"]}
    assert listed["op-p63"]["deadline"] is None and listed["op-p63"]["damaged"] == ["deadline", "targets"]
    assert "damaged" not in listed[env.op_county]
    assert env.call("GET", "/api/v1/board", "town1").status_code == 200
    out = tmp_path / "r.html"
    done = subprocess.run([sys.executable, "-m", "dashboard.cli", "report", "op-p63", "--format", "html",
                           "--out", str(out), "--redis", env.url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert out.stat().st_size > 0


def test_a_briefing_logged_with_a_poisoned_deadline_renders(env: Env) -> None:
    issue_briefings(env.county, int(time.time() * 1000))
    st = env.county.refresh()
    b = next(iter(st.briefings.values()))
    content = json.loads(json.dumps(dict(b.content)))
    content["operation"]["deadline"] = 2**63
    content["projected_at"] = -(2**62)
    old = BriefingIssued(briefing="old-poisoned", operation=b.operation, date=b.date, content=content)
    env.redis.xadd(env.county.keys.log, encode(old, actor="old", at=int(time.time() * 1000)))
    for fmt in ("json", "html", "csv"):
        r = env.call("GET", "/api/v1/briefings/old-poisoned", "commander", query={"format": fmt})
        assert r.status_code == 200, (fmt, r.get_data()[:300])


def test_poisoned_reports_in_the_log_are_skipped_alike_by_every_reader(env: Env) -> None:
    """Old reports no command accepts (huge, text, fractional counts) hold up no town and kill no reader."""
    now = int(time.time() * 1000)
    town = TownKeys(env.tree.town_of(LEAF) or "").log
    before = env.call("GET", f"/api/v1/operations/{env.op_county}/progress", "commander",
                      query={"grid": LEAF}).get_json()["counts"]["sampled"]
    for i, counts in enumerate([{"sampled": 10**30}, {"sampled": "abc"}, {"sampled": 2.5}, {"sampled": True}]):
        ev = ProgressReported(operation=env.op_county, grid=LEAF, counts=counts, report_id=f"poison-{i}")
        env.redis.xadd(town, encode(ev, actor="old", at=now))
    good = ProgressReported(operation=env.op_county, grid=LEAF, counts={"sampled": 2}, report_id="after-poison")
    env.redis.xadd(town, encode(good, actor="old", at=now))
    Projector(env.county.client, "TC", consumer="poison-reports", publish=False).catch_up(timeout_s=30)
    progress = env.call("GET", f"/api/v1/operations/{env.op_county}/progress", "commander", query={"grid": LEAF})
    assert progress.get_json()["counts"]["sampled"] == before + 2  # the town went on past the poison
    for fmt in ("html", "csv", "xlsx", "pdf"):
        r = env.call("GET", f"/api/v1/operations/{env.op_county}/report", "commander", query={"format": fmt})
        assert r.status_code == 200, (fmt, r.get_data()[:300])
    csv_text = env.call("GET", f"/api/v1/operations/{env.op_county}/report", "commander",
                        query={"format": "csv", "lang": "en"}).get_data(as_text=True)
    assert "1000000000000000000000000000000" not in csv_text
    for path in (f"/api/v1/operations/{env.op_county}/timeline", "/api/v1/board"):
        r = env.call("GET", path, "commander")
        assert r.status_code == 200, (path, r.get_data()[:300])


def test_control_entries_no_event_type_takes_are_skipped_and_marked(env: Env) -> None:
    now = str(int(time.time() * 1000))
    bad = [{"t": "operation_launched", "d": "{}"}, {"t": "no_such_event", "d": "{}"},
           {"t": "alert_raised", "d": b'{"alert": "a\xff", "kind": "k", "grid": "TC01"}'},
           {"t": "mode_switched", "d": "not json"}, {"t": "alert_cleared", "d": "[1]"}]
    ids = [env.redis.xadd(env.county.keys.log, {"v": "1", "a": "old", "at": now, "k": "", **f}).decode() for f in bad]
    for path in ("/api/v1/operations", f"/api/v1/operations/{env.op_county}/report?format=html", "/api/v1/board",
                 "/api/v1/alerts", f"/api/v1/operations/{env.op_county}/progress", "/api/v1/grids/TC01"):
        r = env.call("GET", path, "commander")
        assert r.status_code == 200, (path, r.status_code, r.get_data()[:300])
    assert env.county.refresh().unreadable == ids
    r = env.call("POST", "/api/v1/operations", "commander", json_body={"kind": "mass_testing", "scope": "TC01",
                                                                       "name": "照常发布"})
    assert r.status_code == 201, r.get_data()


# -- item 3: half a close ---------------------------------------------------------------------


def test_a_refused_close_changes_nothing(env: Env) -> None:
    op = env.op_town2
    before, sets = env.fingerprint(), closed_sets(env)
    err = refused(raw_post(env, f"/api/v1/operations/{op}/close", '{"reason": "\\ud800"}'), 422, "reason")
    assert "surrogate" in err["message"]
    refused(raw_post(env, f"/api/v1/operations/{op}/close", '{"reason": "a\\u0000b"}'), 422, "reason")
    refused(raw_post(env, f"/api/v1/operations/{op}/close", '{"reason": ' + BIG + "}"), 400, "body")
    assert env.fingerprint() == before and closed_sets(env) == sets
    assert env.call("GET", f"/api/v1/operations/{op}/progress", "commander").get_json()["state"] == "open"
    r = env.call("POST", f"/api/v1/operations/{op}/reports", "commander",
                 json_body={"report_id": "after-refused-close", "grid": TOWN2_LEAF, "counts": {"sampled": 1}})
    assert r.status_code == 201, r.get_data()


def test_a_close_that_died_after_its_event_is_completed_by_the_projector(env: Env) -> None:
    """The event is the truth: the towns learn the closure from the log even if the closer died."""
    op = env.op_town2
    env.redis.xadd(env.county.keys.log, encode(OperationClosed(operation=op), actor="died", at=0,
                                               key=f"close:{op}"))
    assert all(op.encode() not in s for s in closed_sets(env))  # the close's process died right here
    Projector(env.county.client, "TC", consumer="reconcile", publish=False).catch_up()
    assert all(op.encode() in s for s in closed_sets(env))
    r = env.call("POST", f"/api/v1/operations/{op}/reports", "commander",
                 json_body={"report_id": "after-close", "grid": TOWN2_LEAF, "counts": {"sampled": 1}})
    refused(r, 409, "operation")


def test_a_close_appends_its_event_then_refuses_reports(env: Env) -> None:
    op = env.op_town2
    r = env.call("POST", f"/api/v1/operations/{op}/close", "commander", json_body={"reason": "完成"})
    assert r.status_code == 200, r.get_data()
    assert all(op.encode() in s for s in closed_sets(env))
    refused(env.call("POST", f"/api/v1/operations/{op}/reports", "commander",
                     json_body={"report_id": "late", "grid": TOWN2_LEAF, "counts": {"sampled": 1}}), 409)


# -- item 7: 500 where a 4xx belongs ----------------------------------------------------------


def test_an_integer_beyond_the_digit_limit_is_a_400_on_every_post_route(env: Env) -> None:
    rules = [r for r in env.app.server.url_map.iter_rules()
             if r.rule.startswith("/api/v1") and "POST" in (r.methods or ()) and "<path:" not in r.rule]
    assert len(rules) >= 15
    before = env.fingerprint()
    for rule in rules:
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", {"op": env.op_county, "round_id": "2025Q2"}.get(arg, "x"))
        for raw in ('{"scope": ' + BIG + "}", '{"counts": {"sampled": ' + BIG + "}}", "[" + BIG + "]"):
            user = None if rule.rule == "/api/v1/session" else "commander"
            r = raw_post(env, path, raw, user) if user else env.call(
                "POST", path, data=raw, headers={"Content-Type": "application/json"})
            assert r.status_code < 500, (path, r.status_code, r.get_data()[:300])
            refused(r, (400, 401, 403, 404, 409, 413, 422))
    assert env.fingerprint() == before


SURROGATE_FIELDS = [
    ("/api/v1/operations", {"kind": "mass_testing", "scope": "TC01"}, "name"),
    ("/api/v1/modes", {"scope": "TC01", "mode": "peacetime"}, "reason"),
    ("/api/v1/levels", {"scope": "TC01", "level": "I"}, "reason"),
    ("/api/v1/secretaries", {"grid": "TC01-L1-M1-S2"}, "person"),
    ("/api/v1/operations/{op}/reports", {"report_id": "s1", "grid": LEAF, "counts": {"sampled": 1}}, "note"),
    ("/api/v1/operations/{op}/reports", {"report_id": "s2", "grid": LEAF, "counts": {"sampled": -1}}, "reason"),
    ("/api/v1/operations/{op}/close", {}, "reason"),
    ("/api/v1/matters", {"grid": LEAF, "category": "dispute"}, "description"),
    ("/api/v1/matters", {"grid": LEAF, "category": "dispute", "description": "漏水"}, "reporter"),
    ("/api/v1/session", {"password": "x"}, "username"),
    ("/api/v1/kiosk", {}, "scope"),
]


@pytest.mark.parametrize(("path", "fields", "name"), SURROGATE_FIELDS)
def test_a_lone_surrogate_in_a_text_field_is_a_422_naming_it(env: Env, path: str, fields: dict[str, Any],
                                                             name: str) -> None:
    before = env.fingerprint()
    raw = json.dumps({**fields, name: "PLACEHOLDER"}).replace("PLACEHOLDER", "ab\\udc80")
    user = None if path == "/api/v1/session" else "commander"
    r = env.call("POST", path.format(op=env.op_county), user, data=raw, headers={"Content-Type": "application/json"})
    refused(r, 422, name)
    assert env.fingerprint() == before


def test_a_valid_surrogate_pair_is_text(env: Env) -> None:
    raw = json.dumps({"report_id": "emoji-1", "grid": LEAF, "counts": {"sampled": 1}, "note": "\U0001F600"})
    assert "\\ud83d\\ude00" in raw  # sent as an escaped (valid) surrogate pair
    r = raw_post(env, f"/api/v1/operations/{env.op_county}/reports", raw)
    assert r.status_code == 201, r.get_data()


@pytest.mark.parametrize("path", [
    "/_dash-component-suites/nope/x.js", "/_dash-component-suites/dash/dcc/nope.v1m1.js",
    "/_dash-component-suites/dash/../../../etc/passwd",
])
def test_an_unknown_component_suite_file_is_a_404(env: Env, path: str) -> None:
    refused(env.call("GET", path), 404)


def test_an_over_long_url_is_a_json_414(env: Env) -> None:
    refused(env.call("GET", "/api/v1/grids/" + "A" * 9000, "commander"), 414, "path")


def _dash(env: Env, output: str, outputs: list[tuple[str, str]], inputs: list[tuple[str, str, Any]],
          state: list[tuple[str, str, Any]] = ()) -> Any:  # type: ignore[assignment]
    body = {
        "output": output,
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
    }
    return env.client.post("/_dash-update-component", json=body)


@pytest.mark.parametrize("cfg", [None, [], "x", {"token": 5, "scope": ["TC"], "lang": None}])
def test_the_peacetime_callbacks_take_null_and_forged_inputs(env: Env, cfg: Any) -> None:
    env.client.get("/peacetime")  # the page's callbacks are registered with its module
    outs = [("peace-login-wrap", "style"), ("peace-app", "style"), ("peace-map", "figure"), ("peace-areas", "data")]
    r = _dash(env, "..peace-login-wrap.style...peace-app.style...peace-map.figure...peace-areas.data..", outs,
              [("session", "data", None), ("peace-cfg", "data", cfg)])
    assert r.status_code in (200, 204), r.get_data()[:300]
    refresh = next(k for k in env.app.callback_map if "peace-kpis.children" in k)
    outs2 = [tuple(n.split("@")[0].split(".", 1)) for n in refresh.strip(".").split("...")]
    r = _dash(env, refresh, outs2,  # type: ignore[arg-type]
              [("peace-areas", "data", cfg), ("peace-tick", "n_intervals", None)],
              [("session", "data", None), ("peace-cfg", "data", cfg)])
    assert r.status_code in (200, 204), r.get_data()[:300]


def test_a_forged_callback_request_is_a_404(env: Env) -> None:
    refused(_dash(env, "..nope.children..", [("nope", "children")], [("session", "data", None)]), 404)


# -- item 8: smaller --------------------------------------------------------------------------


def test_a_matters_stage_does_not_leak_outside_its_scope(env: Env) -> None:
    r = env.call("POST", "/api/v1/matters", "leader",
                 json_body={"grid": LEAF, "category": "dispute", "description": "邻里纠纷"})
    assert r.status_code == 201, r.get_data()
    mid = r.get_json()["matter_id"]
    for stage in ("published", "handled", "evaluated", "deliberated"):
        err = refused(env.call("POST", f"/api/v1/matters/{mid}/stages", "town2", json_body={"stage": stage}), 403)
        assert "collected" not in err["message"], err
    err = refused(env.call("POST", f"/api/v1/matters/{mid}/handovers", "town2",
                           json_body={"step": "report", "to": "town", "reason": "x"}), 403)
    assert "collected" not in err["message"]


def test_an_ack_with_a_malformed_body_is_refused_and_acknowledges_nothing(env: Env) -> None:
    alert = next(a for a in env.call("GET", "/api/v1/alerts", "commander").get_json()["alerts"] if not a["acked_by"])
    before = env.fingerprint()
    for raw in ("{not json", "[1, 2]", '"ack"', "\xff"):
        refused(raw_post(env, f"/api/v1/alerts/{alert['id']}/ack", raw), 400, "body")
    assert env.fingerprint() == before
    assert env.call("GET", f"/api/v1/alerts/{alert['id']}", "commander").get_json()["acked_by"] is None
    r = env.call("POST", f"/api/v1/alerts/{alert['id']}/ack", "commander")
    assert r.status_code == 200 and r.get_json()["acked_by"] == "commander"


@pytest.mark.parametrize("report_id", ["abc\n", "abc\r\n", "\nabc", "a b", "a\x00"])
def test_a_report_id_is_matched_whole(env: Env, report_id: str) -> None:
    before = env.fingerprint()
    r = env.call("POST", f"/api/v1/operations/{env.op_county}/reports", "commander",
                 json_body={"report_id": report_id, "grid": LEAF, "counts": {"sampled": 1}})
    refused(r, 422, "report_id")
    assert env.fingerprint() == before


def test_an_audit_line_shows_control_characters_escaped() -> None:
    forged = "eve\n2026-01-01 00:00:00.000\tlogin\tadmin\t10.0.0.1\tPOST /api/v1/session status=200\x1b[2K"
    line = format_entry(Entry(id="1-0", at=1_700_000_000_000,
                              fields={"kind": "login", "actor": forged, "source": "10.0.0.2\r", "status": "401"}))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "eve\\n2026" in line and "\\x1b[2K" in line and "10.0.0.2\\r" in line


def test_wartime_audit_prints_a_forged_login_name_as_one_escaped_line(env: Env) -> None:
    src = "198.18.14.8"
    forged = "eve\n2026-12-02 08:00:00.000\tlogin\tcommander\t10.0.0.1\tPOST /api/v1/session status=200\x1b[1A"
    env.call("POST", "/api/v1/session", json_body={"username": forged, "password": "x"}, source=src)
    done = subprocess.run([sys.executable, "-m", "dashboard.cli", "audit", "--redis", env.url, "--source", src],
                          capture_output=True, text=True, timeout=60, check=True)
    lines = done.stdout.splitlines()
    assert len(lines) == 1, lines
    assert "\x1b" not in done.stdout, repr(done.stdout)
    assert "eve\\n2026-12-02" in lines[0]
