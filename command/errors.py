"""Every error this program raises on purpose, in one tree. Nothing is written when one is raised.

    WartimeError                    base; `code` is the stable machine name, `field` the input at fault
    ├── CommandRejected             a refusal of what the caller asked
    │   ├── Malformed               the body is not the JSON object the endpoint takes → 400
    │   │   └── CallbackInput       a page callback request whose values it cannot take
    │   ├── HttpRefusal             refused by the HTTP layer before any handler (its own status: 405, 414 …)
    │   ├── InvalidRequest          invalid values                                   → 422
    │   │   ├── InvalidReport       a progress report that cannot count              → 422
    │   │   ├── TooLarge            a body or field over its size limit              → 413
    │   │   └── RegistryError       a registry file with bad rows                    → 422
    │   ├── NotAuthenticated        no, bad or expired credentials                   → 401
    │   │   └── LoginThrottled      too many failed logins: wait                     → 429
    │   ├── NotAuthorised           outside the actor's role or scope                → 403
    │   ├── NotFound                no such thing                                    → 404
    │   │   ├── UnknownGrid         no such grid code
    │   │   ├── UnknownOperation    no such operation
    │   │   ├── UnknownAlert        no such alert
    │   │   ├── UnknownMatter       no such residents' matter
    │   │   ├── UnknownEvaluation   no such quarterly evaluation
    │   │   ├── UnknownEndpoint     no such path under /api/v1
    │   │   ├── UnknownLink         no such live kiosk link (never made, withdrawn or expired)
    │   │   └── UnknownHousehold    no such household in the roster
    │   └── StateConflict           right request, wrong moment                      → 409
    │       ├── ModeConflict        e.g. launch outside wartime
    │       ├── OperationClosed     reports after close
    │       │   └── OperationClosedForTown  reports to a town whose part of the operation closed
    │       └── ReportIdReused      a report_id of the operation used with another body
    └── Unavailable                 the infrastructure cannot serve now (retry)      → 503
        ├── RedisUnavailable        the embedded server did not start, or a URL did not answer
        ├── LogUnavailable          Redis refused or lost a write: nothing acknowledged
        ├── LeaseLost               a projector lost its stream to another (never reaches a client)
        └── DeliveryFailed          a notification channel did not take a message (retried; never reaches a client)

The HTTP layer maps these to status codes in one table (`dashboard.api.STATUS`);
the CLI prints a refusal's message and exits 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CallbackInput",
    "CommandRejected",
    "DeliveryFailed",
    "HttpRefusal",
    "InvalidReport",
    "InvalidRequest",
    "LeaseLost",
    "LogUnavailable",
    "LoginThrottled",
    "Malformed",
    "ModeConflict",
    "NotAuthenticated",
    "NotAuthorised",
    "NotFound",
    "OperationClosed",
    "OperationClosedForTown",
    "RedisUnavailable",
    "RegistryError",
    "ReportIdReused",
    "RowError",
    "StateConflict",
    "TooLarge",
    "Unavailable",
    "UnknownAlert",
    "UnknownEndpoint",
    "UnknownEvaluation",
    "UnknownGrid",
    "UnknownHousehold",
    "UnknownLink",
    "UnknownMatter",
    "UnknownOperation",
    "WartimeError",
]


class WartimeError(Exception):
    """Base of the tree; `code` is the stable machine name sent to clients."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class CommandRejected(WartimeError):
    """Base of every refusal of what the caller asked."""

    code = "rejected"


class Malformed(CommandRejected):
    """The body is not the JSON object the endpoint takes."""

    code = "malformed"


class CallbackInput(Malformed):
    """A Dash callback request whose values the callback cannot take (a forged or stale store): 400."""

    code = "callback_input"


class HttpRefusal(CommandRejected):
    """A refusal the HTTP layer made before any handler ran (405, 413, 414 …), with its own status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, field="body" if status == 413 else "path" if status == 414 else None)
        self.status = status
        self.code = code


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
        self.source = source
        head = f"{source}: " if source else ""
        shown = "; ".join(str(e) for e in self.errors[:20])
        more = f" (+{len(self.errors) - 20} more)" if len(self.errors) > 20 else ""
        super().__init__(f"{head}{len(self.errors)} bad row(s): {shown}{more}")


class NotAuthenticated(CommandRejected):
    """No credentials, wrong ones, or an expired token."""

    code = "not_authenticated"


class LoginThrottled(NotAuthenticated):
    """Too many failed logins from this address (for this name): refused for a while."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s


class NotAuthorised(CommandRejected):
    """The actor's role or scope does not cover this action."""

    code = "not_authorised"


class NotFound(CommandRejected):
    """Something named that does not exist."""

    code = "not_found"


class UnknownGrid(NotFound):
    """A grid code that the registry does not hold."""

    code = "unknown_grid"

    def __init__(self, grid: str, *, field: str | None = "grid") -> None:
        super().__init__(f"unknown grid {grid!r}", field=field)
        self.grid = grid


class UnknownOperation(NotFound):
    """An operation id never launched."""

    code = "unknown_operation"


class UnknownAlert(NotFound):
    """An alert id never raised."""

    code = "unknown_alert"


class UnknownHousehold(NotFound):
    """A household code that the roster (households.csv) does not hold."""

    code = "unknown_household"


class UnknownMatter(NotFound):
    """A matter id never recorded."""

    code = "unknown_matter"


class UnknownEvaluation(NotFound):
    """An evaluation id never published."""

    code = "unknown_evaluation"


class UnknownEndpoint(NotFound):
    """No such path under /api/v1."""

    code = "unknown_endpoint"


class UnknownLink(NotFound):
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


class OperationClosedForTown(OperationClosed):
    """The operation is closed for the grid's town (its part stood down); the other towns go on."""

    code = "operation_closed_for_town"


class ReportIdReused(StateConflict):
    """A report_id of this operation already names a report with another body (DESIGN §7.1)."""

    code = "report_id_reused"


class Unavailable(WartimeError):
    """The infrastructure cannot serve now; the caller may retry."""

    code = "unavailable"


class RedisUnavailable(Unavailable):
    """The embedded server could not start, or a given URL did not answer."""


class LogUnavailable(Unavailable):
    """Redis refused or lost the write: nothing was acknowledged."""


class LeaseLost(Unavailable):
    """This worker no longer owns the stream it was applying (another took it over)."""


class DeliveryFailed(Unavailable):
    """A notification channel did not take a message (network, non-2xx, a robot's errcode): retried later."""
