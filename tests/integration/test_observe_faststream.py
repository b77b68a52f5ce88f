"""The broker middlewares and the readiness check of FastStream subscribers, on a real Redis.

Every service's broker comes from ``make_broker``, which puts :class:`MessageContext` and
:class:`MessageMetrics` around each handler call of its FastStream subscribers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
import pytest
import structlog
from faststream.redis import StreamSub
from pactwatch.contracts import Article, ArticleIngested
from pactwatch.readiness import stopped_subscribers, unready_reasons
from pactwatch.service import make_broker
from pactwatch.settings import ServiceSettings
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from tests.support import RedisServer, free_port


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def ingested(article_id: str) -> ArticleIngested:
    return ArticleIngested(
        article=Article(id=article_id, text=f"text of {article_id}"), ingested_at=datetime.now(UTC)
    )


async def wait_for(predicate: Callable[[], object], what: str) -> None:
    for _ in range(400):
        if predicate():
            return
        await anyio.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def subscription(stream: str) -> StreamSub[Literal[True]]:
    return StreamSub(
        stream, group="observed", consumer="c1", batch=True, max_records=16, polling_interval=50
    )


@pytest.mark.anyio
async def test_each_handler_call_is_counted_timed_and_logged_with_its_ids(
    redis_url: str, redis: Redis
) -> None:
    stream = f"observe.{uuid.uuid4().hex[:8]}"  # its own labels: counters live for the session
    await redis.xgroup_create(stream, "observed", id="0", mkstream=True)
    broker = make_broker(ServiceSettings(redis_url=redis_url))
    seen: list[dict[str, object]] = []

    @broker.subscriber(stream=subscription(stream))
    async def on_article_ingested(batch: list[ArticleIngested]) -> None:
        seen.append(structlog.contextvars.get_contextvars())
        if any(m.article.id == "poison" for m in batch):
            raise ValueError("poison in the batch")

    labels = {"service": "observed", "stream": stream}
    async with broker:
        await broker.start()
        await broker.publish(ingested("poison"), stream=stream)
        await wait_for(
            lambda: sample("pactwatch_messages_total", **labels, outcome="failed") == 1,
            "the failure counted",
        )
        for n in range(3):
            await broker.publish(ingested(f"good-{n}"), stream=stream)
        await wait_for(
            lambda: sample("pactwatch_messages_total", **labels, outcome="processed") == 3,
            "the good ones counted",
        )
    calls = len(seen)
    assert sample("pactwatch_handler_seconds_count", **labels) == calls
    assert sample("pactwatch_batch_size_count", **labels) == calls
    assert sample("pactwatch_batch_size_sum", **labels) == 4
    assert sample("pactwatch_handler_seconds_sum", **labels) > 0
    # the handler saw its stream, group, consumer and the ids of its messages as log context
    first = seen[0]
    assert first["stream"] == stream
    assert first["group"] == "observed"
    assert first["article_ids"] == ["poison"]
    entries: Any = await redis.xrange(stream)
    assert first["message_ids"] == [entries[0][0].decode()]
    later = [a for context in seen[1:] for a in context["article_ids"]]  # type: ignore[attr-defined]
    assert later == ["good-0", "good-1", "good-2"]


@pytest.mark.anyio
async def test_readiness_notices_a_subscriber_that_stopped_reading(
    redis_url: str, redis: Redis
) -> None:
    stream = f"observe.{uuid.uuid4().hex[:8]}"
    await redis.xgroup_create(stream, "observed", id="0", mkstream=True)
    broker = make_broker(ServiceSettings(redis_url=redis_url))

    @broker.subscriber(stream=subscription(stream))
    async def on_article_ingested(batch: list[ArticleIngested]) -> None:
        return None

    # declared for the AsyncAPI document only: no handler, never reads, never "stopped"
    broker.subscriber(stream=StreamSub("documented.only", group="observed", consumer="c1"))

    assert stopped_subscribers(broker) == [f"{stream} (observed)"]  # not started yet
    async with broker:
        await broker.start()
        assert stopped_subscribers(broker) == []
        assert await unready_reasons(redis, broker) == {}
        # the group vanishes (a FLUSHALL, a restart without persistence): FastStream stops
        # the subscriber for good while Redis itself still answers PING
        await redis.xgroup_destroy(stream, "observed")
        await wait_for(lambda: stopped_subscribers(broker), "the subscriber to stop")
        reasons = await unready_reasons(redis, broker)
        assert reasons == {"subscribers": f"not reading: {stream} (observed)"}


@pytest.mark.anyio
async def test_readiness_reports_redis_and_each_failing_check(redis_server: RedisServer) -> None:
    async def database() -> str | None:
        return "database: connection refused"

    async def broken() -> str | None:
        raise RuntimeError("check crashed")

    async def fine() -> str | None:
        return None

    nobody = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    reasons = await unready_reasons(
        nobody, None, [("database", database), ("broken", broken), ("fine", fine)]
    )
    await nobody.aclose()
    assert reasons == {
        "redis": "ConnectionError",
        "database": "database: connection refused",
        "broken": "RuntimeError",
    }
