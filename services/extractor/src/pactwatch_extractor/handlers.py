"""The extractor's subscriber: a batch of new articles in, one nlp.pipe pass, enriched out."""

from __future__ import annotations

import anyio
import structlog
from faststream.redis import RedisRouter
from pactwatch.contracts import (
    ARTICLES_ENRICHED,
    ARTICLES_UNIQUE,
    ArticleDeduplicated,
    ArticleEnriched,
)
from pactwatch.delivery import Consumers
from pactwatch.streams import publish_all
from redis.asyncio import Redis

from pactwatch_extractor.extraction import Extractor

log = structlog.get_logger()


def build_router(redis: Redis, extractor: Extractor, consumers: Consumers) -> RedisRouter:
    """The publisher (a router for the broker) and the subscriber (on ``consumers``)."""
    router = RedisRouter()
    enriched = router.publisher(
        stream=ARTICLES_ENRICHED, description="Articles with entities, countries and agreements."
    )

    @consumers.subscriber(ARTICLES_UNIQUE, ArticleDeduplicated)
    async def on_article_deduplicated(batch: list[ArticleDeduplicated]) -> None:
        # spaCy holds the CPU: run it in a worker thread so health checks still answer
        results = await anyio.to_thread.run_sync(extractor.extract_many, [m.article for m in batch])
        out = [
            ArticleEnriched(
                article=m.article,
                ingested_at=m.ingested_at,
                entities=r.entities,
                countries=r.countries,
                agreements=r.agreements,
                skipped=r.skipped,
                truncated=r.truncated,
            )
            for m, r in zip(batch, results, strict=True)
        ]
        await publish_all(redis, enriched, out)
        log.info("batch.extracted", size=len(out))
        for message in out:
            if message.skipped:
                log.info("article.skipped", article_id=message.article.id, reason=message.skipped)
            elif message.agreements:
                log.info(
                    "article.agreements",
                    article_id=message.article.id,
                    agreements=len(message.agreements),
                    alertable=sum(a.alertable for a in message.agreements),
                )

    return router
