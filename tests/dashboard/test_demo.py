"""`wartime demo`, the README's first command: it comes up alone, moves, and heals its own Redis.

Run as a user runs it (`python -m dashboard.cli demo`, embedded Redis in a
fresh data directory), on the smallest demo county so that the test stays short.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from streams.server import EmbeddedRedis
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(what: str, check: Any, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


def _sampled(url: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    ops = requests.get(f"{url}/api/v1/operations", headers=headers, timeout=10).json()["operations"]
    testing = [o for o in ops if o["kind"] == "mass_testing"]
    assert testing, ops
    progress = requests.get(f"{url}/api/v1/operations/{testing[0]['id']}/progress", headers=headers, timeout=10)
    progress.raise_for_status()
    return int(progress.json()["counts"].get("sampled", 0))


def test_the_demo_comes_up_alone_moves_and_restarts_its_redis_when_killed(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in ("WARTIME_REDIS_URL", "WARTIME_COUNTY")}
    out = tmp_path / "demo.out"
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "demo", "--profile", "qingcao", "--data", str(data),
             "--port", str(port), "--speed", "1440", "--workers", "1"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        text = _wait_for("the demo prints its address and password",
                         lambda: "password:" in out.read_text(errors="replace") and out.read_text(), 180)
        assert f"{url}/" in text
        password = re.search(r"password: (\S+)", text)
        assert password, text
        login = requests.post(f"{url}/api/v1/session",
                              json={"username": "demo-commander", "password": password.group(1)}, timeout=10)
        assert login.status_code == 200, login.text
        token = login.json()["token"]
        first = _wait_for("the simulator's first reports", lambda: _sampled(url, token))
        _wait_for("more reports", lambda: _sampled(url, token) > first)

        server = EmbeddedRedis(data)
        victim = server.pid()
        assert victim is not None
        before = _sampled(url, token)
        os.kill(victim, signal.SIGKILL)
        _wait_for("a new redis-server", lambda: server.pid() not in (None, victim))
        _wait_for("the API healthy again",
                  lambda: requests.get(f"{url}/api/v1/health", timeout=5).json().get("status") == "ok")
        # Nothing acknowledged was lost (AOF, fsync always), and the county keeps moving.
        _wait_for("reports counted again after the restart", lambda: _sampled(url, token) > before)
    finally:
        proc.send_signal(signal.SIGTERM)  # as a service manager stops it
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        still = EmbeddedRedis(data).running()
        EmbeddedRedis(data).stop()
    assert proc.returncode == 0, out.read_text(errors="replace")[-2000:]
    assert not still, "the demo left the embedded Redis it started running"
