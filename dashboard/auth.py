"""Accounts, password hashing and bearer tokens.

Passwords are hashed with Argon2id (argon2-cffi); the hash lives in the users
hash in Redis and never enters the log or a log line — the log gets a
`UserAdded` event with role and scope only (the audit trail).

Tokens are stateless and signed (HMAC-SHA256 with a per-county secret made once
in Redis): ``base64url(json claims) . base64url(sig)``. Claims: user, role,
scope, expiry, token id and kind (``session`` or ``kiosk``). A token is honoured
only while its user still exists with the same role and scope and its id is not
revoked, so deleting a user or revoking a kiosk link takes effect at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from command.access import Actor, Role, check_scope_level
from command.errors import InvalidRequest, NotAuthenticated
from command.events import UserAdded, UserLoggedIn
from command.modes import parse_enum
from streams.county import County

SESSION_TTL_S = 12 * 3600
KIOSK_TTL_S = 365 * 24 * 3600
MAX_FAILED_LOGINS = 10
"""Failed logins per username and source address within the window before that pair is refused."""
MAX_FAILED_PER_SOURCE = 30
"""Failed logins per source address, whatever the username (password spraying), within the window."""
FAILED_WINDOW_S = 300

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


class Accounts:
    """Users and tokens of one county."""

    def __init__(self, county: County) -> None:
        self.county = county
        self.client = county.client
        self.keys = county.keys
        self._secret: bytes | None = None

    # -- users ---------------------------------------------------------------------

    def add(
        self, username: str, password: str, role: str, scope: str, actor: Actor, *, personal_data: bool = False
    ) -> None:
        """Create or replace an account; the change is logged without the password.

        `personal_data` grants exports of personal data (leaders' phone numbers), a right
        given separately from viewing (dashboard.privacy); without it nobody sees a phone number.
        """
        username = username.strip()
        if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
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
        self.county.record(UserAdded(username=username, role=r.value, scope=scope), actor)

    def remove(self, username: str) -> bool:
        """Delete an account; its tokens stop working at once."""
        return bool(self.client.hdel(self.keys.users, username))

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
        """Check a password (rate-limited per username and source) and issue a session token."""
        if not isinstance(username, str) or not username:
            raise InvalidRequest("username is required", field="username")
        if not isinstance(password, str) or not password:
            raise InvalidRequest("password is required", field="password")
        from dashboard import audit

        throttle = f"{self.keys.logins}:{username}:{source}"
        per_source = f"{self.keys.logins}-source:{source}"
        failures, from_source = (int(v or 0) for v in self.client.mget(throttle, per_source))
        if failures >= MAX_FAILED_LOGINS or from_source >= MAX_FAILED_PER_SOURCE:
            audit.record(self.client, self.county.code, "login_throttled", actor=username[:64], source=source)
            raise NotAuthenticated("too many failed logins; wait a few minutes", field="username")
        rec = self.get(username)
        try:
            _hasher.verify(rec["hash"] if rec else _DUMMY_HASH, password)
            ok = rec is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or rec is None:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(throttle)
            pipe.expire(throttle, FAILED_WINDOW_S)
            pipe.incr(per_source)
            pipe.expire(per_source, FAILED_WINDOW_S)
            pipe.execute()
            audit.record(self.client, self.county.code, "login_failed", actor=username[:64], source=source)
            raise NotAuthenticated("wrong username or password", field="password")
        self.client.delete(throttle)
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

    def verify(self, token: str) -> Session:
        """The session behind a token, or NotAuthenticated saying why."""
        try:
            body, sig = token.split(".", 1)
            want = _b64(hmac.new(self.secret(), body.encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(want, sig):
                raise ValueError("signature")
            claims = json.loads(_unb64(body))
        except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:  # TypeError: non-ASCII
            raise NotAuthenticated("invalid token", field="authorization") from exc
        if int(claims.get("x", 0)) < time.time():
            raise NotAuthenticated("token expired; log in again", field="authorization")
        pipe = self.client.pipeline(transaction=False)
        pipe.hexists(self.keys.revoked, claims.get("j", ""))
        pipe.hget(self.keys.users, claims["u"])
        revoked, raw = pipe.execute()
        if revoked:
            raise NotAuthenticated("token revoked", field="authorization")
        rec = json.loads(raw) if raw else None
        if claims.get("k") == "kiosk":
            if rec is None:
                raise NotAuthenticated("the user who made this kiosk link is gone", field="authorization")
            actor = Actor(f"kiosk:{claims['u']}", Role.VIEWER, claims["s"])
        else:
            if rec is None or rec["role"] != claims["r"] or rec["scope"] != claims["s"]:
                raise NotAuthenticated("account changed or removed; log in again", field="authorization")
            actor = Actor(claims["u"], Role(claims["r"]), claims["s"])
        return Session(actor, claims["j"], claims.get("k", "session"), int(claims["x"]))

    def revoke(self, token_id: str, expires: int) -> None:
        """Refuse a token from now on (logout, kiosk link withdrawn)."""
        self.client.hset(self.keys.revoked, token_id, expires)
