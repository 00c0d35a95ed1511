"""Kiosk links (大屏链接): read-only, long-lived tokens a commander makes for a wall; listed and withdrawn.

A link is a delegation, so at every use (`Accounts.verify`) it reads no more than
its maker may now: the maker must still be a commander, and the link's scope is
cut to the maker's current scope (`command.access.bounded_scope`) — a maker moved
from the county to one town narrows the county's walls to that town, a maker
moved elsewhere, demoted or removed ends them. Each link is kept in
`CountyKeys.kiosk_links` (never the token itself, only its id, scope, maker and
expiry) so that a console lists the live links of its scope and withdraws any of
them; a withdrawal revokes the token id, which every process and the live
server's re-check hear at once (dashboard.auth, streams.live).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from command.access import Actor, Role, bounded_scope, require_command
from command.errors import UnknownLink
from dashboard.auth import Accounts

MAX_LISTED = 500
"""Links a console lists at most (the newest first)."""


@dataclass(frozen=True, slots=True)
class KioskLink:
    """One live link: what it was made for and what it reads now."""

    id: str
    scope: str
    """The scope it was made for."""
    reads: str
    """The scope it reads now: `scope` cut to its maker's current one."""
    maker: str
    made: int
    """Epoch seconds."""
    expires: int
    """Epoch seconds."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class KioskLinks:
    """The kiosk links of one county."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.client = accounts.client
        self.keys = accounts.keys

    def make(self, maker: Actor, scope: str) -> tuple[str, KioskLink]:
        """A new link over `scope` (a commander's, inside its scope) and its token (shown once)."""
        tree = self.accounts.county.tree
        require_command(maker, tree, scope)
        token = self.accounts.issue(Actor(maker.username, Role.VIEWER, scope), kind="kiosk")
        claims = self.accounts.claims(token)
        link = KioskLink(str(claims["j"]), scope, scope, maker.username, int(time.time()), int(claims["x"]))
        record = {"scope": scope, "maker": maker.username, "made": link.made, "expires": link.expires}
        self.client.hset(self.keys.kiosk_links, link.id, json.dumps(record))
        return token, link

    def live(self, viewer: Actor) -> list[KioskLink]:
        """Links alive now whose scope lies inside a commander's, newest first; spent ones are dropped."""
        tree = self.accounts.county.tree
        require_command(viewer, tree, viewer.scope)
        raw = self.client.hgetall(self.keys.kiosk_links)
        ids = [_s(k) for k in raw]
        records = [json.loads(v) for v in raw.values()]
        if not ids:
            return []
        makers = sorted({str(r.get("maker", "")) for r in records})
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self.keys.revoked, ids)
        pipe.hmget(self.keys.users, makers)
        revoked, users = pipe.execute()
        account = {m: json.loads(u) if u else None for m, u in zip(makers, users, strict=True)}
        now = int(time.time())
        spent: list[str] = []
        out: list[KioskLink] = []
        for link_id, rec, gone in zip(ids, records, revoked, strict=True):
            if gone is not None or int(rec.get("expires", 0)) < now:
                spent.append(link_id)  # withdrawn or expired: for good
                continue
            scope, maker = str(rec.get("scope", "")), str(rec.get("maker", ""))
            if scope not in tree or not tree.is_within(scope, viewer.scope):
                continue
            who = account.get(maker)
            reads = (bounded_scope(tree, scope, who["scope"])
                     if who is not None and who.get("role") == Role.COMMANDER.value else None)
            if reads is None:
                continue  # its maker may not make it now: refused at use, and not shown as live
            out.append(KioskLink(link_id, scope, reads, maker, int(rec.get("made", 0)), int(rec["expires"])))
        if spent:
            self.client.hdel(self.keys.kiosk_links, *spent)
        out.sort(key=lambda k: (-k.made, k.id))
        return out[:MAX_LISTED]

    def withdraw(self, viewer: Actor, link_id: str) -> KioskLink:
        """Revoke one link (a commander whose scope holds it); its walls and sockets stop at once."""
        tree = self.accounts.county.tree
        require_command(viewer, tree, viewer.scope, field="link")  # the right before the state
        raw = self.client.hget(self.keys.kiosk_links, link_id) if link_id else None
        if raw is None:
            raise UnknownLink(f"no live kiosk link {link_id!r}", field="link")
        rec = json.loads(raw)
        scope = str(rec.get("scope", ""))
        require_command(viewer, tree, scope, field="link")
        expires = int(rec.get("expires", 0))
        self.accounts.revoke(link_id, expires)  # first: a crash after it leaves a revoked entry, pruned later
        self.client.hdel(self.keys.kiosk_links, link_id)
        return KioskLink(link_id, scope, scope, str(rec.get("maker", "")), int(rec.get("made", 0)), expires)
