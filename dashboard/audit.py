"""Audit trail: who did what, when and from where — every login attempt and every command.

The event log already holds every command with its actor and time. What it does
not hold is where a request came from, nor the attempts that were refused. The
audit stream ``wt:{COUNTY}:audit`` (`CountyKeys.audit`) holds one entry per

* login attempt — ``login`` (accepted), ``login_failed`` (wrong name or
  password), ``login_throttled`` (refused by the rate limit): the username tried
  and the source address;
* HTTP command — any API request that is not a read: ``command`` when it was
  accepted (with the event id it appended, if any), ``refused`` otherwise (with
  the status and error code) — a viewer trying to write is recorded too;
* export of personal data — ``export``: scope, format and number of rows;
* account change from the CLI — ``account``: role, scope, grants.

An entry's time is its stream id (the Redis clock, in ms), so entries are
ordered and filtered by time without parsing anything.

What is never written here: passwords, tokens, request bodies, notes and phone
numbers — an entry says *that* something happened, the event log says *what*.

The source address is the address of the request that came from the network.
Dash callbacks reach the API in-process (`dashboard.api_field.call_api`, answered
by `dashboard.intake.Intake.call`), which writes the entry with the address of
the callback's own request (kept in a context variable for the whole request).
``X-Forwarded-For`` is not believed: any client can write anything there.

Writing is best effort: a failed audit write is logged (without personal data)
and leaves the answer as it was — the command itself is already in the event
log, and a Redis that refuses writes has refused the command too. The stream is
trimmed (approximately) to `AUDIT_MAX` entries so that a flood of failed logins
cannot exhaust Redis's memory.

HTTP commands are written through a per-process `Writer`: a request that finds
it idle writes its entry at once (so sequential requests are in the trail, in
order, when their answers arrive); under load, entries queue while a write is
in flight and a background thread sends each queue in one pipeline (one round
trip, one fsync, for many requests). `flush()` waits for the queue; it runs at
exit (and in gunicorn's worker_exit) so a clean shutdown loses nothing, and
`read` flushes this process's queue first.
"""

from __future__ import annotations

import argparse
import atexit
import contextvars
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis
from redis.cluster import RedisCluster

from command.bounds import escape_controls
from command.localtime import local_datetime, parse_instant
from streams.keys import CountyKeys

__all__ = [
    "AUDIT_MAX",
    "BATCH_MAX",
    "FIELDS",
    "KINDS",
    "Entry",
    "Writer",
    "add_parser",
    "cmd_audit",
    "flush",
    "format_entry",
    "install",
    "read",
    "record",
    "record_cli",
    "record_soon",
    "source_address",
    "writer_for",
]


log = logging.getLogger(__name__)

AUDIT_MAX = 2_000_000
"""Entries kept (approximately) in the audit stream."""

KINDS = ("login", "login_failed", "login_throttled", "command", "refused", "export", "account")
"""Every kind of entry."""

FIELDS = ("kind", "actor", "source", "method", "path", "status", "event", "code", "detail")
"""Fields an entry may carry (all text)."""

_SOURCE: contextvars.ContextVar[str | None] = contextvars.ContextVar("wartime_audit_source", default=None)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _entry(kind: str, fields: dict[str, Any]) -> dict[str, str]:
    entry = {"kind": kind}
    for name in FIELDS[1:]:
        v = fields.get(name)
        if v is not None and v != "":
            entry[name] = str(v)[:300]
    return entry


def record(client: Any, county: str, kind: str, **fields: Any) -> str | None:
    """Append one entry now (best effort); returns its id, or None when Redis refused it."""
    try:
        return _s(client.xadd(CountyKeys(county).audit, _entry(kind, fields), maxlen=AUDIT_MAX, approximate=True))
    except redis.RedisError as exc:
        log.warning("audit entry (%s) not written: %s", kind, type(exc).__name__)
        return None


def record_soon(client: Any, county: str, kind: str, *, now_if_idle: bool = True, **fields: Any) -> None:
    """Append one entry through this process's writer: now when it is idle, else in its next batch.

    `now_if_idle=False` never writes in the caller's thread (an event loop must not wait for Redis).
    """
    writer_for(client).submit(CountyKeys(county).audit, _entry(kind, fields), now_if_idle=now_if_idle)


BATCH_MAX = 512
"""Entries per pipelined write at most."""


