"""What the query API answers, as pydantic models (they document the OpenAPI schema).

Both backends hand rows over as mappings with the same column names; the builders here turn
them into these models, so that SQLite and PostgreSQL answer exactly alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson
from pactwatch.contracts import (
    AgreementRecord,
    ArticleRef,
    Entity,
    Evidence,
    Kind,
    Signatory,
    Status,
)
from pactwatch.countries import country_name
from pydantic import BaseModel, Field

HIGHLIGHT_START = "\x02"
HIGHLIGHT_END = "\x03"
"""Markers the databases put around matches; ingest strips control characters from texts,
so they cannot occur in an article. They become ``<mark>`` once the snippet is escaped."""


class ErrorBody(BaseModel):
    error: str = Field(description="What is wrong, for a person to act on.")
    detail: list[dict[str, str]] | None = Field(
        default=None, description="Each offending parameter with its problem."
    )


class SearchHit(BaseModel):
    id: str
    url: str | None
    source: str | None
    published: date | None
    title: str
    snippet: str = Field(
        description="A passage of the text, HTML-escaped, with the matches in <mark>...</mark>."
    )
    score: float = Field(description="Relevance: higher is better; compare within one list only.")
    countries: list[str] = Field(description="Countries the article mentions (ISO alpha-3).")
    duplicate_of: str | None = Field(
        description="Set when the article repeats an earlier one: the original's id."
    )


class SearchPage(BaseModel):
    hits: list[SearchHit]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at end.")


class DuplicateRef(BaseModel):
    id: str
    url: str | None
    source: str | None
    published: date | None
    title: str
    method: str | None = Field(description="How it matched: id, url, text or near.")
    similarity: float | None
    ingested_at: datetime
    duplicate_of: str | None = Field(
        default=None,
        description="The article it repeats: the one it is listed under, unless it copies a copy.",
    )


class ArticleDetail(BaseModel):
    id: str
    url: str | None
    source: str | None
    published: date | None
    title: str
    text: str
    language: str | None
    notes: list[str] = Field(description="What ingest changed or could not establish.")
    entities: list[Entity]
    countries: list[str]
    agreements: list[AgreementRecord] = Field(description="Agreements the extractor found in it.")
    agreement_keys: list[str] = Field(
        description="Registry keys of the agreements it reported (see /agreements/{key}); for "
        "a duplicate, those the article it repeats reported, which it counts as a mention of."
    )
    skipped: str | None = Field(description="Why extraction did not run, if it did not.")
    truncated: bool
    ingested_at: datetime
    indexed_at: datetime
    duplicate_of: str | None = Field(description="The original's id, when this is a duplicate.")
    duplicate_method: str | None
    duplicate_similarity: float | None
    duplicates: list[DuplicateRef] = Field(description="Later articles that repeat this one.")


class ReportingArticle(BaseModel):
    article: ArticleRef
    seen_at: datetime = Field(description="When the registry first saw this article report it.")


class ReportingArticleWithDuplicates(ReportingArticle):
    duplicates: list[DuplicateRef] = Field(
        description="Articles that repeat it (syndicated copies, and copies of those), "
        "earliest first: each counts as a mention."
    )


class AgreementSummary(BaseModel):
    key: str = Field(description="Canonical agreement key.")
    parties: list[str | None] = Field(description="Sorted ISO alpha-3 codes; null for non-states.")
    counterparts: list[str]
    kind: Kind
    title: str
    signatories: list[Signatory]
    signed_on: str | None = Field(description="ISO date, or the year alone when that is all.")
    status: Status
    evidence: list[Evidence] = Field(description="The first report's evidence sentences.")
    confidence: float = Field(description="The highest confidence of any report.")
    first_seen_at: datetime
    first_article: ArticleRef
    mentions: int = Field(
        description="Distinct articles that reported it, their duplicates (syndicated copies) "
        "included."
    )
    sources: int = Field(description="Distinct outlets among them.")
    # a Sequence, so that AgreementDetail may list the richer ReportingArticleWithDuplicates
    articles: Sequence[ReportingArticle] = Field(
        description="The articles that reported it, earliest first (at most 20 in a listing; "
        "their duplicates are counted in mentions and listed by /agreements/{key})."
    )


class AgreementPage(BaseModel):
    agreements: list[AgreementSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at end.")


class Sighting(BaseModel):
    article: ArticleRef
    seen_at: datetime
    first: bool = Field(description="This sighting created the registry entry.")
    alerted: bool = Field(description="This sighting raised the alert.")
    evidence: list[Evidence]
    record: AgreementRecord = Field(description="The record as this article reported it.")


class AgreementDetail(AgreementSummary):
    articles: Sequence[ReportingArticleWithDuplicates] = Field(
        description="Every article that reported it, earliest first, each with the articles "
        "that repeat it."
    )
    sightings: list[Sighting] = Field(description="Every report of it: the evidence trail.")


class NetworkNode(BaseModel):
    code: str = Field(description="ISO 3166-1 alpha-3 code.")
    name: str = Field(description="The country's common English name.")
    agreements: int = Field(
        description="Agreements (within the filters) it shares with at least one other country."
    )


class NetworkEdge(BaseModel):
    parties: tuple[str, str] = Field(description="The two countries, sorted.")
    agreements: int = Field(
        description="Agreements (within the filters) both are party to: the length of "
        "/agreements?party=A&party=B with the same filters."
    )
    kinds: dict[str, int] = Field(description="How many of them of each kind.")
    latest: date = Field(
        description="The last day the newest of them may have been signed (the day first "
        "seen, when undated)."
    )


class Network(BaseModel):
    nodes: list[NetworkNode] = Field(description="The countries of the edges, by code.")
    edges: list[NetworkEdge] = Field(description="Country pairs, most agreements first.")
    pairs: int = Field(description="Pairs that matched, listed or not.")
    truncated: bool = Field(
        description="More pairs matched than the limit: those with fewest agreements are left out."
    )


# --- builders from rows -------------------------------------------------------------------

Row = Mapping[str, Any]


def loads(value: Any) -> Any:
    """JSON columns: text in SQLite, already decoded by psycopg in PostgreSQL."""
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def as_utc(value: Any) -> datetime:
    """Timestamps: ISO text in SQLite, datetime in PostgreSQL; always returned in UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def mark(snippet: str) -> str:
    """Escape a snippet for HTML and turn the database's markers into ``<mark>`` tags."""
    escaped = snippet.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace(HIGHLIGHT_START, "<mark>").replace(HIGHLIGHT_END, "</mark>")


