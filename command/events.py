"""Every domain event of the wartime log, and its wire form.

An event is a frozen dataclass with a past-tense name, a stable `wire` name and
a `version`. What happened is the payload; who did it, when and under which
idempotency key travel beside it in a `Recorded` envelope, so the payload stays
the same whether the event is new or replayed.

Wire form (one Redis stream entry): ``t`` wire name, ``v`` version, ``a`` actor,
``at`` epoch milliseconds, ``k`` idempotency key, ``d`` the payload as compact
JSON. `encode` / `decode` are the only two functions that know this layout.
Adding a field with a default keeps the version; renaming or removing one bumps
it and `decode` upgrades old entries.

Why one module: this is the log's whole vocabulary. Every wire name and version
sits in one file and one `EVENT_TYPES` table, so a reviewer sees any change to
what the log can hold in one diff, and no wire name can be registered twice
from two places. The classes are short declarations with no logic of their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec

from command.errors import InvalidRequest

__all__ = [
    "EVENT_TYPES",
    "AlertAcknowledged",
    "AlertCleared",
    "AlertRaised",
    "AlertUpdated",
    "BriefingIssued",
    "ContactRoundCompleted",
    "ContactRoundDue",
    "EvaluationPublished",
    "EvaluationWeightsSet",
    "Event",
    "HouseholdStatusSet",
    "HouseholdsRegistered",
    "LevelChanged",
    "MatterAdvanced",
    "MatterHandedOver",
    "MatterRecorded",
    "ModeSwitched",
    "OperationClosed",
    "OperationLaunched",
    "ProgressReported",
    "Recorded",
    "RegistryLoaded",
    "SecretaryAppointed",
    "UserAdded",
    "UserLoggedIn",
    "decode",
    "encode",
]


_json_encode = msgspec.json.Encoder(order="deterministic").encode
_json_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all events; subclasses set `wire` and `version`."""

    wire: ClassVar[str] = ""
    version: ClassVar[int] = 1


# --- registry -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryLoaded(Event):
    """A grid registry (网格台账) became the county's tree; geometry is stored aside by digest."""

    wire: ClassVar[str] = "registry_loaded"
    county: str
    grids: tuple[dict[str, Any], ...]
    central_households: tuple[dict[str, Any], ...] = ()
    geometry: str | None = None
    source: str = ""


# --- modes and secretaries -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModeSwitched(Event):
    """A subtree changed mode; carries the secretaries installed or released and the vacancies."""

    wire: ClassVar[str] = "mode_switched"
    scope: str
    mode: str
    incident: str | None = None
    level: str | None = None
    reason: str = ""
    grids: tuple[str, ...] = ()
    installed: tuple[tuple[str, str], ...] = ()
    vacancies: tuple[str, ...] = ()
    released: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LevelChanged(Event):
    """The response level of a wartime subtree was raised or lowered."""

    wire: ClassVar[str] = "level_changed"
    scope: str
    level: str
    reason: str = ""
    grids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SecretaryAppointed(Event):
    """A commander filled a vacancy with an acting secretary (代理书记)."""

    wire: ClassVar[str] = "secretary_appointed"
    grid: str
    person: str


# --- operations ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperationLaunched(Event):
    """A wartime operation (战时任务) started over a scope with per-grid targets."""

    wire: ClassVar[str] = "operation_launched"
    operation: str
    kind: str
    scope: str
    name: str
    deadline: int | None = None
    targets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProgressReported(Event):
    """Increments from the field on one grid; negative counts are a correction with a reason."""

    wire: ClassVar[str] = "progress_reported"
    operation: str
    grid: str
    counts: Mapping[str, int]
    report_id: str
    note: str = ""
    reason: str = ""
    location: tuple[float, float, float] | None = None
    """Optional (lat, lon, accuracy m) of the phone when it reported (command.bounds.location)."""
    photo: str | None = None
    """Optional sha256 of the photo taken with the report (command.bounds.photo_digest); the image
    itself is kept by streams.photos, written before this event is appended."""

    @property
    def is_correction(self) -> bool:
        """Any negative increment makes the report a correction (更正)."""
        return any(v < 0 for v in self.counts.values())


