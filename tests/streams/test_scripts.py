"""Scripts run once per call in one round trip: answers in order, errors in place, nothing run twice."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from streams.scripts import Call, run_each

INCR_LUA = """
if ARGV[1] == 'fail' then return redis.error_reply('refused ' .. KEYS[1]) end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


def test_each_call_gets_its_own_answer_and_an_error_stays_in_its_place(client: redis.Redis) -> None:
    script = client.register_script(INCR_LUA)
    out = run_each(client, script, [(["s:a"], [2]), (["s:b"], ["fail"]), (["s:c"], [5])])
    assert out[0] == 2 and out[2] == 5
    assert isinstance(out[1], redis.ResponseError) and "refused s:b" in str(out[1])
    assert client.mget("s:a", "s:b", "s:c") == [b"2", None, b"5"]


def test_a_script_the_server_forgot_is_loaded_and_each_call_runs_once(client: redis.Redis) -> None:
    script = client.register_script(INCR_LUA)
    run_each(client, script, [(["s:x"], [1])])
    client.script_flush()  # what a restarted Redis remembers
    out = run_each(client, script, [(["s:x"], [1]), (["s:y"], [1]), (["s:z"], [1])])
    assert out == [2, 1, 1]
    assert client.mget("s:x", "s:y", "s:z") == [b"2", b"1", b"1"]


def test_a_call_is_sent_before_the_next_is_built(client: redis.Redis, redis_url: str) -> None:
    """Redis runs the first call while the caller still builds the second (the overlap)."""
    script = client.register_script(INCR_LUA)
    client.script_load(INCR_LUA)  # known to the server: no NOSCRIPT round
    watcher = redis.Redis.from_url(redis_url)
    seen: list[bytes | None] = []

    def calls() -> Iterator[Call]:
        yield ["s:first"], [1]
        deadline = time.monotonic() + 30
        while watcher.get("s:first") is None and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append(watcher.get("s:first"))
        yield ["s:second"], [1]

    assert run_each(client, script, calls()) == [1, 1]
    assert seen == [b"1"]


def test_a_caller_that_fails_midway_gets_its_error_and_what_was_sent_is_answered(client: redis.Redis) -> None:
    script = client.register_script(INCR_LUA)
    client.script_load(INCR_LUA)

    def calls() -> Iterator[Call]:
        yield ["s:sent"], [7]
        raise ValueError("the caller's own bug")

    with pytest.raises(ValueError):
        run_each(client, script, calls())
    for _ in range(3):  # any connection the pool hands out answers its own command, not the script's reply
        assert client.echo("mine") == b"mine"
    assert client.get("s:sent") == b"7"  # what was sent ran and was answered: each call is atomic on its own
