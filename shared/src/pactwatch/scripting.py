"""Lua scripts run many to a round trip: EVALSHA in one pipeline, reloading what Redis lost.

redis-py's ``Script`` objects ask Redis whether their script exists (SCRIPT EXISTS) before
every pipeline they run in, an extra round trip each time. Here a pipeline sends the EVALSHA
calls alone; only the calls that found their script missing (Redis restarted, or its script
cache was flushed) load it and run again. A call that found its script missing did nothing,
so running it again is safe whatever the script does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError


class LuaScript:
    """A Lua script known by its SHA1 digest, as Redis caches it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class ScriptCall:
    """One call of a script: its keys (all of one hash slot) and arguments."""

    script: LuaScript
    keys: Sequence[str]
    args: Sequence[str | bytes | int | float]


async def run_scripts(redis: Redis, calls: Sequence[ScriptCall]) -> list[Any]:
    """Run ``calls`` in order in one pipeline (two when Redis had lost a script) and return
    their replies. Raises the first error a call replied with, once every call has run."""
    if not calls:
        return []
    replies = await _pipelined(redis, calls)
    missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if missing:
        for script in {calls[i].script.sha: calls[i].script for i in missing}.values():
            await redis.script_load(script.source)
        again = await _pipelined(redis, [calls[i] for i in missing])
        for i, reply in zip(missing, again, strict=True):
            replies[i] = reply
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


async def _pipelined(redis: Redis, calls: Sequence[ScriptCall]) -> list[Any]:
    pipe: Any = redis.pipeline(transaction=False)
    async with pipe:
        for call in calls:
            pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
    return replies
