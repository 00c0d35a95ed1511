"""Short Redis locks (锁): ``SET NX PX`` with a random token, released only by their holder.

One mechanism for every process that must do a thing alone for a while: a scheduler's job
run, the notifier's round, a projector's lease on a stream, the making of a map part. A
holder that dies lets its lock expire; a holder whose lock expired cannot delete the next
holder's (the compare-and-delete script).
"""

from __future__ import annotations

import secrets

from streams.server import Client

__all__ = ["RELEASE_LUA", "RedisLock"]

RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
"""Delete KEYS[1] only if it still holds the token ARGV[1]."""


class RedisLock:
    """Locks named under one key prefix (e.g. `CountyKeys.lock_prefix`)."""

    def __init__(self, client: Client, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._release = client.register_script(RELEASE_LUA)

    def acquire(self, name: str, ttl_ms: int) -> str | None:
        """A token when the lock was free, None when someone else holds it."""
        token = secrets.token_hex(16)
        return token if self.client.set(self.prefix + name, token, nx=True, px=ttl_ms) else None

    def release(self, name: str, token: str) -> bool:
        """Delete the lock only if it is still ours (it may have expired and been taken)."""
        return bool(self._release(keys=[self.prefix + name], args=[token]))
