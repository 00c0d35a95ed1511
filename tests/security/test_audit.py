"""Audit trail: every command and login attempt with actor, time and source; `wartime audit` lists it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard import audit
from streams.server import EmbeddedRedis
from tests.conftest import PASSWORD
from tests.security.env import LEAF, Env, build_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(redis_server: EmbeddedRedis) -> Iterator[Env]:
    yield build_env(redis_server.url)


def _entries(env: Env, **kw: Any) -> list[dict[str, Any]]:
    return [e.to_json() for e in audit.read(env.redis, "TC", limit=None, **kw)]


def test_every_command_is_audited_with_actor_time_source_and_event(env: Env) -> None:
    t0 = int(env.redis.time()[0]) * 1000 - 1
    calls = [
        ("commander", "198.18.0.1", "POST", "/api/v1/kiosk", {"scope": "TC01"}),
        ("town1", "198.18.0.2", "POST", "/api/v1/operations",
         {"kind": "mass_testing", "scope": "TC01", "name": "审计"}),
        ("leader", "198.18.0.3", "POST", f"/api/v1/operations/{env.op_county}/reports",
         {"report_id": "audit-1", "grid": LEAF, "counts": {"sampled": 1}, "note": "SECRET-NOTE-7"}),
        ("viewer", "198.18.0.4", "POST", "/api/v1/modes", {"scope": "TC", "mode": "peacetime"}),
        ("leader", "198.18.0.5", "POST", "/api/v1/modes", {"scope": "TC", "mode": "peacetime"}),
    ]
    answers = [env.call(m, p, u, json_body=b, source=s) for u, s, m, p, b in calls]
    assert [a.status_code for a in answers] == [201, 201, 201, 403, 403]
    t1 = int(env.redis.time()[0]) * 1000 + 1000
    got = _entries(env, since=t0, until=t1)
    by_source = {e["source"]: e for e in got}
    for (user, source, method, path, _), answer in zip(calls, answers, strict=True):
        e = by_source[source]
        assert (e["actor"], e["method"], e["path"], int(e["status"])) == (user, method, path, answer.status_code)
        assert t0 <= e["at"] <= t1
        assert e["kind"] == ("command" if answer.status_code < 400 else "refused")
    assert by_source["198.18.0.2"]["event"] == answers[1].get_json()["event_id"]
    assert by_source["198.18.0.3"]["event"] == answers[2].get_json()["event_id"]
    assert by_source["198.18.0.4"]["code"] == "not_authorised"
    # what was said is in the event log; the audit says only that it was said
    assert b"SECRET-NOTE-7" not in b"".join(v for _, f in env.redis.xrange(env.county.keys.audit) for v in f.values())


def test_every_login_attempt_is_audited_and_no_password_with_it(env: Env) -> None:
    src = "198.18.1.1"
    env.call("POST", "/api/v1/session", json_body={"username": "viewer", "password": "WRONG-pass-42"}, source=src)
    env.call("POST", "/api/v1/session", json_body={"username": "nobody", "password": "WRONG-pass-43"}, source=src)
    env.call("POST", "/api/v1/session", json_body={"username": "viewer", "password": PASSWORD}, source=src)
    got = [(e["kind"], e["actor"]) for e in _entries(env, source=src)]
    assert got == [("login_failed", "viewer"), ("login_failed", "nobody"), ("login", "viewer")]
    raw = b"".join(v for _, f in env.redis.xrange(env.county.keys.audit) for v in f.values())
    assert b"WRONG-pass" not in raw and PASSWORD.encode() not in raw


def test_a_console_command_made_in_process_keeps_the_browser_address(env: Env) -> None:
    from dashboard.api_field import call_api

    server = env.app.server
    with server.test_request_context("/_dash-update-component", method="POST",
                                     environ_base={"REMOTE_ADDR": "198.18.2.2"}):
        server.preprocess_request()
        answers = [  # a callback may call the API more than once
            call_api("POST", "/kiosk", env.token("commander"), {"scope": "TC02"})[0],
            call_api("POST", "/kiosk", env.token("town1"), {"scope": "TC02"})[0],
            call_api("POST", "/kiosk", None, {"scope": "TC02"})[0],
        ]
        server.do_teardown_request()
    assert answers == [201, 403, 401]
    got = [(e.get("actor", ""), e["path"], e["kind"], e["status"]) for e in _entries(env, source="198.18.2.2")]
    assert got == [("commander", "/api/v1/kiosk", "command", "201"), ("town1", "/api/v1/kiosk", "refused", "403"),
                   ("", "/api/v1/kiosk", "refused", "401")]


def _cli(env: Env, *args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "audit", "--redis", env.url, "--json", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_wartime_audit_lists_the_trail_filtered_by_actor_kind_source_and_time(env: Env) -> None:
    src = "198.18.3.3"
    for i in range(3):
        env.call("POST", "/api/v1/kiosk", "town2", json_body={"scope": "TC02"}, source=src)
        env.call("POST", "/api/v1/session", json_body={"username": "town2", "password": f"bad-{i}"}, source=src)
    every = _cli(env, "--source", src)
    assert [e["kind"] for e in every] == ["command", "login_failed"] * 3
    assert all(e["actor"] == "town2" and e["source"] == src for e in every)
    assert [e["kind"] for e in _cli(env, "--source", src, "--kind", "login_failed")] == ["login_failed"] * 3
    assert len(_cli(env, "--actor", "town2", "--kind", "command")) == 3
    assert len(_cli(env, "--kind", "login*", "--source", src)) == 3
    middle = every[2]["at"]
    assert [e["id"] for e in _cli(env, "--source", src, "--since", str(middle))] == [e["id"] for e in every[2:]]
    assert [e["id"] for e in _cli(env, "--source", src, "--until", str(middle))][-1] == every[2]["id"]
    newest = _cli(env, "--source", src, "--newest-first", "--limit", "2")
    assert [e["id"] for e in newest] == [every[5]["id"], every[4]["id"]]
    human = subprocess.run([sys.executable, "-m", "dashboard.cli", "audit", "--redis", env.url, "--source", src],
                           cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    lines = human.stdout.splitlines()
    assert len(lines) == 6 and "\tlogin_failed\ttown2\t198.18.3.3" in lines[1]


def test_an_audit_write_that_fails_leaves_the_answer_as_it_was(env: Env) -> None:
    before = env.redis.xlen(env.county.keys.audit)
    env.redis.rename(env.county.keys.audit, env.county.keys.audit + ":saved")
    env.redis.set(env.county.keys.audit, "not a stream")  # XADD now fails with WRONGTYPE
    try:
        r = env.call("POST", "/api/v1/kiosk", "commander", json_body={"scope": "TC"})
        assert r.status_code == 201
    finally:
        env.redis.delete(env.county.keys.audit)
        env.redis.rename(env.county.keys.audit + ":saved", env.county.keys.audit)
    assert env.redis.xlen(env.county.keys.audit) == before


def test_account_changes_from_the_cli_are_audited_with_the_grant(env: Env) -> None:
    subprocess.run([sys.executable, "-m", "dashboard.cli", "users", "add", "audited", "--role", "viewer",
                    "--scope", "TC01", "--personal-data", "--redis", env.url], input="a-long-password\n",
                   text=True, cwd=ROOT, capture_output=True, timeout=60, check=True)
    subprocess.run([sys.executable, "-m", "dashboard.cli", "users", "remove", "audited", "--redis", env.url],
                   text=True, cwd=ROOT, capture_output=True, timeout=60, check=True)
    added, removed = _entries(env, kind="account")[-2:]
    assert added["source"] == removed["source"] == "local" and added["actor"].startswith("cli:")
    assert "add audited role=viewer scope=TC01 personal_data=True" in added["detail"]
    assert "a-long-password" not in json.dumps(added)
    assert removed["detail"] == "remove audited"
