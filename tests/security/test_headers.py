"""Security headers, CSRF and session fixation: what a browser is told, and what a forged request gets.

* Every answer: ``X-Content-Type-Options: nosniff``, no framing (``frame-ancestors
  'none'`` and ``X-Frame-Options: DENY``), a CSP whose script-src has neither
  'unsafe-inline' nor 'unsafe-eval' — the inline scripts Dash writes are allowed
  by hash, and every one of them is covered.
* CSRF: credentials are a bearer token the page keeps in localStorage, never a
  cookie, and the server sets no cookie at all; a request forged by another site
  carries nothing that authenticates it, the API sends no CORS permission, and a
  token in the URL is honoured for reads only.
* Session fixation: the server never adopts a token (or anything else) the
  client brings to the login; every login mints a fresh, unguessable token.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest

from streams.server import EmbeddedRedis
from tests.conftest import PASSWORD
from tests.security.env import Env, build_env
from tests.security.tally import tally

ATTACKS = tally("headers-csrf-session")
INLINE = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S)


@pytest.fixture(scope="module")
def env(redis_server: EmbeddedRedis) -> Iterator[Env]:
    yield build_env(redis_server.url)


def _pages(env: Env) -> list[str]:
    import dash

    return sorted({p["path"] for p in dash.page_registry.values()} | {"/"})


def _csp(resp: object) -> dict[str, list[str]]:
    policy = resp.headers["Content-Security-Policy"]  # type: ignore[attr-defined]
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_every_page_sends_the_security_headers_and_a_strict_script_policy(env: Env) -> None:
    pages = _pages(env)
    assert {"/", "/field", "/console"} <= set(pages)
    for path in [*pages, "/api/v1/health", "/api/v1/me", "/_dash-layout", "/_dash-dependencies"]:
        r = env.client.get(path)
        h = r.headers
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert h["X-Frame-Options"] == "DENY", path
        csp = _csp(r)
        assert csp["frame-ancestors"] == ["'none'"], path
        assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'self'"], path
        scripts = csp["script-src"]
        assert "'self'" in scripts and "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, path
        assert all(s == "'self'" or s.startswith("'sha256-") for s in scripts), scripts
        assert "default-src" in csp and csp["default-src"] == ["'self'"]
        if path.startswith("/api/"):
            assert h["Cache-Control"] == "no-store", path


def test_every_inline_script_dash_writes_is_allowed_by_its_hash(env: Env) -> None:
    for path in _pages(env):
        r = env.client.get(path)
        allowed = set(_csp(r)["script-src"])
        html = r.get_data(as_text=True)
        html = re.sub(r"<!--\[if IE\]>.*?<!\[endif\]-->", "", html, flags=re.S)  # not run by any browser we serve
        runnable = [m["body"] for m in INLINE.finditer(html)
                    if "src=" not in m["attrs"] and "application/json" not in m["attrs"]]
        assert runnable, path
        for body in runnable:
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in allowed, (path, body[:80])


def test_scripts_and_styles_are_served_with_their_types(env: Env) -> None:
    html = env.client.get("/").get_data(as_text=True)
    srcs = re.findall(r'<script src="([^"]+)"', html)
    assert srcs
    for src in srcs[:6]:
        r = env.client.get(src)
        assert r.status_code == 200 and "javascript" in r.headers["Content-Type"], src
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_no_response_sets_a_cookie(env: Env) -> None:
    answers = [
        env.call("POST", "/api/v1/session", json_body={"username": "commander", "password": PASSWORD}),
        env.call("POST", "/api/v1/session", json_body={"username": "commander", "password": "wrong-one"}),
        env.call("GET", "/api/v1/me", "commander"),
        env.call("POST", "/api/v1/kiosk", "commander", json_body={"scope": "TC"}),
        *(env.client.get(p) for p in _pages(env)),
        env.client.get("/_dash-layout"),
    ]
    for r in answers:
        assert "Set-Cookie" not in r.headers, r.request.path


@pytest.mark.parametrize("path", ["/api/v1/modes", "/api/v1/operations", "/api/v1/kiosk", "/api/v1/secretaries"])
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"])
def test_a_request_forged_by_another_site_is_refused_and_changes_nothing(
    env: Env, path: str, content_type: str
) -> None:
    """What an <form action=…> or a no-cors fetch on an attacker's page can send: no token, another origin."""
    before = env.fingerprint()
    forged = {"Origin": "https://evil.example", "Referer": "https://evil.example/x", "Content-Type": content_type,
              "Cookie": "session=stolen; token=stolen"}
    r = env.call("POST", path, data='{"scope":"TC","mode":"peacetime","kind":"mass_testing","name":"x"}',
                 headers=forged)
    ATTACKS.add("CSRF forged POST")
    assert r.status_code == 401
    assert "Access-Control-Allow-Origin" not in r.headers
    assert env.fingerprint() == before


def test_no_cors_permission_is_given_to_another_origin(env: Env) -> None:
    tok = env.token("commander")
    for method, path in [("OPTIONS", "/api/v1/modes"), ("GET", "/api/v1/me"), ("OPTIONS", "/api/v1/session")]:
        r = env.client.open(path, method=method, headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type", "Authorization": f"Bearer {tok}"})
        ATTACKS.add("CORS preflight from another origin")
        assert not any(k.lower().startswith("access-control-allow") for k in r.headers.keys()), (  # noqa: SIM118
            path, r.headers)


def test_login_mints_a_fresh_token_and_adopts_nothing_the_client_brings(env: Env) -> None:
    planted = env.token("viewer")
    answers = [
        env.call("POST", "/api/v1/session", json_body={"username": "commander", "password": PASSWORD,
                                                      "token": planted, "j": "f00d"},
                 headers={"Cookie": f"session={planted}", "Authorization": f"Bearer {planted}"},
                 query={"token": planted})
        for _ in range(3)
    ]
    ATTACKS.add("session fixation", 3)
    tokens = [a.get_json()["token"] for a in answers]
    assert len(set(tokens)) == 3 and planted not in tokens
    ids = {env.accounts.verify(t).token_id for t in tokens}
    assert len(ids) == 3 and env.accounts.verify(planted).token_id not in ids
    assert all(len(i) >= 16 for i in ids)  # 64 random bits each
    assert {env.accounts.verify(t).actor.username for t in tokens} == {"commander"}
    # logging out one session leaves the others, and the planted one, as they were
    env.call("DELETE", "/api/v1/session", token=tokens[0])
    assert env.call("GET", "/api/v1/me", token=tokens[0]).status_code == 401
    assert env.call("GET", "/api/v1/me", token=tokens[1]).status_code == 200
    assert env.call("GET", "/api/v1/me", token=planted).get_json()["username"] == "viewer"