@dataclass(frozen=True, slots=True)
class OperationClosed(Event):
    """An operation closed; its totals are frozen from here on."""

    wire: ClassVar[str] = "operation_closed"
    operation: str
    reason: str = ""


# --- alerts ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertRaised(Event):
    """A condition that needs a commander's attention began."""

    wire: ClassVar[str] = "alert_raised"
    alert: str
    kind: str
    grid: str
    operation: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertAcknowledged(Event):
    """Somebody took charge of an alert; the actor is in the envelope."""

    wire: ClassVar[str] = "alert_acknowledged"
    alert: str


@dataclass(frozen=True, slots=True)
class AlertCleared(Event):
    """The condition behind an alert ended."""

    wire: ClassVar[str] = "alert_cleared"
    alert: str


@dataclass(frozen=True, slots=True)
class AlertUpdated(Event):
    """The grids behind an open (rolled-up) alert changed: the new count and list replace the old."""

    wire: ClassVar[str] = "alert_updated"
    alert: str
    detail: Mapping[str, Any] = field(default_factory=dict)


# --- scheduler: daily briefing, peacetime contact rounds ---------------------------


@dataclass(frozen=True, slots=True)
class BriefingIssued(Event):
    """The 08:00 daily wartime briefing (战时日报) of one operation; the content travels in the log."""

    wire: ClassVar[str] = "briefing_issued"
    briefing: str
    operation: str
    date: str
    content: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContactRoundDue(Event):
    """A first small-grid leader is reminded of this quarter's contact round (季度联系服务)."""

    wire: ClassVar[str] = "contact_round_due"
    round: str
    grid: str
    leader: str
    due: int = 0


@dataclass(frozen=True, slots=True)
class ContactRoundCompleted(Event):
    """A first small-grid leader's quarterly contact round was held; the recorder is the actor."""

    wire: ClassVar[str] = "contact_round_completed"
    round: str
    grid: str
    note: str = ""
    concerns: int = 0


# --- accounts (audit trail; the password hash never enters the log) -------------


@dataclass(frozen=True, slots=True)
class UserAdded(Event):
    """An account was created or its role/scope changed."""

    wire: ClassVar[str] = "user_added"
    username: str
    role: str
    scope: str


@dataclass(frozen=True, slots=True)
class UserLoggedIn(Event):
    """A user logged in (audit trail; the silent-secretary alert reads it)."""

    wire: ClassVar[str] = "user_logged_in"
    username: str


# --- peacetime: residents' matters (一事五单 / 一网协同) and grid evaluation --------------


@dataclass(frozen=True, slots=True)
class MatterRecorded(Event):
    """A grid worker entered a resident's matter (录入 · 集单); its deadline is fixed at entry."""

    wire: ClassVar[str] = "matter_recorded"
    matter: str
    grid: str
    category: str
    description: str
    reporter: str = ""
    photo: str = ""
    reported_at: int = 0
    due: int = 0
    location: tuple[float, float, float] | None = None
    """Optional (lat, lon, accuracy m) where the matter was recorded (command.bounds.location)."""
    photo_digest: str | None = None
    """Optional sha256 of the photo taken with the matter (``photo`` is a free-text reference); the
    image itself is kept by streams.photos, written before this event is appended."""


@dataclass(frozen=True, slots=True)
class MatterAdvanced(Event):
    """A matter reached its next list: deliberated 议单, handled 办单, published 晒单, evaluated 评单."""

    wire: ClassVar[str] = "matter_advanced"
    matter: str
    stage: str
    note: str = ""
    satisfaction: int | None = None


