"""Mobilisation (到岗动员): every secretary told, confirmed on post, and timed (DESIGN §7.2).

A small grid's secretary goes ``installed`` → ``notified`` → ``acknowledged`` →
``on_post``. The switch (or an appointment) installs; a `NotificationQueued`
event per person asks for delivery and a delivery worker records
`NotificationDelivered` / `NotificationFailed`; the secretary's field page
records `SecretaryAcknowledged` when the order is opened and `SecretaryOnPost`
when the button is pressed. `Mobilisation` is the fold of these (kept inside
`command.fold.ControlState`), the functions below are the pure commands and
the summary the API, the wall and the after-action report share.

Counts are cumulative: ``installed`` counts every secretary in post (first
leaders and acting ones), ``notified`` those reached, and so on down to
``on_post``, which counts confirmations only. Percentages (``minutes_to``)
are of the secretaries installed in the scope, timed from its earliest
installation (the switch).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from command.access import Actor, Role, require_command, require_read
from command.errors import InvalidRequest, NotAuthorised, StateConflict
from command.events import (
    Event,
    ModeSwitched,
    NotificationDelivered,
    NotificationQueued,
    SecretaryAcknowledged,
    SecretaryAppointed,
    SecretaryOnPost,
)
from command.fold import ControlState
from command.grids import GridTree
from command.mobilisation_state import (
    Mobilisation,
    Notification,
    NotificationKind,
    NotificationState,
    Post,
    PostState,
)

__all__ = [
    "FAILED_ALERT", "FIELD_CHANNEL", "LOCATION_DECIMALS", "MAX_ACCURACY_M", "MAX_ERROR", "MAX_REPORT_ID",
    "PERCENTS", "Mobilisation", "Notification", "NotificationKind", "NotificationState", "Post", "PostState",
    "acknowledge", "bounded_error", "by_town", "coarse_location", "confirm_on_post", "curve", "delivered",
    "delivered_key", "failed_key", "minutes_to", "notices", "notification_id", "notification_key", "renotify",
    "report_figures", "require_secretary", "summary", "thin",
]

FIELD_CHANNEL = "field"
"""The field page as a channel: the secretary's own page showed the order."""
FAILED_ALERT = "notification_failed"
"""Alert kind raised when a notification finally fails (the commander re-sends or appoints)."""
MAX_REPORT_ID = 100
MAX_ERROR = 300
LOCATION_DECIMALS = 3
"""Coordinates are stored to 3 decimals (≈ 110 m): enough to tell the grid, not the doorstep."""
MAX_ACCURACY_M = 100_000
PERCENTS = (50, 90, 100)


# -- commands ---------------------------------------------------------------------------


def notification_id(seed: str, kind: str, grid: str, person: str) -> str:
    """A stable id from what caused the notification: the same cause always gives the same id."""
    digest = hashlib.sha256(f"{seed}|{kind}|{grid}|{person}".encode()).hexdigest()[:20]
    return f"n-{digest}"


def notification_key(n: NotificationQueued) -> str:
    """Idempotency key of a queued notification: a retried command queues nothing twice."""
    return f"notify:{n.notification}"


def notices(state: ControlState, ev: Event, seed: str) -> list[NotificationQueued]:
    """The notifications a switch or an appointment implies, decided on the state before it."""
    if isinstance(ev, SecretaryAppointed):
        kind = NotificationKind.ACTING
        w = state.wartime.get(ev.grid)
        return [NotificationQueued(notification_id(seed, kind, ev.grid, ev.person), kind, ev.grid, ev.person,
                                   w.incident if w else None, w.level if w else None)]
    if not isinstance(ev, ModeSwitched):
        return []
    if ev.installed:
        kind = NotificationKind.INSTALLED
        return [NotificationQueued(notification_id(seed, kind, g, p), kind, g, p, ev.incident, ev.level)
                for g, p in ev.installed]
    out = []
    for g in ev.released:
        sec = state.secretaries.get(g)
        if sec is not None:
            kind = NotificationKind.STAND_DOWN
            out.append(NotificationQueued(notification_id(seed, kind, g, sec.name), kind, g, sec.name))
    return out


def renotify(state: ControlState, actor: Actor, grid: str, seed: str) -> NotificationQueued:
    """Tell a secretary again (a commander's action on a silent or failed one)."""
    tree = _tree(state)
    require_command(actor, tree, grid, field="grid")
    post = state.mobilisation.posts.get(grid)
    if post is None:
        raise StateConflict(f"{grid} has no secretary to notify", field="grid")
    w = state.wartime.get(grid)
    kind = NotificationKind.RENOTIFY
    return NotificationQueued(notification_id(seed, kind, grid, post.person), kind, grid, post.person,
                              w.incident if w else None, w.level if w else None)


