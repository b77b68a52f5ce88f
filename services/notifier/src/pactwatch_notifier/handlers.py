"""The notifier's subscriber: enriched articles in; sightings and alerts out."""

from __future__ import annotations

import structlog
from faststream.redis import RedisRouter
from pactwatch.contracts import (
    AGREEMENTS_SIGHTED,
    ARTICLES_ENRICHED,
    GROUP_NOTIFIER,
    ArticleEnriched,
)
from pactwatch.streams import batch_sub, publish_all
from redis.asyncio import Redis

from pactwatch_notifier.alerting import process
from pactwatch_notifier.channels import publish_alert
from pactwatch_notifier.registry import Registry
from pactwatch_notifier.settings import NotifierSettings

log = structlog.get_logger()


def build_router(settings: NotifierSettings, redis: Redis) -> RedisRouter:
    router = RedisRouter()
    registry = Registry(redis)
    sighted = router.publisher(
        stream=AGREEMENTS_SIGHTED, description="Agreement records resolved against the registry."
    )

    @router.subscriber(stream=batch_sub(ARTICLES_ENRICHED, GROUP_NOTIFIER, settings))
    async def on_article_enriched(batch: list[ArticleEnriched]) -> None:
        for message in batch:
            outcome = await process(registry, message, settings.lookback_days)
            for alert in outcome.alerts:
                await publish_alert(redis, alert, settings.alert_retention_days)
                log.info(
                    "alert.published",
                    article_id=message.article.id,
                    key=alert.key,
                    parties=alert.parties,
                    latency_ms=round(alert.latency_ms, 1),
                )
            await publish_all(redis, sighted, outcome.sightings)

    return router
