"""The deduplicator's subscriber: a batch of ingested articles in, unique or duplicate out.

Redelivery is harmless: an article's claims carry its ingest time, so a message handled again
finds its own claims and gets the same verdict (see judging.owner_value)."""

from __future__ import annotations

import structlog
from faststream.redis import RedisRouter
from pactwatch.contracts import (
    ARTICLES_DUPLICATES,
    ARTICLES_INGESTED,
    ARTICLES_UNIQUE,
    ArticleDeduplicated,
    ArticleIngested,
    DuplicateDetected,
)
from pactwatch.delivery import Consumers
from pactwatch.streams import publish_all
from redis.asyncio import Redis

from pactwatch_deduplicator.judging import ClaimStore, LshStore, judge
from pactwatch_deduplicator.nearness import Fingerprinter
from pactwatch_deduplicator.settings import DeduplicatorSettings

log = structlog.get_logger()


def build_router(
    settings: DeduplicatorSettings,
    redis: Redis,
    claims: ClaimStore,
    lsh: LshStore,
    consumers: Consumers,
) -> RedisRouter:
    """The publishers (a router for the broker) and the subscriber (on ``consumers``)."""
    router = RedisRouter()
    fingerprinter = Fingerprinter(threshold=settings.near_threshold)
    unique = router.publisher(
        stream=ARTICLES_UNIQUE, description="Articles seen for the first time."
    )
    duplicates = router.publisher(
        stream=ARTICLES_DUPLICATES, description="Repeats, linked to the first."
    )

    @consumers.subscriber(ARTICLES_INGESTED, ArticleIngested)
    async def on_article_ingested(batch: list[ArticleIngested]) -> None:
        verdicts = await judge(
            claims, lsh, fingerprinter, [(m.article, m.ingested_at) for m in batch]
        )
        fresh, repeats = [], []
        for message, verdict in zip(batch, verdicts, strict=True):
            if verdict.duplicate_of is None:
                fresh.append(
                    ArticleDeduplicated(article=message.article, ingested_at=message.ingested_at)
                )
            else:
                repeats.append(
                    DuplicateDetected(
                        article=message.article,
                        ingested_at=message.ingested_at,
                        duplicate_of=verdict.duplicate_of,
                        method=verdict.method or "text",
                        similarity=verdict.similarity,
                    )
                )
                log.info(
                    "article.duplicate",
                    article_id=message.article.id,
                    duplicate_of=verdict.duplicate_of,
                    method=verdict.method,
                )
        await publish_all(redis, unique, fresh)
        await publish_all(redis, duplicates, repeats)

    return router
