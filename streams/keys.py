"""Every Redis key name, in one place.

Colon namespaces under ``wt:``; a hash tag in braces on every key of the log and
the read models, so Redis Cluster keeps what one script touches on one slot:

* ``{COUNTY}`` (e.g. ``{PN}``) — the control stream: registry, modes,
  secretaries, operations, alerts, accounts; low volume.
* ``{TOWN}`` (e.g. ``{PN07}``) — one report stream and its read models per town;
  the high-volume part, spread over the shards town by town.
* ``{COUNTY:OPERATION}`` (e.g. ``{PN:op-1a2b}``) — one operation's report-id claims,
  so exactly-once holds per operation whichever town's shard a report lands on.

County roll-ups are computed from the per-town ones at read time, so no write
ever spans two slots.

Worlds: a drill (演练, streams.drills) is a world of its own — the same keys under
``wt:drill:ID:`` with the same hash tags, so the same code (append script,
projector, read models, alert rules, live push) runs on it and nothing of it
touches a live key. Keys are built for the world of where they are built
(`in_world`, a context variable), or for the one named (``world=``); an object
that holds keys builds the rest for its own world.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from dataclasses import field as _default

__all__ = [
    "CURRENT_COUNTY",
    "DRILL_PREFIX",
    "GROUP",
    "CountyKeys",
    "TownKeys",
    "current_world",
    "drill_index",
    "drill_runner",
    "field",
    "in_world",
    "world_prefix",
]


CURRENT_COUNTY = "wt:county"
"""The county this Redis serves by default (set by the first registry load)."""

GROUP = "projector"
"""Consumer group of the projector workers on every stream."""

DRILL_PREFIX = "wt:drill:"
"""Every key of a drill's world starts so (``wt:drill:ID:{PN07}:log``): the live world's keys never do.
The append script (streams.log) reads it to give a drill's entries ids on the drill's own clock."""

_WORLD: ContextVar[str] = ContextVar("wartime_world", default="")


def current_world() -> str:
    """The world keys are built for here: "" the live one, else a drill's id (streams.drills)."""
    return _WORLD.get()


@contextmanager
def in_world(world: str) -> Iterator[None]:
    """Build keys for `world` inside the block (and in tasks and `asyncio.to_thread` calls started in it)."""
    token = _WORLD.set(world)
    try:
        yield
    finally:
        _WORLD.reset(token)


def world_prefix(world: str) -> str:
    """The head of every key of a world: ``wt:`` live, ``wt:drill:ID:`` a drill's."""
    return f"{DRILL_PREFIX}{world}:" if world else "wt:"


def drill_index(county: str) -> str:
    """The county's drills: id → JSON record (streams.drills); outside every world, live included."""
    return DRILL_PREFIX + "{" + county + "}:index"


def drill_runner(county: str, drill: str) -> str:
    """Lease of the process that runs a drill (streams.drills.DrillRunner), so one process runs it."""
    return DRILL_PREFIX + "{" + county + "}:run:" + drill


