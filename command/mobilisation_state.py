"""The fold of mobilisation (到岗动员): secretaries on their way to the grid, notifications and their delivery.

Kept inside `command.fold.ControlState` (its ``mobilisation`` field); the
commands and the summary over it are in `command.mobilisation`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from command.events import (
    ModeSwitched,
    NotificationDelivered,
    NotificationFailed,
    NotificationQueued,
    Recorded,
    SecretaryAcknowledged,
    SecretaryAppointed,
    SecretaryOnPost,
)

__all__ = ["Mobilisation", "Notification", "NotificationKind", "NotificationState", "Post", "PostState"]


class PostState(enum.StrEnum):
    """A secretary's way from the switch to the grid: 已任命 / 已通知 / 已确认 / 已到岗."""

    INSTALLED = "installed"
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    ON_POST = "on_post"


class NotificationKind(enum.StrEnum):
    """Why a person is told: installed at a switch, appointed acting, told again, stood down."""

    INSTALLED = "installed"
    ACTING = "acting"
    RENOTIFY = "renotify"
    STAND_DOWN = "stand_down"


class NotificationState(enum.StrEnum):
    """Where a notification stands: waiting, taken by a channel, given up on."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(slots=True)
class Notification:
    """One notification as folded: what it says and how its delivery went."""

    id: str
    kind: str
    grid: str
    person: str
    queued_at: int
    incident: str | None = None
    level: str | None = None
    state: NotificationState = NotificationState.PENDING
    channel: str | None = None
    attempts: int = 0
    delivered_at: int | None = None
    failed_at: int | None = None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        """The API's shape of a notification (the phone is never in it)."""
        return {
            "id": self.id, "kind": self.kind, "grid": self.grid, "person": self.person,
            "state": self.state.value, "queued_at": self.queued_at, "channel": self.channel,
            "attempts": self.attempts, "delivered_at": self.delivered_at, "failed_at": self.failed_at,
            "error": self.error or None, "incident": self.incident, "level": self.level,
        }


@dataclass(slots=True)
class Post:
    """One small grid's secretary on the way to the grid, from installation on."""

    grid: str
    person: str
    acting: bool
    installed_at: int
    notified_at: int | None = None
    acknowledged_at: int | None = None
    on_post_at: int | None = None
    location: tuple[float, float, int | None] | None = None

    @property
    def state(self) -> PostState:
        """The furthest step reached."""
        if self.on_post_at is not None:
            return PostState.ON_POST
        if self.acknowledged_at is not None:
            return PostState.ACKNOWLEDGED
        if self.notified_at is not None:
            return PostState.NOTIFIED
        return PostState.INSTALLED


@dataclass
class Mobilisation:
    """The fold of installations, notifications and confirmations (part of the control state)."""

    notifications: dict[str, Notification] = field(default_factory=dict)
    posts: dict[str, Post] = field(default_factory=dict)
    released: dict[str, Post] = field(default_factory=dict)

    def apply(self, rec: Recorded) -> None:
        """Fold one event; events of other concerns pass through untouched."""
        ev = rec.event
        at = rec.ms
        if isinstance(ev, ModeSwitched):
            for grid, person in ev.installed:
                self.posts[grid] = Post(grid, person, False, at)
            for grid in ev.released:
                gone = self.posts.pop(grid, None)
                if gone is not None:
                    self.released[grid] = gone
        elif isinstance(ev, SecretaryAppointed):
            self.posts[ev.grid] = Post(ev.grid, ev.person, True, at)
        elif isinstance(ev, NotificationQueued):
            if ev.notification not in self.notifications:
                self.notifications[ev.notification] = Notification(
                    ev.notification, ev.kind, ev.grid, ev.person, at, ev.incident, ev.level
                )
        elif isinstance(ev, NotificationDelivered):
            n = self.notifications.get(ev.notification)
            if n is None or n.state == NotificationState.DELIVERED:
                return
            n.state, n.channel, n.delivered_at = NotificationState.DELIVERED, ev.channel, at
            n.attempts = max(n.attempts, ev.attempts)
            post = self.posts.get(n.grid)
            if (post is not None and n.kind != NotificationKind.STAND_DOWN and post.person == n.person
                    and n.queued_at >= post.installed_at and post.notified_at is None):
                post.notified_at = at
        elif isinstance(ev, NotificationFailed):
            n = self.notifications.get(ev.notification)
            if n is not None and n.state == NotificationState.PENDING:
                n.state, n.channel, n.failed_at = NotificationState.FAILED, ev.channel, at
                n.attempts, n.error = ev.attempts, ev.error
        elif isinstance(ev, SecretaryAcknowledged):
            post = self.posts.get(ev.grid)
            if post is not None and post.acknowledged_at is None:
                post.acknowledged_at = at
                post.notified_at = post.notified_at if post.notified_at is not None else at
        elif isinstance(ev, SecretaryOnPost):
            post = self.posts.get(ev.grid)
            if post is not None and post.on_post_at is None:
                post.on_post_at = at
                post.acknowledged_at = post.acknowledged_at if post.acknowledged_at is not None else at
                post.notified_at = post.notified_at if post.notified_at is not None else at
                if ev.lat is not None and ev.lon is not None:
                    post.location = (ev.lat, ev.lon, ev.accuracy_m)

    def pending(self) -> list[Notification]:
        """Notifications still waiting for a channel, oldest first."""
        return sorted((n for n in self.notifications.values() if n.state == NotificationState.PENDING),
                      key=lambda n: (n.queued_at, n.id))
