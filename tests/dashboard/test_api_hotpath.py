"""The report hot path of `wartime serve` (dashboard.asgi, group commit, session cache, batched audit)
over real HTTP: concurrent reports each get their own answer, refusals reach every worker at once,
a throttled login is 429, and a clean stop loses no audit entry."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from dashboard import audit
from dashboard.api import PHOTO_BODY
from streams.county import County
from streams.server import connect
from tests.conftest import PASSWORD, Served, seed_county, start_server, wartime_operation

LEAVES = ["TC01-L1-M1-S1-W1", "TC01-L1-M2-S1-W1", "TC02-L1-M1-S1-W1", "TC02-L2-M2-S2-W2"]


@pytest.fixture
def served2(redis_url: str, tmp_data: Any) -> Any:
    seed_county(redis_url)
    s = start_server(redis_url, tmp_data, workers=2)
    yield s
    s.stop()


def _login(s: Served) -> str:
    r = requests.post(f"{s.url}/api/v1/session", json={"username": "commander", "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def test_concurrent_reports_each_get_their_own_answer_and_retries_are_duplicates(served2: Served) -> None:
    token = _login(served2)
    op = wartime_operation(served2, {"Authorization": f"Bearer {token}"})
    url = f"{served2.url}/api/v1/operations/{op}/reports"
    local = threading.local()

    def post(i: int) -> tuple[int, dict[str, Any]]:
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.headers["Authorization"] = f"Bearer {token}"
        body: dict[str, Any] = {"report_id": f"hot-{i}", "grid": LEAVES[i % 4], "counts": {"sampled": 1 + i % 3}}
        if i % 50 == 7:
            body["counts"] = {"sampled": "many"}  # refused alone, naming the field
        r = local.s.post(url, json=body, timeout=30)
        return r.status_code, r.json()

    with ThreadPoolExecutor(32) as pool:
        first = list(pool.map(post, range(400)))
        again = list(pool.map(post, range(400)))
    bad = {i for i in range(400) if i % 50 == 7}
    for i, ((st1, b1), (st2, b2)) in enumerate(zip(first, again, strict=True)):
        if i in bad:
            assert st1 == st2 == 422 and b1["error"]["field"] == "counts.sampled", (i, b1)
            continue
        assert st1 == 201 and "duplicate" not in b1, (i, b1)
        assert st2 == 200 and b2 == {"event_id": b1["event_id"], "duplicate": True}, (i, b2)
    want = sum(1 + i % 3 for i in range(400) if i not in bad)
    h = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 20
    while True:
        got = requests.get(f"{served2.url}/api/v1/operations/{op}/progress", headers=h, timeout=30).json()
        if got["counts"].get("sampled") == want or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert got["counts"]["sampled"] == want


def test_a_logged_out_token_is_refused_by_every_worker_as_soon_as_logout_answers(served2: Served) -> None:
    token = _login(served2)
    op = wartime_operation(served2, {"Authorization": f"Bearer {token}"})
    h = {"Authorization": f"Bearer {token}"}
    url = f"{served2.url}/api/v1/operations/{op}/reports"
    for i in range(40):  # fresh connections: both workers verify (and cache) the token
        assert requests.post(url, json={"report_id": f"pre-{i}", "grid": LEAVES[0], "counts": {"sampled": 1}},
                             headers=h, timeout=30).status_code == 201
    assert requests.delete(f"{served2.url}/api/v1/session", headers=h, timeout=30).status_code == 200
    for i in range(40):
        r = requests.post(url, json={"report_id": f"post-{i}", "grid": LEAVES[0], "counts": {"sampled": 1}},
                          headers=h, timeout=30)
        assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated", (i, r.text)
        assert requests.get(f"{served2.url}/api/v1/me", headers=h, timeout=30).status_code == 401


def test_a_rate_limited_login_is_429_with_retry_after(served2: Served) -> None:
    from dashboard.auth import MAX_FAILED_LOGINS

    url = f"{served2.url}/api/v1/session"
    for i in range(MAX_FAILED_LOGINS):
        r = requests.post(url, json={"username": "commander", "password": f"wrong-{i}"}, timeout=30)
        assert r.status_code == 401
    r = requests.post(url, json={"username": "commander", "password": PASSWORD}, timeout=30)
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited" and r.json()["error"]["field"] == "username"
    assert 0 < int(r.headers["Retry-After"]) <= 300


def test_every_report_is_audited_and_a_clean_stop_loses_no_entry(served2: Served, redis_url: str) -> None:
    token = _login(served2)
    op = wartime_operation(served2, {"Authorization": f"Bearer {token}"})
    h = {"Authorization": f"Bearer {token}"}
    url = f"{served2.url}/api/v1/operations/{op}/reports"
    local = threading.local()

    def post(i: int) -> str:
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.headers.update(h)
        body = {"report_id": f"aud-{i}", "grid": LEAVES[i % 4], "counts": {"sampled": 1}}
        r = local.s.post(url, json=body, timeout=30)
        assert r.status_code == 201, r.text
        return str(r.json()["event_id"])

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(post, range(300)))
    bad: dict[str, Any] = {"report_id": "aud-bad", "grid": "TC99", "counts": {"sampled": 1}}
    r = requests.post(url, headers=h, json=bad, timeout=30)
    assert r.status_code == 404
    served2.stop()  # SIGTERM: workers finish, flush their audit queues, exit
    client = connect(redis_url)
    entries = [e.fields for e in audit.read(client, "TC", limit=None) if e.fields.get("path", "").endswith("/reports")]
    ok = [e for e in entries if e["kind"] == "command"]
    assert sorted(e["event"] for e in ok) == sorted(ids)
    assert all(e["actor"] == "commander" and e["source"] == "127.0.0.1" and e["status"] == "201" for e in ok)
    refused = [e for e in entries if e["kind"] == "refused"]
    assert [(e["status"], e["code"]) for e in refused] == [("404", "unknown_grid")]


def test_the_served_report_path_refuses_bad_input_naming_the_field_and_appends_nothing(served2: Served) -> None:
    token = _login(served2)
    op = wartime_operation(served2, {"Authorization": f"Bearer {token}"})
    url = f"{served2.url}/api/v1/operations/{op}/reports"
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    client = connect(served2.redis_url)
    county = County(client, "TC")
    before = sum(client.xlen(s) for s in county.log.streams())
    cases: list[tuple[dict[str, str], bytes, int, str]] = [
        (h, b"x" * (PHOTO_BODY + 1), 413, "body"),  # a report may carry a photo: its ceiling
        (h, b'{"report_id": "r1", "grid": ', 400, "body"),
        (h, b"[1, 2]", 400, "body"),
        (h, json.dumps({"report_id": "r1", "grid": "TC99-X", "counts": {"sampled": 1}}).encode(), 404, "grid"),
        (h, json.dumps({"report_id": "r1", "grid": LEAVES[0], "counts": {"sampled": "many"}}).encode(), 422,
         "counts.sampled"),
        ({"Content-Type": "application/json"},
         json.dumps({"report_id": "r1", "grid": LEAVES[0], "counts": {"sampled": 1}}).encode(), 401, ""),
    ]
    for headers, data, status, field in cases:
        r = requests.post(url, data=data, headers=headers, timeout=30)
        assert r.status_code == status, (data[:60], r.status_code, r.text[:200])
        if field:
            assert r.json()["error"]["field"] == field, r.text[:200]
    assert sum(client.xlen(s) for s in county.log.streams()) == before
