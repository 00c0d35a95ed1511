"""A local Redis Cluster of three masters from the bundled redis-server binary (tests and bench).

Each master is the same `redis-server` the embedded Redis uses, started with
``--cluster-enabled yes`` on a loopback port (AOF, ``appendfsync always``, as in
production); the slots are split evenly between them by ADDSLOTS(RANGE) and the
nodes MEET — no replicas, no ``redis-cli --cluster``. `LocalCluster.url` is the
``?cluster=1`` URL every wartime command takes. Used by tests/streams/test_cluster.py
and bench/bench_cluster.py.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from streams.server import redis_binary


def _free_port() -> int:
    # Cluster bus ports are port + 10000: pick ports whose bus port is free too.
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 < 65536:
            with socket.socket() as s2:
                try:
                    s2.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


@dataclass
class LocalCluster:
    """Three masters on loopback, slots split evenly, no replicas."""

    root: Path
    ports: list[int] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The cluster URL (any one node) for `streams.server.connect` and ``--redis``."""
        return f"redis://127.0.0.1:{self.ports[0]}/0?cluster=1"

    def start(self, masters: int = 3) -> LocalCluster:
        """Start `masters` nodes, assign the slots, join them; returns when every node says ok."""
        binary = str(redis_binary())
        for i in range(masters):
            port = _free_port()
            d = self.root / f"node{i}"
            d.mkdir(parents=True, exist_ok=True)
            self.procs.append(subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", "5000", "--appendonly", "yes", "--appendfsync", "always",
                 "--hash-max-ziplist-entries", "64",
                 "--save", "", "--protected-mode", "no", "--logfile", str(d / "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
            self.ports.append(port)
        clients = [redis.Redis(port=p) for p in self.ports]
        for c in clients:
            for _ in range(200):
                try:
                    c.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
        per = 16384 // masters
        for i, c in enumerate(clients):
            hi = 16383 if i == masters - 1 else (i + 1) * per - 1
            c.execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, hi) if _has_range(c) else \
                c.execute_command("CLUSTER", "ADDSLOTS", *range(i * per, hi + 1))
        for p in self.ports[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", p)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            infos = [c.execute_command("CLUSTER", "INFO") for c in clients]
            text = [i.decode() if isinstance(i, bytes) else str(i) for i in infos]
            if all("cluster_state:ok" in t and f"cluster_known_nodes:{masters}" in t for t in text):
                return self
            time.sleep(0.1)
        raise RuntimeError("cluster did not become ready")

    def node_of(self, key: str) -> int:
        """Index of the master holding a key's slot."""
        slot = int(redis.Redis(port=self.ports[0]).execute_command("CLUSTER", "KEYSLOT", key))
        per = 16384 // len(self.ports)
        return min(slot // per, len(self.ports) - 1)

    def dbsizes(self) -> list[int]:
        """Keys on each master."""
        return [int(redis.Redis(port=p).dbsize()) for p in self.ports]

    def __enter__(self) -> LocalCluster:
        return self.start() if not self.procs else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminate the masters this object started."""
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def _has_range(c: redis.Redis) -> bool:
    version = str(c.info("server")["redis_version"])
    return tuple(int(x) for x in version.split(".")[:2]) >= (7, 0)
