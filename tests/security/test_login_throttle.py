"""The login throttle under races and behind one NAT (dashboard.throttle), on the real app and Redis.

Every attempt is a real `POST /api/v1/session` through the app (in-process, tests/security/env.py);
what was hashed is read from the process's count of Argon2 verifications and from the audit trail.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dashboard import audit
from dashboard.throttle import MAX_FAILED_LOGINS, MAX_FAILED_PER_SOURCE, password_checks
from streams.server import EmbeddedRedis, connect
from tests.conftest import PASSWORD, seed_county, start_server
from tests.security.env import Env, build_env
from tests.security.tally import tally

ATTACKS = tally("login")


@pytest.fixture(scope="module")
def env(redis_server: EmbeddedRedis) -> Iterator[Env]:
    yield build_env(redis_server.url)


def _login(env: Env, user: str, password: str, source: str, client: Any = None) -> Any:
    c = client or env.client
    return c.open("/api/v1/session", method="POST", data=json.dumps({"username": user, "password": password}),
                  content_type="application/json", environ_base={"REMOTE_ADDR": source})


def _audit(env: Env, **filters: Any) -> list[dict[str, Any]]:
    return [e.to_json() for e in audit.read(env.redis, "TC", limit=None, **filters)]


def _at_once(env: Env, attempts: list[tuple[str, str]], source: str) -> list[int]:
    """Send every (user, password) at the same instant, each from its own thread and client."""
    gate = threading.Barrier(len(attempts))
    codes: list[int] = [0] * len(attempts)

    def one(i: int, user: str, password: str) -> None:
        client = env.app.server.test_client()
        gate.wait()
        codes[i] = _login(env, user, password, source, client).status_code

    threads = [threading.Thread(target=one, args=(i, u, p)) for i, (u, p) in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def test_24_concurrent_wrong_passwords_hash_at_most_the_limit(env: Env) -> None:
    src = "198.51.100.60"
    before = password_checks()
    codes = _at_once(env, [("commander", f"wrong-{i}") for i in range(24)], src)
    ATTACKS.add("concurrent brute force", 24)
    checked = password_checks() - before
    assert checked == MAX_FAILED_LOGINS, checked  # the other 14 were refused before any hash
    assert sorted(codes) == [401] * MAX_FAILED_LOGINS + [429] * (24 - MAX_FAILED_LOGINS)
    assert len(_audit(env, kind="login_failed", source=src)) == MAX_FAILED_LOGINS
    assert len(_audit(env, kind="login_throttled", source=src)) == 24 - MAX_FAILED_LOGINS
    # the account is closed to that address only; a colleague behind it logs in to their own
    assert _login(env, "commander", PASSWORD, src).status_code == 429
    assert _login(env, "viewer", PASSWORD, src).status_code == 200
    assert _login(env, "commander", PASSWORD, "192.0.2.60").status_code == 200


def test_spraying_from_one_address_gets_one_guess_per_account_and_locks_out_no_colleague(env: Env) -> None:
    src = "198.51.100.30"
    before = password_checks()
    codes = _at_once(env, [(f"user{i}", "Spring2025!") for i in range(MAX_FAILED_PER_SOURCE + 6)], src)
    ATTACKS.add("password spraying", len(codes))
    assert codes == [401] * len(codes)  # one guess each: every fresh name is checked once
    assert password_checks() - before == len(codes)
    # past the address's limit a name already tried there gets no second guess...
    before = password_checks()
    assert [_login(env, f"user{i}", "Summer2025!", src).status_code for i in range(5)] == [429] * 5
    assert password_checks() == before
    # ...while colleagues behind the same address, whose accounts were not tried, still log in
    assert _login(env, "viewer", PASSWORD, src).status_code == 200
    assert _login(env, "town1", PASSWORD, src).status_code == 200
    # and one of them mistyping once has spent that address's guess for a while
    assert _login(env, "leader", "typo", src).status_code == 401
    assert _login(env, "leader", PASSWORD, src).status_code == 429
    assert _login(env, "leader", PASSWORD, "192.0.2.61").status_code == 200
    assert len(_audit(env, kind="login_failed", source=src)) == len(codes) + 1


def test_a_right_password_gives_its_slot_back(env: Env) -> None:
    src = "198.51.100.62"
    for i in range(MAX_FAILED_LOGINS - 1):
        assert _login(env, "commander", f"nope-{i}", src).status_code == 401
    for _ in range(3):  # a success clears the pair: the user is not one typo from a lockout for good
        assert _login(env, "commander", PASSWORD, src).status_code == 200
    for i in range(MAX_FAILED_LOGINS - 1):
        assert _login(env, "commander", f"again-{i}", src).status_code == 401
    assert _login(env, "commander", PASSWORD, src).status_code == 200
    assert int(env.redis.get(env.county.keys.login_source(src))) == 2 * (MAX_FAILED_LOGINS - 1)


def test_two_served_workers_share_the_reservation(redis_url: str, tmp_data: Any) -> None:
    """The same race over real HTTP against two gunicorn workers: the slot is taken in Redis, not per process."""
    seed_county(redis_url)
    served = start_server(redis_url, tmp_data, workers=2)
    try:
        gate = threading.Barrier(24)
        codes: list[int] = []

        def one(i: int) -> None:
            gate.wait()
            r = requests.post(f"{served.url}/api/v1/session", json={"username": "commander",
                                                                    "password": f"wrong-{i}"}, timeout=60)
            codes.append(r.status_code)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ATTACKS.add("concurrent brute force over two workers", 24)
        assert sorted(codes) == [401] * MAX_FAILED_LOGINS + [429] * (24 - MAX_FAILED_LOGINS)
        failed = list(audit.read(connect(redis_url), "TC", limit=None, kind="login_failed"))
        assert len(failed) == MAX_FAILED_LOGINS  # one entry per password actually hashed
        r = requests.post(f"{served.url}/api/v1/session", json={"username": "viewer", "password": PASSWORD},
                          timeout=60)
        assert r.status_code == 200  # the colleague at the same address
    finally:
        served.stop()