@dataclass(frozen=True, slots=True)
class CountyKeys:
    """Keys of one county's control shard."""

    county: str
    world: str = _default(default_factory=current_world)
    """"" the live world, else a drill's id; by default the world of where the keys are built."""

    @property
    def tag(self) -> str:
        return "{" + self.county + "}"

    @property
    def prefix(self) -> str:
        return world_prefix(self.world)

    @property
    def log(self) -> str:
        """Control stream."""
        return f"{self.prefix}{self.tag}:log"

    @property
    def idem(self) -> str:
        """Idempotency keys of the control stream → first entry id."""
        return f"{self.prefix}{self.tag}:idem"

    @property
    def closed(self) -> str:
        """Unused on the control shard; present so both shards share one append script."""
        return f"{self.prefix}{self.tag}:closed"

    @property
    def totals(self) -> str:
        """Unused on the control shard (no report goes there); present for the shared append script."""
        return f"{self.prefix}{self.tag}:totals"

    def claims(self, operation: str) -> str:
        """Report ids of one operation → digest of the body first sent (exactly-once per operation)."""
        return self.prefix + "{" + f"{self.county}:{operation}" + "}:claims"

    @property
    def checkpoint(self) -> str:
        """Last control entry folded into the control read model."""
        return f"{self.prefix}{self.tag}:rm:ckpt"

    @property
    def control(self) -> str:
        """Control read model: JSON snapshot of modes, secretaries, operations, alerts."""
        return f"{self.prefix}{self.tag}:rm:control"

    def geometry(self, digest: str) -> str:
        """Grid polygons (GeoJSON) by content digest, referenced from RegistryLoaded."""
        return f"{self.prefix}{self.tag}:geo:{digest}"

    def geometry_index(self, digest: str) -> str:
        """Each grid's box and marker point of the geometry `digest` (command.geoindex), beside it."""
        return f"{self.prefix}{self.tag}:geo:{digest}:index"

    def map_part(self, digest: str, scope: str, kind: str) -> str:
        """The wall's map of `scope` (its packed cells or outlines, as served) from geometry `digest`,
        made once for every process (streams.mapparts); immutable, so it expires unused."""
        return f"{self.prefix}{self.tag}:geo:{digest}:map:{scope}:{kind}"

    def photo(self, digest: str) -> str:
        """A photo taken with a report or a matter, by content digest (sha256), kept out of the log:
        a hash of ``image`` (the bytes), ``type`` (its MIME type) and ``grid:<code>`` for each grid it
        was recorded on (streams.photos)."""
        return f"{self.prefix}{self.tag}:photo:{digest}"

    @property
    def users(self) -> str:
        """Accounts: username → JSON with role, scope and password hash."""
        return f"{self.prefix}{self.tag}:users"

    @property
    def secret(self) -> str:
        """Token signing key, made once per county."""
        return f"{self.prefix}{self.tag}:secret"

    @property
    def revoked(self) -> str:
        """Revoked token ids (kiosk links, logouts) → expiry."""
        return f"{self.prefix}{self.tag}:revoked"

    @property
    def changes(self) -> str:
        """Pub/sub channel of applied changes, for live push."""
        return f"{self.prefix}{self.tag}:changes"

    @property
    def lock_prefix(self) -> str:
        """Short locks (streams.locks): scheduler jobs, the notifier's round, map parts being made."""
        return f"{self.prefix}{self.tag}:lock:"

    @property
    def jobs_last(self) -> str:
        """Hash job → its last completed slot (epoch ms) (dashboard.jobs)."""
        return f"{self.prefix}{self.tag}:jobs:last"

    def job_runs(self, job: str) -> str:
        """List of a job's latest completed runs: ``slot worker``."""
        return f"{self.prefix}{self.tag}:jobs:runs:{job}"

    @property
    def projectors(self) -> str:
        """Sorted set of live projector workers → last heartbeat (for sharing streams)."""
        return f"{self.prefix}{self.tag}:projectors"

    @property
    def logins(self) -> str:
        """Failed-login counters for rate limiting."""
        return f"{self.prefix}{self.tag}:logins"

    def login_pair(self, username: str, source: str) -> str:
        """Login attempts reserved for one account from one address (dashboard.auth's throttle)."""
        return f"{self.logins}:{username}:{source}"

    def login_source(self, source: str) -> str:
        """Login attempts reserved from one address, whatever the account (password spraying)."""
        return f"{self.logins}-source:{source}"

    def login_account(self, username: str) -> str:
        """Login attempts reserved for one account, from any address (a distributed guess)."""
        return f"{self.logins}-account:{username}"

    @property
    def auth_channel(self) -> str:
        """Pub/sub channel announcing token refusals (revoked, user removed or changed) to every process."""
        return f"{self.prefix}{self.tag}:auth"

    @property
    def kiosk_links(self) -> str:
        """Kiosk links made and not withdrawn: token id → JSON with scope, maker, made and expiry."""
        return f"{self.prefix}{self.tag}:kiosk"

    @property
    def audit(self) -> str:
        """Audit stream (dashboard.audit): login attempts and commands with their source address."""
        return f"{self.prefix}{self.tag}:audit"

    @property
    def personal(self) -> str:
        """Personal data kept out of the log: grid code → leader's phone (exported only with a grant)."""
        return f"{self.prefix}{self.tag}:personal"

    @property
    def snapshots(self) -> str:
        """Time-travel snapshots (streams.history): sorted set, score = instant ms, member = its name."""
        return f"{self.prefix}{self.tag}:hist:snaps"

    @property
    def notify_tries(self) -> str:
        """Delivery attempts per notification: id → ``attempts next_at_ms`` (the worker's back-off)."""
        return f"{self.prefix}{self.tag}:notify:tries"

    @property
    def household_where(self) -> str:
        """Households whose code does not start with their grid's code → that grid (streams.households)."""
        return f"wt:{self.tag}:hh:where"

    @property
    def report_index(self) -> str:
        """After-action report aggregates folded so far, with the stream positions they stand at."""
        return f"{self.prefix}{self.tag}:hist:report"