def hit(row: Row, snippet: str) -> SearchHit:
    """A search hit from an articles row (plus its score) and the database's snippet."""
    return SearchHit(
        id=row["id"],
        url=row["url"],
        source=row["source"],
        published=row["published"],
        title=row["title"],
        snippet=mark(snippet),
        score=float(row["score"]),
        countries=list(loads(row["countries"])),
        duplicate_of=row["duplicate_of"],
    )


def article(row: Row, duplicates: Iterable[Row], agreement_keys: Iterable[str]) -> ArticleDetail:
    """An article from its row, the rows of its duplicates and the keys it reported."""
    return ArticleDetail(
        id=row["id"],
        url=row["url"],
        source=row["source"],
        published=row["published"],
        title=row["title"],
        text=row["text"],
        language=row["language"],
        notes=loads(row["notes"]),
        entities=loads(row["entities"]),
        countries=list(loads(row["countries"])),
        agreements=loads(row["agreements"]),
        agreement_keys=list(agreement_keys),
        skipped=row["skipped"],
        truncated=bool(row["truncated"]),
        ingested_at=as_utc(row["ingested_at"]),
        indexed_at=as_utc(row["indexed_at"]),
        duplicate_of=row["duplicate_of"],
        duplicate_method=row["duplicate_method"],
        duplicate_similarity=row["duplicate_similarity"],
        duplicates=[duplicate_ref(d) for d in duplicates],
    )


def duplicate_ref(row: Row) -> DuplicateRef:
    """A duplicate from its articles row (id, url, source, published, title, duplicate_*,
    ingested_at)."""
    return DuplicateRef(
        id=row["id"],
        url=row["url"],
        source=row["source"],
        published=row["published"],
        title=row["title"],
        method=row["duplicate_method"],
        similarity=row["duplicate_similarity"],
        ingested_at=as_utc(row["ingested_at"]),
        duplicate_of=row["duplicate_of"],
    )


def article_ref(row: Row) -> ArticleRef:
    """The reporting article as its sighting described it."""
    return ArticleRef(
        id=row["article_id"],
        url=row["article_url"],
        source=row["article_source"],
        published=row["article_published"],
        title=row["article_title"],
    )


