"""`wartime serve` starts the production server and answers the API."""

from __future__ import annotations

import requests

from tests.conftest import Served


def test_served_app_answers_health_and_login(served: Served) -> None:
    r = requests.get(f"{served.url}/api/v1/health", timeout=5)
    assert r.json()["redis"] == "up"
    me = requests.get(f"{served.url}/api/v1/me", headers=served.headers("viewer"), timeout=5).json()
    assert me == {"username": "viewer", "role": "viewer", "scope": "TC"}
