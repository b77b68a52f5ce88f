"""Lua scripts run many at a time (pactwatch.scripting): one round trip, and Redis forgetting
them loses nothing."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
import redis as sync_redis
from pactwatch.scripting import LuaScript, ScriptCall, run_scripts
from pactwatch.streams import connect
from redis.exceptions import ResponseError

_FIRST_WINS = LuaScript("""
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
""")
# not idempotent: a call run twice counts twice
_COUNT = LuaScript("return redis.call('INCR', KEYS[1])")


def _run(redis_url: str, calls: list[Any]) -> list[Any]:
    async def go() -> list[Any]:
        r = connect(redis_url)
        try:
            return await run_scripts(
                r, [c if isinstance(c, ScriptCall) else ScriptCall(_FIRST_WINS, *c) for c in calls]
            )
        finally:
            await r.aclose()

    return anyio.run(go)


def _script_commands(client: sync_redis.Redis) -> int:
    stats: dict[str, Any] = client.info("commandstats")
    return int(stats.get("cmdstat_script", {}).get("calls", 0))


def test_calls_run_in_order_and_a_known_script_costs_no_extra_command(
    redis_url: str, redis_client: sync_redis.Redis
) -> None:
    calls = [(["k1"], ["a"]), (["k2"], ["b"]), (["k1"], ["c"])]
    assert _run(redis_url, calls) == [b"a", b"b", b"a"]
    redis_client.config_resetstat()
    assert _run(redis_url, [(["k3"], ["d"])]) == [b"d"]
    stats: dict[str, Any] = redis_client.info("commandstats")
    assert _script_commands(redis_client) == 0  # no SCRIPT EXISTS, no SCRIPT LOAD
    assert stats["cmdstat_evalsha"]["calls"] == 1


def test_a_script_redis_forgot_is_loaded_and_the_calls_sent_again(
    redis_url: str, redis_client: sync_redis.Redis
) -> None:
    _run(redis_url, [(["k1"], ["a"])])
    redis_client.script_flush()
    redis_client.config_resetstat()
    assert _run(redis_url, [(["k1"], ["b"]), (["k2"], ["c"])]) == [b"a", b"c"]
    assert _script_commands(redis_client) == 1  # one SCRIPT LOAD
    assert redis_client.get("k2") == b"c"


def test_only_the_calls_that_found_their_script_missing_run_again(
    redis_url: str, redis_client: sync_redis.Redis
) -> None:
    _run(redis_url, [ScriptCall(_FIRST_WINS, ["k0"], ["a"])])  # known to Redis; _COUNT is not
    replies = _run(
        redis_url,
        [ScriptCall(_FIRST_WINS, ["k1"], ["a"]), ScriptCall(_COUNT, ["n"], []),
         ScriptCall(_FIRST_WINS, ["k1"], ["b"])],
    )  # fmt: skip
    assert replies == [b"a", 1, b"a"]
    assert redis_client.get("n") == b"1"  # run once, although its first try found no script


def test_a_failing_call_raises_its_error_after_the_others_ran(
    redis_url: str, redis_client: sync_redis.Redis
) -> None:
    redis_client.rpush("a-list", "x")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        _run(redis_url, [(["k1"], ["a"]), (["a-list"], ["b"]), (["k2"], ["c"])])
    assert redis_client.mget("k1", "k2") == [b"a", b"c"]


def test_no_calls_send_nothing(redis_url: str, redis_client: sync_redis.Redis) -> None:
    redis_client.config_resetstat()
    assert _run(redis_url, []) == []
    stats: dict[str, Any] = redis_client.info("commandstats")
    assert "cmdstat_evalsha" not in stats
