"""Publishing accepted articles to ``articles.ingested`` in one round trip per request."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from faststream.redis.publisher.usecase import StreamPublisher
from pactwatch.contracts import Article, ArticleIngested
from pactwatch.streams import publish_all
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger()


class ArticlePublisher:
    """Publishes ArticleIngested messages; returns only once Redis has accepted them all.

    It also remembers each id for ``known_ttl_s`` (0: not at all), to tell a sender that an
    article came before. That is a courtesy, not deduplication: a known article is published
    again, and the deduplicator decides what it is.
    """

    def __init__(
        self,
        redis: Redis,
        publisher: StreamPublisher,
        *,
        known_prefix: str = "pactwatch:ingest:known:",
        known_ttl_s: int = 0,
    ) -> None:
        self._redis = redis
        self._publisher = publisher
        self._known_prefix = known_prefix
        self._known_ttl_s = known_ttl_s

    async def publish(self, articles: Sequence[Article], ingested_at: datetime) -> list[bool]:
        """Publish each article; for each, whether an article with its id came before."""
        messages = [ArticleIngested(article=a, ingested_at=ingested_at) for a in articles]
        # all or none: an error answered to the sender means that nothing went in
        await publish_all(self._redis, self._publisher, messages, atomic=True)
        if not articles or not self._known_ttl_s:
            return [False] * len(articles)
        try:
            pipe: Any = self._redis.pipeline(transaction=False)
            async with pipe:
                for article in articles:
                    pipe.set(f"{self._known_prefix}{article.id}", 1, nx=True, ex=self._known_ttl_s)
                firsts = await pipe.execute()
        except RedisError as exc:
            # the articles are in: a failed courtesy must not tell the sender to send again
            log.warning("articles.known_unrecorded", reason=f"{type(exc).__name__}: {exc}")
            return [False] * len(articles)
        # SET NX answers None when the key was there already
        return [first is None for first in firsts]
