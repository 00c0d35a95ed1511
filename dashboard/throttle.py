"""Login throttle (登录限流): a slot reserved in Redis before any password is hashed.

Every login attempt first reserves a slot, in one Lua script, on three counters
of the current window (`FAILED_WINDOW_S`, renewed by each attempt):

* the pair *(account, address)* — `MAX_FAILED_LOGINS` attempts, then that pair
  is refused until the window passes. This is the brute-force limit: it binds
  the attacker's address to the attacked account only;
* the *address*, whatever the account — past `MAX_FAILED_PER_SOURCE` the
  address is *spraying*;
* the *account*, whatever the address — past `MAX_FAILED_PER_ACCOUNT` the
  account is under a *distributed* guess.

Past either of the last two limits nothing is locked: every pair that has
spent no attempt in the window still gets exactly one, and only a pair that
already has one is refused. So a sprayer gets one guess per account per window
instead of thirty-plus-ten, a botnet one guess per address, and a colleague
behind the same NAT (or the real owner on another machine) whose own pair is
clean still has the one attempt the right password needs — the lockout that
one person could cast over a whole command centre does not exist. The price,
accepted: a sprayer in that mode still costs one hash per fresh name, which
`ARGON2_AT_ONCE` bounds in memory per process.

The reservation is the check: 24 wrong passwords at once reserve 10 slots
between them and the other 14 are refused without hashing (no read-then-write
race). A right password gives its reservation back (the pair is cleared, the
address and account counters go down by the one it took, never below zero); a
wrong one keeps it as the failure it is.
"""

from __future__ import annotations

import threading
from typing import Any

from command.errors import LoginThrottled
from streams.keys import CountyKeys

MAX_FAILED_LOGINS = 10
"""Attempts per account and source address within the window before that pair is refused."""
MAX_FAILED_PER_SOURCE = 30
"""Attempts per source address, whatever the account, before the address gets one guess per account."""
MAX_FAILED_PER_ACCOUNT = 100
"""Attempts per account, whatever the address, before the account gets one guess per address."""
FAILED_WINDOW_S = 300
ARGON2_AT_ONCE = 4
"""Password hashes (≈ 64 MiB each) one process computes at once; more wait their turn."""
MAX_NAME = 64
"""Longest username an account can have (dashboard.auth): a longer one is refused unhashed."""

RESERVE_LUA = """
local pair = tonumber(redis.call('GET', KEYS[1]) or '0')
local src = tonumber(redis.call('GET', KEYS[2]) or '0')
local acc = tonumber(redis.call('GET', KEYS[3]) or '0')
if pair >= tonumber(ARGV[1]) then
  return {0, redis.call('TTL', KEYS[1])}
end
if pair >= 1 and (src >= tonumber(ARGV[2]) or acc >= tonumber(ARGV[3])) then
  return {0, redis.call('TTL', KEYS[1])}
end
for i = 1, 3 do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[4])
end
return {1, 0}
"""
"""Reserve one attempt on the pair, the address and the account, or refuse (→ {0, seconds left})."""

RELEASE_LUA = """
redis.call('DEL', KEYS[1])
for i = 2, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 1
"""
"""A right password: clear the pair, give the address and account back the slot it took."""


class _Checks:
    """Password hashes computed by this process (read by tests and benchmarks), and the gate on them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.gate = threading.BoundedSemaphore(ARGON2_AT_ONCE)

    def one(self) -> None:
        with self.lock:
            self.count += 1


CHECKS = _Checks()


def password_checks() -> int:
    """How many passwords this process has hashed to check them (Argon2 verifications)."""
    return CHECKS.count


class Throttle:
    """The login throttle of one county."""

    def __init__(self, client: Any, keys: CountyKeys) -> None:
        self.keys = keys
        self._reserve = client.register_script(RESERVE_LUA)
        self._release = client.register_script(RELEASE_LUA)

    def _keys(self, username: str, source: str) -> list[str]:
        return [self.keys.login_pair(username, source), self.keys.login_source(source),
                self.keys.login_account(username)]

    def reserve(self, username: str, source: str) -> None:
        """Take one attempt's slot before hashing, or LoginThrottled with the seconds to wait."""
        got, ttl = self._reserve(
            keys=self._keys(username, source),
            args=[MAX_FAILED_LOGINS, MAX_FAILED_PER_SOURCE, MAX_FAILED_PER_ACCOUNT, FAILED_WINDOW_S],
        )
        if int(got):
            return
        retry = int(ttl) if 0 < int(ttl) <= FAILED_WINDOW_S else FAILED_WINDOW_S
        raise LoginThrottled(f"too many failed logins; wait {retry} s", retry, field="username")

    def succeeded(self, username: str, source: str) -> None:
        """The right password: the pair starts afresh and the slot it took is given back."""
        self._release(keys=self._keys(username, source))