class Writer:
    """Audit entries of one process and client: written at once when idle, batched while busy."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cond = threading.Condition()
        self.queue: list[tuple[str, dict[str, str]]] = []
        self.busy = False
        self.thread: threading.Thread | None = None

    def submit(self, key: str, entry: dict[str, str], *, now_if_idle: bool = True) -> None:
        """Write `entry` to stream `key` now, or queue it when a write is in flight (or not `now_if_idle`)."""
        with self.cond:
            if self.busy or self.queue or not now_if_idle:
                self.queue.append((key, entry))
                if self.thread is None:
                    self.thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                    self.thread.start()
                self.cond.notify_all()
                return
            self.busy = True
        self._write_then_idle([(key, entry)])

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued entry has been sent; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while self.queue or self.busy:
                if not self.busy and (self.thread is None or not self.thread.is_alive()):
                    batch, self.queue = self.queue, []
                    self.busy = True
                    self.cond.release()
                    try:
                        self._write_then_idle(batch)
                    finally:
                        self.cond.acquire()
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.queue or self.busy:
                    self.cond.wait()
                batch, self.queue = self.queue[:BATCH_MAX], self.queue[BATCH_MAX:]
                self.busy = True
            self._write_then_idle(batch)

    def _write_then_idle(self, batch: list[tuple[str, dict[str, str]]]) -> None:
        try:
            self._write(batch)
        finally:
            with self.cond:
                self.busy = False
                self.cond.notify_all()

    def _node_client(self, key: str) -> Any:
        """On a Redis Cluster, the plain client of the master holding `key`: a cluster pipeline costs the
        client several times more per command, and every entry of a batch goes to the county's slot."""
        if not isinstance(self.client, RedisCluster):
            return self.client
        try:
            node = self.client.get_node_from_key(key).redis_connection
        except Exception:  # the cluster client finds its way
            return self.client
        return node if node is not None else self.client

    @staticmethod
    def _pipelined(client: Any, batch: list[tuple[str, dict[str, str]]]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for key, entry in batch:
            pipe.xadd(key, entry, maxlen=AUDIT_MAX, approximate=True)
        return list(pipe.execute(raise_on_error=False))

    def _write(self, batch: list[tuple[str, dict[str, str]]]) -> None:
        """One XADD, or one pipeline of them (best effort: failures are logged, never raised)."""
        try:
            if len(batch) == 1:
                key, entry = batch[0]
                self.client.xadd(key, entry, maxlen=AUDIT_MAX, approximate=True)
                return
            results = self._pipelined(self._node_client(batch[0][0]), batch)
            again = [batch[i] for i, r in enumerate(results) if isinstance(r, Exception)]
            if again and self._node_client(batch[0][0]) is not self.client:  # a slot moved: ask the cluster
                results = self._pipelined(self.client, again)
            failed = [r for r in results if isinstance(r, Exception)]
            if failed:
                log.warning("%d of %d audit entries not written: %s", len(failed), len(batch),
                            type(failed[0]).__name__)
        except Exception as exc:  # Redis down, cluster moved: the answers stand, the trail misses them
            log.warning("%d audit entr%s not written: %s", len(batch), "y" if len(batch) == 1 else "ies",
                        type(exc).__name__)


_WRITERS: dict[int, Writer] = {}
_WRITERS_LOCK = threading.Lock()


def writer_for(client: Any) -> Writer:
    """This process's writer for `client` (made on first use)."""
    w = _WRITERS.get(id(client))
    if w is None or w.client is not client:
        with _WRITERS_LOCK:
            w = _WRITERS.get(id(client))
            if w is None or w.client is not client:
                w = _WRITERS[id(client)] = Writer(client)
    return w


def flush(timeout_s: float = 10.0) -> bool:
    """Send every queued entry of this process (clean shutdown, readers in this process)."""
    ok = True
    for w in list(_WRITERS.values()):
        ok = w.flush(timeout_s) and ok
    return ok


atexit.register(flush)


def record_cli(client: Any, county: str, what: str, **fields: Any) -> str | None:
    """A command run from the `wartime` CLI: actor ``cli:<login name>``, source ``local``."""
    import getpass

    return record(client, county, "command", actor=f"cli:{getpass.getuser()}", source="local", method="CLI",
                  path=what, **fields)


# -- the HTTP side ------------------------------------------------------------------------


def source_address() -> str:
    """The network address of the request being served (the outer one for in-process calls)."""
    from flask import has_request_context, request

    outer = _SOURCE.get()
    if outer is not None:
        return outer
    return (request.remote_addr or "") if has_request_context() else ""


def install(api: Any, backend: Any) -> None:
    """Hook the audit into the API blueprint: every non-read API request leaves an entry."""
    from flask import request

    # Kept in the request's own environ, not in `g`: an in-process request shares the outer one's `g`.
    @api.before_app_request
    def _remember_source() -> None:
        if _SOURCE.get() is None:  # the outermost request: the one from the network
            request.environ["wartime.audit_token"] = _SOURCE.set(request.remote_addr or "")

    @api.teardown_app_request
    def _forget_source(_: BaseException | None) -> None:
        token = request.environ.pop("wartime.audit_token", None)
        if token is not None:
            _SOURCE.reset(token)

    @api.after_request
    def _audit(resp: Any) -> Any:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return resp
        if request.method == "POST" and request.path.endswith("/session"):
            return resp  # logins are audited by dashboard.auth with the username tried
        if request.environ.get("wartime.audited"):
            return resp  # written by the handler itself (dashboard.intake)
        session = request.environ.get("wartime.session")
        actor = session.actor.username if session is not None else ""
        event = code = None
        known = request.environ.get("wartime.outcome")  # (event id, error code), set by dashboard.api.handler
        if known is not None:
            event, code = known
            event = event if resp.status_code < 400 else None
        elif resp.mimetype == "application/json":
            data = resp.get_json(silent=True)
            if isinstance(data, dict):
                event = data.get("event_id") if resp.status_code < 400 else None
                err = data.get("error")
                code = err.get("code") if isinstance(err, dict) else None
        try:
            county = backend.county.code
        except Exception:  # no county loaded yet (or Redis down): nothing to attach the entry to
            return resp
        record_soon(
            backend.client, county, "command" if resp.status_code < 400 else "refused",
            actor=actor, source=source_address(), method=request.method, path=request.path,
            status=resp.status_code, event=event, code=code,
        )
        return resp


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit entry as read back."""

    id: str
    at: int
    fields: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, **self.fields}


def read(
    client: Any,
    county: str,
    *,
    actor: str | None = None,
    kind: str | None = None,
    source: str | None = None,
    since: int | None = None,
    until: int | None = None,
    limit: int | None = 1000,
    newest_first: bool = False,
) -> list[Entry]:
    """Entries between `since` and `until` (epoch ms, inclusive) that match every filter given."""
    flush()  # what this process has queued is part of the trail already
    out: list[Entry] = []
    for e in _scan(client, CountyKeys(county).audit, since, until, newest_first):
        f = e.fields
        if actor is not None and f.get("actor", "") != actor:
            continue
        k = f.get("kind", "")
        if kind is not None and k != kind and not (kind == "login*" and k.startswith("login")):
            continue
        if source is not None and f.get("source", "") != source:
            continue
        out.append(e)
        if limit is not None and len(out) >= limit:
            break
    return out


def _scan(client: Any, key: str, since: int | None, until: int | None, newest_first: bool) -> Iterator[Entry]:
    lo = "-" if since is None else f"{since}-0"
    hi = "+" if until is None else f"{until}-18446744073709551615"
    while True:
        page = client.xrevrange(key, hi, lo, count=1000) if newest_first else client.xrange(key, lo, hi, count=1000)
        for entry_id, raw in page:
            eid = _s(entry_id)
            yield Entry(eid, int(eid.split("-", 1)[0]), {_s(k): _s(v) for k, v in raw.items()})
        if len(page) < 1000:
            return
        last = _s(page[-1][0])
        if newest_first:
            hi = "(" + last
        else:
            lo = "(" + last


# -- the CLI --------------------------------------------------------------------------------


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """`wartime audit [--actor A] [--kind K] [--source IP] [--since T] [--until T] [--limit N] [--json]`."""
    s = sub.add_parser("audit", parents=[common], help="the audit trail: logins and commands, with source addresses")
    s.add_argument("--actor", default=None, help="only this username (login attempts: the name tried)")
    s.add_argument("--kind", default=None, choices=[*KINDS, "login*"], help="only this kind of entry")
    s.add_argument("--source", default=None, help="only this source address")
    s.add_argument("--since", default=None, help="epoch ms or ISO time (naive times are Asia/Shanghai)")
    s.add_argument("--until", default=None, help="epoch ms or ISO time")
    s.add_argument("--limit", type=int, default=1000, help="at most this many entries (0: all)")
    s.add_argument("--newest-first", action="store_true", help="newest entries first")
    s.add_argument("--json", action="store_true", help="one JSON object per line")
    s.set_defaults(fn=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    """Print the audit trail, filtered."""
    from streams.readmodel import current_county
    from streams.server import connect, resolve

    client = connect(resolve(args.data, args.redis))
    county = current_county(client)
    if county is None:
        print("no county loaded: nothing audited yet", file=sys.stderr)
        return 1
    entries = read(
        client, county, actor=args.actor, kind=args.kind, source=args.source,
        since=parse_instant(args.since) if args.since else None,
        until=parse_instant(args.until) if args.until else None,
        limit=args.limit or None, newest_first=args.newest_first,
    )
    for e in entries:
        print(json.dumps(e.to_json(), ensure_ascii=False) if args.json else format_entry(e))
    if not args.json:
        print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}", file=sys.stderr)
    return 0


def format_entry(e: Entry) -> str:
    """One line for a person: time (Asia/Shanghai), kind, actor, source, what."""
    when = local_datetime(e.at).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    f = {k: escape_controls(str(v)) for k, v in e.fields.items()}  # a login name cannot forge a line
    what = " ".join(x for x in (f.get("method", ""), f.get("path", "")) if x)
    extra = " ".join(f"{k}={f[k]}" for k in ("status", "event", "code", "detail") if k in f)
    return "\t".join((when, f.get("kind", "?"), f.get("actor", "-") or "-", f.get("source", "-") or "-",
                      " ".join(x for x in (what, extra) if x)))
