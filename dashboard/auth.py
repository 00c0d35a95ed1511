"""Accounts, password hashing and bearer tokens.

Passwords are hashed with Argon2id (argon2-cffi); the hash lives in the users
hash in Redis and never enters the log or a log line — the log gets a
`UserAdded` event with role and scope only (the audit trail).

Tokens are stateless and signed (HMAC-SHA256 with a per-county secret made once
in Redis): ``base64url(json claims) . base64url(sig)``. Claims: user, role,
scope, expiry, token id and kind (``session`` or ``kiosk``). A token is honoured
only while its user still exists with the same role and scope and its id is not
revoked, so deleting a user or revoking a kiosk link takes effect at once. A
kiosk link is bounded by its maker's current rights instead (dashboard.kiosk):
the maker still a commander, the link's scope cut to the maker's scope now.
Logins reserve a throttle slot before hashing (dashboard.throttle).

Verified sessions are cached per process for `SESSION_CACHE_S` (a report then
does no Redis read for its token). Every change that can refuse a token —
revocation, removal, a changed role or scope — evicts the cache of the process
that made it at once and is published on the county's `auth_channel`; each
process listens there and evicts too. A process uses its cache only while its
listener is subscribed (a lost subscription empties the cache and turns it
off until it is back), so a change reaches every worker within the listener's
delivery time, and never later than `SESSION_CACHE_S`.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from command.access import Actor, Role, bounded_scope, check_scope_level
from command.errors import InvalidRequest, NotAuthenticated
from command.events import UserAdded, UserLoggedIn
from command.modes import parse_enum
from dashboard import audit
from dashboard.throttle import (  # noqa: F401  (the limits are part of this module's interface)
    CHECKS,
    FAILED_WINDOW_S,
    MAX_FAILED_LOGINS,
    MAX_FAILED_PER_SOURCE,
    MAX_NAME,
    LoginThrottled,
    Throttle,
)
from streams.county import County
from streams.keys import CountyKeys

SESSION_TTL_S = 12 * 3600
KIOSK_TTL_S = 365 * 24 * 3600
SESSION_CACHE_S = 1.0
"""How long a process trusts a verified session without asking Redis (the revocation horizon)."""
SESSION_CACHE_MAX = 20_000
"""Cached sessions per process at most (emptied when full: tokens are cheap to verify again)."""

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    """A verified token: the actor and what the token was."""

    actor: Actor
    token_id: str
    kind: str
    expires: int


def auth_channel(county: str) -> str:
    """Pub/sub channel announcing token refusals (revoked, user removed or changed) to every process."""
    return CountyKeys(county).auth_channel


@dataclass(frozen=True, slots=True)
class _Cached:
    session: Session
    county: str
    user: str  # the account behind the token (a kiosk link's maker)
    until: float  # time.monotonic() after which Redis is asked again


class _SessionCache:
    """Verified sessions of this process, by token, for a short horizon."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, _Cached] = {}
        self.gen = 0  # bumped by every eviction: a verification that raced one is not cached

    def get(self, token: str, county: str, now: float) -> Session | None:
        hit = self.entries.get(token)
        if hit is None or hit.county != county:
            return None
        if hit.until < now:
            self.entries.pop(token, None)
            return None
        return hit.session

    def put(self, token: str, entry: _Cached, gen: int) -> None:
        with self.lock:
            if gen != self.gen:
                return
            if len(self.entries) >= SESSION_CACHE_MAX:
                self.entries.clear()
            self.entries[token] = entry

    def evict(self, county: str, *, user: str | None = None, token_id: str | None = None) -> None:
        """Forget the county's cached sessions of `user`, or with `token_id`, or all of them."""
        with self.lock:
            self.gen += 1
            for token, e in list(self.entries.items()):
                if e.county != county:
                    continue
                if user is not None and e.user != user:
                    continue
                if token_id is not None and e.session.token_id != token_id:
                    continue
                del self.entries[token]


_CACHE = _SessionCache()


