"""pactwatch.delivery against a real Redis: per-entry decoding, dead letters and replay, claims
of a dead consumer's entries, stale consumers, a lost group, Redis errors that say "later"."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from faststream.redis import RedisBroker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pactwatch.contracts import Article, ArticleDeduplicated
from pactwatch.delivery import (
    Consumers,
    StreamConsumer,
    UndecodableError,
    dead_letter_counts,
    dead_letter_stream,
    decode_entry,
    is_transient,
    list_dead_letters,
    replay_dead_letters,
)
from pactwatch.settings import ServiceSettings, consumer_name
from pactwatch.streams import connect, ensure_groups
from redis.asyncio import Redis
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.support import RedisServer

STREAM = "test.stream"
GROUP = "tests"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    yield client
    await client.aclose()


def message(n: int) -> ArticleDeduplicated:
    return ArticleDeduplicated(
        article=Article(id=f"a{n}", text=f"text {n}"),
        ingested_at=datetime(2024, 1, 5, tzinfo=UTC),
    )


async def publish(redis_url: str, count: int, start: int = 0) -> None:
    async with RedisBroker(redis_url) as broker:
        for n in range(start, start + count):
            await broker.publish(message(n), stream=STREAM)


def consumer(
    redis: Redis,
    handler: Callable[[list[ArticleDeduplicated]], Awaitable[None]],
    name: str = "live",
    **overrides: Any,
) -> StreamConsumer[ArticleDeduplicated]:
    values: dict[str, Any] = {
        "claim_idle_ms": 200,
        "max_deliveries": 3,
        "batch_size": 10,
        "poll_ms": 20,
        **overrides,
    }
    return StreamConsumer(
        redis,
        stream=STREAM,
        group=GROUP,
        model=ArticleDeduplicated,
        handler=handler,
        service="tests",
        settings=ServiceSettings(**values),
        consumer=name,
    )


@contextlib.asynccontextmanager
async def running(
    loop: StreamConsumer[Any], within: float = 20
) -> AsyncIterator[asyncio.Task[None]]:
    """``loop`` running as a task for the block (at most ``within`` seconds), then stopped."""
    task = asyncio.create_task(loop.run())
    try:
        async with asyncio.timeout(within):
            yield task
    finally:
        loop.stop()
        await asyncio.wait_for(task, 10)


async def until(done: Callable[[], bool]) -> None:
    while not done():  # noqa: ASYNC110  # a test's wait, not a service's loop
        await asyncio.sleep(0.05)


async def run_until(
    loop: StreamConsumer[Any], done: Callable[[], Awaitable[bool]], within: float = 20
) -> None:
    async with running(loop, within):
        while not await done():  # noqa: ASYNC110  # the state polled is in Redis
            await asyncio.sleep(0.05)


@pytest.mark.anyio
async def test_a_bad_entry_is_dead_lettered_at_once_and_its_batch_goes_through(
    redis: Redis, redis_url: str
) -> None:
    await publish(redis_url, 3)
    await redis.xadd(STREAM, {"article": "plain field"})
    await redis.xadd(STREAM, {"__data__": b"\xff\xfe not json"})
    await publish(redis_url, 3, start=3)
    seen: list[str] = []

    async def handler(batch: list[ArticleDeduplicated]) -> None:
        seen.extend(m.article.id for m in batch)

    loop = consumer(redis, handler)

    async def finished() -> bool:
        return len(seen) == 6 and await redis.xlen(dead_letter_stream(STREAM)) == 2

    await run_until(loop, finished)
    assert seen == [f"a{n}" for n in range(6)]
    letters = await list_dead_letters(redis, STREAM)
    assert [letter.reason for letter in letters] == ["undecodable", "undecodable"]
    assert "fields: article" in letters[0].error
    assert letters[1].fields == {b"__data__": b"\xff\xfe not json"}
    assert await dead_letter_counts(redis, [STREAM]) == {STREAM: 2}
    pending: Any = await redis.xpending(STREAM, GROUP)
    assert pending["pending"] == 0


@pytest.mark.anyio
async def test_a_failing_entry_is_retried_then_dead_lettered_and_replayed_intact(
    redis: Redis, redis_url: str
) -> None:
    await publish(redis_url, 5)
    seen: list[str] = []
    calls: list[int] = []

    async def handler(batch: list[ArticleDeduplicated]) -> None:
        calls.append(len(batch))
        if any(m.article.id == "a2" for m in batch):
            raise ValueError("cannot handle a2")
        seen.extend(m.article.id for m in batch)

    loop = consumer(redis, handler)

    async def dead() -> bool:
        return bool(await redis.xlen(dead_letter_stream(STREAM)))

    await run_until(loop, dead)
    assert sorted(seen) == ["a0", "a1", "a3", "a4"]
    assert calls[0] == 5  # the batch, then each entry on its own, then a2's redeliveries
    [letter] = await list_dead_letters(redis, STREAM)
    assert letter.reason == "failed"
    assert letter.deliveries == 3
    assert letter.service == "tests"
    assert letter.error == "ValueError: cannot handle a2"
    original: Any = await redis.xrange(STREAM, letter.original_id, letter.original_id)
    assert letter.fields == original[0][1]

    [(replayed, new_id)] = await replay_dead_letters(redis, STREAM)
    assert replayed.dlq_id == letter.dlq_id
    again: Any = await redis.xrange(STREAM, new_id, new_id)
    assert again[0][1] == letter.fields
    assert await redis.xlen(dead_letter_stream(STREAM)) == 0


@pytest.mark.anyio
async def test_a_dead_consumers_entries_are_claimed_and_it_is_deleted_only_after(
    redis: Redis, redis_url: str
) -> None:
    await publish(redis_url, 4)
    await redis.xgroup_create(STREAM, GROUP, id="0")
    # "dead" read the entries and never acknowledged them; "busy" holds one and is alive
    await redis.xreadgroup(GROUP, "dead", {STREAM: ">"}, count=3)
    await redis.xreadgroup(GROUP, "busy", {STREAM: ">"}, count=1)
    seen: list[str] = []

    async def handler(batch: list[ArticleDeduplicated]) -> None:
        seen.extend(m.article.id for m in batch)

    loop = consumer(redis, handler, claim_idle_ms=300, consumer_stale_s=0.2)

    async def names() -> set[str]:
        infos: Any = await redis.xinfo_consumers(STREAM, GROUP)
        return {i["name"].decode() for i in infos}

    async def claimed_and_swept() -> bool:
        return len(seen) == 4 and "dead" not in await names()

    await run_until(loop, claimed_and_swept)
    assert sorted(seen) == ["a0", "a1", "a2", "a3"]
    # "busy" was claimed from too (its entry idled past the claim time), then deleted
    assert await names() == {"live"}

    # a consumer with an entry pending is never deleted, however idle
    await publish(redis_url, 1, start=10)
    await redis.xreadgroup(GROUP, "holder", {STREAM: ">"}, count=1)
    await asyncio.sleep(0.3)
    keeper = consumer(redis, handler, claim_idle_ms=60_000, consumer_stale_s=0.2)
    assert "holder" not in await keeper.delete_stale_consumers()
    assert "holder" in await names()


@pytest.mark.anyio
async def test_a_lost_group_is_recreated_at_zero_and_reading_goes_on(
    redis: Redis, redis_url: str
) -> None:
    await publish(redis_url, 2)
    seen: list[str] = []

    async def handler(batch: list[ArticleDeduplicated]) -> None:
        seen.extend(m.article.id for m in batch)

    async with running(consumer(redis, handler)):
        await until(lambda: len(seen) >= 2)
        await redis.xgroup_destroy(STREAM, GROUP)
        await publish(redis_url, 1, start=2)
        # a0, a1 read again from 0 (handlers are idempotent), then a2
        await until(lambda: len(seen) >= 5)
    assert seen == ["a0", "a1", "a0", "a1", "a2"]


@pytest.mark.anyio
async def test_redis_errors_are_waited_out_without_counting_as_failures(
    redis: Redis, redis_url: str
) -> None:
    await publish(redis_url, 2)
    attempts: list[int] = []
    seen: list[str] = []

    async def handler(batch: list[ArticleDeduplicated]) -> None:
        attempts.append(len(batch))
        if len(attempts) <= 4:  # more failures than max_deliveries allows a real error
            raise RedisConnectionError("Redis went away")
        seen.extend(m.article.id for m in batch)

    loop = consumer(redis, handler, max_deliveries=2)

    async def done() -> bool:
        return len(seen) == 2

    await run_until(loop, done)
    assert attempts == [2, 2, 2, 2, 2]  # the batch in hand, never split, never read again
    assert await redis.exists(dead_letter_stream(STREAM)) == 0


fields = st.dictionaries(
    st.one_of(st.just(b"__data__"), st.binary(max_size=12)),
    st.one_of(
        st.binary(max_size=200),
        st.builds(lambda m: m.model_dump_json().encode(), st.builds(message, st.integers())),
        st.builds(
            lambda raw: b"\x89BIN\r\n\x1a\n\x00\x01" + raw, st.binary(max_size=40)
        ),  # FastStream's binary envelope, truncated or garbled
    ),
    max_size=3,
)


@given(fields)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_decoding_any_entry_gives_the_message_or_a_reason(entry: dict[bytes, bytes]) -> None:
    reason = ""
    try:
        decoded = decode_entry(entry, ArticleDeduplicated)
    except UndecodableError as exc:
        reason = str(exc)
    else:
        assert isinstance(decoded, ArticleDeduplicated)
        return
    assert reason


@pytest.mark.anyio
async def test_several_consumers_per_stream_share_the_work_in_one_process(
    redis: Redis, redis_url: str
) -> None:
    await publish(redis_url, 40)
    seen: list[str] = []
    in_flight = peak = 0

    async def handler(batch: list[ArticleDeduplicated]) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)  # a handler waiting on I/O, as the deduplicator's claims do
        seen.extend(m.article.id for m in batch)
        in_flight -= 1

    settings = ServiceSettings(batch_size=4, poll_ms=20, consumers_per_stream=3)
    consumers = Consumers(redis, group=GROUP, service="tests", settings=settings)
    consumers.subscriber(STREAM, ArticleDeduplicated)(handler)
    assert consumers.watched() == [(STREAM, GROUP)]
    await ensure_groups(redis, GROUP, [STREAM])
    await consumers.start()
    try:
        async with asyncio.timeout(20):
            await until(lambda: len(seen) >= 40)
        names = sorted(c["name"].decode() for c in await redis.xinfo_consumers(STREAM, GROUP))
    finally:
        await consumers.stop()
    assert sorted(seen) == sorted(f"a{n}" for n in range(40))  # each once
    assert peak >= 2
    assert names == [f"{consumer_name()}-{n}" for n in (1, 2, 3)]
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0


@pytest.mark.parametrize(
    "exc",
    [
        ReadOnlyError("You can't write against a read only replica."),
        MasterDownError("Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
        ClusterDownError("The cluster is down"),
        TryAgainError("Multiple keys request during rehashing of slot"),
        OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
        BusyLoadingError("Redis is loading the dataset in memory"),
    ],
)
def test_failover_and_memory_replies_say_later(exc: Exception) -> None:
    # redis-py strips the reply's code (READONLY, OOM...) and raises these types
    assert is_transient(exc)


def test_an_error_about_the_command_is_not_transient() -> None:
    assert not is_transient(ResponseError("WRONGTYPE Operation against a key"))


@pytest.mark.anyio
async def test_redis_out_of_memory_is_waited_out_and_nothing_is_dead_lettered(
    redis: Redis, redis_url: str
) -> None:
    await publish(redis_url, 2)
    seen: list[str] = []
    attempts: list[int] = []

    async def handler(batch: list[ArticleDeduplicated]) -> None:
        attempts.append(len(batch))
        if len(attempts) == 1:
            await redis.config_set("maxmemory", 1)  # Redis full from now on: writes refused
        await redis.set("written-by-handler", "yes")
        seen.extend(m.article.id for m in batch)

    async def memory_freed() -> None:
        await until(lambda: bool(attempts))
        await asyncio.sleep(1.0)
        await redis.config_set("maxmemory", 0)

    # with one delivery allowed, a failure counted against the batch would dead-letter it
    loop = consumer(redis, handler, max_deliveries=1)
    freeing = asyncio.create_task(memory_freed())
    try:

        async def done() -> bool:
            return len(seen) == 2

        await run_until(loop, done)
    finally:
        await freeing
        await redis.config_set("maxmemory", 0)
    assert len(attempts) >= 2
    assert set(attempts) == {2}  # the batch in hand, retried whole
    assert await redis.exists(dead_letter_stream(STREAM)) == 0


@pytest.mark.anyio
async def test_a_group_that_cannot_be_recreated_yet_is_tried_again(
    redis: Redis, redis_url: str
) -> None:
    await publish(redis_url, 1)
    seen: list[str] = []

    async def handler(batch: list[ArticleDeduplicated]) -> None:
        seen.extend(m.article.id for m in batch)

    try:
        async with running(consumer(redis, handler)) as task:
            await until(lambda: len(seen) >= 1)
            # the group lost, and Redis refusing to create it again (OOM), at one moment
            pipe: Any = redis.pipeline(transaction=True)
            async with pipe:
                pipe.xgroup_destroy(STREAM, GROUP)
                pipe.config_set("maxmemory", 1)
                await pipe.execute()
            await asyncio.sleep(0.5)
            assert not task.done(), "the consumer stopped instead of waiting"
            await redis.config_set("maxmemory", 0)
            await publish(redis_url, 1, start=1)
            await until(lambda: len(seen) >= 3)
    finally:
        await redis.config_set("maxmemory", 0)
    assert seen == ["a0", "a0", "a1"]


@pytest.mark.anyio
async def test_a_batch_retried_after_a_transient_error_dead_letters_a_bad_entry_once(
    redis: Redis, redis_url: str
) -> None:
    await publish(redis_url, 1)
    await redis.xadd(STREAM, {"article": "plain field"})
    await publish(redis_url, 1, start=1)
    seen: list[str] = []
    attempts = 0

    async def handler(batch: list[ArticleDeduplicated]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise RedisConnectionError("Redis went away")
        seen.extend(m.article.id for m in batch)

    loop = consumer(redis, handler)

    async def done() -> bool:
        return len(seen) == 2

    await run_until(loop, done)
    assert attempts == 3
    assert await redis.xlen(dead_letter_stream(STREAM)) == 1


@pytest.mark.anyio
async def test_entries_held_after_a_transient_error_are_not_claimed_by_a_replica(
    redis: Redis, redis_url: str
) -> None:
    await ensure_groups(redis, GROUP, [STREAM])
    await publish(redis_url, 2)

    async def failing(batch: list[ArticleDeduplicated]) -> None:
        raise RedisConnectionError("the database went away")

    holder = consumer(redis, failing, name="holder", claim_idle_ms=300)
    with pytest.raises(RedisConnectionError):
        await holder.step()
    await asyncio.sleep(0.5)  # past the claim time: a replica could take them now...
    with pytest.raises(RedisConnectionError):
        await holder.step()  # ...but the retry says they are still being worked on
    taken: list[str] = []

    async def handler(batch: list[ArticleDeduplicated]) -> None:
        taken.extend(m.article.id for m in batch)

    await consumer(redis, handler, name="other", claim_idle_ms=300).step()
    assert taken == []
    pending: Any = await redis.xpending_range(STREAM, GROUP, "-", "+", 10)
    assert [(p["consumer"], p["times_delivered"]) for p in pending] == [(b"holder", 1)] * 2


@pytest.mark.anyio
async def test_connections_a_redis_restart_closed_are_replaced_without_an_error(
    tmp_path: Path,
) -> None:
    # redis-py 8.1 hands out a pooled connection the server has closed (the pool's check is
    # skipped while maintenance notifications are "auto"): without a retry, the first command
    # on each such connection failed after Redis came back, e.g. a /metrics scrape said down
    server = RedisServer(tmp_path / "redis")
    server.start()
    client = connect(server.url)
    try:
        # several connections in the pool, as a service holds them
        await asyncio.gather(*(client.blpop(["nothing"], timeout=0.2) for _ in range(3)))
        assert len(client.connection_pool._available_connections) == 3
        server.stop()
        server.start()
        await asyncio.sleep(0.1)  # the closed sockets' EOF has reached the event loop
        assert await client.ping()
        async with client.pipeline(transaction=False) as pipe:
            pipe.xlen(STREAM)
            pipe.ping()
            assert await pipe.execute() == [0, True]
        assert await client.set("after", "restart")
    finally:
        await client.aclose()
        server.stop()
