"""A freshly started worker answers a burst of simultaneous first requests without a 500.

Found by the kill suite: after `wartime serve` was restarted, field clients
retrying at once hit a new gunicorn worker together; Dash finishes its setup in
before-request hooks of the first request, the pages router registers a
callback while the server setup iterates the callbacks, and one request got
"dictionary changed size during iteration" — a 500 to a field leader. The app
now finishes that setup when it is created.
"""

from __future__ import annotations

import sys
import threading

from tests.conftest import seed_county


def test_simultaneous_first_requests_to_a_new_app_all_succeed(redis_url: str) -> None:
    seed_county(redis_url)
    statuses: list[int] = []
    lock = threading.Lock()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as a busy server does under load
    try:
        _burst(redis_url, statuses, lock)
    finally:
        sys.setswitchinterval(interval)
    assert len(statuses) == 6 * 24 and max(statuses) < 500, sorted(statuses)


def _burst(redis_url: str, statuses: list[int], lock: threading.Lock) -> None:
    from dashboard.app import Config, create_app

    for _ in range(6):  # fresh apps, each hit by 24 first requests at once
        app = create_app(Config(redis_url=redis_url))
        app.server.config["TESTING"] = False
        barrier = threading.Barrier(24)
        paths = ["/api/v1/health", "/_dash-layout", "/_dash-dependencies", "/", "/field", "/api/v1/me"]

        def hit(i: int, app: object = app, barrier: threading.Barrier = barrier, paths: list[str] = paths) -> None:
            client = app.server.test_client()  # type: ignore[attr-defined]
            barrier.wait()
            r = client.get(paths[i % len(paths)])
            with lock:
                statuses.append(r.status_code)

        threads = [threading.Thread(target=hit, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
