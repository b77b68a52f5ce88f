"""The indexer's subscribers: each reads its stream in batches and indexes a batch at once.

Every write is an upsert keyed by the article id (or the agreement key and sighting), so a
redelivered batch leaves the index as it was.
"""

from __future__ import annotations

from pactwatch.contracts import (
    AGREEMENTS_SIGHTED,
    ARTICLES_DUPLICATES,
    ARTICLES_ENRICHED,
    AgreementSighted,
    ArticleEnriched,
    DuplicateDetected,
)
from pactwatch.delivery import Consumers

from pactwatch_indexer.writing import Indexer


def subscribe(indexer: Indexer, consumers: Consumers) -> None:
    """Group ``indexer`` reads the three streams; each batch is one transaction."""

    @consumers.subscriber(ARTICLES_ENRICHED, ArticleEnriched)
    async def on_article_enriched(batch: list[ArticleEnriched]) -> None:
        await indexer.index(batch)

    @consumers.subscriber(ARTICLES_DUPLICATES, DuplicateDetected)
    async def on_duplicate_detected(batch: list[DuplicateDetected]) -> None:
        await indexer.index(batch)

    @consumers.subscriber(AGREEMENTS_SIGHTED, AgreementSighted)
    async def on_agreement_sighted(batch: list[AgreementSighted]) -> None:
        await indexer.index(batch)
