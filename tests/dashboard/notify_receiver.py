"""A real local HTTP receiver for notification tests: records every POST, fails a share of them on purpose."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 drops concurrent connects (a SYN retried after 1 s)
    daemon_threads = True


class Receiver:
    """`http.server` in a thread; `fail`: share of calls answered 500 (seeded); `delay_s`: time per call."""

    def __init__(self, fail: float = 0.0, seed: int = 7, delay_s: float = 0.0) -> None:
        self.fail = fail
        self.delay_s = delay_s
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []  # every call: header id, body, answered status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(outer.delay_s)
                with outer.lock:
                    status = 500 if outer.rng.random() < outer.fail else 200
                    outer.calls.append({"header": self.headers.get("X-Wartime-Notification-Id"),
                                        "body": json.loads(raw), "status": status, "path": self.path})
                answer = b'{"errcode":0,"errmsg":"ok"}' if status == 200 else b'{"error":"down"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def accepted(self) -> Counter[str]:
        """Notification id → calls answered 200."""
        with self.lock:
            return Counter(c["header"] for c in self.calls if c["status"] == 200)

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.calls)
