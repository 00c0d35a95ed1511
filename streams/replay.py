"""Drop a county's read models and rebuild them from the log (`wartime replay`).

The rebuild reads every stream a page at a time (up to an instant, if asked)
through the projector's own read and apply path — so replay and live can never
disagree on how an event is folded — then positions each consumer group at the
last applied entry, so a running server carries on from the checkpoint.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

import redis

from streams.keys import GROUP, CountyKeys, TownKeys
from streams.log import EventLog
from streams.projector import Projector, _ckpt_key, _gc_paused, _lease_key
from streams.readmodel import ControlView
from streams.server import Client

__all__ = ["drop_read_models", "rebuild"]


def _s(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def drop_read_models(client: Client, county: str, towns: list[str]) -> int:
    """Delete every read-model key and checkpoint of the county; returns keys deleted."""
    ck = CountyKeys(county)
    n = int(client.delete(ck.checkpoint, ck.control))
    for t in towns:
        tk = TownKeys(t)
        ops = [_s(o) for o in client.smembers(tk.operations)]
        keys = [tk.checkpoint, tk.operations, tk.household_roster, tk.household_totals]
        for op in ops:
            keys += [tk.counts(op), tk.last(op), tk.household_status(op), tk.household_counts(op)]
        n += int(client.delete(*keys))
    return n


def rebuild(
    client: Client,
    county: str,
    until: int | None = None,
    progress: Callable[[int], None] | None = None,
    page: int = 4000,
) -> int:
    """Rebuild every read model from the log (up to ms `until`); returns events applied."""
    probe = ControlView(client, county)
    probe.refresh()
    tree = probe.tree
    towns = list(tree.towns) if tree is not None else []
    log = EventLog(client, county, towns, tree.town_of if tree else None)
    drop_read_models(client, county, towns)
    end = "+" if until is None else f"{until}-18446744073709551615"
    total = 0
    proj = Projector(client, county, consumer=f"replay-{os.getpid()}", publish=False, batch=page)
    for stream in log.streams():
        # Take the stream from any live projector (its fenced writes fail until we are done).
        client.set(_lease_key(stream), proj.consumer, px=600_000)
        with contextlib.suppress(redis.ResponseError):
            client.xgroup_destroy(stream, GROUP)
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        if stream != log.county.log:
            while n := proj.drain(stream, pages=1_000, until=end):  # overlaps folding and writing
                total += n
                if progress:
                    progress(n)
            newest = client.xrevrange(stream, end, "-", count=1)
            if newest and _s(client.get(_ckpt_key(stream)) or "") != _s(newest[0][0]):
                raise RuntimeError(f"{stream}: the checkpoint moved during the rebuild")
            continue
        ckpt = ""
        while True:
            with _gc_paused():
                got = proj.read_page(stream, ckpt, end)
                if got is None:
                    break
                if proj.apply_page(stream, ckpt, got) != got.entries:
                    raise RuntimeError(f"{stream}: the checkpoint moved during the rebuild")
            ckpt = got.last_id
            total += got.entries
            if progress:
                progress(got.entries)
    proj.release()
    for stream in log.streams():
        if _s(client.get(_lease_key(stream)) or "") == proj.consumer:
            client.delete(_lease_key(stream))
    return total
