"""Embedded redis-server per data directory: AOF always, unix socket, reuse, clean stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.server import EmbeddedRedis, RedisUnavailable, connect, redis_binary, resolve


def test_embedded_server_runs_with_aof_always_on_a_socket_in_the_data_dir(tmp_path: Path) -> None:
    srv = EmbeddedRedis(tmp_path)
    try:
        url = srv.start()
        assert url == f"unix://{tmp_path / 'redis.sock'}"
        c = connect(url)
        assert c.config_get("appendonly")["appendonly"] == "yes"
        assert c.config_get("appendfsync")["appendfsync"] == "always"
        c.set("k", "v")
        assert (tmp_path / "wartime.aof").exists() or any(tmp_path.glob("appendonly*"))
    finally:
        srv.stop()


def test_second_start_reuses_the_running_server(tmp_path: Path) -> None:
    srv = EmbeddedRedis(tmp_path)
    try:
        srv.start()
        pid = srv.pid()
        assert resolve(tmp_path) == srv.url
        assert EmbeddedRedis(tmp_path).start() == srv.url
        assert srv.pid() == pid
    finally:
        srv.stop()


def test_data_survives_a_clean_stop_and_restart(tmp_path: Path) -> None:
    srv = EmbeddedRedis(tmp_path)
    try:
        connect(srv.start()).xadd("s", {"a": "1"})
        srv.stop()
        assert not srv.running()
        assert connect(srv.start()).xlen("s") == 1
    finally:
        srv.stop()


def test_missing_binary_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARTIME_REDIS_SERVER", str(tmp_path / "nope" / "redis-server"))
    with pytest.raises(RedisUnavailable, match="not found"):
        redis_binary()
    with pytest.raises(RedisUnavailable):
        EmbeddedRedis(tmp_path / "d").start()


def test_unreachable_url_gives_a_clear_error() -> None:
    with pytest.raises(RedisUnavailable, match="cannot reach"):
        connect("redis://127.0.0.1:1/0")
