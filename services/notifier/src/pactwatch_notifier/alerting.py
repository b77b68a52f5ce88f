"""From an enriched article to registry sightings and alerts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from pactwatch.contracts import AgreementSighted, Alert, ArticleEnriched, ArticleRef
from pactwatch.countries import country_name

from pactwatch_notifier.deciding import freshness
from pactwatch_notifier.registry import Registry


@dataclass(frozen=True)
class Outcome:
    sightings: list[AgreementSighted]
    alerts: list[Alert]


async def process(registry: Registry, message: ArticleEnriched, lookback_days: int) -> Outcome:
    """Resolve each agreement record of an article; build the alerts its first sightings earn."""
    article = message.article
    ref = ArticleRef(
        id=article.id,
        url=article.url,
        source=article.source,
        published=article.published,
        title=article.title,
    )
    now = datetime.now(UTC)
    sightings: list[AgreementSighted] = []
    alerts: list[Alert] = []
    alerted: set[str] = set()
    for record in message.agreements:
        if sum(1 for p in record.parties if p) < 1 or len(record.parties) < 2:
            continue
        fresh = freshness(record, article.published, lookback_days)
        resolution = await registry.resolve(record, article.id, article.source, fresh is not None)
        raise_alert = resolution.alert and resolution.key not in alerted and fresh is not None
        if raise_alert:
            alerted.add(resolution.key)
            a, b = record.parties
            assert a is not None  # a bilateral record names two countries
            assert b is not None
            entry = resolution.entry
            alerts.append(
                Alert(
                    alert_id="al"
                    + hashlib.blake2b(resolution.key.encode(), digest_size=8).hexdigest(),
                    key=resolution.key,
                    parties=(a, b),
                    party_names=(country_name(a), country_name(b)),
                    kind=record.kind,
                    title=entry["title"],
                    signatories=record.signatories,
                    signed_on=entry["signed_on"],
                    status=record.status,
                    freshness=fresh,  # type: ignore[arg-type]  # checked above
                    evidence=record.evidence[0].sentence if record.evidence else "",
                    confidence=record.confidence,
                    article=ref,
                    detected_at=now,
                    latency_ms=max(0.0, (now - message.ingested_at).total_seconds() * 1000),
                )
            )
        sightings.append(
            AgreementSighted(
                key=resolution.key,
                record=record,
                article=ref,
                first=resolution.first,
                alerted=raise_alert,
                mentions=resolution.mentions,
                sources=resolution.sources,
                seen_at=now,
            )
        )
    return Outcome(sightings, alerts)
