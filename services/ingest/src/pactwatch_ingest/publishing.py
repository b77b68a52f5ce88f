"""Publishing accepted articles to ``articles.ingested`` in one round trip per request."""

from __future__ import annotations

from collections.abc import Sequence

from faststream.redis.publisher.usecase import StreamPublisher
from pactwatch.contracts import ArticleIngested
from pactwatch.streams import publish_all
from redis.asyncio import Redis


class ArticlePublisher:
    """Publishes ArticleIngested messages; returns only once Redis has accepted them all."""

    def __init__(self, redis: Redis, publisher: StreamPublisher) -> None:
        self._redis = redis
        self._publisher = publisher

    async def publish(self, messages: Sequence[ArticleIngested]) -> None:
        await publish_all(self._redis, self._publisher, messages)