class _Listener:
    """A daemon thread subscribed to the county's auth channel that evicts what it hears."""

    def __init__(self, client: Any, county: str) -> None:
        self.client = client
        self.county = county
        self.ready = False  # subscribed, and no message lost since
        threading.Thread(target=self._run, name=f"auth-listener-{county}", daemon=True).start()

    def _run(self) -> None:
        backoff = 0.1
        while True:
            pubsub = None
            try:
                pubsub = self.client.pubsub(ignore_subscribe_messages=False)
                pubsub.subscribe(auth_channel(self.county))
                while True:
                    msg = pubsub.get_message(timeout=5.0)
                    if msg is None:
                        continue
                    if msg["type"] == "subscribe":
                        _CACHE.evict(self.county)  # whatever was said before we listened
                        self.ready = True
                        backoff = 0.1
                    elif msg["type"] == "message":
                        self._handle(msg["data"])
            except Exception as exc:  # any failure: stop trusting the cache, retry
                if self.ready:
                    log.warning("auth listener for %s lost (%s); retrying", self.county, type(exc).__name__)
                self.ready = False
                _CACHE.evict(self.county)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
            time.sleep(backoff)
            backoff = min(5.0, backoff * 2)

    def _handle(self, data: Any) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        what, _, name = text.partition(":")
        if what == "u":
            _CACHE.evict(self.county, user=name)
        elif what == "j":
            _CACHE.evict(self.county, token_id=name)
        else:
            _CACHE.evict(self.county)


_LISTENERS: dict[tuple[str, str], _Listener] = {}
_LISTENERS_LOCK = threading.Lock()


def _address(client: Any) -> str:
    """Which server a client talks to, so that clients of one Redis share one listener."""
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if isinstance(kwargs, dict):
        return repr([kwargs.get(k) for k in ("host", "port", "path", "db", "username")])
    return f"client-{id(client)}"  # a cluster client: one listener each


def _listener(client: Any, county: str) -> _Listener:
    key = (_address(client), county)
    got = _LISTENERS.get(key)
    if got is None:
        with _LISTENERS_LOCK:
            got = _LISTENERS.get(key)
            if got is None:
                got = _LISTENERS[key] = _Listener(client, county)
    return got