@dataclass(frozen=True, slots=True)
class MatterHandedOver(Event):
    """A matter changed hands — reported up 上报, dispatched 分派 or transferred 流转 — with a reason."""

    wire: ClassVar[str] = "matter_handed_over"
    matter: str
    step: str
    from_grid: str
    to_grid: str
    to_level: str = ""
    department: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class EvaluationWeightsSet(Event):
    """The county edited the weights of the quarterly grid-evaluation checklist."""

    wire: ClassVar[str] = "evaluation_weights_set"
    weights: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EvaluationPublished(Event):
    """A quarterly grid evaluation: its table is a function of the log up to `positions`."""

    wire: ClassVar[str] = "evaluation_published"
    evaluation: str
    quarter: str
    scope: str
    now: int
    weights: Mapping[str, float] = field(default_factory=dict)
    adjustments: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    positions: Mapping[str, str] = field(default_factory=dict)
    digest: str = ""
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Unreadable(Event):
    """An entry of the log that no event type of this version can take (never written, only read).

    A reader meets it where an old or foreign entry is malformed — an unknown
    wire name, a payload that is not JSON, fields missing or of the wrong kind —
    and skips it, rather than dying on it for good (issue 14): the entry stays in
    the log, marked by its id, for a person to look at.
    """

    wire: ClassVar[str] = "unreadable"
    type: str
    reason: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.wire: cls
    for cls in (
        RegistryLoaded,
        ModeSwitched,
        LevelChanged,
        SecretaryAppointed,
        OperationLaunched,
        ProgressReported,
        OperationClosed,
        AlertRaised,
        AlertAcknowledged,
        AlertCleared,
        UserAdded,
        AlertUpdated,
        BriefingIssued,
        ContactRoundDue,
        ContactRoundCompleted,
        UserLoggedIn,
        MatterRecorded,
        MatterAdvanced,
        MatterHandedOver,
        EvaluationWeightsSet,
        EvaluationPublished,
    )
}


@dataclass(frozen=True, slots=True)
class Recorded:
    """An event as it stands in the log: stream entry id plus envelope."""

    id: str
    event: Event
    actor: str
    at: int
    key: str = ""
    stream: str = ""

    @property
    def ms(self) -> int:
        """Milliseconds part of the entry id: the log's own clock."""
        return int(self.id.split("-", 1)[0])


def _payload(event: Event) -> dict[str, Any]:
    """The fields of an event, less an optional field left at None (its default).

    So a field added later (``location``) leaves the bytes of an event without it as
    they were: a report queued on a phone before the field existed and sent again
    after digests the same, and is a duplicate rather than a reused id.
    """
    return {f.name: v for f in dataclasses.fields(event)
            if (v := getattr(event, f.name)) is not None or f.default is not None}


_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def _data(event: Event) -> bytes:
    """The JSON payload: keys sorted, so the same event is always the same bytes.

    A report (the hot path: flat fields, one mapping) is encoded straight from the
    dataclass, ≈ 4 µs less than building the dict first; the bytes are the same.
    """
    if type(event) is ProgressReported:
        raw = _encode_sorted(event)
        # No location: the bytes a report had before the field existed (see `_payload`). A quote inside
        # a string is escaped, so only the key itself can match.
        if event.location is None:
            raw = raw.replace(b'"location":null,', b"", 1)
        return raw if event.photo is not None else raw.replace(b'"photo":null,', b"", 1)
    return _json_encode(_payload(event))


def encode(event: Event, *, actor: str, at: int, key: str = "") -> dict[str, bytes | str]:
    """Fields of one stream entry for `event`."""
    return {
        "t": event.wire,
        "v": str(event.version),
        "a": actor,
        "at": str(at),
        "k": key,
        "d": _data(event),
    }


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _s(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _at(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def decode(entry_id: bytes | str, fields: Mapping[Any, Any], stream: str = "") -> Recorded:
    """Inverse of `encode`; an entry no event type takes decodes as `Unreadable` naming why."""
    get = fields.get
    wire = _s(get(b"t") or get("t") or "")
    event: Event
    try:
        event = _event(wire, get(b"d") or get("d") or b"{}")
    except InvalidRequest as exc:
        event = Unreadable(wire, exc.message)
    except (msgspec.DecodeError, TypeError, ValueError) as exc:
        event = Unreadable(wire, f"payload does not fit {wire}: {str(exc)[:200]}")
    return Recorded(
        id=_s(entry_id),
        event=event,
        actor=_s(get(b"a") or get("a") or ""),
        at=_at(get(b"at") or get("at")),
        key=_s(get(b"k") or get("k") or ""),
        stream=stream,
    )


def _event(wire: str, payload: bytes | str) -> Event:
    cls = EVENT_TYPES.get(wire)
    if cls is None:
        raise InvalidRequest(f"unknown event type {wire!r}", field="t")
    data = _json_decode(payload)
    if not isinstance(data, dict):
        raise InvalidRequest(f"the payload of {wire} is not an object", field="d")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: _freeze(v) for k, v in data.items() if k in names})


