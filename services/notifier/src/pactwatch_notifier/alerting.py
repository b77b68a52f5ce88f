"""From an enriched article to registry sightings, alerts and agreement updates."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pactwatch.contracts import (
    AgreementSighted,
    AgreementUpdated,
    Alert,
    ArticleEnriched,
    ArticleRef,
)
from pactwatch.countries import country_name, is_country

from pactwatch_notifier.deciding import freshness
from pactwatch_notifier.registry import Resolver


@dataclass(frozen=True)
class Outcome:
    """What one article produced: a sighting per record, an alert per agreement it revealed,
    an update per already-alerted agreement it reported again."""

    sightings: list[AgreementSighted]
    alerts: list[Alert]
    updates: list[AgreementUpdated] = field(default_factory=list)


async def process(registry: Resolver, message: ArticleEnriched, lookback_days: int) -> Outcome:
    """Resolve each agreement record of an article; build the alerts its first sightings earn
    and the updates its later sightings of alerted agreements make.

    An update carries the counts after this article; whether they are higher than the last
    ones published (a redelivered article raises nothing) is for the channel to decide.
    """
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
    updates: list[AgreementUpdated] = []
    alerted: set[str] = set()
    updated: set[str] = set()
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
                    # the agreement is signed; the record may be a later past reference to it
                    status="signed",
                    freshness=fresh,
                    evidence=record.evidence[0].sentence if record.evidence else "",
                    confidence=record.confidence,
                    article=ref,
                    detected_at=now,
                    latency_ms=max(0.0, (now - message.ingested_at).total_seconds() * 1000),
                )
            )
        elif _reported_again(resolution.entry, article.id) and resolution.key not in updated:
            updated.add(resolution.key)
            a, b = resolution.entry["parties"]
            updates.append(
                AgreementUpdated(
                    key=resolution.key,
                    parties=(a, b),
                    party_names=(country_name(a), country_name(b)),
                    kind=resolution.entry["kind"],
                    title=resolution.entry["title"],
                    signed_on=resolution.entry["signed_on"],
                    mentions=resolution.mentions,
                    sources=resolution.sources,
                    article=ref,
                    seen_at=now,
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
    return Outcome(sightings, alerts, updates)


def _reported_again(entry: dict[str, Any], article_id: str) -> bool:
    """The entry alerted already, from another article, and names two countries."""
    alerted_by = entry.get("alerted_by")
    parties = entry.get("parties") or ()
    return (
        bool(alerted_by)
        and alerted_by != article_id
        and len(parties) == 2
        and all(is_country(p) for p in parties)
    )
