"""Log positions: which entries of which streams a set of figures reflects, and reads at one.

A *position* maps each stream to the id of its last entry reflected: the
county's control stream under the key ``"~"``, each town's report stream under
the town's code. The projector writes a town's read models together with its
checkpoint in one script, so one atomic read of a town's checkpoint and hashes
(`read_towns`, one script per town: a town's keys share a slot, so this holds
on Redis Cluster too) gives figures that are exactly the log up to that id. The
board's live push and its snapshot both carry the position their numbers were
read at (DESIGN §7.6), and the page shows which one every panel reflects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.cluster import RedisCluster

from command.grids import GridTree
from streams.keys import TownKeys
from streams.server import Client

CONTROL = "~"
"""The key of the control stream in a position."""

ORIGIN = "0-0"
"""The position of a stream nothing of which is reflected yet."""

Position = dict[str, str]
"""Stream key (``"~"`` or a town code) → id of the last entry reflected."""

READ_LUA = """
local out = {redis.call('GET', KEYS[1]) or ''}
for i = 2, #KEYS do out[i] = redis.call('HGETALL', KEYS[i]) end
return out
"""
"""KEYS: the town's checkpoint, then its hashes; → {checkpoint, hash, …} as of one instant."""


def id_key(ident: str) -> tuple[int, int]:
    """A stream id as a sortable pair ("" and malformed ids sort first)."""
    ms, _, seq = (ident or ORIGIN).partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0


def later(a: str, b: str) -> bool:
    """Whether stream id `a` comes after `b`."""
    return id_key(a) > id_key(b)


def encode(pos: Mapping[str, str]) -> str:
    """A position as text: ``~=id;TOWN=id;…``, control first, towns in order (the page's ``data-as-of``)."""
    keys = sorted(pos, key=lambda k: (k != CONTROL, k))
    return ";".join(f"{k}={pos[k] or ORIGIN}" for k in keys)


def decode(text: str) -> Position:
    """The inverse of `encode`."""
    out: Position = {}
    for part in text.split(";") if text else ():
        k, _, v = part.partition("=")
        out[k] = v
    return out


def towns_of(tree: GridTree, scope: str) -> list[str]:
    """The town streams the figures of a scope come from: every town for the county, else the scope's own."""
    if scope == tree.root:
        return list(tree.towns)
    return [tree.town_of(scope) or scope]


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _pairs(raw: Any) -> Iterable[tuple[str, str]]:
    if isinstance(raw, Mapping):  # RESP3 clients answer maps
        return ((_s(k), _s(v)) for k, v in raw.items())
    items = list(raw or [])
    return ((_s(items[i]), _s(items[i + 1])) for i in range(0, len(items) - 1, 2))


@dataclass
class TownRead:
    """Counts (and last-report times) of some operations in some towns, each town at one position."""

    pos: Position = field(default_factory=dict)
    counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    """operation → grid → counter → total."""
    last: dict[str, dict[str, int]] = field(default_factory=dict)
    """operation → grid → epoch ms of the last report that touched it."""
    hh_totals: dict[str, int] = field(default_factory=dict)
    """leaf grid → households in the roster (read only when `households_of` asked for it)."""
    hh_counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    """operation → leaf grid → household status → households (`households_of`)."""


def read_towns(
    client: Client, towns: Sequence[str], ops: Sequence[str], last_of: Sequence[str] = (),
    households_of: Sequence[str] = (),
) -> TownRead:
    """Read the counts of `ops` (and last-report times of `last_of`, household roll-ups of
    `households_of`: the roster's totals and the status counts) in `towns`, each town atomically."""
    script = client.register_script(READ_LUA)
    plans = []
    for town in towns:
        tk = TownKeys(town)
        hh = [tk.household_totals, *(tk.household_counts(op) for op in households_of)] if households_of else []
        plans.append([tk.checkpoint, *(tk.counts(op) for op in ops), *(tk.last(op) for op in last_of), *hh])
    if isinstance(client, RedisCluster):  # a cluster pipeline refuses scripts: one call per town (its shard)
        replies = [script(keys=keys, args=[]) for keys in plans]
    else:
        pipe = client.pipeline(transaction=False)
        for keys in plans:
            script(keys=keys, args=[], client=pipe)
        replies = pipe.execute()
    out = TownRead(counts={op: {} for op in ops}, last={op: {} for op in last_of})
    for town, res in zip(towns, replies, strict=True):
        out.pos[town] = _s(res[0]) or ORIGIN
        for op, raw in zip(ops, res[1 : 1 + len(ops)], strict=True):
            totals = out.counts[op]
            for k, v in _pairs(raw):
                g, _, c = k.partition("|")
                totals.setdefault(g, {})[c] = int(v)
        n = 1 + len(ops) + len(last_of)
        for op, raw in zip(last_of, res[1 + len(ops) : n], strict=True):
            out.last[op].update((g, int(v)) for g, v in _pairs(raw))
        if households_of:
            out.hh_totals.update((g, int(v)) for g, v in _pairs(res[n]))
            for op, raw in zip(households_of, res[n + 1 :], strict=True):
                cells = out.hh_counts.setdefault(op, {})
                for k, v in _pairs(raw):
                    g, _, status = k.partition("|")
                    cells.setdefault(g, {})[status] = int(v)
    return out
