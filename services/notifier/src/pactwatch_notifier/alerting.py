"""From an enriched article to registry sightings, alerts and agreement updates."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from pactwatch.contracts import (
    AgreementRecord,
    AgreementSighted,
    AgreementUpdated,
    Alert,
    ArticleEnriched,
    ArticleRef,
    Freshness,
)
from pactwatch.countries import country_name, is_country

from pactwatch_notifier.deciding import freshness
from pactwatch_notifier.registry import Resolution, Resolver, Sighting


@dataclass(frozen=True)
class Outcome:
    """What articles produced, in their order: a sighting per record, an alert per agreement
    an article revealed, an update per already-alerted agreement an article reported again."""

    sightings: list[AgreementSighted]
    alerts: list[Alert]
    updates: list[AgreementUpdated] = field(default_factory=list)


async def process(registry: Resolver, message: ArticleEnriched, lookback_days: int) -> Outcome:
    """What one article produces: :func:`process_batch` of that article alone."""
    return await process_batch(registry, [message], lookback_days)


async def process_batch(
    registry: Resolver, messages: Sequence[ArticleEnriched], lookback_days: int
) -> Outcome:
    """Resolve each agreement record of each article, in order, in one call to the registry;
    build the alerts first sightings earn and the updates later sightings of alerted
    agreements make, article by article as if each came alone.

    An update carries the counts after its article; whether they are higher than the last
    ones published (a redelivered article raises nothing) is for the channel to decide.
    """
    pending: list[tuple[int, AgreementRecord, Freshness | None]] = []
    for n, message in enumerate(messages):
        published = message.article.published
        for record in message.agreements:
            if len(record.parties) < 2 or not any(record.parties):
                continue
            pending.append((n, record, freshness(record, published, lookback_days)))
    if not pending:
        return Outcome([], [], [])
    resolutions = await registry.resolve_all(
        [
            Sighting(record, messages[n].article.id, messages[n].article.source, fresh is not None)
            for n, record, fresh in pending
        ]
    )
    now = datetime.now(UTC)
    outcome = Outcome([], [], [])
    resolved = zip(pending, resolutions, strict=True)
    for n, of_article in groupby(resolved, key=lambda item: item[0][0]):
        message = messages[n]
        ref = _ref(message)
        # one alert and one update per agreement and article
        alerted: set[str] = set()
        updated: set[str] = set()
        for (_, record, fresh), resolution in of_article:
            raise_alert = False
            if fresh is not None and resolution.alert and resolution.key not in alerted:
                raise_alert = True
                alerted.add(resolution.key)
                outcome.alerts.append(_alert(message, record, resolution, fresh, ref, now))
            elif resolution.key not in updated and _reported_again(resolution.entry, ref.id):
                updated.add(resolution.key)
                outcome.updates.append(_update(resolution, ref, now))
            outcome.sightings.append(
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
    return outcome


def _ref(message: ArticleEnriched) -> ArticleRef:
    article = message.article
    return ArticleRef(
        id=article.id,
        url=article.url,
        source=article.source,
        published=article.published,
        title=article.title,
    )


def _alert(
    message: ArticleEnriched,
    record: AgreementRecord,
    resolution: Resolution,
    fresh: Freshness,
    ref: ArticleRef,
    now: datetime,
) -> Alert:
    a, b = record.parties
    assert a is not None  # a record that may alert is bilateral: it names two countries
    assert b is not None
    entry = resolution.entry
    return Alert(
        alert_id=_alert_id(resolution.key),
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


def _update(resolution: Resolution, ref: ArticleRef, now: datetime) -> AgreementUpdated:
    entry = resolution.entry
    a, b = entry["parties"]
    return AgreementUpdated(
        key=resolution.key,
        parties=(a, b),
        party_names=(country_name(a), country_name(b)),
        kind=entry["kind"],
        title=entry["title"],
        signed_on=entry["signed_on"],
        mentions=resolution.mentions,
        sources=resolution.sources,
        article=ref,
        seen_at=now,
    )


def _alert_id(key: str) -> str:
    """The alert's id: the same for every alert of one agreement, whichever article raised it."""
    return "al" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


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
