"""The pipeline's streams stay bounded, and nothing a group has not acknowledged is trimmed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from pactwatch.contracts import ArticleDeduplicated
from pactwatch.delivery import StreamConsumer
from pactwatch.settings import ServiceSettings
from pactwatch.streams import connect
from redis.asyncio import Redis

STREAM = "trim.stream"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    yield client
    await client.aclose()


async def nothing(batch: list[ArticleDeduplicated]) -> None:
    return None


def trimmer(redis: Redis, keep_s: float) -> StreamConsumer[ArticleDeduplicated]:
    return StreamConsumer(
        redis,
        stream=STREAM,
        group="first",
        model=ArticleDeduplicated,
        handler=nothing,
        service="tests",
        settings=ServiceSettings(stream_keep_s=keep_s),
        consumer="trimmer",
    )


async def read(redis: Redis, group: str, count: int) -> list[bytes]:
    """Entry ids ``group`` reads (redis-py's stubs type the reply loosely)."""
    reply = cast(
        list[tuple[bytes, list[tuple[bytes, Any]]]],
        await redis.xreadgroup(group, f"{group}-c", {STREAM: ">"}, count=count),
    )
    return [entry_id for entry_id, _ in reply[0][1]] if reply else []


async def ids(redis: Redis) -> list[str]:
    entries = cast(list[tuple[bytes, Any]], await redis.xrange(STREAM))
    return [entry_id.decode() for entry_id, _ in entries]


@pytest.mark.anyio
async def test_trims_only_what_every_group_acknowledged(redis: Redis) -> None:
    # 1000 entries, so that whole macro nodes (of 100) can go with approximate trimming
    pipe: Any = redis.pipeline(transaction=False)
    for n in range(1000):
        pipe.xadd(STREAM, {"n": str(n)})
    written = [entry_id.decode() for entry_id in cast(list[bytes], await pipe.execute())]
    await redis.xgroup_create(STREAM, "first", id="0")
    await redis.xgroup_create(STREAM, "second", id="0")
    # "first" read and acknowledged everything; "second" read 600, acknowledged 450
    await redis.xack(STREAM, "first", *await read(redis, "first", 1000))
    await redis.xack(STREAM, "second", *(await read(redis, "second", 600))[:450])

    threshold = await trimmer(redis, keep_s=0).trim_acknowledged()
    assert threshold == written[450]  # the oldest entry "second" has not acknowledged
    left = await ids(redis)
    assert written[450] in left  # never below an unacknowledged entry
    assert len(left) < 1000  # and the stream did shrink
    assert left == written[written.index(left[0]) :]

    # once "second" catches up, everything it has read and acknowledged can go
    await read(redis, "second", 1000)
    pending = cast(
        list[dict[str, Any]],
        await redis.xpending_range(STREAM, "second", min="-", max="+", count=1000),
    )
    await redis.xack(STREAM, "second", *[p["message_id"] for p in pending])
    await trimmer(redis, keep_s=0).trim_acknowledged()
    assert len(await ids(redis)) < 100


@pytest.mark.anyio
async def test_keeps_recent_entries_and_unread_ones(redis: Redis) -> None:
    for n in range(300):
        await redis.xadd(STREAM, {"n": str(n)})
    await redis.xgroup_create(STREAM, "first", id="0")
    # nothing read yet: nothing may go, whatever the keep time
    await trimmer(redis, keep_s=0).trim_acknowledged()
    assert len(await ids(redis)) == 300
    await redis.xack(STREAM, "first", *await read(redis, "first", 300))
    # all acknowledged, but younger than an hour: kept for people to look at
    await trimmer(redis, keep_s=3600).trim_acknowledged()
    assert len(await ids(redis)) == 300


@pytest.mark.anyio
async def test_a_stream_without_groups_is_left_alone(redis: Redis) -> None:
    for n in range(300):
        await redis.xadd(STREAM, {"n": str(n)})
    assert await trimmer(redis, keep_s=0).trim_acknowledged() is None
    assert len(await ids(redis)) == 300
