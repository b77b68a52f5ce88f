"""From messages to rows: pure, idempotent, and indifferent to arrival order."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pactwatch.contracts import (
    AgreementRecord,
    AgreementSighted,
    Article,
    ArticleEnriched,
    ArticleRef,
    DuplicateDetected,
    Evidence,
    Signatory,
)
from pactwatch_indexer.indexing import (
    AgreementState,
    ArticleLink,
    Copy,
    CopyChanges,
    copy_changes,
    plan_copies,
    prepare,
    signed_span,
)
from pactwatch_indexer.responses import fold_copies

T0 = datetime(2021, 10, 27, 9, 0, tzinfo=UTC)


def sighting(
    article_id: str,
    *,
    title: str = "Shusha Declaration",
    signed_on: str | None = "2021-06-15",
    status: str = "signed",
    seen: int = 0,
    kind: str = "declaration",
    signatories: tuple[Signatory, ...] = (),
    confidence: float = 0.8,
    source: str | None = "Azernews",
) -> AgreementSighted:
    record = AgreementRecord.model_validate(
        {
            "parties": ("AZE", "TUR"),
            "kind": kind,
            "title": title,
            "signed_on": signed_on,
            "status": status,
            "bilateral": True,
            "signatories": signatories,
            "evidence": (Evidence(sentence=f"{article_id} reports it.", start=0, end=10),),
            "confidence": confidence,
        }
    )
    return AgreementSighted(
        key="AZE-TUR:2021-06-15:shusha:0a1b2c3d",
        record=record,
        article=ArticleRef(id=article_id, source=source),
        first=False,
        alerted=False,
        mentions=1,
        sources=1,
        seen_at=T0 + timedelta(minutes=seen),
    )


def test_merge_is_the_same_in_any_order_and_idempotent() -> None:
    reports = [
        sighting("a1", title="memorandum of alliance", signed_on="2021", status="past_reference"),
        sighting("a2", title="Shusha Declaration", signed_on="2021-06-15", seen=5),
        sighting(
            "a3",
            title="Shusha Declaration on Allied Relations",
            status="signed",
            seen=9,
            signatories=(Signatory(name="Ilham Aliyev", office="President", country="AZE"),),
            confidence=0.95,
        ),
        sighting("a4", signed_on="2021-06", seen=2, signatories=(Signatory(name="ilham aliyev"),)),
    ]
    states = [AgreementState.from_sighting(r) for r in reports]
    results = set()
    for order in itertools.permutations(states):
        merged = order[0]
        for state in order[1:]:
            merged = merged.merge(state)
        results.add(merged)
    assert len(results) == 1
    merged = results.pop()
    assert merged.merge(merged) == merged
    # the first report gives kind, evidence and first sighting
    assert merged.first_article_id == "a1"
    assert merged.first_seen_at == T0
    assert merged.evidence[0].sentence == "a1 reports it."
    # the best title, the most precise date, signed is sticky, the highest confidence
    assert merged.title == "Shusha Declaration on Allied Relations"
    assert merged.signed_on == "2021-06-15"
    assert merged.status == "signed"
    assert merged.confidence == 0.95
    # one signatory per person, the most complete description
    assert merged.signatories == (
        Signatory(name="Ilham Aliyev", office="President", country="AZE"),
    )


def test_status_is_the_first_reports_until_one_says_signed() -> None:
    planned = AgreementState.from_sighting(sighting("a1", status="planned"))
    later = AgreementState.from_sighting(sighting("a2", status="cancelled", seen=3))
    assert planned.merge(later).status == "planned"
    assert later.merge(planned).status == "planned"


def test_signed_span_covers_the_precision_given() -> None:
    assert signed_span("2021-06-15") == (date(2021, 6, 15), date(2021, 6, 15))
    assert signed_span("2021-06") == (date(2021, 6, 1), date(2021, 6, 30))
    assert signed_span("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert signed_span("2021") == (date(2021, 1, 1), date(2021, 12, 31))
    assert signed_span(None) is None
    assert signed_span("sometime") is None
    undated = AgreementState.from_sighting(sighting("a1", signed_on=None))
    assert undated.span == (T0.date(), T0.date())
    assert undated.sort_date == ""


def enriched(article_id: str, title: str) -> ArticleEnriched:
    return ArticleEnriched(
        article=Article(id=article_id, title=title, text="Some text."),
        ingested_at=T0,
        countries=("TUR", "AZE", "TUR"),
    )


def test_prepare_sorts_dedupes_and_drops_reingests() -> None:
    dup = DuplicateDetected(
        article=Article(id="b", text="Some text."),
        ingested_at=T0,
        duplicate_of="a",
        method="text",
        similarity=1.0,
    )
    reingest = DuplicateDetected(
        article=Article(id="a", text="Some text."),
        ingested_at=T0 + timedelta(hours=1),
        duplicate_of="a",
        method="id",
        similarity=1.0,
    )
    later = sighting("z1", seen=7).model_copy(update={"alerted": True, "first": True})
    batch = prepare(
        [
            enriched("c", "first delivery"),
            enriched("a", "A"),
            dup,
            reingest,
            enriched("c", "second delivery"),
            later,
            sighting("z1", seen=1),
        ]
    )
    assert [r.id for r in batch.articles] == ["a", "c"]
    assert batch.articles[1].title == "second delivery"
    assert batch.articles[0].countries == ("AZE", "TUR")
    assert [r.id for r in batch.duplicates] == ["b"]
    assert batch.reingested == 1
    # two deliveries of one sighting: the earliest time, and the flags of either
    assert len(batch.sightings) == 1
    assert batch.sightings[0].seen_at == T0 + timedelta(minutes=1)
    assert batch.sightings[0].alerted
    assert batch.sightings[0].first
    assert [a.key for a in batch.agreements] == ["AZE-TUR:2021-06-15:shusha:0a1b2c3d"]
    assert batch.size == 5


def test_naive_times_are_taken_as_utc_and_nul_is_dropped() -> None:
    message = ArticleEnriched(
        article=Article(id="n", title="a\x00b", text="c\x00d"),
        ingested_at=datetime(2021, 10, 27, 9, 0),  # a sender that forgot the zone
    )
    row = prepare([message]).articles[0]
    assert row.ingested_at == T0
    assert (row.title, row.text) == ("ab", "cd")


def test_copy_changes_are_what_differs_and_nothing_after_a_redelivery() -> None:
    stored = [("K1", "c1", "trend"), ("K1", "c2", None), ("K2", "c1", "trend")]
    assert copy_changes(stored, list(reversed(stored))) == CopyChanges(gone=[], new=[])
    assert copy_changes(stored, stored).keys == []
    # c1 now repeats an article that reported K3 only; c2's outlet became known
    derived = [("K1", "c2", "apa"), ("K3", "c1", "trend")]
    changes = copy_changes(stored, derived)
    assert changes.gone == [("K1", "c1"), ("K1", "c2"), ("K2", "c1")]
    assert changes.new == [("K1", "c2", "apa"), ("K3", "c1", "trend")]
    assert changes.keys == ["K1", "K2", "K3"]


class Tables:
    """The rows plan_copies reads, in memory; it answers each fetch as a backend would."""

    def __init__(
        self,
        articles: list[ArticleLink],
        sightings: list[tuple[str, str]],
        stored: list[Copy] | None = None,
    ) -> None:
        self.articles, self.sightings, self.stored = articles, sightings, stored or []
        self.fetches: list[tuple[str, list[str]]] = []

    def answer(self, what: str, ids: list[str]) -> list[Any]:
        self.fetches.append((what, ids))
        wanted = set(ids)
        if what == "below":
            return [a for a in self.articles if a[1] in wanted]
        if what == "rows":
            return [a for a in self.articles if a[0] in wanted]
        if what == "reported":
            return sorted({s for s in self.sightings if s[1] in wanted})
        assert what == "stored"
        return [c for c in self.stored if c[1] in wanted]

    def plan(self, reporters: list[str], relinked: list[str]) -> CopyChanges:
        plan = plan_copies(reporters, relinked)
        try:
            fetch = next(plan)
            while True:
                fetch = plan.send(self.answer(*fetch))
        except StopIteration as done:
            changes: CopyChanges = done.value
        return changes


# o reported K1 and K2; c1 repeats o, c2 repeats c1 (a copy of a copy); x repeats a-none,
# which reported nothing; r repeats o and reported K3 itself; d repeats r
ARTICLES: list[ArticleLink] = [
    ("o", None, "azernews"),
    ("c1", "o", "trend"),
    ("c2", "c1", "apa"),
    ("x", "a-none", "apa"),
    ("r", "o", "report"),
    ("d", "r", None),
]
SIGHTINGS = [("K1", "o"), ("K2", "o"), ("K3", "r")]


def test_new_sightings_make_every_copy_below_them_count() -> None:
    tables = Tables(ARTICLES, SIGHTINGS)
    changes = tables.plan(["o"], [])
    assert changes.gone == []
    assert changes.new == [
        ("K1", "c1", "trend"), ("K1", "c2", "apa"), ("K1", "d", None), ("K1", "r", "report"),
        ("K2", "c1", "trend"), ("K2", "c2", "apa"), ("K2", "d", None), ("K2", "r", "report"),
        ("K3", "d", None),
    ]  # fmt: skip
    # a reporting article with nothing below it asks once, and changes nothing
    quiet = Tables(ARTICLES, SIGHTINGS)
    assert quiet.plan(["c2"], []) == CopyChanges(gone=[], new=[])
    assert quiet.fetches == [("below", ["c2"])]


def test_a_copy_of_a_copy_counts_for_what_is_reported_above_it() -> None:
    changes = Tables(ARTICLES, SIGHTINGS).plan([], ["c2"])
    assert changes.new == [("K1", "c2", "apa"), ("K2", "c2", "apa")]
    assert Tables(ARTICLES, SIGHTINGS).plan([], ["x"]) == CopyChanges(gone=[], new=[])


def test_what_is_stored_already_is_not_written_again() -> None:
    stored: list[Copy] = [("K1", "c1", "trend"), ("K2", "c1", "trend"), ("K9", "c1", "trend")]
    changes = Tables(ARTICLES[:2], SIGHTINGS, stored).plan([], ["c1"])
    # K9: c1 was counted for it under an earlier link; that link is gone
    assert changes == CopyChanges(gone=[("K9", "c1")], new=[])


def test_an_original_once_counted_as_a_copy_takes_its_copies_along() -> None:
    # c1 became an original: neither it nor c2 below it counts for what o reported
    articles = [("c1", None, "trend") if a[0] == "c1" else a for a in ARTICLES]
    stored: list[Copy] = [("K1", "c1", "trend"), ("K1", "c2", "apa"), ("K2", "c1", "trend")]
    changes = Tables(articles, SIGHTINGS, stored).plan([], ["c1"])
    assert changes == CopyChanges(gone=[("K1", "c1"), ("K1", "c2"), ("K2", "c1")], new=[])


def test_links_that_loop_end() -> None:
    looped: list[ArticleLink] = [("x", "y", "trend"), ("y", "x", "apa")]
    changes = Tables(looped, [("K", "x")]).plan(["x"], ["x", "y"])
    # y repeats x, which reported K; x repeats y only, which reported nothing
    assert changes.new == [("K", "y", "apa")]


def test_each_copy_is_folded_under_the_nearest_reporting_article() -> None:
    def copy(article_id: str, of: str) -> dict[str, str]:
        return {"id": article_id, "duplicate_of": of}

    copies = [
        copy("c2", "c1"),  # a copy of a copy: under the article the line leads to
        copy("c1", "a1"),
        copy("d1", "a2"),
        copy("a2", "a1"),  # a reporting article that repeats another stays a reporter
        copy("lost", "gone"),  # a line that leads nowhere still shows, under the first
        copy("x", "y"),
        copy("y", "x"),  # links that loop end
    ]
    assert {
        reporter: [c["id"] for c in rows]
        for reporter, rows in fold_copies(["a1", "a2"], copies).items()
    } == {"a1": ["c2", "c1", "lost", "x", "y"], "a2": ["d1"]}
    assert fold_copies([], copies) == {}