def _summary_fields(row: Row, reporters: Sequence[Row]) -> dict[str, Any]:
    first = next((r for r in reporters if r["article_id"] == row["first_article_id"]), None)
    return {
        "key": row["key"],
        "parties": loads(row["parties"]),
        "counterparts": loads(row["counterparts"]),
        "kind": row["kind"],
        "title": row["title"],
        "signatories": loads(row["signatories"]),
        "signed_on": row["signed_on"],
        "status": row["status"],
        "evidence": loads(row["evidence"]),
        "confidence": row["confidence"],
        "first_seen_at": as_utc(row["first_seen_at"]),
        "first_article": article_ref(first) if first else ArticleRef(id=row["first_article_id"]),
        "mentions": row["mentions"],
        "sources": row["sources"],
        "articles": [
            ReportingArticle(article=article_ref(r), seen_at=as_utc(r["seen_at"]))
            for r in reporters
        ],
    }


def agreement_summary(row: Row, reporters: Sequence[Row]) -> AgreementSummary:
    """``reporters``: one row per reporting article, earliest first."""
    return AgreementSummary(**_summary_fields(row, reporters))


def fold_copies(reporters: Sequence[str], copies: Sequence[Row]) -> dict[str, list[Row]]:
    """Each copy (an articles row with ``id`` and ``duplicate_of``) under the nearest of the
    ``reporters`` it descends from, in the order given; a reporting article is not folded
    under another. A copy whose line does not lead to a reporter (the links changed under a
    concurrent writer, say) is kept, under the first reporter."""
    reporting = set(reporters)
    parent = {c["id"]: c["duplicate_of"] for c in copies}
    folded: dict[str, list[Row]] = {r: [] for r in reporters}
    for copy in copies:
        if copy["id"] in reporting or not reporters:
            continue
        node, walked = copy["duplicate_of"], {copy["id"]}
        while node not in reporting and node in parent and node not in walked:
            walked.add(node)
            node = parent[node]
        folded[node if node in reporting else reporters[0]].append(copy)
    return folded


def agreement_detail(row: Row, sightings: Sequence[Row], copies: Sequence[Row]) -> AgreementDetail:
    """``sightings``: every sighting of the agreement, earliest first; ``copies``: the articles
    rows of the duplicates that count as its mentions, earliest first."""
    reporters: list[Row] = []
    seen: set[str] = set()
    for s in sightings:
        if s["article_id"] not in seen:
            seen.add(s["article_id"])
            reporters.append(s)
    folded = fold_copies([r["article_id"] for r in reporters], copies)
    trail = []
    for s in sightings:
        record = AgreementRecord.model_validate(loads(s["record"]))
        trail.append(
            Sighting(
                article=article_ref(s),
                seen_at=as_utc(s["seen_at"]),
                first=bool(s["is_first"]),
                alerted=bool(s["alerted"]),
                evidence=list(record.evidence),
                record=record,
            )
        )
    articles = [
        ReportingArticleWithDuplicates(
            article=article_ref(r),
            seen_at=as_utc(r["seen_at"]),
            duplicates=[duplicate_ref(c) for c in folded[r["article_id"]]],
        )
        for r in reporters
    ]
    return AgreementDetail(
        **{**_summary_fields(row, reporters), "articles": articles}, sightings=trail
    )


def network(pair_rows: Iterable[Row], node_rows: Iterable[Row], limit: int) -> Network:
    """The network from one row per (pair, kind) (``a``, ``b``, ``kind``, ``agreements``,
    ``latest``) and one per country (``party``, ``agreements``): the ``limit`` pairs with the
    most agreements, and the countries they join."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for row in pair_rows:
        latest = row["latest"]
        day = date.fromisoformat(latest) if isinstance(latest, str) else latest
        pair = pairs.setdefault((row["a"], row["b"]), {"kinds": {}, "latest": day})
        pair["kinds"][row["kind"]] = int(row["agreements"])
        pair["latest"] = max(pair["latest"], day)
    ranked = sorted(pairs.items(), key=lambda item: (-sum(item[1]["kinds"].values()), item[0]))
    edges = [
        NetworkEdge(
            parties=key,
            agreements=sum(value["kinds"].values()),
            kinds=dict(sorted(value["kinds"].items(), key=lambda kv: (-kv[1], kv[0]))),
            latest=value["latest"],
        )
        for key, value in ranked[:limit]
    ]
    joined = {code for edge in edges for code in edge.parties}
    counts = {row["party"]: int(row["agreements"]) for row in node_rows}
    nodes = [
        NetworkNode(code=code, name=country_name(code), agreements=counts.get(code, 0))
        for code in sorted(joined)
    ]
    return Network(nodes=nodes, edges=edges, pairs=len(pairs), truncated=len(pairs) > limit)
