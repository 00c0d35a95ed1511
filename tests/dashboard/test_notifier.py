"""Delivery of notifications to a real local HTTP receiver: Pingnan's 385 secretaries, three formats, failures.

Real redis-server, a real `http.server` receiver, and for the crash test a real
`wartime serve` whose notifier process is SIGKILLed while it delivers.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from command.access import Actor, Role
from command.generate import generate
from command.grids import GridTree
from command.modes import SwitchRequest
from dashboard.notifier import HttpChannel, Notifier, channel_from_env
from dashboard.server import build
from streams.county import County
from streams.server import connect
from tests.conftest import make_tree, seed_county, start_server
from tests.dashboard.notify_receiver import Receiver

FIELDS = {"id", "kind", "grid", "person", "phone", "text", "link"}


@pytest.fixture(scope="module")
def pingnan() -> GridTree:
    return generate("pingnan")[0]


def _switched(redis_url: str, tree: GridTree) -> tuple[County, dict[str, str]]:
    seed_county(redis_url, tree)
    county = County(connect(redis_url), tree.root)
    boss = Actor("commander", Role.COMMANDER, tree.root)
    out = county.switch(boss, SwitchRequest(tree.root, "wartime", "epidemic", "II", "疫情"))
    return county, dict(out.event.installed)  # type: ignore[attr-defined]


def _drain(notifier: Notifier, county: County, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while county.refresh() is not None and county.state.mobilisation.pending():
        assert time.monotonic() < deadline, "notifications still pending"
        if not notifier.round():
            time.sleep(0.02)


def _phones(county: County, grids: list[str]) -> dict[str, str]:
    raw = county.client.hmget(county.keys.personal, grids)
    return {g: v.decode() for g, v in zip(grids, raw, strict=True) if v}


@pytest.mark.parametrize("fmt", ["generic", "wecom", "dingtalk"])
def test_switching_pingnan_sends_one_distinct_id_per_installed_secretary(
    redis_url: str, pingnan: GridTree, fmt: str
) -> None:
    county, installed = _switched(redis_url, pingnan)
    assert len(installed) == 385
    phones = _phones(county, list(installed))
    with Receiver() as rx:
        notifier = Notifier(county.client, HttpChannel(rx.url, fmt), backoff_base_ms=50)
        _drain(notifier, county)
        calls = rx.snapshot()
    ids = [c["header"] for c in calls]
    assert len(calls) == 385 and len(set(ids)) == 385  # exactly one call per secretary, each its own id
    notes = county.state.mobilisation.notifications
    assert set(ids) == set(notes)
    for c in calls:
        n = notes[c["header"]]
        body = c["body"]
        if fmt == "generic":
            assert set(body) == FIELDS
            assert body["id"] == n.id and body["grid"] == n.grid and body["person"] == installed[n.grid]
            assert body["phone"] == phones[n.grid] and body["kind"] == "installed"
            assert body["link"].endswith(f"/field?order={n.grid}")
            text = body["text"]
        elif fmt == "wecom":
            assert body["msgtype"] == "text"
            assert body["text"]["mentioned_mobile_list"] == [phones[n.grid]]
            text = body["text"]["content"]
        else:
            assert body["msgtype"] == "text" and body["at"] == {"atMobiles": [phones[n.grid]], "isAtAll": False}
            text = body["text"]["content"]
        assert n.id in text and installed[n.grid] in text and pingnan[n.grid].name in text
    m = county.state.mobilisation
    assert all(n.state == "delivered" and n.channel == "http" for n in m.notifications.values())
    assert sum(1 for p in m.posts.values() if p.notified_at is not None) == 385
    assert not any(p.on_post_at for p in m.posts.values())  # told is not on post


def test_a_notification_that_keeps_failing_is_failed_alerted_and_a_resend_clears_it(redis_url: str) -> None:
    county, installed = _switched(redis_url, make_tree())
    with Receiver(fail=1.0) as rx:
        notifier = Notifier(county.client, HttpChannel(rx.url), attempts=3, backoff_base_ms=10)
        _drain(notifier, county, timeout=60)
        assert len(rx.snapshot()) == 3 * len(installed)
        per_id = rx.snapshot()
    st = county.refresh()
    failed = [n for n in st.mobilisation.notifications.values() if n.state == "failed"]
    assert len(failed) == len(installed) and all(n.attempts == 3 and n.error == "HTTP 500" for n in failed)
    alerts = [a for a in st.alerts.values() if a.kind == "notification_failed" and a.open]
    assert sorted(a.grid for a in alerts) == sorted(installed)
    assert {c["header"] for c in per_id} == {n.id for n in failed}  # the retries repeated the same ids
    grid = sorted(installed)[0]
    boss = Actor("commander", Role.COMMANDER, "TC")
    county.renotify(boss, grid)
    with Receiver() as ok:
        notifier.channel = HttpChannel(ok.url)
        _drain(notifier, county)
        notifier.round()
        assert len(ok.snapshot()) == 1
    st = county.refresh()
    still = {a.grid for a in st.alerts.values() if a.kind == "notification_failed" and a.open}
    assert grid not in still and len(still) == len(installed) - 1


@pytest.fixture
def flaky() -> Iterator[Receiver]:
    with Receiver(fail=0.3, seed=3, delay_s=0.1) as rx:
        yield rx


@pytest.mark.parametrize("victim", ["notifier", "server"])
def test_with_30_percent_failures_and_a_sigkill_every_id_arrives_with_the_same_id(
    redis_url: str, tmp_data: Path, pingnan: GridTree, flaky: Receiver, monkeypatch: pytest.MonkeyPatch,
    victim: str,
) -> None:
    """SIGKILL the notifier process alone (the supervisor restarts it), or the whole server (restarted here)."""
    seed_county(redis_url, pingnan)
    monkeypatch.setenv("WARTIME_NOTIFY_URL", flaky.url)
    monkeypatch.setenv("WARTIME_NOTIFY_FORMAT", "generic")
    monkeypatch.setenv("WARTIME_NOTIFY_ATTEMPTS", "40")
    monkeypatch.setenv("WARTIME_NOTIFY_BACKOFF_MS", "100")
    served = start_server(redis_url, tmp_data)
    try:
        h = {"Authorization": f"Bearer {served.token('commander')}"}
        r = requests.post(f"{served.url}/api/v1/modes", headers=h, timeout=60,
                          json={"scope": "PN", "mode": "wartime", "incident": "flood", "level": "I"})
        assert r.status_code == 200 and r.json()["secretaries_installed"] == 385
        _until(lambda: len(flaky.snapshot()) >= 60, 60, "first deliveries")
        first_pid = _child(served.data, "notifier")
        if victim == "notifier":
            os.kill(first_pid, signal.SIGKILL)
            assert len(flaky.accepted()) < 385  # killed in the middle of the round
            _until(lambda: _child(served.data, "notifier") != first_pid, 60, "notifier restarted")
        else:
            served.stop(signal.SIGKILL)  # the whole process group: supervisor, web, projector, notifier…
            assert len(flaky.accepted()) < 385
            served = start_server(redis_url, tmp_data)
            h = {"Authorization": f"Bearer {served.token('commander')}"}
        _until(lambda: len(flaky.accepted()) == 385, 180, "every notification accepted")
        _until(lambda: _api(served.url, h, "pending")["total"] == 0, 60, "nothing pending")
        assert _api(served.url, h, "delivered")["total"] == 385
        assert _api(served.url, h, "failed")["total"] == 0
    finally:
        served.stop()
    calls = flaky.snapshot()
    assert len({c["header"] for c in calls}) == 385  # no notification re-numbered, none lost
    assert len(calls) > 385  # failures were retried…
    bodies: dict[str, Any] = {}
    for c in calls:
        assert c["header"] == c["body"]["id"]
        assert bodies.setdefault(c["header"], c["body"]) == c["body"]  # …and a repeat is the same message
    assert any(c["status"] == 500 for c in calls)


def _child(data: Path, name: str) -> int:
    try:
        return int(json.loads((data / "serve.json").read_text())["children"][name])
    except (OSError, ValueError, KeyError):
        return 0


def _api(url: str, h: dict[str, str], state: str) -> dict[str, Any]:
    r = requests.get(f"{url}/api/v1/notifications?state={state}", headers=h, timeout=30)
    r.raise_for_status()
    return dict(r.json())


def _until(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)



def test_the_channel_comes_from_the_environment_and_a_bad_format_is_refused() -> None:
    assert channel_from_env({}) is None
    ch = channel_from_env({"WARTIME_NOTIFY_URL": "http://127.0.0.1:9/x", "WARTIME_NOTIFY_FORMAT": "dingtalk"})
    assert ch is not None and ch.fmt == "dingtalk"
    with pytest.raises(ValueError, match="WARTIME_NOTIFY_FORMAT"):
        channel_from_env({"WARTIME_NOTIFY_URL": "http://127.0.0.1:9/x", "WARTIME_NOTIFY_FORMAT": "fax"})
    with pytest.raises(ValueError, match="WARTIME_NOTIFY_URL"):
        channel_from_env({"WARTIME_NOTIFY_URL": "file:///etc/passwd"})


def test_serve_runs_a_notifier_only_with_a_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WARTIME_NOTIFY_URL", raising=False)
    sup, _ = build("redis://127.0.0.1:1", "127.0.0.1", 1)
    assert "notifier" not in [name for name, _, _ in sup.specs]
    monkeypatch.setenv("WARTIME_NOTIFY_URL", "http://127.0.0.1:9/x")
    sup, _ = build("redis://127.0.0.1:1", "127.0.0.1", 1)
    assert [name for name, _, _ in sup.specs].count("notifier") == 1
