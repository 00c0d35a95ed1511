"""Alerts (预警): commands on them. Rules that raise and clear them live beside these.

An alert is raised once per condition and cleared when the condition ends; a
commander in scope acknowledges it (the actor is recorded by the envelope).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from command.access import Actor, require_command
from command.errors import ModeConflict, StateConflict, UnknownAlert
from command.events import AlertAcknowledged

if TYPE_CHECKING:
    from command.fold import ControlState


class AlertKind:
    """Names of the alert kinds (DESIGN.md §2, issue 7)."""

    VACANCY = "vacancy"
    STALL = "stall"
    PACE = "pace"
    OVER_TARGET = "over_target"
    SILENT_SECRETARY = "silent_secretary"


def acknowledge(state: ControlState, actor: Actor, alert: str) -> AlertAcknowledged:
    """Record that a commander in scope took charge of an open alert."""
    tree = state.tree
    if tree is None:
        raise ModeConflict("no registry loaded", field="alert")
    a = state.alerts.get(alert)
    if a is None:
        raise UnknownAlert(f"unknown alert {alert!r}", field="alert")
    require_command(actor, tree, a.grid, field="alert")
    if a.acked_by is not None:
        raise StateConflict(f"alert {alert} was acknowledged by {a.acked_by}", field="alert")
    return AlertAcknowledged(alert=alert)
