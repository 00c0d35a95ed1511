"""Attacks on access control: edited ids, out-of-town commands, viewers writing, bad tokens, brute force.

Every attack is a request the real app answers (in-process, see tests/security/env.py);
after each refused one the log, the idempotency keys, the accounts and the grants
are exactly as they were (`Env.fingerprint`). Each test counts what it tried in
`ATTACKS`, written to tests/artifacts/attacks.json for the closing report.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from command.access import Actor, Role
from streams.server import EmbeddedRedis
from tests.conftest import PASSWORD
from tests.security.env import LEADER_GRID, LEAF, OTHER_LEAF, TOWN2_LEAF, Env, build_env
from tests.security.tally import tally

ATTACKS = tally("access")


@pytest.fixture(scope="module")
def env(redis_server: EmbeddedRedis) -> Iterator[Env]:
    yield build_env(redis_server.url)


def _refused(env: Env, method: str, path: str, user: str | None = None, *, want: tuple[int, ...] = (403,),
             **kw: Any) -> Any:
    """Send one attack; it must be refused with one of `want` and leave everything as it was."""
    before = env.fingerprint()
    r = env.call(method, path, user, **kw)
    ATTACKS.add(f"{method} {path.split('?')[0]}")
    assert r.status_code in want, (method, path, user, r.status_code, r.get_data()[:300])
    body = r.get_json(silent=True)
    assert isinstance(body, dict) and body["error"]["code"] and body["error"]["message"], r.get_data()[:300]
    assert env.fingerprint() == before, f"{method} {path} by {user} changed state"
    return r


def _outside(env: Env, scope: str) -> list[str]:
    """Grids outside `scope`: ancestors, siblings and cousins, and grids of the other town."""
    tree = env.tree
    picks = [g for g in tree.grids if not tree.is_within(g, scope)]
    near = [g for g in tree.path(scope) if g != scope]
    far = [g for g in picks if g not in near]
    return near + far[:: max(1, len(far) // 12)]


READS = [
    ("/api/v1/grids/{g}", None),
    ("/api/v1/console/tree/{g}", None),
    ("/api/v1/console/scope/{g}", None),
    ("/api/v1/field/mine", {"grid": "{g}"}),
    ("/api/v1/secretaries", {"scope": "{g}"}),
    ("/api/v1/board", {"scope": "{g}"}),
    ("/api/v1/board/geo/none/{g}/cells.geojson", None),
    ("/api/v1/board/geo/none/{g}/outline.geojson", None),
    ("/api/v1/board/geo/none/{g}/cells.json", None),
    ("/api/v1/contact-rounds", {"scope": "{g}"}),
    ("/api/v1/operations/{op}/progress", {"grid": "{g}"}),
    ("/api/v1/operations/{op}/state", {"grid": "{g}", "at": "{now}"}),
    ("/api/v1/matters", {"scope": "{g}"}),
    ("/api/v1/matters", {"grid": "{g}"}),
    ("/api/v1/matters/summary", {"scope": "{g}"}),
    ("/api/v1/matters/map", {"scope": "{g}"}),
    ("/api/v1/registry/export", {"scope": "{g}"}),
]


def _fill(text: str, env: Env, grid: str) -> str:
    return text.format(g=grid, op=env.op_county, now=int(time.time() * 1000) + 60_000)


@pytest.mark.parametrize("user", ["leader", "leader-exporter", "town1"])
def test_editing_grid_ids_reaches_no_grid_outside_the_scope(env: Env, user: str) -> None:
    scope = env.users[user][1]
    tried = 0
    for path, query in READS:
        for grid in _outside(env, scope):
            q = {k: _fill(v, env, grid) for k, v in (query or {}).items()}
            if "matters" in path or "export" in path:  # extensions may answer 404 for a scope they don't know
                _refused(env, "GET", _fill(path, env, grid), user, query=q, want=(403, 404))
            else:
                _refused(env, "GET", _fill(path, env, grid), user, query=q)
            tried += 1
    assert tried > 100


def test_a_leader_sees_an_operation_wider_than_its_grid_only_at_its_grid(env: Env) -> None:
    ops = env.call("GET", "/api/v1/operations", "leader").get_json()["operations"]
    ATTACKS.add("GET /api/v1/operations (county totals)")
    assert [o["id"] for o in ops] == [env.op_county]  # not the other town's
    (op,) = ops
    assert op["at"] == LEADER_GRID
    assert op["targets"] == {"sampled": env.tree[LEADER_GRID].population}
    assert op["totals"] == {"sampled": 3}  # its own leaf's report, not the county's 3 + 4 + 5
    for other in (env.op_town2,):
        for suffix in ("progress", "report", "timeline", "state?at=1"):
            _refused(env, "GET", f"/api/v1/operations/{other}/{suffix}", "leader")


def test_a_leader_cannot_report_into_another_grid_or_a_parent(env: Env) -> None:
    for grid in (OTHER_LEAF, TOWN2_LEAF, LEADER_GRID, "TC01", "TC"):
        want = (403,) if grid in (OTHER_LEAF, TOWN2_LEAF) else (403, 422)  # not a leaf: either refusal
        _refused(env, "POST", f"/api/v1/operations/{env.op_county}/reports", "leader",
                 json_body={"report_id": f"x-{grid}", "grid": grid, "counts": {"sampled": 5}}, want=want)
    # ...nor correct someone else's count down, nor report on the other town's operation.
    _refused(env, "POST", f"/api/v1/operations/{env.op_county}/reports", "leader",
             json_body={"report_id": "neg", "grid": OTHER_LEAF, "counts": {"sampled": -4}, "reason": "mine now"})
    _refused(env, "POST", f"/api/v1/operations/{env.op_town2}/reports", "leader",
             json_body={"report_id": "t2", "grid": LEAF, "counts": {"sampled": 1}}, want=(403, 422))


def _vacancy_alert_in(env: Env, town: str) -> str:
    alerts = env.call("GET", "/api/v1/alerts", "commander", query={"open": "1"}).get_json()["alerts"]
    return next(a["id"] for a in alerts if env.tree.is_within(a["grid"], town))


def _link_in(env: Env, scope: str) -> str:
    """A live kiosk link over `scope`, made by the county commander."""
    return str(env.call("POST", "/api/v1/kiosk", "commander", json_body={"scope": scope}).get_json()["link"]["id"])


def test_a_town_commander_cannot_act_outside_the_town(env: Env) -> None:
    vacancy = next(g for g in sorted(env.county.refresh().vacancies) if g.startswith("TC02"))
    quarter = "2025Q2"
    attacks: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/api/v1/modes", {"scope": "TC02", "mode": "peacetime"}),
        ("POST", "/api/v1/modes", {"scope": "TC", "mode": "peacetime"}),
        ("POST", "/api/v1/modes", {"scope": "TC02-L1", "mode": "peacetime", "dry_run": True}),
        ("POST", "/api/v1/levels", {"scope": "TC02", "level": "I"}),
        ("POST", "/api/v1/levels", {"scope": "TC", "level": "I"}),
        ("POST", "/api/v1/secretaries", {"grid": vacancy, "person": "冒名"}),
        ("POST", "/api/v1/operations", {"kind": "mass_testing", "scope": "TC02", "name": "越权"}),
        ("POST", "/api/v1/operations", {"kind": "mass_testing", "scope": "TC", "name": "越权"}),
        ("POST", f"/api/v1/operations/{env.op_town2}/close", None),
        ("POST", f"/api/v1/operations/{env.op_county}/close", None),
        ("POST", f"/api/v1/operations/{env.op_county}/reports",
         {"report_id": "tc", "grid": TOWN2_LEAF, "counts": {"sampled": 9}}),
        ("POST", f"/api/v1/alerts/{_vacancy_alert_in(env, 'TC02')}/ack", None),
        ("POST", "/api/v1/kiosk", {"scope": "TC02"}),
        ("POST", "/api/v1/kiosk", {"scope": "TC"}),
        ("DELETE", f"/api/v1/kiosk/{_link_in(env, 'TC02')}", None),
        ("POST", f"/api/v1/contact-rounds/{quarter}/completions", {"grid": "TC02-L1-M1-S1"}),
        ("POST", "/api/v1/evaluations", {"scope": "TC02"}),
        ("PUT", "/api/v1/evaluations/weights", {"weights": {}}),
    ]
    for method, path, body in attacks:
        _refused(env, method, path, "town1", json_body=body if body is not None else {},
                 want=(403, 409) if "contact-rounds" in path else (403,))
    # The same commands inside the town are allowed (the refusals above are about scope, not the calls).
    ok = env.call("POST", "/api/v1/kiosk", "town1", json_body={"scope": "TC01-L2"})
    assert ok.status_code == 201, ok.get_data()


def test_a_town_commander_reads_nothing_of_the_other_town(env: Env) -> None:
    _refused(env, "GET", f"/api/v1/operations/{env.op_town2}/progress", "town1")
    _refused(env, "GET", f"/api/v1/alerts/{_vacancy_alert_in(env, 'TC02')}", "town1")
    _refused(env, "GET", f"/api/v1/alerts/{_vacancy_alert_in(env, 'TC02')}/cap", "town1")
    alerts = env.call("GET", "/api/v1/alerts", "town1").get_json()["alerts"]
    assert alerts and all(env.tree.is_within(a["grid"], "TC01") for a in alerts)
    ops = env.call("GET", "/api/v1/operations", "town1").get_json()["operations"]
    assert {o["id"]: o["at"] for o in ops} == {env.op_county: "TC01"}


WRITES: list[tuple[str, str, Any]] = [
    ("POST", "/api/v1/modes", {"scope": "TC01", "mode": "peacetime"}),
    ("POST", "/api/v1/levels", {"scope": "TC01", "level": "I"}),
    ("POST", "/api/v1/secretaries", {"grid": "TC01-L1-M1-S2", "person": "某人"}),
    ("POST", "/api/v1/operations", {"kind": "mass_testing", "scope": "TC01", "name": "x"}),
    ("POST", "/api/v1/operations/{op}/reports", {"report_id": "v1", "grid": LEAF, "counts": {"sampled": 1}}),
    ("POST", "/api/v1/operations/{op}/close", {}),
    ("POST", "/api/v1/operations/{op}/towns/TC01/close", {}),
    ("POST", "/api/v1/drills", {"from_operation": "{op}", "speed": 60, "name": "x"}),
    ("POST", "/api/v1/drills/drill-0000000a/stop", {}),
    ("POST", "/api/v1/drills/drill-0000000a/pause", {}),
    ("POST", "/api/v1/drills/drill-0000000a/resume", {}),
    ("POST", "/api/v1/alerts/{alert}/ack", {}),
    ("POST", "/api/v1/kiosk", {"scope": "TC"}),
    ("DELETE", "/api/v1/kiosk/{link}", None),
    ("POST", "/api/v1/contact-rounds/2025Q2/completions", {"grid": "TC01-L1-M1-S1"}),
    ("POST", "/api/v1/matters", {"grid": LEAF, "category": "safety", "description": "x"}),
    ("POST", "/api/v1/matters/overdue", {}),
    ("POST", "/api/v1/evaluations", {"scope": "TC"}),
    ("PUT", "/api/v1/evaluations/weights", {"weights": {}}),
    ("POST", "/api/v1/secretaries/TC01-L1-M1-S1/on-post", {"report_id": "v1"}),
    ("POST", "/api/v1/secretaries/TC01-L1-M1-S1/acknowledged", {}),
    ("POST", "/api/v1/secretaries/TC01-L1-M1-S1/renotify", {}),
    ("POST", "/api/v1/operations/{op}/households", {"report_id": "v2", "household": "TC01-L1-M1-S1-W1-001",
                                                    "status": "reached"}),
]


@pytest.mark.parametrize("who", ["viewer", "exporter", "kiosk"])
def test_a_viewer_or_a_kiosk_link_writes_nothing(env: Env, who: str) -> None:
    alert = _vacancy_alert_in(env, "TC01")
    token = (env.accounts.issue(Actor("commander", Role.VIEWER, "TC"), kind="kiosk") if who == "kiosk"
             else env.token(who))
    link = _link_in(env, "TC01")
    for method, path, body in WRITES:
        p = path.format(op=env.op_county, alert=alert, link=link)
        _refused(env, method, p, token=token, json_body=body, want=(403, 409) if "contact" in p else (403,))
    # every route that writes is in the list above (a new one must be attacked too)
    writes = {
        (m, r.rule) for r in env.app.server.url_map.iter_rules() if r.rule.startswith("/api/v1")
        for m in r.methods - {"GET", "HEAD", "OPTIONS"}
    }
    known = {(m, p.replace("{op}", "<op>").replace("{alert}", "<alert>").replace("2025Q2", "<round_id>")
               .replace("{link}", "<link_id>").replace("secretaries/TC01-L1-M1-S1/", "secretaries/<grid>/")
               .replace("towns/TC01/", "towns/<town>/")
               .replace("drill-0000000a", "<drill_id>"))
             for m, p, _ in WRITES}
    per_matter = {w for w in writes if "<matter>" in w[1] or "<evaluation>" in w[1]}
    catch_all = {w for w in writes if w[1] in ("/api/v1/", "/api/v1/<path:unknown>")}  # JSON 404s
    sessions = {("POST", "/api/v1/session"), ("DELETE", "/api/v1/session")}
    assert writes - known - per_matter - catch_all - sessions == set()


def test_writes_on_one_matter_or_evaluation_by_a_viewer_are_refused(env: Env) -> None:
    for method, path, body in [
        ("POST", "/api/v1/matters/m-nope/stages", {"stage": "assigned"}),
        ("POST", "/api/v1/matters/m-nope/evaluate", {"satisfaction": 5}),
        ("POST", "/api/v1/matters/m-nope/handovers", {"step": "escalate", "reason": "x"}),
        ("POST", "/api/v1/evaluations/e-nope/verify", {}),
    ]:
        _refused(env, method, path, "viewer", json_body=body, want=(403, 404))


def _forge(token: str, **claims: Any) -> str:
    body, sig = token.split(".", 1)
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data.update(claims)
    new = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{new}.{sig}"


def _sign(claims: dict[str, Any], secret: bytes) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    sig = base64.urlsafe_b64encode(hmac.new(secret, body.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    return f"{body}.{sig}"


def test_expired_forged_and_garbage_tokens_are_refused(env: Env) -> None:
    good = env.token("viewer")
    claims = {"u": "commander", "r": "commander", "s": "TC", "x": int(time.time()) + 3600, "j": "f00d", "k": "session"}
    forged = [
        env.token("commander", ttl_s=-1),  # expired
        _forge(good, r="commander"),  # viewer promoted by editing the claims
        _forge(good, s="", u="commander"),
        _forge(good, x=int(time.time()) + 10 * 365 * 86400),  # lifetime extended
        _forge(env.accounts.issue(Actor("commander", Role.VIEWER, "TC"), kind="kiosk"), k="session"),
        _sign(claims, b"not-the-secret"),
        _sign(claims, b""),
        good.split(".")[0] + ".",  # signature stripped
        good.split(".")[0],
        good + "x",
        "." + good.split(".")[1],
        "..",
        "a.b.c",
        "Bearer " + good,
        "eyJhbGciOiJub25lIn0.eyJ1IjoiY29tbWFuZGVyIn0.",  # JWT alg none
        "x" * 8000,
        "\u00e9\u00e8.\u00e0",
    ]
    for tok in forged:
        for method, path, body in [("GET", "/api/v1/me", None), ("POST", "/api/v1/modes",
                                                                  {"scope": "TC", "mode": "peacetime"})]:
            before = env.fingerprint()
            h = {"Authorization": "Bearer " + tok}
            r = env.client.open(path, method=method, headers=h, json=body)
            ATTACKS.add("forged or expired token")
            assert r.status_code == 401, (tok[:60], r.status_code, r.get_data()[:200])
            assert r.get_json()["error"]["code"] == "not_authenticated"
            assert env.fingerprint() == before
    assert "expired" in env.call("GET", "/api/v1/me", token=forged[0]).get_json()["error"]["message"]


def test_the_tokens_of_a_deleted_or_changed_user_stop_at_once(env: Env) -> None:
    setup = Actor("test-setup", Role.COMMANDER, "TC")
    env.accounts.add("temp-boss", PASSWORD, "commander", "TC", setup)
    session = env.token("temp-boss")
    kiosk = env.call("POST", "/api/v1/kiosk", token=session, json_body={"scope": "TC01"}).get_json()["token"]
    assert env.call("GET", "/api/v1/me", token=session).status_code == 200
    assert env.call("GET", "/api/v1/grids/TC01", token=kiosk).status_code == 200
    env.accounts.add("temp-boss", PASSWORD, "viewer", "TC", setup)  # demoted
    _refused(env, "POST", "/api/v1/modes", token=session, json_body={"scope": "TC01", "mode": "peacetime"},
             want=(401,))
    env.accounts.remove("temp-boss")
    _refused(env, "GET", "/api/v1/me", token=session, want=(401,))
    _refused(env, "GET", "/api/v1/grids/TC01", token=kiosk, want=(401,))
    _refused(env, "GET", "/api/v1/grids/TC01", query={"token": kiosk}, want=(401,))


def test_a_logged_out_token_is_dead(env: Env) -> None:
    tok = env.token("commander")
    assert env.call("DELETE", "/api/v1/session", token=tok).status_code == 200
    _refused(env, "GET", "/api/v1/me", token=tok, want=(401,))
    _refused(env, "POST", "/api/v1/modes", token=tok, json_body={"scope": "TC01", "mode": "peacetime"}, want=(401,))


def test_a_token_in_the_url_reads_but_never_writes(env: Env) -> None:
    tok = env.token("commander")
    assert env.call("GET", "/api/v1/me", query={"token": tok}).status_code == 200
    _refused(env, "POST", "/api/v1/modes", query={"token": tok}, json_body={"scope": "TC01", "mode": "peacetime"},
             want=(401,))
    _refused(env, "POST", "/api/v1/kiosk", query={"token": tok}, json_body={"scope": "TC"}, want=(401,))


def _login(env: Env, user: str, password: str, source: str) -> Any:
    return env.call("POST", "/api/v1/session", json_body={"username": user, "password": password}, source=source)


def _audit(env: Env, **filters: Any) -> list[dict[str, Any]]:
    from dashboard import audit

    return [e.to_json() for e in audit.read(env.redis, "TC", limit=None, **filters)]


def test_brute_force_on_one_account_is_throttled_and_every_attempt_logged(env: Env) -> None:
    from dashboard.auth import MAX_FAILED_LOGINS

    src = "198.51.100.20"
    for i in range(MAX_FAILED_LOGINS):
        r = _login(env, "commander", f"guess-{i}", src)
        ATTACKS.add("brute-force login")
        assert r.status_code == 401 and r.get_json()["error"]["field"] == "password"
    # the right password from the attacker's address is refused now...
    r = _login(env, "commander", PASSWORD, src)
    assert r.status_code == 429 and "too many" in r.get_json()["error"]["message"]
    assert r.get_json()["error"]["code"] == "rate_limited" and 0 < int(r.headers["Retry-After"]) <= 300
    # ...the real user elsewhere is not locked out
    assert _login(env, "commander", PASSWORD, "192.0.2.1").status_code == 200
    failed = _audit(env, kind="login_failed", source=src)
    assert len(failed) == MAX_FAILED_LOGINS and {e["actor"] for e in failed} == {"commander"}
    assert all(int(e["at"]) > 0 for e in failed)
    assert len(_audit(env, kind="login_throttled", source=src)) == 1
    assert _audit(env, kind="login", source="192.0.2.1")[-1]["actor"] == "commander"


@pytest.mark.parametrize("body", [
    {"username": "commander"},
    {"username": "commander", "password": ""},
    {"username": ["commander"], "password": PASSWORD},
    {"username": "commander", "password": {"$ne": ""}},
    {"username": "commander' OR '1'='1", "password": "' OR '1'='1"},
    {"username": "*", "password": "*"},
    {"username": "commander\u0000", "password": PASSWORD},
    {"username": "COMMANDER", "password": PASSWORD},
    {"username": "commander", "password": PASSWORD + " "},
    {"username": "x" * 5000, "password": "y" * 5000},
])
def test_injection_and_type_confusion_at_login_are_refused(env: Env, body: dict[str, Any]) -> None:
    before = env.fingerprint()
    r = env.call("POST", "/api/v1/session", json_body=body, source="198.51.100.40")
    ATTACKS.add("login injection")
    assert r.status_code in (401, 422), r.get_data()[:200]
    assert "token" not in (r.get_json() or {})
    assert env.fingerprint() == before
