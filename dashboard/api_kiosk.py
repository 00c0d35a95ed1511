"""Kiosk links (大屏链接) on /api/v1: mint, list and withdraw the read-only links that keep a wall signed in.

The routes sit on the intake's table (`dashboard.intake.Routes`): the console's
kiosk panel mints and withdraws through the same functions, in-process.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from command.errors import InvalidRequest
from dashboard.api import Backend, _str
from dashboard.intake import Call, Routes
from dashboard.kiosk import KioskLink, KioskLinks

__all__ = ["ROUTES", "register", "wall_query"]

ROUTES = Routes()
register = ROUTES.register

VIEW = re.compile(r"^(/[A-Za-z0-9_\-/]*(\?[A-Za-z0-9_\-=&.]*)?|[A-Za-z0-9_\-]{1,64})$")
"""A playlist's view: a grid code (the board at that scope) or a path of this app (``/peacetime?scope=PN03``)."""
EVERY_S = (5, 3600)
"""A playlist's interval, seconds."""


def wall_query(data: dict[str, Any], scope: str, token: str) -> str:
    """What a kiosk link fixes, as its query: scope, operation, language, the map's measure, TV mode, a playlist."""
    q: dict[str, str] = {"scope": scope}
    op = _str(data, "op", required=False, limit=80)
    if op:
        q["op"] = op
    lang = data.get("lang")
    if lang not in (None, "", "zh-CN", "en"):
        raise InvalidRequest("lang must be zh-CN or en", field="lang")
    if lang:
        q["lang"] = str(lang)
    measure = data.get("map")
    if measure not in (None, "", "reach"):
        raise InvalidRequest("map must be reach (the map coloured by household reach) or left out", field="map")
    if measure:
        q["map"] = str(measure)
    tv = data.get("tv")
    if tv is not None and not isinstance(tv, bool):
        raise InvalidRequest("tv must be true or false", field="tv")
    if tv:
        q["tv"] = "1"
    play = data.get("play")
    if play is not None:
        if not isinstance(play, list) or not 2 <= len(play) <= 50 or not all(
            isinstance(v, str) and "//" not in v and VIEW.match(v) for v in play
        ):
            raise InvalidRequest("play must list 2 to 50 views: grid codes or paths of this app", field="play")
        every = data.get("every", 30)
        if isinstance(every, bool) or not isinstance(every, int) or not EVERY_S[0] <= every <= EVERY_S[1]:
            raise InvalidRequest(f"every must be whole seconds from {EVERY_S[0]} to {EVERY_S[1]}", field="every")
        q["play"] = ",".join(play)
        q["every"] = str(every)
    q["token"] = token
    return urlencode(q, safe=",/")


@ROUTES.post("/kiosk")
def kiosk(c: Call) -> Any:
    data = dict(c.body)
    scope = _str(data, "scope")
    wall_query(data, scope, "")  # every setting checked before a link is made
    with c.backend.lock:
        c.backend.county.refresh()
        token, link = KioskLinks(c.backend.accounts).make(c.actor, scope)
    return {"token": token, "url": "/?" + wall_query(data, scope, token), "link": link.to_json()}, 201


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
