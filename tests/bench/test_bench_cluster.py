"""The cluster bench's CPU figure leaves no listener behind to see the throwaway Redis go away."""

from __future__ import annotations

import threading

from bench.bench_cluster import api_cpu_in_child


def test_cpu_per_report_runs_in_a_child_and_leaves_no_auth_listener_here(redis_url: str) -> None:
    before = {t.name for t in threading.enumerate()}
    cpu_us = api_cpu_in_child(redis_url, 20)
    assert cpu_us > 0
    started = {t.name for t in threading.enumerate()} - before
    assert not [n for n in started if n.startswith("auth-listener")], started
