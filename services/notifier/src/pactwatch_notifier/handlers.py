"""The notifier's subscriber: enriched articles in; sightings, alerts and updates out."""

from __future__ import annotations

import structlog
from faststream.redis import RedisRouter
from pactwatch.contracts import (
    AGREEMENTS_SIGHTED,
    ALERTS_CHANNEL,
    ALERTS_STREAM,
    ARTICLES_ENRICHED,
    UPDATES_CHANNEL,
    AgreementUpdated,
    Alert,
    ArticleEnriched,
)
from pactwatch.delivery import Consumers
from pactwatch.streams import publish_all
from redis.asyncio import Redis

from pactwatch_notifier.alerting import process_batch
from pactwatch_notifier.channels import AlertChannels
from pactwatch_notifier.registry import Registry
from pactwatch_notifier.settings import NotifierSettings

log = structlog.get_logger()


def build_router(settings: NotifierSettings, redis: Redis, consumers: Consumers) -> RedisRouter:
    """The publishers (a router for the broker) and the subscriber (on ``consumers``).

    A redelivered article publishes nothing twice: the registry hands the alert to the same
    article again, and the alert channel's script publishes each alert id once."""
    router = RedisRouter()
    registry = Registry(redis)
    channels = AlertChannels(redis, settings.alert_retention_days)
    sighted = router.publisher(
        stream=AGREEMENTS_SIGHTED, description="Agreement records resolved against the registry."
    )
    # The public channels are written as plain JSON by AlertChannels, not by FastStream; these
    # declarations only put them in the AsyncAPI document.
    router.publisher(
        stream=ALERTS_STREAM,
        schema=Alert,
        title="alerts.agreements",
        description="Durable alert stream; field `alert` holds one Alert as plain JSON. "
        "Resume with XREAD from the last id seen; trimmed by age, never by count.",
    )
    router.publisher(
        channel=ALERTS_CHANNEL,
        schema=Alert,
        title="pactwatch.alerts[.<ISO3>[.<ISO3>]]",
        description="Pub/sub: every alert as plain JSON on pactwatch.alerts, on "
        "pactwatch.alerts.<ISO3> for each party and pactwatch.alerts.<ISO3>.<ISO3> for the "
        "sorted pair.",
    )
    router.publisher(
        channel=UPDATES_CHANNEL,
        schema=AgreementUpdated,
        title="pactwatch.updates[.<ISO3>[.<ISO3>]]",
        description="Pub/sub: agreement.updated events (new mention and source counts of an "
        "alerted agreement) as plain JSON, per party and pair like the alerts.",
    )

    @consumers.subscriber(ARTICLES_ENRICHED, ArticleEnriched)
    async def on_article_enriched(batch: list[ArticleEnriched]) -> None:
        # the whole batch at once: a few round trips whatever its size (see Registry)
        outcome = await process_batch(registry, batch, settings.lookback_days)
        published = await channels.publish(outcome.alerts, outcome.updates)
        for alert, entry_id, new in published:
            log.info(
                "alert.published" if new else "alert.already_published",
                article_id=alert.article.id,
                key=alert.key,
                parties=alert.parties,
                entry_id=entry_id,
                latency_ms=round(alert.latency_ms, 1),
            )
        # naming the stream spares FastStream a deep copy of its settings per message
        await publish_all(redis, sighted, outcome.sightings, stream=AGREEMENTS_SIGHTED)

    return router
