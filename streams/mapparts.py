"""The wall's map parts (地图分块), made once per geometry for every process.

A scope's map — its cells packed for the canvas, its outlines — is derived from the
registry's geometry alone, which is content-addressed and never changes under its
digest. Making it means decoding the whole geometry (a second for a county of real
shapes) and simplifying it to the scope's detail (seconds more): too slow for each
worker's first wall, and twice the work when two workers are asked at once. So the
bytes are kept in Redis under the digest (`CountyKeys.map_part`): the first process to
need a part takes a short lock and makes it, the others wait for it, and every later
read is one GET, then a hit in the process's own small cache. An import makes the
county's own parts ahead of its first wall (`dashboard.loading`). Parts expire when
unused for `KEEP_S`: a superseded geometry's parts go away on their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from streams.keys import CountyKeys
from streams.locks import RedisLock
from streams.server import Client

__all__ = ["KEEP_S", "LOCAL_BYTES", "MAKE_WAIT_S", "MapParts"]

KEEP_S = 7 * 86_400
"""A part unread for a week expires (an hour's wall reads it again and keeps it)."""
MAKE_WAIT_S = 60.0
"""How long a process waits for another's making before it makes the part itself."""
_POLL_S = 0.05
LOCAL_BYTES = 64 * 1024 * 1024
"""What a process keeps of the parts it served (a county's wall and its towns' fit many times over)."""

_local: dict[str, bytes] = {}
_local_lock = threading.Lock()


class MapParts:
    """Get-or-make of one county's map parts, shared through Redis."""

    def __init__(self, client: Client, keys: CountyKeys) -> None:
        self.client = client
        self.keys = keys
        self.locks = RedisLock(client, keys.lock_prefix)

    def get(self, digest: str, scope: str, kind: str, make: Callable[[], bytes]) -> bytes:
        """The part's bytes: from this process, else Redis, else made here (once across processes)."""
        key = self.keys.map_part(digest, scope, kind)
        with _local_lock:
            hit = _local.get(key)
        if hit is not None:
            return hit
        data = self._shared(key, f"map:{digest}:{scope}:{kind}", make)
        with _local_lock:
            if sum(map(len, _local.values())) + len(data) > LOCAL_BYTES:
                _local.clear()
            _local[key] = data
        return data

    def has(self, digest: str, scope: str, kind: str) -> bool:
        """Whether the part is made (in Redis)."""
        return bool(self.client.exists(self.keys.map_part(digest, scope, kind)))

    def _shared(self, key: str, lock: str, make: Callable[[], bytes]) -> bytes:
        raw = self._read(key)
        if raw is not None:
            return raw
        deadline = time.monotonic() + MAKE_WAIT_S
        while (token := self.locks.acquire(lock, int(MAKE_WAIT_S * 1000))) is None:
            if time.monotonic() > deadline:
                return make()  # the maker is gone or stuck: make it here, without keeping it
            time.sleep(_POLL_S)
            raw = self._read(key)
            if raw is not None:
                return raw
        try:
            raw = self._read(key)  # made while we took the lock
            if raw is not None:
                return raw
            data = make()
            self.client.set(key, data, ex=KEEP_S)
            return data
        finally:
            self.locks.release(lock, token)

    def _read(self, key: str) -> bytes | None:
        raw: Any = self.client.getex(key, ex=KEEP_S)
        return bytes(raw) if raw is not None else None
