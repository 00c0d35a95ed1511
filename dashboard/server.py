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
import logging
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def _projector_main(redis_url: str, consumer: str) -> None:
    from streams.projector import Projector
    from streams.readmodel import current_county
    from streams.server import connect

    logging.basicConfig(level=logging.INFO, format="%(asctime)s projector %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = connect(redis_url)
    while not stop.is_set():
        county = current_county(client)
        if county:
            Projector(client, county, consumer=consumer).run(stop)
        else:
            stop.wait(1.0)


def _verify_factory(redis_url: str) -> Callable[[str], tuple[str, str, str]]:
    from dashboard.auth import Accounts
    from streams.county import County
    from streams.server import connect

    client = connect(redis_url)
    cache: dict[str, Accounts] = {}

    def verify(token: str) -> tuple[str, str, str]:
        if "acc" not in cache:
            cache["acc"] = Accounts(County.current(client))
        s = cache["acc"].verify(token)
        return s.actor.username, s.actor.role.value, s.actor.scope

    return verify


def _live_main(redis_url: str, host: str, port: int) -> None:
    from streams.live import run_live

    logging.basicConfig(level=logging.INFO, format="%(asctime)s live %(message)s")
    asyncio.run(run_live(redis_url, host, port, _verify_factory(redis_url)))


def _scheduler_main(redis_url: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(message)s")
    try:
        from dashboard.jobs import run_scheduler
    except ImportError:
        return
    run_scheduler(redis_url)


def _gunicorn_main(redis_url: str, host: str, port: int, workers: int, live_port: int) -> None:
    from gunicorn.app.base import BaseApplication

    os.environ["WARTIME_REDIS_URL"] = redis_url
    os.environ["WARTIME_LIVE_PORT"] = str(live_port)

    class App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 16)
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 5)
            self.cfg.set("keepalive", 30)
            self.cfg.set("backlog", 2048)
            self.cfg.set("accesslog", None)
            self.cfg.set("loglevel", "warning")

        def load(self) -> Any:
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


class Supervisor:
    """Starts the children, restarts any that die, stops them all on SIGTERM/SIGINT."""

    def __init__(self) -> None:
        self.specs: list[tuple[str, Callable[..., None], tuple[Any, ...]]] = []
        self.procs: dict[str, mp.Process] = {}
        self.stopping = False

    def add(self, name: str, target: Callable[..., None], *args: Any) -> None:
        self.specs.append((name, target, args))

    def _start(self, name: str, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        p = mp.get_context("spawn").Process(target=target, args=args, name=name, daemon=False)
        p.start()
        self.procs[name] = p

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
) -> tuple[Supervisor, int]:
    """The supervisor of a full server, and the live port it will use."""
    live = live_port or port + 1
    sup = Supervisor()
    sup.add("web", _gunicorn_main, redis_url, host, port, workers, live)
    host_name = socket.gethostname()
    for i in range(projectors):
        sup.add(f"projector-{i + 1}", _projector_main, redis_url, f"{host_name}-projector-{i + 1}")
    sup.add("live", _live_main, redis_url, host, live)
    if scheduler:
        sup.add("scheduler", _scheduler_main, redis_url)
    return sup, live
