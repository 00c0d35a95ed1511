"""Kiosk links (大屏链接) on /api/v1: mint, list and withdraw the read-only links that keep a wall signed in.

The routes sit on the intake's table (`dashboard.intake.Routes`): the console's
kiosk panel mints and withdraws through the same functions, in-process.
"""

from __future__ import annotations

from typing import Any

from dashboard.api import Backend, _str
from dashboard.intake import Call, Routes
from dashboard.kiosk import KioskLink, KioskLinks

__all__ = ["ROUTES", "register"]

ROUTES = Routes()
register = ROUTES.register


@ROUTES.post("/kiosk")
def kiosk(c: Call) -> Any:
    scope = _str(c.body, "scope")
    with c.backend.lock:
        c.backend.county.refresh()
        token, link = KioskLinks(c.backend.accounts).make(c.actor, scope)
    return {"token": token, "url": f"/?scope={scope}&token={token}", "link": link.to_json()}, 201


def _named(backend: Backend, link: KioskLink) -> dict[str, Any]:
    tree = backend.county.tree
    names = {g: tree[g].name for g in (link.scope, link.reads) if g in tree}
    return {**link.to_json(), "scope_name": names.get(link.scope), "reads_name": names.get(link.reads)}


@ROUTES.get("/kiosk")
def kiosk_links(c: Call) -> Any:
    return {"links": [_named(c.backend, k) for k in KioskLinks(c.backend.accounts).live(c.actor)]}


@ROUTES.delete("/kiosk/<link_id>")
def kiosk_withdraw(c: Call, link_id: str) -> Any:
    return {"withdrawn": _named(c.backend, KioskLinks(c.backend.accounts).withdraw(c.actor, link_id[:64]))}