@dataclass(frozen=True, slots=True)
class TownKeys:
    """Keys of one town's shard."""

    town: str
    world: str = _default(default_factory=current_world)

    @property
    def tag(self) -> str:
        return "{" + self.town + "}"

    @property
    def prefix(self) -> str:
        return world_prefix(self.world)

    @property
    def log(self) -> str:
        """Report stream of the town."""
        return f"{self.prefix}{self.tag}:log"

    @property
    def idem(self) -> str:
        """Idempotency keys (operation:report_id) → first entry id."""
        return f"{self.prefix}{self.tag}:idem"

    @property
    def closed(self) -> str:
        """Operations closed for this town: the append script refuses their reports."""
        return f"{self.prefix}{self.tag}:closed"

    @property
    def totals(self) -> str:
        """Running totals ``operation|grid|counter`` of the town's leaf grids, kept by the append script.

        A fold of the town stream written atomically with each XADD (field ``@`` marks it
        kept), so a correction is checked against the total the log defines. Not a read
        model: replay leaves it alone, as it leaves the stream.
        """
        return f"{self.prefix}{self.tag}:totals"

    @property
    def checkpoint(self) -> str:
        """Last entry of the town stream applied to its read models."""
        return f"{self.prefix}{self.tag}:rm:ckpt"

    def counts(self, operation: str) -> str:
        """Hash ``grid|counter`` → total, for every grid of the town (town itself included)."""
        return f"{self.prefix}{self.tag}:rm:counts:{operation}"

    def last(self, operation: str) -> str:
        """Hash grid → epoch ms of the last report that touched it."""
        return f"{self.prefix}{self.tag}:rm:last:{operation}"

    @property
    def operations(self) -> str:
        """Set of operations with read models in this town (for replay's drop)."""
        return f"{self.prefix}{self.tag}:rm:ops"

    @property
    def household_roster(self) -> str:
        """Read model: leaf grid → JSON list of its households' rows (a fold of HouseholdsRegistered)."""
        return f"wt:{self.tag}:rm:hh:roster"

    @property
    def household_totals(self) -> str:
        """Read model: leaf grid → number of its households in the roster."""
        return f"wt:{self.tag}:rm:hh:totals"

    @property
    def household_personal(self) -> str:
        """Personal data kept out of the log: leaf grid → JSON {household: [head, phone]} (not a read model)."""
        return f"wt:{self.tag}:hh:personal"

    def household_status(self, operation: str) -> str:
        """Read model: household → ``status grid`` in one operation (the latest status wins)."""
        return f"wt:{self.tag}:rm:hh:{operation}:status"

    def household_counts(self, operation: str) -> str:
        """Read model: ``grid|status`` → households of that leaf grid with that status in one operation."""
        return f"wt:{self.tag}:rm:hh:{operation}:counts"

    def snapshot(self, name: str) -> str:
        """This town's progress counts at one time-travel snapshot (streams.history)."""
        return f"{self.prefix}{self.tag}:hist:snap:{name}"


def field(grid: str, counter: str) -> str:
    """Field of a counts hash."""
    return f"{grid}|{counter}"
