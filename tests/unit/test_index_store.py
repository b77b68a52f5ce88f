"""The index store: one test suite, run against both backends (SQLite and PostgreSQL).

The PostgreSQL tests use the machine's server (PACTWATCH_TEST_POSTGRES_URL, by default
postgresql://postgres@127.0.0.1:5432/test) in a schema of their own, dropped at the end. They
never skip: without that server they fail.

The builders and the backend helpers here are shared by the other indexer tests.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from pactwatch.contracts import (
    AgreementRecord,
    AgreementSighted,
    Article,
    ArticleEnriched,
    ArticleRef,
    DuplicateDetected,
    Entity,
    Evidence,
    Signatory,
)
from pactwatch_indexer.indexing import IndexMessage
from pactwatch_indexer.migrations import LATEST
from pactwatch_indexer.queries import AgreementQuery, SearchQuery
from pactwatch_indexer.searchsyntax import QueryError
from pactwatch_indexer.store import IndexStore, open_store
from pactwatch_indexer.writing import Indexer

pytestmark = pytest.mark.anyio

POSTGRES_URL = os.environ.get(
    "PACTWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")
T0 = datetime(2021, 10, 27, 9, 0, tzinfo=UTC)
KEY = "AZE-TUR:2021-06-15:alli-shusha:0a1b2c3d"


# --- backends ---------------------------------------------------------------------------------


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A schema of its own on the test server, dropped afterwards; yields its name."""
    name = f"pactwatch_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def postgres_url(schema: str) -> str:
    """An INDEX_URL whose connections use ``schema`` (search_path set at connection)."""
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def empty_schema(schema: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')


def backend_url(backend: str, tmp_path: Path, schema: str | None) -> str:
    """A fresh, empty index of ``backend``."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'index' / 'index.sqlite3'}"
    assert schema is not None
    empty_schema(schema)
    return postgres_url(schema)


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    with postgres_schema() as name:
        yield name


@pytest.fixture(params=BACKENDS)
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    schema = request.getfixturevalue("pg_schema") if request.param == "postgresql" else None
    return backend_url(request.param, tmp_path, schema)


@pytest.fixture
async def store(index_url: str) -> AsyncIterator[IndexStore]:
    opened = open_store(index_url)
    await opened.open()
    yield opened
    await opened.close()


# --- messages -------------------------------------------------------------------------------


def article(
    article_id: str,
    title: str,
    text: str,
    *,
    source: str | None = "Azernews",
    published: date | None = date(2021, 10, 27),
) -> Article:
    return Article(
        id=article_id,
        url=f"https://news.example/{article_id}",
        source=source,
        published=published,
        title=title,
        text=text,
        language="en",
    )


def enriched(
    article_id: str,
    title: str,
    text: str,
    *,
    countries: Sequence[str] = (),
    agreements: Sequence[AgreementRecord] = (),
    entities: Sequence[Entity] = (),
    source: str | None = "Azernews",
    published: date | None = date(2021, 10, 27),
    ingested_at: datetime = T0,
) -> ArticleEnriched:
    return ArticleEnriched(
        article=article(article_id, title, text, source=source, published=published),
        ingested_at=ingested_at,
        entities=tuple(entities),
        countries=tuple(countries),
        agreements=tuple(agreements),
    )


def duplicate(
    article_id: str, of: str, title: str, text: str, *, source: str | None = "Trend"
) -> DuplicateDetected:
    return DuplicateDetected(
        article=article(article_id, title, text, source=source),
        ingested_at=T0 + timedelta(minutes=30),
        duplicate_of=of,
        method="text",
        similarity=1.0,
    )


def record(
    *,
    parties: tuple[str | None, ...] = ("AZE", "TUR"),
    kind: str = "declaration",
    title: str = "Shusha Declaration",
    signed_on: str | None = "2021-06-15",
    status: str = "signed",
    evidence: str = "The presidents signed the Shusha Declaration on allied relations.",
    confidence: float = 0.9,
    signatories: tuple[Signatory, ...] = (),
) -> AgreementRecord:
    return AgreementRecord.model_validate(
        {
            "parties": parties,
            "kind": kind,
            "title": title,
            "signed_on": signed_on,
            "status": status,
            "bilateral": len(parties) == 2 and all(parties),
            "signatories": signatories,
            "evidence": (Evidence(sentence=evidence, start=0, end=len(evidence)),),
            "confidence": confidence,
        }
    )


def sighted(
    key: str,
    reported: AgreementRecord,
    article_id: str,
    *,
    source: str | None = "Azernews",
    seen: int = 0,
    first: bool = False,
    alerted: bool = False,
) -> AgreementSighted:
    return AgreementSighted(
        key=key,
        record=reported,
        article=ArticleRef(
            id=article_id,
            url=f"https://news.example/{article_id}",
            source=source,
            published=date(2021, 10, 27),
            title=f"Report {article_id}",
        ),
        first=first,
        alerted=alerted,
        mentions=1,
        sources=1,
        seen_at=T0 + timedelta(minutes=seen),
    )


async def index(store: IndexStore, messages: Sequence[IndexMessage]) -> None:
    await Indexer(store, retry_s=0).index(messages)


async def search_ids(store: IndexStore, q: str, **filters: Any) -> list[str]:
    page = await store.search(SearchQuery.build(q, **filters))
    return [hit.id for hit in page.hits]


SHUSHA = enriched(
    "a-shusha",
    "Azerbaijan and Türkiye sign the Shusha Declaration",
    "The presidents signed the Shusha Declaration on allied relations in June.\n\n"
    "The document deepens defence cooperation between Baku and Ankara.",
    countries=("AZE", "TUR"),
    agreements=(record(),),
    entities=(Entity(label="GPE", text="Azerbaijan", start=0, end=10, country="AZE"),),
)


# --- articles ---------------------------------------------------------------------------------


async def test_an_enriched_article_is_stored_with_all_it_carries(store: IndexStore) -> None:
    await index(store, [SHUSHA])
    found = await store.article("a-shusha")
    assert found is not None
    assert found.title == SHUSHA.article.title
    assert found.text == SHUSHA.article.text
    assert found.url == "https://news.example/a-shusha"
    assert found.source == "Azernews"
    assert found.published == date(2021, 10, 27)
    assert found.language == "en"
    assert found.countries == ["AZE", "TUR"]
    assert [e.text for e in found.entities] == ["Azerbaijan"]
    assert found.entities[0].country == "AZE"
    assert found.agreements == [record()]
    assert found.ingested_at == T0
    assert found.skipped is None
    assert found.duplicate_of is None
    assert found.duplicates == []


async def test_a_skipped_article_keeps_the_reason(store: IndexStore) -> None:
    skipped = ArticleEnriched(
        article=article("a-fr", "Accord signé", "Le texte en français."),
        ingested_at=T0,
        skipped="not English (fr)",
    )
    await index(store, [skipped])
    found = await store.article("a-fr")
    assert found is not None
    assert found.skipped == "not English (fr)"


async def test_redelivered_messages_upsert_and_never_duplicate(store: IndexStore) -> None:
    messages: list[IndexMessage] = [SHUSHA, sighted(KEY, record(), "a-shusha", first=True)]
    await index(store, messages)
    await index(store, messages)
    await index(store, messages[::-1])
    assert await search_ids(store, "Shusha") == ["a-shusha"]
    page = await store.agreements(AgreementQuery.build())
    assert [a.key for a in page.agreements] == [KEY]
    assert page.agreements[0].mentions == 1
    detail = await store.agreement(KEY)
    assert detail is not None
    assert len(detail.sightings) == 1


async def test_a_changed_article_replaces_the_old_text_in_search(store: IndexStore) -> None:
    await index(store, [SHUSHA])
    corrected = enriched(
        "a-shusha", "Azerbaijan and Türkiye sign a charter", "A charter on transit corridors."
    )
    await index(store, [corrected])
    assert await search_ids(store, "Shusha") == []
    assert await search_ids(store, "corridors") == ["a-shusha"]
    found = await store.article("a-shusha")
    assert found is not None
    assert found.countries == []
    assert await search_ids(store, "charter", countries=["AZE"]) == []


# --- duplicates -------------------------------------------------------------------------------


async def test_a_duplicate_is_stored_linked_to_its_original(store: IndexStore) -> None:
    copy = duplicate("a-copy", "a-shusha", SHUSHA.article.title, SHUSHA.article.text)
    await index(store, [SHUSHA, copy])
    original = await store.article("a-shusha")
    assert original is not None
    assert [(d.id, d.method, d.similarity, d.source) for d in original.duplicates] == [
        ("a-copy", "text", 1.0, "Trend")
    ]
    stored = await store.article("a-copy")
    assert stored is not None
    assert stored.duplicate_of == "a-shusha"
    assert stored.duplicate_method == "text"
    page = await store.search(SearchQuery.build("Shusha"))
    assert {(h.id, h.duplicate_of) for h in page.hits} == {
        ("a-shusha", None),
        ("a-copy", "a-shusha"),
    }
    assert await search_ids(store, "Shusha", duplicates=False) == ["a-shusha"]


async def test_a_duplicate_may_arrive_before_its_original(store: IndexStore) -> None:
    copy = duplicate("a-copy", "a-shusha", SHUSHA.article.title, SHUSHA.article.text)
    await index(store, [copy])
    assert await store.article("a-shusha") is None
    await index(store, [SHUSHA])
    original = await store.article("a-shusha")
    assert original is not None
    assert [d.id for d in original.duplicates] == ["a-copy"]


async def test_the_same_article_ingested_again_counts_nothing_new(store: IndexStore) -> None:
    await index(store, [SHUSHA])
    again = duplicate("a-shusha", "a-shusha", SHUSHA.article.title, "Another version.")
    await index(store, [again])
    found = await store.article("a-shusha")
    assert found is not None
    assert found.duplicate_of is None
    assert found.text == SHUSHA.article.text
    assert found.duplicates == []
    assert await search_ids(store, "Shusha") == ["a-shusha"]
    # and when the article is not (yet) indexed, nothing at all is stored for it
    await index(store, [duplicate("a-new", "a-new", "Title", "Text.")])
    assert await store.article("a-new") is None


async def test_a_duplicate_verdict_never_overwrites_an_original(store: IndexStore) -> None:
    await index(store, [SHUSHA])
    await index(store, [duplicate("a-shusha", "a-older", "Other", "Other text.")])
    found = await store.article("a-shusha")
    assert found is not None
    assert found.duplicate_of is None
    assert found.title == SHUSHA.article.title
    # the other way round: an article first seen as a duplicate, then enriched, is original
    await index(store, [duplicate("a-x", "a-shusha", "X", "x text")])
    await index(store, [enriched("a-x", "X", "x text, extracted")])
    found = await store.article("a-x")
    assert found is not None
    assert found.duplicate_of is None


# --- agreements -------------------------------------------------------------------------------


async def test_agreements_count_mentions_and_distinct_sources(store: IndexStore) -> None:
    await index(
        store,
        [
            sighted(KEY, record(), "a1", source="Azernews", first=True, alerted=True),
            sighted(KEY, record(), "a2", source="AZERNEWS", seen=3),
            sighted(KEY, record(), "a3", source="Trend", seen=5),
            sighted(KEY, record(), "a4", source=None, seen=6),
        ],
    )
    # redelivered, in another batch and order: nothing changes
    await index(store, [sighted(KEY, record(), "a3", source="Trend", seen=9)])
    found = await store.agreement(KEY)
    assert found is not None
    assert found.mentions == 4
    assert found.sources == 2
    assert [a.article.id for a in found.articles] == ["a1", "a2", "a3", "a4"]
    assert found.first_article.id == "a1"
    assert found.first_article.url == "https://news.example/a1"
    assert found.first_seen_at == T0
    assert [s.first for s in found.sightings] == [True, False, False, False]
    assert [s.alerted for s in found.sightings] == [True, False, False, False]
    assert found.sightings[2].seen_at == T0 + timedelta(minutes=5)


async def test_an_agreement_keeps_the_best_of_every_report(store: IndexStore) -> None:
    vague = record(title="memorandum of alliance", signed_on="2021", status="past_reference")
    precise = record(
        title="Shusha Declaration on Allied Relations",
        signatories=(Signatory(name="Ilham Aliyev", office="President", country="AZE"),),
        confidence=0.97,
    )
    # the later report arrives first: the order of arrival must not matter
    await index(store, [sighted(KEY, precise, "a2", seen=10)])
    await index(store, [sighted(KEY, vague, "a1", seen=0)])
    found = await store.agreement(KEY)
    assert found is not None
    assert found.title == "Shusha Declaration on Allied Relations"
    assert found.signed_on == "2021-06-15"
    assert found.status == "signed"
    assert found.kind == "declaration"
    assert found.confidence == 0.97
    assert [s.name for s in found.signatories] == ["Ilham Aliyev"]
    assert found.first_article.id == "a1"
    assert found.evidence == list(vague.evidence)
    assert found.parties == ["AZE", "TUR"]


async def test_the_evidence_trail_holds_every_sighting(store: IndexStore) -> None:
    first = record(evidence="Aliyev and Erdogan signed the Shusha Declaration.")
    second = record(evidence="The declaration signed in Shusha was ratified.")
    third = record(title="Shusha declaration", evidence="Same article, a second sentence.")
    await index(
        store,
        [
            sighted(KEY, first, "a1"),
            sighted(KEY, second, "a2", seen=2),
            sighted(KEY, third, "a2", seen=2),
        ],
    )
    found = await store.agreement(KEY)
    assert found is not None
    assert found.mentions == 2
    assert sorted(s.evidence[0].sentence for s in found.sightings) == sorted(
        [first.evidence[0].sentence, second.evidence[0].sentence, third.evidence[0].sentence]
    )
    assert found.sightings[0].record == first
    assert found.sightings[0].article.title == "Report a1"
    assert await store.agreement("no-such-key") is None


async def test_an_article_lists_the_agreements_it_reported(store: IndexStore) -> None:
    await index(store, [SHUSHA, sighted(KEY, record(), "a-shusha")])
    found = await store.article("a-shusha")
    assert found is not None
    assert found.agreement_keys == [KEY]


async def test_non_state_parties_are_kept_but_never_match_a_party_filter(
    store: IndexStore,
) -> None:
    with_company = record(parties=(None, "KAZ"), kind="agreement", title="gas supply")
    await index(store, [sighted("KAZ-NONSTATE:x", with_company, "a1")])
    found = await store.agreement("KAZ-NONSTATE:x")
    assert found is not None
    assert found.parties == [None, "KAZ"]
    page = await store.agreements(AgreementQuery.build(parties=["KAZ"]))
    assert [a.key for a in page.agreements] == ["KAZ-NONSTATE:x"]


def _registry() -> list[IndexMessage]:
    return [
        sighted(KEY, record(), "a1", seen=0),
        sighted("AZE-TUR:2022:energy", record(title="energy roadmap", kind="roadmap",
                signed_on="2022", status="planned"), "a2", seen=1),
        sighted("KAZ-UZB:2021-03-01:water", record(parties=("KAZ", "UZB"), kind="memorandum",
                title="water", signed_on="2021-03-01"), "a3", seen=2),
        sighted("AZE-GEO:undated:rail", record(parties=("AZE", "GEO"), kind="agreement",
                title="rail", signed_on=None), "a4", seen=3),
        sighted("AZE-TUR:2021-06:trade", record(title="trade", kind="agreement",
                signed_on="2021-06", status="cancelled"), "a5", seen=4),
    ]  # fmt: skip


async def test_agreements_are_listed_newest_first(store: IndexStore) -> None:
    await index(store, _registry())
    page = await store.agreements(AgreementQuery.build())
    assert [a.key for a in page.agreements] == [
        "AZE-TUR:2022:energy",
        KEY,
        "AZE-TUR:2021-06:trade",
        "KAZ-UZB:2021-03-01:water",
        "AZE-GEO:undated:rail",
    ]
    assert page.next_cursor is None
    assert [a.article.id for a in page.agreements[1].articles] == ["a1"]


@pytest.mark.parametrize(
    ("filters", "keys"),
    [
        ({"parties": ["AZE", "TUR"]}, ["AZE-TUR:2022:energy", KEY, "AZE-TUR:2021-06:trade"]),
        ({"parties": ["tur", "AZE"], "kind": "declaration"}, [KEY]),
        ({"parties": ["AZE"], "status": "signed"}, [KEY, "AZE-GEO:undated:rail"]),
        ({"parties": ["GEO", "TUR"]}, []),
        ({"status": "cancelled"}, ["AZE-TUR:2021-06:trade"]),
        # a date range meets a month, a year, and the day first seen when undated
        (
            {"signed_from": date(2021, 6, 10), "signed_to": date(2021, 9, 30)},
            [KEY, "AZE-TUR:2021-06:trade"],
        ),
        ({"signed_from": date(2022, 7, 1)}, ["AZE-TUR:2022:energy"]),
        ({"signed_to": date(2021, 3, 1)}, ["KAZ-UZB:2021-03-01:water"]),
        ({"signed_from": date(2021, 10, 27), "signed_to": date(2021, 10, 27)},
         ["AZE-GEO:undated:rail"]),
    ],
)  # fmt: skip
async def test_agreements_filter(
    store: IndexStore, filters: dict[str, Any], keys: list[str]
) -> None:
    await index(store, _registry())
    page = await store.agreements(AgreementQuery.build(**filters))
    assert [a.key for a in page.agreements] == keys


async def test_agreements_page_by_cursor(store: IndexStore) -> None:
    messages: Sequence[IndexMessage] = [
        sighted(f"AZE-TUR:2021-06-{day:02d}:k{day}", record(signed_on=f"2021-06-{day:02d}"),
                f"a{day}", seen=day)
        for day in range(1, 26)
    ] + [sighted(f"AZE-TUR:undated:u{n}", record(signed_on=None), f"u{n}", seen=n)
         for n in range(5)]  # fmt: skip
    await index(store, messages)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await store.agreements(AgreementQuery.build(limit=7, cursor=cursor))
        seen += [a.key for a in page.agreements]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 5
    assert len(seen) == len(set(seen)) == 30
    assert seen[0] == "AZE-TUR:2021-06-25:k25"
    # undated last, latest first seen first
    assert seen[-5:] == [f"AZE-TUR:undated:u{n}" for n in (4, 3, 2, 1, 0)]
    with pytest.raises(QueryError, match="belongs to a different query"):
        AgreementQuery.build(parties=["AZE"], cursor=cursor)


# --- duplicates count as mentions -------------------------------------------------------------

OUTLETS = ("Trend", "APA", "Report.az", "Caliber", "Oxu.az")


def copies_of(original: str, count: int = 5, prefix: str = "c") -> list[DuplicateDetected]:
    """Syndicated copies of ``original``, each from another outlet."""
    return [
        duplicate(f"{prefix}{n}", original, SHUSHA.article.title, SHUSHA.article.text,
                  source=OUTLETS[n % len(OUTLETS)])
        for n in range(count)
    ]  # fmt: skip


async def counts(store: IndexStore, key: str = KEY) -> tuple[int, int]:
    """(mentions, sources) as the detail and the listing both show them (they must agree)."""
    found = await store.agreement(key)
    assert found is not None
    page = await store.agreements(AgreementQuery.build(limit=100))
    listed = [a for a in page.agreements if a.key == key]
    assert [(a.mentions, a.sources) for a in listed] == [(found.mentions, found.sources)]
    return found.mentions, found.sources


async def folded(store: IndexStore, key: str = KEY) -> dict[str, list[str]]:
    """The detail's reporting articles, each with the ids of the duplicates listed under it."""
    found = await store.agreement(key)
    assert found is not None
    return {a.article.id: [d.id for d in a.duplicates] for a in found.articles}


def _arrivals() -> dict[str, list[list[IndexMessage]]]:
    copies: list[IndexMessage] = list(copies_of("a-shusha"))
    sightings: list[IndexMessage] = [sighted(KEY, record(), "a-shusha", first=True)]
    return {
        "copies before the sightings, the original last": [copies, sightings, [SHUSHA]],
        "copies after the sightings": [[SHUSHA], sightings, copies],
        "all in one batch": [[*copies, SHUSHA, *sightings]],
        "one at a time, interleaved": [[m] for m in [*copies[:2], *sightings, SHUSHA, *copies[2:]]],
    }


@pytest.mark.parametrize("arrival", list(_arrivals()))
async def test_syndicated_copies_count_as_mentions_whatever_the_order(
    store: IndexStore, arrival: str
) -> None:
    batches = _arrivals()[arrival]
    for batch in batches:
        await index(store, batch)
    # one report and five copies from five other outlets
    assert await counts(store) == (6, 6)
    assert await folded(store) == {"a-shusha": ["c0", "c1", "c2", "c3", "c4"]}
    # at-least-once delivery: everything again, in the opposite order, changes nothing
    for batch in reversed(batches):
        await index(store, batch[::-1])
    assert await counts(store) == (6, 6)
    found = await store.agreement(KEY)
    assert found is not None
    assert [a.article.id for a in found.articles] == ["a-shusha"]
    assert found.first_article.id == "a-shusha"
    copy = found.articles[0].duplicates[0]
    assert (copy.source, copy.method, copy.duplicate_of) == ("Trend", "text", "a-shusha")
    assert copy.url == "https://news.example/c0"


async def test_copies_from_the_same_outlet_add_mentions_not_sources(store: IndexStore) -> None:
    await index(store, [SHUSHA, sighted(KEY, record(), "a-shusha", source="Azernews")])
    await index(
        store,
        [
            duplicate("c-same", "a-shusha", "t", "x", source="AZERNEWS"),
            duplicate("c-none", "a-shusha", "t", "x", source=None),
            duplicate("c-trend", "a-shusha", "t", "x", source="Trend"),
            duplicate("c-trend2", "a-shusha", "t", "x", source="trend "),
        ],
    )
    assert await counts(store) == (5, 2)


async def test_a_copy_of_a_copy_counts_once_in_any_order(store: IndexStore) -> None:
    first = duplicate("c1", "a-shusha", "t", "x")
    second = duplicate("c2", "c1", "t", "x", source="APA")
    third = duplicate("c3", "c2", "t", "x", source="Caliber")
    # the copy of the copy arrives first, before the copy it repeats and the sightings
    await index(store, [third])
    await index(store, [second])
    await index(store, [sighted(KEY, record(), "a-shusha")])
    assert await counts(store) == (1, 1)
    await index(store, [first])
    assert await counts(store) == (4, 4)
    # all three are listed under the article that reported it, each saying what it repeats
    found = await store.agreement(KEY)
    assert found is not None
    assert [(d.id, d.duplicate_of) for d in found.articles[0].duplicates] == [
        ("c1", "a-shusha"),
        ("c2", "c1"),
        ("c3", "c2"),
    ]
    await index(store, [third, second, first, sighted(KEY, record(), "a-shusha")])
    assert await counts(store) == (4, 4)


async def test_the_same_article_ingested_again_is_no_new_mention(store: IndexStore) -> None:
    await index(store, [SHUSHA, sighted(KEY, record(), "a-shusha")])
    again = duplicate("a-shusha", "a-shusha", SHUSHA.article.title, SHUSHA.article.text)
    await index(store, [again])
    await index(store, [again, sighted(KEY, record(), "a-shusha")])
    assert await counts(store) == (1, 1)
    assert await folded(store) == {"a-shusha": []}


async def test_a_copy_counts_for_every_agreement_its_original_reported(
    store: IndexStore,
) -> None:
    other = "KAZ-UZB:2021-03-01:water"
    water = record(parties=("KAZ", "UZB"), kind="memorandum", title="water")
    await index(
        store,
        [
            sighted(KEY, record(), "a-two"),
            sighted(other, water, "a-two"),
            sighted(other, water, "a-water", source="Trend", seen=1),
            enriched("a-plain", "Weather", "Rain is expected."),
        ],
    )
    await index(
        store,
        [
            duplicate("c-two", "a-two", "t", "x", source="APA"),
            duplicate("c-plain", "a-plain", "t", "x", source="APA"),
        ],
    )
    assert await counts(store) == (2, 2)
    assert await counts(store, other) == (3, 3)
    assert await folded(store, other) == {"a-two": ["c-two"], "a-water": []}
    # the copy leads to what it counts for; the copy of an article that reported nothing, nowhere
    copy = await store.article("c-two")
    assert copy is not None
    assert copy.agreement_keys == sorted([KEY, other])
    plain = await store.article("c-plain")
    assert plain is not None
    assert plain.agreement_keys == []


async def test_a_copy_found_to_be_an_original_stops_counting(store: IndexStore) -> None:
    await index(store, [SHUSHA, sighted(KEY, record(), "a-shusha")])
    await index(
        store,
        [duplicate("c1", "a-shusha", "t", "x"), duplicate("c2", "c1", "t", "x", source="APA")],
    )
    assert await counts(store) == (3, 3)
    # c1 went through extraction after all: an original, which (with what repeats it) counts
    # for what it reports itself, no longer for what a-shusha reported
    await index(store, [enriched("c1", "Another story", "Another text.", source="Trend")])
    assert await counts(store) == (1, 1)
    assert await folded(store) == {"a-shusha": []}
    c1 = await store.article("c1")
    assert c1 is not None
    assert (c1.duplicate_of, c1.agreement_keys, [d.id for d in c1.duplicates]) == (None, [], ["c2"])


async def test_a_copy_linked_to_another_original_moves_its_mention(store: IndexStore) -> None:
    other = "KAZ-UZB:2021-03-01:water"
    water = record(parties=("KAZ", "UZB"), kind="memorandum", title="water")
    await index(store, [sighted(KEY, record(), "a1"), sighted(other, water, "a2")])
    await index(store, [duplicate("c", "a1", "t", "x")])
    assert (await counts(store), await counts(store, other)) == ((2, 2), (1, 1))
    await index(store, [duplicate("c", "a2", "t", "x")])
    assert (await counts(store), await counts(store, other)) == ((1, 1), (2, 2))
    assert await folded(store, other) == {"a2": ["c"]}


async def test_links_that_loop_still_end_and_count_each_article_once(store: IndexStore) -> None:
    # never made by the deduplicator, but a damaged stream must not hang the indexer
    await index(store, [duplicate("x", "y", "t", "x"), duplicate("y", "x", "t", "y", source="APA")])
    await index(store, [sighted(KEY, record(), "x", source="Azernews")])
    # y repeats x, which reported it; x is the report itself, never its own copy
    assert await counts(store) == (2, 2)
    assert await folded(store) == {"x": ["y"]}


async def test_writers_sharing_the_index_count_as_one_would(index_url: str) -> None:
    """Two indexer processes' stores writing at once, the copies (and copies of copies) and the
    sightings of the same articles shuffled between them, count what one writer would."""
    messages: list[IndexMessage] = []
    for n in range(12):
        messages.append(sighted(f"AZE-TUR:2021-06-15:k{n}", record(), f"o{n}", seen=n))
        messages += [
            duplicate(f"o{n}-c{i}", f"o{n}-c{i - 1}" if i else f"o{n}", "t", "x", source=outlet)
            for i, outlet in enumerate(OUTLETS[:3])
        ]
    random.Random(4).shuffle(messages)
    batches = [messages[i : i + 3] for i in range(0, len(messages), 3)]
    stores = [open_store(index_url), open_store(index_url)]
    for opened in stores:
        await opened.open()
    try:

        async def write(store: IndexStore, mine: Sequence[Sequence[IndexMessage]]) -> None:
            for batch in mine:
                await index(store, batch)

        async with anyio.create_task_group() as group:
            group.start_soon(write, stores[0], batches[0::2])
            group.start_soon(write, stores[1], batches[1::2])
        for n in range(12):
            assert await counts(stores[0], f"AZE-TUR:2021-06-15:k{n}") == (4, 4)
    finally:
        for opened in stores:
            await opened.close()


# --- search -----------------------------------------------------------------------------------


async def test_search_ranks_and_highlights(store: IndexStore) -> None:
    await index(
        store,
        [
            enriched("t-title", "Pipeline accord signed", "Officials met in the capital."),
            enriched("t-text", "Officials met", "They discussed a pipeline among other things."),
            enriched("t-none", "Weather", "Rain is expected tomorrow."),
        ],
    )
    page = await store.search(SearchQuery.build("pipeline"))
    assert [h.id for h in page.hits] == ["t-title", "t-text"]
    assert page.hits[0].score > page.hits[1].score > 0
    assert "<mark>pipeline</mark>" in page.hits[1].snippet
    assert page.hits[1].title == "Officials met"
    assert page.hits[1].published == date(2021, 10, 27)


async def test_snippets_are_html_escaped(store: IndexStore) -> None:
    await index(store, [enriched("h", "Tags", "Costs < benefits & the annex > the treaty.")])
    page = await store.search(SearchQuery.build("annex"))
    snippet = page.hits[0].snippet
    assert "&lt; benefits &amp; the <mark>annex</mark> &gt;" in snippet


async def test_search_understands_the_query_language(store: IndexStore) -> None:
    await index(
        store,
        [
            SHUSHA,
            enriched("k1", "Kazakhstan memorandum", "A memorandum on trade was signed in Astana."),
            enriched("k2", "Negotiations", "Negotiators discussed allied relations in Tashkent."),
        ],
    )
    # English stemming: "signing" finds "signed"
    assert set(await search_ids(store, "signing")) == {"a-shusha", "k1"}
    assert set(await search_ids(store, '"allied relations"')) == {"a-shusha", "k2"}
    assert await search_ids(store, '"relations allied"') == []
    assert set(await search_ids(store, "memorandum OR negotiators")) == {"k1", "k2"}
    assert await search_ids(store, "signed -memorandum") == ["a-shusha"]
    assert set(await search_ids(store, "tashk*")) == {"k2"}
    assert set(await search_ids(store, "negotiator*")) == {"k2"}
    assert await search_ids(store, "(astana OR tashkent) trade") == ["k1"]
    # accents do not matter, either way round
    assert await search_ids(store, "turkiye") == ["a-shusha"]
    assert await search_ids(store, "Türkiye") == ["a-shusha"]
    assert await search_ids(store, "KAZAKHSTAN") == ["k1"]


async def test_search_filters(store: IndexStore) -> None:
    await index(
        store,
        [
            enriched("f1", "Gas deal", "A gas deal.", countries=("AZE", "TUR"),
                     source="Azernews", published=date(2021, 6, 15)),
            enriched("f2", "Gas deal", "A gas deal.", countries=("KAZ",),
                     source="Trend", published=date(2021, 10, 1)),
            enriched("f3", "Gas deal", "A gas deal.", countries=("AZE",),
                     source="trend", published=None),
        ],
    )  # fmt: skip
    assert set(await search_ids(store, "gas")) == {"f1", "f2", "f3"}
    assert set(await search_ids(store, "gas", countries=["AZE"])) == {"f1", "f3"}
    assert await search_ids(store, "gas", countries=["aze", "TUR"]) == ["f1"]
    assert set(await search_ids(store, "gas", source="TREND")) == {"f2", "f3"}
    assert await search_ids(store, "gas", published_from=date(2021, 7, 1)) == ["f2"]
    assert await search_ids(store, "gas", published_to=date(2021, 6, 15)) == ["f1"]
    assert await search_ids(
        store, "gas", published_from=date(2021, 6, 15), published_to=date(2021, 6, 15)
    ) == ["f1"]
    assert await search_ids(store, "gas", source="Trend", countries=["AZE"]) == ["f3"]
    assert await search_ids(store, "gas", countries=["GEO"]) == []


async def test_search_pages_by_cursor(store: IndexStore) -> None:
    await index(
        store,
        [
            enriched(f"p{n:02d}", f"Report {n}", "treaty " * (1 + n % 7) + "and more words")
            for n in range(45)
        ],
    )
    seen: list[str] = []
    scores: list[float] = []
    cursor = None
    for expected in (20, 20, 5):
        page = await store.search(SearchQuery.build("treaty", limit=20, cursor=cursor))
        assert len(page.hits) == expected
        seen += [h.id for h in page.hits]
        scores += [h.score for h in page.hits]
        cursor = page.next_cursor
    assert cursor is None
    assert sorted(seen) == [f"p{n:02d}" for n in range(45)]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(QueryError, match="belongs to a different query"):
        SearchQuery.build("pact", cursor=page_cursor(await store.search(
            SearchQuery.build("treaty", limit=5))))  # fmt: skip


def page_cursor(page: Any) -> str:
    assert page.next_cursor is not None
    cursor: str = page.next_cursor
    return cursor


async def test_search_ranks_the_newest_matches_within_its_window(index_url: str) -> None:
    windowed = open_store(index_url, search_window=5)
    await windowed.open()
    try:
        await index(windowed, [enriched(f"w{n}", f"Accord {n}", "accord") for n in range(8)])
        seen: list[str] = []
        cursor = None
        while True:
            page = await windowed.search(SearchQuery.build("accord", limit=2, cursor=cursor))
            seen += [h.id for h in page.hits]
            if not (cursor := page.next_cursor):
                break
        # the five most recently indexed matches, and only those
        assert sorted(seen) == ["w3", "w4", "w5", "w6", "w7"]
    finally:
        await windowed.close()


async def test_no_query_text_reaches_the_database_as_syntax(store: IndexStore) -> None:
    """Whatever a person types, search answers or says what is wrong: never a database error."""
    await index(store, [SHUSHA])
    nasty = [
        '"', "(", ")", "*", "-", "NOT", "OR", "AND", '"""', "a AND OR b", "NEAR(a b)",
        "title:shusha", "shusha^2", "{a b}", "a + b", "'", "''", "a'b", "\\", "%", "_",
        "col:", ":", "^", "a -", "--a", "!a", "a & b", "a | | b", "a:*", "<->", "a <-> b",
        "shusha)", "((shusha", "\x00", "é*", "*shusha", "sh*sha", "🙂", "ﬁnance",
    ]  # fmt: skip
    refused: list[str] = []
    for typed in nasty:
        try:
            query = SearchQuery.build(typed)
        except QueryError as exc:
            refused.append(str(exc))
            continue
        await store.search(query)
    assert refused
    assert all(message.startswith("q: ") for message in refused)


async def test_unknown_article_and_ping(store: IndexStore) -> None:
    assert await store.article("nope") is None
    await store.ping()
    assert await store.schema_version() == LATEST
