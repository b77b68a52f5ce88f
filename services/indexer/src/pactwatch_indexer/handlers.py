"""The indexer's subscribers: each reads its stream in batches and indexes a batch at once."""

from __future__ import annotations

from faststream.redis import RedisRouter
from pactwatch.contracts import (
    AGREEMENTS_SIGHTED,
    ARTICLES_DUPLICATES,
    ARTICLES_ENRICHED,
    GROUP_INDEXER,
    AgreementSighted,
    ArticleEnriched,
    DuplicateDetected,
)
from pactwatch.settings import ServiceSettings
from pactwatch.streams import batch_sub

from pactwatch_indexer.writing import Indexer


def build_router(settings: ServiceSettings, indexer: Indexer) -> RedisRouter:
    """Group ``indexer`` reads the three streams; each batch is one transaction."""
    router = RedisRouter()

    @router.subscriber(stream=batch_sub(ARTICLES_ENRICHED, GROUP_INDEXER, settings))
    async def on_article_enriched(batch: list[ArticleEnriched]) -> None:
        await indexer.index(batch)

    @router.subscriber(stream=batch_sub(ARTICLES_DUPLICATES, GROUP_INDEXER, settings))
    async def on_duplicate_detected(batch: list[DuplicateDetected]) -> None:
        await indexer.index(batch)

    @router.subscriber(stream=batch_sub(AGREEMENTS_SIGHTED, GROUP_INDEXER, settings))
    async def on_agreement_sighted(batch: list[AgreementSighted]) -> None:
        await indexer.index(batch)

    return router
