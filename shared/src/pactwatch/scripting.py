"""Running one Lua script many times in one round trip.

redis-py's pipelines ask Redis ``SCRIPT EXISTS`` before every execution that holds a script:
one more round trip each time, which for a worker handling one message at a time was a
third of its Redis traffic. :func:`evalsha_many` sends the ``EVALSHA`` calls alone and loads
the script only when Redis answers that it does not know it (after a restart, a failover or
a ``SCRIPT FLUSH``), then sends the calls again: the scripts run this way must be idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

Call = tuple[Sequence[str | bytes], Sequence[str | bytes | int | float]]
"""The keys and arguments of one call."""


async def evalsha_many(redis: Redis, script: AsyncScript, calls: Sequence[Call]) -> list[Any]:
    """Run ``script`` once per call, in order, in one pipeline; returns the replies in order.
    A call that fails raises its error (the others have run)."""
    if not calls:
        return []
    replies = await _send(redis, script, calls)
    if any(isinstance(reply, NoScriptError) for reply in replies):
        await redis.script_load(script.script)
        replies = await _send(redis, script, calls)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


async def _send(redis: Redis, script: AsyncScript, calls: Sequence[Call]) -> list[Any]:
    pipe: Any = redis.pipeline(transaction=False)
    async with pipe:
        for keys, args in calls:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
    return replies