# --- mobilisation: notifications and secretaries on post (DESIGN §7.2) ----------------


@dataclass(frozen=True, slots=True)
class NotificationQueued(Event):
    """A message to a person (通知) waits for delivery; `notification` is its stable id."""

    wire: ClassVar[str] = "notification_queued"
    notification: str
    kind: str
    grid: str
    person: str
    incident: str | None = None
    level: str | None = None


@dataclass(frozen=True, slots=True)
class NotificationDelivered(Event):
    """A channel took a notification (HTTP 2xx, or the field page showed it)."""

    wire: ClassVar[str] = "notification_delivered"
    notification: str
    channel: str
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class NotificationFailed(Event):
    """Every attempt to deliver a notification failed; the commander is alerted."""

    wire: ClassVar[str] = "notification_failed"
    notification: str
    channel: str
    attempts: int = 0
    error: str = ""


@dataclass(frozen=True, slots=True)
class SecretaryAcknowledged(Event):
    """The secretary opened the order (已确认); the account is the actor."""

    wire: ClassVar[str] = "secretary_acknowledged"
    grid: str
    notification: str = ""


@dataclass(frozen=True, slots=True)
class SecretaryOnPost(Event):
    """The secretary confirmed arrival in the grid (已到岗), with a coarse location if given."""

    wire: ClassVar[str] = "secretary_on_post"
    grid: str
    report_id: str
    lat: float | None = None
    lon: float | None = None
    accuracy_m: int | None = None


EVENT_TYPES.update(
    {
        cls.wire: cls
        for cls in (
            NotificationQueued,
            NotificationDelivered,
            NotificationFailed,
            SecretaryAcknowledged,
            SecretaryOnPost,
        )
    }
)


@dataclass(frozen=True, slots=True)
class TargetRaised(Event):
    """A commander raised (or set) one target of an open operation at one grid (its ancestors follow)."""

    wire: ClassVar[str] = "target_raised"
    operation: str
    grid: str
    counter: str
    target: int


EVENT_TYPES[TargetRaised.wire] = TargetRaised
__all__ += ["TargetRaised"]
# --- an operation's part: one town stands down inside a wider operation (issue 18) -----------


@dataclass(frozen=True, slots=True)
class OperationPartClosed(Event):
    """An operation closed for one town (its part): that town's totals freeze, the other towns go on.

    The town takes no more reports on the operation from here on; the operation
    stays open elsewhere. Closing the last open part is an `OperationClosed` instead.
    """

    wire: ClassVar[str] = "operation_part_closed"
    operation: str
    town: str
    reason: str = ""


EVENT_TYPES[OperationPartClosed.wire] = OperationPartClosed
# --- households: nobody missed (DESIGN §7.3) -------------------------------------------


@dataclass(frozen=True, slots=True)
class HouseholdsRegistered(Event):
    """The households (户) of some leaf grids of one town, as a roster load made them: replaces them whole.

    One event carries up to `command.households.ROSTER_BATCH` households of one town,
    for the leaf grids listed in `grids` (a grid listed with no row has no household now).
    Rows are ``[code, grid, central_household, address, size, vulnerable]``: the head's
    name and the phone number stay out of the log (dashboard.privacy), as leaders' phones do.
    """

    wire: ClassVar[str] = "households_registered"
    town: str
    grids: tuple[str, ...]
    households: tuple[tuple[Any, ...], ...] = ()
    load: str = ""


@dataclass(frozen=True, slots=True)
class HouseholdStatusSet(Event):
    """A household's status in an operation (reached, evacuated …); a later one replaces it."""

    wire: ClassVar[str] = "household_status_set"
    operation: str
    household: str
    grid: str
    status: str
    report_id: str
    note: str = ""


EVENT_TYPES.update({cls.wire: cls for cls in (HouseholdsRegistered, HouseholdStatusSet)})
