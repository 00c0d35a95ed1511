"""One Lua script run once per stream in one round trip, each call on the wire as soon as it is made.

Why not a redis-py pipeline: a pipeline packs every command before it sends the
first, so the client's work (building each town's arguments) and Redis's work
(running each town's script) add up. Here a call is sent when it is built, so
Redis runs the first town's script while the caller builds the next one's; on
two cores a batch takes about the longer of the two, not their sum. Answers are
read in order at the end, each its own reply or its own error (a `ResponseError`
in its place, never raised for the others). A script the server forgot (Redis
restarted) is loaded and the calls that met NOSCRIPT are run again: they never
ran. The append path (`streams.log.EventLog`) and the projector's write
(`streams.projector.Projector`) both run their scripts through here.

On Redis Cluster, which takes no scripts in a pipeline and keeps each town on
its own shard, each call is its own round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import redis
import redis.cluster
from redis.commands.core import Script

from streams.server import Client

__all__ = ["Call", "run_each"]

Call = tuple[Sequence[Any], Sequence[Any]]
"""One run of a script: its KEYS and its ARGV."""


def run_each(client: Client, script: Script, calls: Iterable[Call]) -> list[Any]:
    """`script` once per call, in order: each call's reply, or its `ResponseError` in its place.

    `calls` may be a generator: each call is sent before the next is asked for. If
    it raises, the calls already sent are answered (each ran, atomically, on its
    own) and its exception is raised. Transport failures (`redis.ConnectionError`,
    `redis.TimeoutError`) raise; the connection is then dropped, never returned to
    the pool half read.
    """
    if isinstance(client, redis.cluster.RedisCluster):
        return [_one(script, keys, args) for keys, args in calls]
    pool = client.connection_pool
    conn = pool.get_connection()
    sent: list[Call] = []
    out: list[Any] = []
    failed: BaseException | None = None
    try:
        try:
            for keys, args in calls:
                conn.send_packed_command(
                    conn.pack_command("EVALSHA", script.sha, len(keys), *keys, *args), check_health=not sent
                )
                sent.append((keys, args))
        except (redis.ConnectionError, redis.TimeoutError):
            raise
        except Exception as exc:  # the caller's own failure: what was sent still runs and is answered
            failed = exc
        for _ in sent:
            try:
                out.append(conn.read_response())
            except redis.ResponseError as exc:
                out.append(exc)
    except BaseException:
        conn.disconnect()  # replies may be left unread: this socket must not serve anyone again
        raise
    finally:
        pool.release(conn)
    if failed is not None:
        raise failed
    for n, res in enumerate(out):
        if isinstance(res, redis.exceptions.NoScriptError):
            keys, args = sent[n]
            out[n] = _one(script, keys, args)  # loads it (SCRIPT LOAD), then runs the call
    return out


def _one(script: Script, keys: Sequence[Any], args: Sequence[Any]) -> Any:
    """One call on its own round trip; its ResponseError as its answer."""
    try:
        return script(keys=keys, args=args)
    except redis.ResponseError as exc:
        return exc
