"""A Redis that refuses writes, or a full disk, gives the client a 503 and no acknowledgement — never a false 201.

* Refusal: ``maxmemory 1`` with ``noeviction`` (Redis answers OOM to every
  write), and ``min-replicas-to-write 1`` with no replica (NOREPLICAS). Every
  command and report is answered 503, login too (it appends the login), nothing
  is appended; when Redis accepts writes again the same reports go through once.
* Full disk: the embedded Redis's data directory is a 16 MB tmpfs, filled up
  while field clients report. Redis cannot write its AOF (``appendfsync
  always``), stops, is restarted by the supervisor, stops again…; clients get
  503s meanwhile. When space is freed every report is acknowledged, and every
  acknowledged report is in the log once and counted once. (Mounting a tmpfs
  needs root; without it this case is skipped and the refusal cases stand.)
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from bench.soak import Field, OwnServe, make_reports, seed_embedded, verify_exact, wait_until
from streams.server import EmbeddedRedis
from tests.conftest import Served, make_tree

LEAF = "TC01-L1-M1-S1-W1"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _entries(r: redis.Redis) -> int:
    return sum(int(r.xlen(k)) for k in ("wt:{TC}:log", "wt:{TC01}:log", "wt:{TC02}:log"))


REFUSALS = {
    "out of memory (maxmemory 1, noeviction)": {"maxmemory": "1", "maxmemory-policy": "noeviction"},
    "no replicas (min-replicas-to-write 1)": {"min-replicas-to-write": "1"},
}


def test_a_redis_refusing_writes_gets_503_and_nothing_is_acknowledged(served: Served) -> None:
    h = served.headers("commander")
    api = f"{served.url}/api/v1"
    assert requests.post(f"{api}/modes", json={"scope": "TC", "mode": "wartime", "incident": "flood", "level": "I"},
                         headers=h, timeout=30).status_code == 200
    op = requests.post(f"{api}/operations", json={"kind": "mass_testing", "scope": "TC", "name": "拒写"},
                       headers=h, timeout=30).json()["operation_id"]
    admin = redis.Redis.from_url(served.redis_url)
    total = 0
    for n, (what, refusal) in enumerate(REFUSALS.items()):
        saved: dict[str, Any] = {k: admin.config_get(k)[k] for k in refusal}
        reports: list[dict[str, Any]] = [
            {"report_id": f"r{n}-{i}", "grid": LEAF, "counts": {"sampled": i + 1}} for i in range(5)]
        before = _entries(admin)
        for k, v in refusal.items():
            admin.config_set(k, v)
        try:
            answers = [requests.post(f"{api}/operations/{op}/reports", json=r, headers=h, timeout=30)
                       for r in reports]
            answers += [
                requests.post(f"{api}/levels", json={"scope": "TC02", "level": "II"}, headers=h, timeout=30),
                requests.post(f"{api}/operations", json={"kind": "mass_testing", "scope": "TC01", "name": "x"},
                              headers=h, timeout=30),
                requests.post(f"{api}/session", json={"username": "viewer", "password": "test-password-1"},
                              timeout=30),
                requests.post(f"{api}/session", json={"username": "viewer", "password": "wrong"}, timeout=30),
            ]
            assert [a.status_code for a in answers] == [503] * len(answers), (
                what, [(a.status_code, a.text[:120]) for a in answers])
            assert all(a.json()["error"]["code"] == "unavailable" for a in answers)
            assert "token" not in answers[-2].json()
            assert _entries(admin) == before, what
            assert requests.get(f"{api}/health", timeout=10).status_code == 200  # reads still work
        finally:
            for k, v in saved.items():
                admin.config_set(k, v)
        again = [requests.post(f"{api}/operations/{op}/reports", json=r, headers=h, timeout=30) for r in reports]
        assert [a.status_code for a in again] == [201] * len(reports), what
        total += 15
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            prog = requests.get(f"{api}/operations/{op}/progress", params={"grid": LEAF}, headers=h,
                                timeout=10).json()
            if prog["counts"]["sampled"] == total:
                break
            time.sleep(0.05)
        assert prog["counts"] == {"sampled": total}, what


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a tmpfs, which needs root to mount")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill(path: Path) -> int:
    """Write until the filesystem is full; returns bytes written."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        chunk = b"\xff" * 65536
        while True:
            try:
                n += f.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        for size in (4096, 512, 1):
            while True:
                try:
                    n += f.write(b"\xff" * size)
                except OSError:
                    break
    return n


def test_a_full_disk_gets_503s_and_every_acknowledged_report_survives(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    logs.mkdir()
    with _tmpfs(data, "16m"):
        _, op = seed_embedded(data)
        embedded = EmbeddedRedis(data)
        serve = OwnServe(data, logs)
        serve.start()
        try:
            leaves = [g for g in make_tree().grids if g.count("-") == 4]
            reports = make_reports(400, leaves, "disk")
            field = Field(serve.url, serve.token(), op, reports, clients=4)
            field.start()
            wait_until(lambda: field.done >= 100, 120, "a first quarter acknowledged")
            filler = data / "filler"
            filled = _fill(filler)
            full_at = sum(field.statuses.values())
            wait_until(lambda: field.statuses["503"] >= 20, 60, "503s while the disk is full")
            acked_while_full = field.done
            time.sleep(1.0)
            assert field.done - acked_while_full <= 5, "reports kept being acknowledged on a full disk"
            filler.unlink()
            field.join(timeout=240)
            assert not field.failures, field.failures[:5]
            wait_until(lambda: embedded.running(), 60, "redis to be back")
            grids = verify_exact(embedded.url, op, reports, field.acked)
        finally:
            serve.kill(signal.SIGTERM)
            with contextlib.suppress(Exception):
                embedded.stop()
            time.sleep(0.2)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "faults-disk.json").write_text(json.dumps({
        "reports": len(reports), "acknowledged": len(field.acked), "filler_bytes": filled,
        "answers_before_full": full_at, "answers": dict(field.statuses), "grids_checked_exact": grids,
    }, indent=1))
