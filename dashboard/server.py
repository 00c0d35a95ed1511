"""`wartime serve`: the production processes under one supervisor.

* gunicorn (gthread workers) serving the Dash pages and the HTTP API;
* M projector processes, members of one consumer group per stream;
* the WebSocket live server (its own port, printed at start);
* the scheduler (alerts, daily briefing), one per cluster thanks to a Redis lock.

Children get their settings through the environment (WARTIME_REDIS_URL…), keep
no state another process needs, and are restarted by the supervisor if they die.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dashboard.heap import freeze_long_lived

__all__ = ["THREADS", "WORKER_CLASS", "Supervisor", "build", "port_free"]


log = logging.getLogger(__name__)


def _projector_main(redis_url: str, consumer: str) -> None:
    from streams.projector import Projector
    from streams.readmodel import current_county
    from streams.server import connect

    logging.basicConfig(level=logging.INFO, format="%(asctime)s projector %(message)s")
    freeze_long_lived()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = connect(redis_url)
    while not stop.is_set():
        county = current_county(client)
        if county:
            Projector(client, county, consumer=consumer).run(stop)
        else:
            stop.wait(1.0)


def _verify_factory(redis_url: str) -> tuple[Callable[[str], tuple[str, str, str]],
                                             Callable[[Sequence[str]], list[tuple[str, str, str] | None]]]:
    """The live server's token check at connect, and its batch re-check of the open sockets' tokens."""
    from command.errors import NotAuthenticated
    from dashboard.auth import Accounts
    from streams.county import County
    from streams.server import connect

    client = connect(redis_url)
    cache: dict[str, Accounts] = {}

    def accounts() -> Accounts:
        if "acc" not in cache:
            cache["acc"] = Accounts(County.current(client))
        return cache["acc"]

    def verify(token: str) -> tuple[str, str, str]:
        s = accounts().verify(token)
        return s.actor.username, s.actor.role.value, s.actor.scope

    def recheck(tokens: Sequence[str]) -> list[tuple[str, str, str] | None]:
        return [None if isinstance(s, NotAuthenticated) else (s.actor.username, s.actor.role.value, s.actor.scope)
                for s in accounts().verify_many(tokens)]

    return verify, recheck


def _live_main(redis_url: str, host: str, port: int) -> None:
    from dashboard.components.bands import band
    from streams.live import run_live

    logging.basicConfig(level=logging.INFO, format="%(asctime)s live %(message)s")
    freeze_long_lived()
    verify, recheck = _verify_factory(redis_url)
    asyncio.run(run_live(redis_url, host, port, verify, recheck=recheck, band=band))


def _scheduler_main(redis_url: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line every 5 s is noise
    try:
        from dashboard.jobs import run_scheduler
    except ImportError:
        return
    run_scheduler(redis_url)


def _notifier_main(redis_url: str) -> None:
    from dashboard.notifier import run_notifier

    logging.basicConfig(level=logging.INFO, format="%(asctime)s notifier %(message)s")
    run_notifier(redis_url)


WORKER_CLASS = os.environ.get("WARTIME_WORKER_CLASS", "asgi")
"""gunicorn's worker: ``asgi`` (an asyncio loop; report posts served on it, the rest of the app in
threads: dashboard.asgi) or ``gthread`` (a thread per request, the plain WSGI app). The loop costs
≈ 0.1 ms of CPU per request where gthread's machinery costs ≈ 0.4–0.5 ms (bench/RESULTS.md)."""
THREADS = int(os.environ.get("WARTIME_THREADS", "32"))
"""Threads per worker for the WSGI app (gthread: request threads). Reports under gthread mostly wait
for Redis (their group commit and its fsync): the more wait together, the more one round trip
carries, so a worker runs as many threads as it may have clients in flight, not as many as cores."""


def _worker_exit(_arbiter: Any, _worker: Any) -> None:
    """A worker stopping cleanly first sends the audit entries it still holds."""
    from dashboard import audit

    audit.flush()


def _gunicorn_main(redis_url: str, host: str, port: int, workers: int, live_port: int) -> None:
    from gunicorn.app.base import BaseApplication

    os.environ["WARTIME_REDIS_URL"] = redis_url
    os.environ["WARTIME_LIVE_PORT"] = str(live_port)

    class App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", WORKER_CLASS)
            self.cfg.set("threads", THREADS if WORKER_CLASS == "gthread" else 1)
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 5)
            self.cfg.set("keepalive", 30)
            self.cfg.set("limit_request_line", 0)  # its ceiling, 1 MiB; the app refuses past MAX_URL, in JSON
            self.cfg.set("backlog", 2048)
            self.cfg.set("accesslog", None)
            self.cfg.set("loglevel", "warning")
            self.cfg.set("worker_exit", _worker_exit)

        def load(self) -> Any:
            freeze_long_lived()  # in each worker: gunicorn loads the app after the fork
            if WORKER_CLASS == "asgi":
                from dashboard.asgi import application_from_env

                return application_from_env()
            from dashboard.wsgi import application

            return application

    App().run()


