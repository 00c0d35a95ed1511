"""Domain errors: why a command was refused. Nothing is written when one is raised.

    CommandRejected                 any refusal; `field` names the offending input
    ├── InvalidRequest              malformed or invalid values          → 422
    │   ├── InvalidReport           a progress report that cannot count  → 422
    │   ├── TooLarge                a body or field over its size limit  → 413
    │   └── RegistryError           a registry file with bad rows        → 422
    ├── NotAuthenticated            no, bad or expired credentials       → 401
    ├── NotAuthorised               outside the actor's role or scope    → 403
    ├── UnknownGrid                 no such grid code                    → 404
    ├── UnknownOperation            no such operation                    → 404
    ├── UnknownAlert                no such alert                        → 404
    └── StateConflict               right request, wrong moment          → 409
        ├── ModeConflict            e.g. launch outside wartime
        └── OperationClosed         reports after close

The HTTP layer maps these to status codes in one table (`dashboard/api.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class CommandRejected(Exception):
    """Base of every refusal; `code` is the stable machine name sent to clients."""

    code = "rejected"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidRequest(CommandRejected):
    """Values that can never be accepted as sent."""

    code = "invalid"


class InvalidReport(InvalidRequest):
    """A progress report that cannot be counted."""

    code = "invalid_report"


class TooLarge(InvalidRequest):
    """A body or a field beyond its size limit."""

    code = "too_large"


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad registry row: its line in the file and why."""

    line: int
    reason: str
    field: str | None = None

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"line {self.line}{where}: {self.reason}"


class RegistryError(InvalidRequest):
    """A registry file refused whole, with every bad row listed by line."""

    code = "invalid_registry"

    def __init__(self, errors: Sequence[RowError], *, source: str = "") -> None:
        self.errors = tuple(errors)
        head = f"{source}: " if source else ""
        shown = "; ".join(str(e) for e in self.errors[:20])
        more = f" (+{len(self.errors) - 20} more)" if len(self.errors) > 20 else ""
        super().__init__(f"{head}{len(self.errors)} bad row(s): {shown}{more}")


class NotAuthenticated(CommandRejected):
    """No credentials, wrong ones, or an expired token."""

    code = "not_authenticated"


class NotAuthorised(CommandRejected):
    """The actor's role or scope does not cover this action."""

    code = "not_authorised"


class UnknownGrid(CommandRejected):
    """A grid code that the registry does not hold."""

    code = "unknown_grid"

    def __init__(self, grid: str, *, field: str | None = "grid") -> None:
        super().__init__(f"unknown grid {grid!r}", field=field)
        self.grid = grid


class UnknownOperation(CommandRejected):
    """An operation id never launched."""

    code = "unknown_operation"


class UnknownAlert(CommandRejected):
    """An alert id never raised."""

    code = "unknown_alert"


class UnknownLink(CommandRejected):
    """A kiosk link that was never made, or is withdrawn or expired."""

    code = "unknown_link"


class StateConflict(CommandRejected):
    """The request is well formed but the world is not in the state it needs."""

    code = "conflict"


class ModeConflict(StateConflict):
    """Wrong peacetime/wartime mode for this command."""

    code = "mode_conflict"


class OperationClosed(StateConflict):
    """The operation is closed; its totals are frozen."""

    code = "operation_closed"
