"""Passwords and phone numbers never reach a log: not the server's, not Redis's, not the event log or the audit.

A real `wartime serve` over a county with phone numbers takes logins right and
wrong, an account made with the CLI, refused and malformed requests and a granted
export; then every log file and every value stored in Redis is searched for the
passwords and the phone numbers. Passwords live only as Argon2id hashes, phone
numbers only in the personal-data hash.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from streams.server import EmbeddedRedis
from tests.conftest import PASSWORD, start_server
from tests.security.env import Env, build_env
from tests.security.tally import tally

ROOT = Path(__file__).resolve().parents[2]
ATTACKS = tally("secrets")
CLI_PASSWORD = "Cli-Secret-Pass-9876"
WRONG = ["WrongHorse-1234-xyz", "Tr0ub4dor&3-guess", "' OR 1=1 --pw"]


def test_no_password_or_phone_number_reaches_any_log(redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    env: Env = build_env(redis_server.url)
    subprocess.run([sys.executable, "-m", "dashboard.cli", "users", "add", "cli-made", "--role", "viewer",
                    "--scope", "TC", "--personal-data", "--redis", redis_server.url],
                   input=CLI_PASSWORD + "\n", text=True, cwd=ROOT, check=True, capture_output=True, timeout=60)
    data = tmp_path / "serve"
    data.mkdir()
    served = start_server(redis_server.url, data)
    try:
        api = f"{served.url}/api/v1"
        for user, pw in [("commander", PASSWORD), ("cli-made", CLI_PASSWORD), *(("viewer", w) for w in WRONG),
                         ("nobody", WRONG[0]), ("cli-made", CLI_PASSWORD.upper())]:
            requests.post(f"{api}/session", json={"username": user, "password": pw}, timeout=30)
            ATTACKS.add("login with a password to find in logs")
        requests.post(f"{api}/session", data=b'{"username": "x", "password": "' + WRONG[1].encode() + b'"',
                      headers={"Content-Type": "application/json"}, timeout=30)  # malformed, with a password
        tok = requests.post(f"{api}/session", json={"username": "cli-made", "password": CLI_PASSWORD},
                            timeout=30).json()["token"]
        h = {"Authorization": f"Bearer {tok}"}
        export = requests.get(f"{api}/registry/export", headers=h, timeout=30)
        assert export.status_code == 200 and all(p in export.text for p in env.phones.values())
        requests.post(f"{api}/modes", json={"scope": "TC", "mode": "peacetime"}, headers=h, timeout=30)
        for g in list(env.tree.grids)[:10]:
            requests.get(f"{api}/grids/{g}", headers=h, timeout=30)
    finally:
        served.stop()
    secrets = [PASSWORD, CLI_PASSWORD, CLI_PASSWORD.upper(), *WRONG]
    logs = {p: p.read_bytes() for p in [*data.glob("*.log"), redis_server.data / "redis.log"]}
    assert logs and any(logs.values())
    for path, text in logs.items():
        for s in secrets:
            assert s.encode() not in text, f"{s!r} in {path}"
        for phone in env.phones.values():
            assert phone.encode() not in text, f"a phone number in {path}"
    keys = env.county.keys
    stored = env.all_stored_text(skip=(keys.users, keys.personal))
    assert b"registry_loaded" in stored and b"login" in stored
    for s in secrets:
        assert s.encode() not in stored, f"{s!r} stored in Redis"
    for phone in env.phones.values():
        assert phone.encode() not in stored, "a phone number outside the personal-data hash"
    for raw in env.redis.hvals(keys.users):
        assert b'"hash": "$argon2id$' in raw and not any(s.encode() in raw for s in secrets)
