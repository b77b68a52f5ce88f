"""Replaying a labelled corpus through deduplication and the notifier's registry, offline.

Level 1: the deduplicator's verdicts against the labelled ``duplicate_of`` pairs.
Level 2: every article the deduplicator lets through is resolved against an in-memory
registry (the notifier's own ``decide``); each alert is traced back to the labelled event it
reports. The corpus is replayed twice: once as the pipeline would see it (the second pass is
all exact duplicates), once more straight into the registry, so that the registry alone is
shown never to alert twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pactwatch.contracts import AgreementRecord, Article, ArticleEnriched

from pactwatch_cli.scoring import alertable, align_all


@dataclass
class DedupScore:
    gold_pairs: int = 0
    predicted_pairs: int = 0
    correct: int = 0
    same_event_flagged: list[tuple[str, str]] = field(default_factory=list)
    wrong: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold_pairs if self.gold_pairs else 1.0


def score_dedup(
    labels: Sequence[Mapping[str, Any]], verdicts: Mapping[str, str | None]
) -> DedupScore:
    """Pairs (article, its original) predicted against those labelled."""
    s = DedupScore()
    gold = {label["id"]: label.get("duplicate_of") for label in labels}
    events: dict[str, set[str]] = {
        label["id"]: {a["event"] for a in label.get("agreements", []) if a.get("event")}
        for label in labels
    }
    for article, original in gold.items():
        predicted = verdicts.get(article)
        s.gold_pairs += original is not None
        s.predicted_pairs += predicted is not None
        if original is not None and predicted == original:
            s.correct += 1
        elif predicted != original:
            s.wrong.append((article, original, predicted))
        # an independent report of the same agreement must never be a text duplicate
        shared_event = events.get(article, set()) & events.get(predicted or "", set())
        if predicted is not None and original is None and shared_event:
            s.same_event_flagged.append((article, predicted))
    return s


@dataclass
class AlertScore:
    alertable_events: int = 0
    alerted_once: int = 0
    missed: list[str] = field(default_factory=list)
    repeated: dict[str, int] = field(default_factory=dict)
    false_alerts: list[dict[str, Any]] = field(default_factory=list)
    earlier: list[dict[str, Any]] = field(default_factory=list)
    """Alerts for the first sighting of an agreement signed earlier (freshness 'earlier')."""
    second_pass_alerts: int = 0
    registry_only_repeats: int = 0


async def replay(
    articles: Sequence[Article],
    labels: Mapping[str, Mapping[str, Any]],
    predictions: Mapping[str, Sequence[Mapping[str, Any]]],
    passes: Sequence[Mapping[str, str | None]],
    lookback_days: int = 365,
) -> AlertScore:
    """Alerts per labelled event when the corpus runs through dedup and the registry.

    ``passes`` holds the deduplicator's verdicts for each replay of the corpus (the first
    pass, then the corpus again after it); a last pass feeds every article the first pass
    let through straight into the registry again.
    """
    from pactwatch_notifier.alerting import process
    from pactwatch_notifier.registry import MemoryRegistry

    registry = MemoryRegistry()
    alerts_per_event: Counter[str] = Counter()
    score = AlertScore()
    gold_events = {
        a["event"]
        for label in labels.values()
        if label.get("duplicate_of") is None
        for a in label.get("agreements", [])
        if alertable(a) and a.get("event")
    }
    score.alertable_events = len(gold_events)

    async def feed(article: Article, suffix: str = "") -> list[dict[str, Any]]:
        if suffix:
            article = article.model_copy(update={"id": article.id + suffix})
        records = tuple(AgreementRecord(**r) for r in predictions.get(article.id, []))
        message = ArticleEnriched(
            article=article, ingested_at=datetime.now(UTC), agreements=records
        )
        outcome = await process(registry, message, lookback_days)
        raised = [s for s in outcome.sightings if s.alerted]
        return [
            {**s.record.model_dump(mode="json"), "freshness": a.freshness, "key": s.key}
            for s, a in zip(raised, outcome.alerts, strict=True)
        ]

    first, *later = passes
    for article in articles:
        if first.get(article.id) is not None:
            continue
        gold = labels.get(article.id, {}).get("agreements", [])
        raised = await feed(article)
        for alert, event in zip(raised, _events_of(raised, gold), strict=True):
            entry = {"id": article.id, "event": event, **alert}
            if alert["freshness"] == "earlier" and event not in gold_events:
                score.earlier.append(entry)
            elif event is not None and event in gold_events:
                alerts_per_event[event] += 1
            else:
                score.false_alerts.append(entry)
    for verdicts in later:
        for article in articles:
            if verdicts.get(article.id) is None:
                score.second_pass_alerts += len(await feed(article))
    for article in articles:
        if first.get(article.id) is None:
            # the same reports under new article ids: other outlets, past level 1
            score.registry_only_repeats += len(await feed(article, "#again"))
    for event in sorted(gold_events):
        n = alerts_per_event.get(event, 0)
        if n == 0:
            score.missed.append(event)
        elif n == 1:
            score.alerted_once += 1
        else:
            score.repeated[event] = n
    return score


def _events_of(
    alerts: Sequence[Mapping[str, Any]], gold: Sequence[Mapping[str, Any]]
) -> list[str | None]:
    """The labelled event each alert of one article reports (one-to-one alignment)."""
    events: list[str | None] = [None] * len(alerts)
    index = {id(a): n for n, a in enumerate(alerts)}
    for g, p in align_all(gold, alerts, threshold=0.5):
        if p is not None:
            events[index[id(p)]] = g.get("event")
    return events