def require_secretary(actor: Actor, tree: GridTree, grid: str) -> None:
    """Only the grid's own secretary — a leader whose scope is exactly the grid — speaks for it."""
    tree[grid]
    if actor.role != Role.LEADER or actor.scope != grid:
        raise NotAuthorised(f"only the secretary of {grid} may confirm for it", field="grid")


def _post_of(state: ControlState, grid: str) -> Post:
    post = state.mobilisation.posts.get(grid)
    if post is None:
        raise StateConflict(f"{grid} has no secretary installed", field="grid")
    return post


def acknowledge(
    state: ControlState, actor: Actor, grid: str, notification: str = ""
) -> tuple[SecretaryAcknowledged, str]:
    """The secretary opened the order: the event and its key (once per installation)."""
    require_secretary(actor, _tree(state), grid)
    post = _post_of(state, grid)
    if not isinstance(notification, str) or len(notification) > MAX_REPORT_ID:
        raise InvalidRequest("notification must be a notification id", field="notification")
    if notification and notification not in state.mobilisation.notifications:
        notification = ""
    return SecretaryAcknowledged(grid=grid, notification=notification), f"ack:{grid}:{post.installed_at}"


def _coord(value: object, name: str, bound: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequest(f"location.{name} must be a number", field=f"location.{name}")
    if not -bound <= value <= bound:
        raise InvalidRequest(f"location.{name} must lie within ±{bound:g}", field=f"location.{name}")
    return round(float(value), LOCATION_DECIMALS)


def coarse_location(location: object) -> tuple[float, float, int | None] | None:
    """A browser position made coarse and bounded: (lat, lon, accuracy in m rounded up to 10 m)."""
    if location is None:
        return None
    if not isinstance(location, Mapping):
        raise InvalidRequest("location must be an object {lat, lon, accuracy_m}", field="location")
    lat = _coord(location.get("lat"), "lat", 90)
    lon = _coord(location.get("lon"), "lon", 180)
    acc = location.get("accuracy_m")
    if acc is None:
        return lat, lon, None
    if isinstance(acc, bool) or not isinstance(acc, int | float) or not math.isfinite(acc) or acc < 0:
        raise InvalidRequest("location.accuracy_m must be a number of metres", field="location.accuracy_m")
    return lat, lon, int(min(math.ceil(acc / 10) * 10, MAX_ACCURACY_M))


def confirm_on_post(
    state: ControlState, actor: Actor, grid: str, report_id: object, location: object = None
) -> tuple[SecretaryOnPost, str]:
    """The secretary is in the grid: the event and its key (one confirmation per installation)."""
    require_secretary(actor, _tree(state), grid)
    if not isinstance(report_id, str) or not report_id.strip():
        raise InvalidRequest("report_id is required", field="report_id")
    if len(report_id) > MAX_REPORT_ID:
        raise InvalidRequest(f"report_id is longer than {MAX_REPORT_ID} characters", field="report_id")
    where = coarse_location(location)
    post = _post_of(state, grid)
    ev = SecretaryOnPost(grid=grid, report_id=report_id, lat=where[0] if where else None,
                         lon=where[1] if where else None, accuracy_m=where[2] if where else None)
    return ev, f"onpost:{grid}:{post.installed_at}"


def bounded_error(text: str) -> str:
    """An error as it enters the log: one line, at most MAX_ERROR characters."""
    return " ".join(str(text).split())[:MAX_ERROR]


def _name(tree: GridTree, code: str | None) -> str | None:
    return tree[code].name if code else None


def _tree(state: ControlState) -> GridTree:
    tree = state.tree
    if tree is None:
        raise StateConflict("no registry loaded", field="grid")
    return tree


# -- the summary: API, wall and report ---------------------------------------------------


def minutes_to(start: int | None, on_times: Iterable[int], installed: int) -> dict[str, float | None]:
    """Minutes from `start` until 50, 90 and 100 % of `installed` secretaries were on post."""
    times = sorted(on_times)
    out: dict[str, float | None] = {}
    for p in PERCENTS:
        need = math.ceil(installed * p / 100)
        reached = start is not None and installed > 0 and need <= len(times)
        out[str(p)] = round(max(0, times[need - 1] - start) / 60_000, 1) if reached and start is not None else None
    return out


def curve(start: int | None, on_times: Iterable[int]) -> list[list[float]]:
    """The mobilisation curve: (minutes since the switch, secretaries on post) after each confirmation."""
    if start is None:
        return []
    return [[round(max(0, t - start) / 60_000, 2), i] for i, t in enumerate(sorted(on_times), 1)]


def summary(state: ControlState, actor: Actor | None, scope: str, *, limit: int = 2000,
            posts: Mapping[str, Post] | None = None) -> dict[str, Any]:
    """`GET /api/v1/mobilisation`: the funnel, who is not on post, and the minutes to 50/90/100 %."""
    tree = _tree(state)
    if actor is not None:
        require_read(actor, tree, scope, field="scope")
    every = state.mobilisation.posts if posts is None else posts
    mine = [p for g, p in every.items() if tree.is_within(g, scope)]
    on_times = [p.on_post_at for p in mine if p.on_post_at is not None]
    start = min((p.installed_at for p in mine), default=None)
    by_state = {s.value: 0 for s in PostState}
    for p in mine:
        by_state[p.state.value] += 1
    missing = sorted((p for p in mine if p.on_post_at is None), key=lambda p: p.grid)
    return {
        "scope": scope,
        "small_grids": len(tree.small_grids(scope)),
        "installed": len(mine),
        "notified": sum(1 for p in mine if p.notified_at is not None),
        "acknowledged": sum(1 for p in mine if p.acknowledged_at is not None),
        "on_post": len(on_times),
        "vacancies": sum(1 for g in state.vacancies if tree.is_within(g, scope)),
        "by_state": by_state,
        "switched_at": start,
        "not_on_post": [
            {"grid": p.grid, "name": tree[p.grid].name, "town": tree.town_of(p.grid),
             "town_name": _name(tree, tree.town_of(p.grid)), "secretary": p.person,
             "acting": p.acting, "installed_at": p.installed_at, "state": p.state.value}
            for p in missing[:limit]
        ],
        "not_on_post_total": len(missing),
        "minutes_to": minutes_to(start, on_times, len(mine)),
        "curve": curve(start, on_times),
    }


def by_town(state: ControlState, scope: str, posts: Mapping[str, Post] | None = None) -> list[dict[str, Any]]:
    """Per town of the scope: installed, on post and the minutes to 50/90/100 % (the report's table)."""
    tree = _tree(state)
    groups: dict[str, list[Post]] = {}
    for g, p in (state.mobilisation.posts if posts is None else posts).items():
        if tree.is_within(g, scope):
            groups.setdefault(tree.town_of(g) or g, []).append(p)
    rows = []
    for town in sorted(groups):
        mine = groups[town]
        on = [p.on_post_at for p in mine if p.on_post_at is not None]
        start = min(p.installed_at for p in mine)
        rows.append({"town": town, "name": tree[town].name, "installed": len(mine), "on_post": len(on),
                     "minutes_to": minutes_to(start, on, len(mine))})
    return rows


def report_figures(state: ControlState, scope: str) -> dict[str, Any]:
    """The after-action report's mobilisation figures (secretaries stood down since still count)."""
    m = state.mobilisation
    posts = {**m.released, **m.posts}
    shown = summary(state, None, scope, limit=0, posts=posts)
    keep = ("installed", "notified", "acknowledged", "on_post", "minutes_to", "curve")
    return {**{k: shown[k] for k in keep}, "by_town": by_town(state, scope, posts)}


def delivered(notification: str, channel: str, attempts: int) -> NotificationDelivered:
    """The event of a delivery (its key makes every notification delivered at most once in the log)."""
    return NotificationDelivered(notification=notification, channel=channel, attempts=attempts)


def delivered_key(notification: str) -> str:
    """Idempotency key of a delivery: every notification is delivered once in the log."""
    return f"delivered:{notification}"


def failed_key(notification: str) -> str:
    """Idempotency key of a final failure (a later delivery, e.g. on the field page, still counts)."""
    return f"failed:{notification}"


def thin(points: list[list[float]], most: int = 60) -> list[list[float]]:
    """A curve with at most `most` points, the last one always kept (the wall redraws it live)."""
    if len(points) <= most:
        return points
    step = len(points) / (most - 1)
    picked = [points[int(i * step)] for i in range(most - 1)]
    return [*picked, points[-1]]

