"""Kiosk links (大屏链接) on /api/v1: mint, list and withdraw the read-only links that keep a wall signed in."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from dashboard.api import Backend, _str, body, handler
from dashboard.kiosk import KioskLink, KioskLinks

__all__ = ["register"]


def register(api: Blueprint, backend: Backend) -> None:
    """Add the kiosk routes to the blueprint."""

    @api.post("/kiosk")
    @handler
    def kiosk() -> Any:
        actor = backend.actor()
        data = body()
        scope = _str(data, "scope")
        with backend.lock:
            backend.county.refresh()
            token, link = KioskLinks(backend.accounts).make(actor, scope)
        return {"token": token, "url": f"/?scope={scope}&token={token}", "link": link.to_json()}, 201

    def named(link: KioskLink) -> dict[str, Any]:
        tree = backend.county.tree
        names = {g: tree[g].name for g in (link.scope, link.reads) if g in tree}
        return {**link.to_json(), "scope_name": names.get(link.scope), "reads_name": names.get(link.reads)}

    @api.get("/kiosk")
    @handler
    def kiosk_links() -> Any:
        actor = backend.actor()
        return {"links": [named(k) for k in KioskLinks(backend.accounts).live(actor)]}

    @api.delete("/kiosk/<link_id>")
    @handler
    def kiosk_withdraw(link_id: str) -> Any:
        actor = backend.actor()
        return {"withdrawn": named(KioskLinks(backend.accounts).withdraw(actor, link_id[:64]))}
