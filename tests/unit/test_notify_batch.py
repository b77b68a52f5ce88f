"""A batch of articles gives what the same articles give one by one: the notifier handles a
whole batch in one call to the registry, and must keep every per-article rule."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import anyio
from pactwatch.contracts import AgreementRecord, Article, ArticleEnriched, Evidence
from pactwatch_notifier.alerting import Outcome, process, process_batch
from pactwatch_notifier.registry import MemoryRegistry


def record(
    title: str,
    parties: tuple[str | None, ...] = ("KEN", "TZA"),
    *,
    kind: str = "memorandum",
    signed_on: str | None = "2021-12-10",
    status: str = "signed",
) -> AgreementRecord:
    return AgreementRecord(
        parties=parties,
        kind=kind,
        title=title,
        signed_on=signed_on,
        status=status,
        bilateral=len(parties) == 2 and all(parties),
        evidence=(Evidence(sentence=f"They signed {title}.", start=0, end=10),),
        confidence=0.9,
    )


def article(article_id: str, source: str, *records: AgreementRecord) -> ArticleEnriched:
    return ArticleEnriched(
        article=Article(
            id=article_id,
            url=f"https://example.org/{article_id}",
            source=source,
            published=date(2021, 12, 11),
            title=f"Report {article_id}",
            text="Body.",
        ),
        ingested_at=datetime.now(UTC),
        agreements=records,
    )


SEEN = article(
    "a1",
    "Dispatch",
    record("immigration"),
    record("immigration"),  # the same agreement twice in one article: one alert
    record("prisons", kind="agreement"),
    record("fisheries", ("MAR", None)),  # a party that is not a state: resolved, never alerts
    record("security", ("AUS", "JPN", "USA")),  # multilateral: resolved, never alerts
    record("nothing", (None, None)),  # no state at all: skipped
)
BATCH = [
    SEEN,
    article("a2", "Daily", record("immigration", signed_on=None)),  # an update, not an alert
    SEEN,  # redelivered within the batch: alerts again (the channel publishes them once)
    article("a3", "Mail", record("visa exemption", ("AZE", "TUR"), status="planned")),
    article("a4", "Mail", record("visa exemption", ("AZE", "TUR"))),  # the signing alerts
    article("a5", "Post"),  # no records
    article("a6", "Times", record("immigration"), record("visa waiver", ("AZE", "TUR"))),
]


def comparable(outcome: Outcome) -> dict[str, list[Any]]:
    """The outcome without the moments it was computed at."""
    moments = {"detected_at", "latency_ms", "seen_at"}
    return {
        name: [m.model_dump(exclude=moments) for m in getattr(outcome, name)]
        for name in ("sightings", "alerts", "updates")
    }


def one_by_one(messages: list[ArticleEnriched]) -> Outcome:
    async def run() -> Outcome:
        registry = MemoryRegistry()
        total = Outcome([], [], [])
        for message in messages:
            outcome = await process(registry, message, lookback_days=365)
            total.sightings.extend(outcome.sightings)
            total.alerts.extend(outcome.alerts)
            total.updates.extend(outcome.updates)
        return total

    return anyio.run(run)


def batched(messages: list[ArticleEnriched]) -> Outcome:
    async def run() -> Outcome:
        return await process_batch(MemoryRegistry(), messages, lookback_days=365)

    return anyio.run(run)


def test_a_batch_gives_what_its_articles_give_one_by_one() -> None:
    assert comparable(batched(BATCH)) == comparable(one_by_one(BATCH))


def test_each_article_keeps_its_own_rules_within_a_batch() -> None:
    outcome = batched(BATCH)
    alerts = [(a.article.id, a.title) for a in outcome.alerts]
    assert alerts == [
        ("a1", "immigration"),
        ("a1", "prisons"),
        ("a1", "immigration"),  # the redelivery of a1 claims its alerts again...
        ("a1", "prisons"),
        ("a4", "visa exemption"),
    ]
    assert len({a.alert_id for a in outcome.alerts}) == 3  # ...under the same alert ids
    updates = [(u.article.id, u.title, u.mentions, u.sources) for u in outcome.updates]
    assert updates == [
        ("a2", "immigration", 2, 2),
        ("a6", "immigration", 3, 3),
        ("a6", "visa exemption", 3, 2),  # its "visa waiver" names the same document
    ]
    sightings = [(s.article.id, s.record.title, s.first, s.alerted) for s in outcome.sightings]
    assert sightings[:6] == [
        ("a1", "immigration", True, True),
        ("a1", "immigration", False, False),  # the article's second report of it
        ("a1", "prisons", True, True),
        ("a1", "fisheries", True, False),
        ("a1", "security", True, False),
        ("a2", "immigration", False, False),
    ]
    assert len(outcome.sightings) == 5 + 1 + 5 + 1 + 1 + 2  # the (None, None) record: none
    assert {s.article.id for s in outcome.sightings} == {"a1", "a2", "a3", "a4", "a6"}


def test_a_batch_without_records_resolves_nothing() -> None:
    class Refusing(MemoryRegistry):
        async def resolve(self, *args: Any) -> Any:
            raise AssertionError("nothing to resolve")

    async def run() -> Outcome:
        return await process_batch(Refusing(), [article("a", "S")], lookback_days=365)

    assert anyio.run(run) == Outcome([], [], [])
