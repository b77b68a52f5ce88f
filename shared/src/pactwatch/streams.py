"""Broker wiring every service shares: consumer groups, batch subscriptions, batched publishes.

FastStream creates a missing consumer group at ``$``, which silently skips everything published
before the group existed; :func:`ensure_groups` creates them at ``0`` before any consumer reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from faststream.redis import StreamSub
from faststream.redis.publisher.usecase import StreamPublisher
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from pactwatch.contracts import CONSUMED_STREAMS
from pactwatch.settings import ServiceSettings, consumer_name


def connect(url: str) -> Redis:
    """A raw Redis client for the commands FastStream does not wrap."""
    return Redis.from_url(url, health_check_interval=30, socket_keepalive=True)


async def ensure_groups(redis: Redis, group: str, streams: Iterable[str] | None = None) -> None:
    """Create ``group`` on each stream at id 0 (creating the stream), unless it exists."""
    for stream in streams if streams is not None else CONSUMED_STREAMS[group]:
        try:
            await redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


async def ensure_all_groups(redis: Redis) -> None:
    """Create every consumer group of the pipeline (the deployment's init step)."""
    for group, streams in CONSUMED_STREAMS.items():
        await ensure_groups(redis, group, streams)


def batch_sub(stream: str, group: str, settings: ServiceSettings) -> StreamSub[Literal[True]]:
    """Read ``stream`` in batches as one consumer of ``group``; replicas share the work."""
    return StreamSub(
        stream,
        group=group,
        consumer=consumer_name(),
        batch=True,
        max_records=settings.batch_size,
        polling_interval=settings.poll_ms,
        # the group exists already (ensure_groups); never let FastStream create it at "$"
        declare=True,
    )


async def publish_all(
    redis: Redis,
    publisher: StreamPublisher,
    messages: Sequence[BaseModel],
    *,
    stream: str | None = None,
) -> None:
    """Publish ``messages`` in one round trip (a non-transactional pipeline)."""
    if not messages:
        return
    pipe: Any = redis.pipeline(transaction=False)
    async with pipe:
        for message in messages:
            await publisher.publish(message, stream=stream, pipeline=pipe)
        await pipe.execute()