def port_free(host: str, port: int) -> bool:
    """Whether nothing listens on host:port yet."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _pid_alive(pid: int) -> bool:
    """Whether a process runs (a zombie — killed, not yet reaped — counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class Supervisor:
    """Starts the children, restarts any that die, stops them all on SIGTERM/SIGINT.

    With an embedded Redis (`embedded` = its data directory) the supervisor also
    restarts that redis-server when it dies, so `wartime serve` heals itself; and
    with a `state` directory it writes ``serve.json`` there (its own pid, the
    children's, Redis's) so an operator — or a fault-injection test — can tell
    which process is which.
    """

    def __init__(self, embedded: Path | None = None, state: Path | None = None) -> None:
        self.specs: list[tuple[str, Callable[..., None], tuple[Any, ...]]] = []
        self.procs: dict[str, Any] = {}
        self.stopping = False
        self.embedded = embedded
        self.state = state
        self.redis_restarts = 0

    def add(self, name: str, target: Callable[..., None], *args: Any) -> None:
        self.specs.append((name, target, args))

    def _start(self, name: str, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        p = mp.get_context("spawn").Process(target=target, args=args, name=name, daemon=False)
        p.start()
        self.procs[name] = p
        self._write_state()

    def _heal_redis(self) -> None:
        """Restart the embedded redis-server if its process is gone (its AOF brings the data back)."""
        if self.embedded is None:
            return
        from streams.server import EmbeddedRedis, RedisUnavailable

        server = EmbeddedRedis(self.embedded)
        pid = server.pid()
        if pid is not None and _pid_alive(pid):
            return
        if server.running():
            return
        log.warning("embedded redis-server (pid %s) is gone; restarting it", pid)
        try:
            server.start()
        except RedisUnavailable as exc:
            log.error("embedded redis-server did not restart (%s); trying again", exc)
            return
        self.redis_restarts += 1
        self._write_state()

    def _write_state(self) -> None:
        """serve.json in the state directory: which pid is which (best effort; a full disk skips it)."""
        if self.state is None or not self.state.is_dir():
            return
        redis_pid = None
        if self.embedded is not None:
            from streams.server import EmbeddedRedis

            redis_pid = EmbeddedRedis(self.embedded).pid()
        doc = {
            "supervisor": os.getpid(),
            "children": {name: p.pid for name, p in self.procs.items()},
            "redis": redis_pid,
            "redis_restarts": self.redis_restarts,
        }
        tmp = self.state / f".serve.json.{os.getpid()}"
        try:
            tmp.write_text(json.dumps(doc))
            tmp.replace(self.state / "serve.json")
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        def stop(*_: Any) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        for spec in self.specs:
            self._start(*spec)
        if on_ready:
            on_ready()
        try:
            while not self.stopping:
                time.sleep(0.5)
                self._heal_redis()
                for name, target, args in self.specs:
                    p = self.procs[name]
                    if not p.is_alive() and not self.stopping:
                        log.warning("%s exited with %s; restarting", name, p.exitcode)
                        self._start(name, target, args)
        finally:
            for p in self.procs.values():
                if p.is_alive():
                    p.terminate()
            for p in self.procs.values():
                p.join(timeout=10)
                if p.is_alive():
                    p.kill()


def build(
    redis_url: str,
    host: str,
    port: int,
    *,
    workers: int = 2,
    projectors: int = 1,
    live_port: int | None = None,
    scheduler: bool = True,
    embedded: Path | None = None,
    state: Path | None = None,
) -> tuple[Supervisor, int]:
    """The supervisor of a full server, and the live port it will use.

    `embedded`: the data directory whose redis-server this server owns (restarted
    if it dies); None when Redis is external (--redis). `state`: where serve.json goes.
    """
    live = live_port or port + 1
    sup = Supervisor(embedded=embedded, state=state)
    sup.add("web", _gunicorn_main, redis_url, host, port, workers, live)
    host_name = socket.gethostname()
    for i in range(projectors):
        sup.add(f"projector-{i + 1}", _projector_main, redis_url, f"{host_name}-projector-{i + 1}")
    sup.add("live", _live_main, redis_url, host, live)
    if scheduler:
        sup.add("scheduler", _scheduler_main, redis_url)
        if os.environ.get("WARTIME_NOTIFY_URL", "").strip():  # without a channel, the field page alone tells
            sup.add("notifier", _notifier_main, redis_url)
    return sup, live