class Accounts:
    """Users and tokens of one county."""

    def __init__(self, county: County) -> None:
        self.county = county
        self.client = county.client
        self.keys = county.keys
        self._secret: bytes | None = None
        self.throttle = Throttle(self.client, self.keys)

    # -- users ---------------------------------------------------------------------

    def add(
        self, username: str, password: str, role: str, scope: str, actor: Actor, *, personal_data: bool = False
    ) -> None:
        """Create or replace an account; the change is logged without the password.

        `personal_data` grants exports of personal data (leaders' phone numbers), a right
        given separately from viewing (dashboard.privacy); without it nobody sees a phone number.
        """
        username = username.strip()
        plain = username.replace("-", "").replace("_", "").replace(".", "")
        if not username or len(username) > 64 or not plain.isalnum():
            raise InvalidRequest("username: 1–64 letters, digits, - _ .", field="username")
        if len(password) < 8:
            raise InvalidRequest("password must have at least 8 characters", field="password")
        r = parse_enum(Role, role, "role")
        tree = self.county.tree
        tree[scope]
        check_scope_level(tree, r, scope)
        record: dict[str, Any] = {"role": r.value, "scope": scope, "hash": _hasher.hash(password)}
        if personal_data:
            record["personal_data"] = True
        self.client.hset(self.keys.users, username, json.dumps(record))
        self._announce(f"u:{username}")  # a changed role or scope refuses the old tokens
        self.county.record(UserAdded(username=username, role=r.value, scope=scope), actor)

    def remove(self, username: str) -> bool:
        """Delete an account; its tokens stop working at once."""
        removed = bool(self.client.hdel(self.keys.users, username))
        self._announce(f"u:{username}")
        return removed

    def _announce(self, what: str) -> None:
        """Evict cached sessions here, then tell every other process (`u:<user>` or `j:<token id>`)."""
        kind, _, name = what.partition(":")
        if kind == "u":
            _CACHE.evict(self.county.code, user=name)
        else:
            _CACHE.evict(self.county.code, token_id=name)
        self.client.publish(auth_channel(self.county.code), what)

    def get(self, username: str) -> dict[str, Any] | None:
        """The stored record (role, scope, hash) or None."""
        raw = self.client.hget(self.keys.users, username)
        return json.loads(raw) if raw else None

    def list(self) -> list[dict[str, Any]]:
        """Usernames with role, scope and grants (no hashes)."""
        out = []
        for name, raw in sorted(self.client.hgetall(self.keys.users).items()):
            rec = json.loads(raw)
            out.append({"username": name.decode() if isinstance(name, bytes) else name,
                        "role": rec["role"], "scope": rec["scope"],
                        "personal_data": bool(rec.get("personal_data"))})
        return out

    def may_export_personal_data(self, session: Session) -> bool:
        """Whether this session's account holds the personal-data grant (never a kiosk link)."""
        if session.kind != "session":
            return False
        rec = self.get(session.actor.username)
        return bool(rec and rec.get("personal_data"))

    # -- login ---------------------------------------------------------------------

    def login(self, username: str, password: str, source: str = "") -> tuple[str, Actor]:
        """Check a password (a throttle slot reserved first: dashboard.throttle) and issue a session token."""
        if not isinstance(username, str) or not username:
            raise InvalidRequest("username is required", field="username")
        if not isinstance(password, str) or not password:
            raise InvalidRequest("password is required", field="password")
        if len(username) > MAX_NAME:  # no account has such a name: refused unhashed, counted nowhere
            audit.record(self.client, self.county.code, "login_failed", actor=username[:64], source=source)
            raise NotAuthenticated("wrong username or password", field="password")
        try:
            self.throttle.reserve(username, source)
        except LoginThrottled:
            audit.record(self.client, self.county.code, "login_throttled", actor=username[:64], source=source)
            raise
        rec = self.get(username)
        with CHECKS.gate:
            CHECKS.one()
            try:
                _hasher.verify(rec["hash"] if rec else _DUMMY_HASH, password)
                ok = rec is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
        if not ok or rec is None:  # the reserved slot stays: it is the failure
            audit.record(self.client, self.county.code, "login_failed", actor=username[:64], source=source)
            raise NotAuthenticated("wrong username or password", field="password")
        self.throttle.succeeded(username, source)
        audit.record(self.client, self.county.code, "login", actor=username, source=source)
        actor = Actor(username, Role(rec["role"]), rec["scope"])
        # Audit trail and input of the silent-secretary alert. Appended without folding here:
        # the control view is refreshed by the next reader that holds the backend's lock.
        self.county.log.append(UserLoggedIn(username=username), actor=username, at=self.county.clock())
        return self.issue(actor), actor

    # -- tokens --------------------------------------------------------------------

    def secret(self) -> bytes:
        """Signing key, created once per county and shared by every worker."""
        if self._secret is None:
            self.client.set(self.keys.secret, secrets.token_hex(32), nx=True)
            raw = self.client.get(self.keys.secret)
            self._secret = raw if isinstance(raw, bytes) else str(raw).encode()
        return self._secret

    def issue(self, actor: Actor, *, kind: str = "session", ttl_s: int | None = None) -> str:
        """A signed bearer token for `actor`."""
        ttl = ttl_s if ttl_s is not None else (KIOSK_TTL_S if kind == "kiosk" else SESSION_TTL_S)
        claims = {
            "u": actor.username,
            "r": actor.role.value,
            "s": actor.scope,
            "x": int(time.time()) + ttl,
            "j": secrets.token_hex(8),
            "k": kind,
        }
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64(hmac.new(self.secret(), body.encode(), hashlib.sha256).digest())
        return f"{body}.{sig}"

    def cached(self, token: str) -> Session | None:
        """The session of a token verified lately in this process (no I/O), or None: ask `verify`."""
        hit = _CACHE.get(token, self.county.code, time.monotonic())
        return hit if hit is not None and hit.expires >= time.time() else None

    def verify(self, token: str) -> Session:
        """The session behind a token, or NotAuthenticated saying why (cached for `SESSION_CACHE_S`)."""
        now = time.monotonic()
        hit = _CACHE.get(token, self.county.code, now)
        if hit is not None and hit.expires >= time.time():
            return hit
        listener = _listener(self.client, self.county.code)
        gen = _CACHE.gen
        session, user = self._verify(token)
        if listener.ready:
            _CACHE.put(token, _Cached(session, self.county.code, user, now + SESSION_CACHE_S), gen)
        return session

    def _verify(self, token: str) -> tuple[Session, str]:
        """The session behind a token and the account it belongs to, asking Redis."""
        claims = self.claims(token)
        pipe = self.client.pipeline(transaction=False)
        self._ask(pipe, claims)
        got = self._judge(claims, *pipe.execute())
        if isinstance(got, NotAuthenticated):
            raise got
        return got, str(claims["u"])

    def verify_many(self, tokens: Sequence[str]) -> builtins.list[Session | NotAuthenticated]:
        """Each token's session, or why it is refused now — one round trip for all (no cache).

        The live server re-checks the tokens behind its open sockets with this (streams.live).
        """
        out: builtins.list[Session | NotAuthenticated | None] = []
        asked: builtins.list[tuple[int, dict[str, Any]]] = []
        pipe = self.client.pipeline(transaction=False)
        for i, token in enumerate(tokens):
            try:
                claims = self.claims(token)
            except NotAuthenticated as exc:
                out.append(exc)
                continue
            out.append(None)
            asked.append((i, claims))
            self._ask(pipe, claims)
        answers = pipe.execute() if asked else []
        per = len(answers) // len(asked) if asked else 0
        for n, (i, claims) in enumerate(asked):
            out[i] = self._judge(claims, *answers[n * per:(n + 1) * per])
        return [o for o in out if o is not None]

    def claims(self, token: str) -> dict[str, Any]:
        """A token's claims if it is signed by this county and not expired, else NotAuthenticated."""
        try:
            body, sig = token.split(".", 1)
            want = _b64(hmac.new(self.secret(), body.encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(want, sig):
                raise ValueError("signature")
            claims = json.loads(_unb64(body))
            if not isinstance(claims, dict) or not isinstance(claims.get("u"), str):
                raise ValueError("claims")
        except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:  # TypeError: non-ASCII
            raise NotAuthenticated("invalid token", field="authorization") from exc
        if int(claims.get("x", 0)) < time.time():
            raise NotAuthenticated("token expired; log in again", field="authorization")
        return claims

    def _ask(self, pipe: Any, claims: dict[str, Any]) -> None:
        """Queue what judging a token needs: is it revoked, its account, and for a link its record."""
        pipe.hexists(self.keys.revoked, claims.get("j", ""))
        pipe.hget(self.keys.users, claims["u"])
        pipe.hexists(self.keys.kiosk_links, claims.get("j", ""))

    def _judge(self, claims: dict[str, Any], revoked: Any, raw: Any, listed: Any) -> Session | NotAuthenticated:
        """The session a token gives now, from what Redis said about it, or why it gives none."""
        if revoked:
            return NotAuthenticated("token revoked", field="authorization")
        rec = json.loads(raw) if raw else None
        kind = claims.get("k", "session")
        if kind == "kiosk":
            # A link reads no more than its maker may now: the maker still a commander, the link's scope
            # cut to the maker's current one (dashboard.kiosk).
            if rec is None:
                return NotAuthenticated("the user who made this kiosk link is gone", field="authorization")
            if rec["role"] != Role.COMMANDER.value:
                return NotAuthenticated("the maker of this kiosk link is no longer a commander",
                                        field="authorization")
            tree = self.county.view.tree
            scope = bounded_scope(tree, str(claims["s"]), rec["scope"]) if tree is not None else None
            if scope is None:
                return NotAuthenticated("this kiosk link's scope is outside its maker's", field="authorization")
            if not listed:  # a link made before links were listed: list it on first use
                self.client.hsetnx(self.keys.kiosk_links, claims["j"], json.dumps(
                    {"scope": claims["s"], "maker": claims["u"], "expires": int(claims["x"])}))
            actor = Actor(f"kiosk:{claims['u']}", Role.VIEWER, scope)
        else:
            if rec is None or rec["role"] != claims["r"] or rec["scope"] != claims["s"]:
                return NotAuthenticated("account changed or removed; log in again", field="authorization")
            actor = Actor(claims["u"], Role(claims["r"]), claims["s"])
        return Session(actor, claims["j"], kind, int(claims["x"]))

    def revoke(self, token_id: str, expires: int) -> None:
        """Refuse a token from now on (logout, kiosk link withdrawn)."""
        self.client.hset(self.keys.revoked, token_id, expires)
        self._announce(f"j:{token_id}")
