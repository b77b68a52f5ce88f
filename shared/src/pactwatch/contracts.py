"""Every message that crosses a stream or a public channel, with the stream names beside it.

The rules (see STYLE.md): events are named in the past tense; models are frozen and refuse
unknown fields; a change to a contract only adds optional fields, and a breaking change is a
new model on a new stream.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# --- streams (Redis Streams, FastStream envelope; internal to pactwatch) -----------------

ARTICLES_INGESTED = "articles.ingested"
"""Every article accepted by ingest, in arrival order."""
ARTICLES_UNIQUE = "articles.unique"
"""Articles the deduplicator found to be new: the extractor's input."""
ARTICLES_DUPLICATES = "articles.duplicates"
"""Articles the deduplicator found to repeat one already seen; they skip the NLP."""
ARTICLES_ENRICHED = "articles.enriched"
"""Articles with their entities, countries and agreements: the indexer's and notifier's input."""
AGREEMENTS_SIGHTED = "agreements.sighted"
"""One entry per agreement record resolved against the registry: the indexer keeps the registry."""

# --- public channels (plain JSON, readable by any Redis client in any language) ----------

ALERTS_STREAM = "alerts.agreements"
"""Durable alert stream; each entry's field ``alert`` holds one Alert as JSON."""
ALERTS_STREAM_FIELD = "alert"
ALERTS_CHANNEL = "pactwatch.alerts"
"""Redis pub/sub channel for live listeners; the message body is one Alert as JSON.

Also ``pactwatch.alerts.<ISO3>`` for each party and ``pactwatch.alerts.<ISO3>.<ISO3>`` for the
sorted pair."""
UPDATES_CHANNEL = "pactwatch.updates"
"""Redis pub/sub channel of AgreementUpdated events (never on the alerts stream); also
``pactwatch.updates.<ISO3>`` and ``pactwatch.updates.<ISO3>.<ISO3>`` like the alerts."""

# --- consumer groups: the service's name ---------------------------------------------------

GROUP_DEDUPLICATOR = "deduplicator"
GROUP_EXTRACTOR = "extractor"
GROUP_INDEXER = "indexer"
GROUP_NOTIFIER = "notifier"

CONSUMED_STREAMS: dict[str, tuple[str, ...]] = {
    GROUP_DEDUPLICATOR: (ARTICLES_INGESTED,),
    GROUP_EXTRACTOR: (ARTICLES_UNIQUE,),
    GROUP_INDEXER: (ARTICLES_ENRICHED, ARTICLES_DUPLICATES, AGREEMENTS_SIGHTED),
    GROUP_NOTIFIER: (ARTICLES_ENRICHED,),
}
"""Which group reads which stream: the init step creates exactly these groups."""


Kind = Literal[
    "memorandum",
    "agreement",
    "treaty",
    "declaration",
    "protocol",
    "accord",
    "charter",
    "roadmap",
    "action_plan",
    "other",
]
Status = Literal["signed", "planned", "past_reference", "cancelled"]
Freshness = Literal["signed", "earlier"]
FRESH_DAYS = 6
"""A signing dated at most this many days before its article is news as it happens; one a week
or more before ("a week after their ministers signed ...") is background: the extractor
records it as a past reference, the notifier alerts it as ``earlier`` within its look-back."""


class Contract(BaseModel):
    """Base for every message: immutable, and unknown fields are an error, not a silent drop."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Article(Contract):
    """A news article as pactwatch carries it between services."""

    id: str = Field(description="Deterministic id: from the canonical URL, else the text.")
    url: str | None = Field(default=None, description="Where the article was published.")
    source: str | None = Field(default=None, description="The outlet's name.")
    published: date | None = Field(default=None, description="Publication date, if known.")
    title: str = Field(default="", description="Headline.")
    text: str = Field(description="Body text; paragraphs separated by blank lines.")
    language: str | None = Field(default=None, description="ISO 639-1 code, when detected.")
    notes: tuple[str, ...] = Field(
        default=(), description="What ingest changed or could not establish (e.g. unknown date)."
    )


class ArticleIngested(Contract):
    """Ingest accepted an article (``articles.ingested``)."""

    article: Article
    ingested_at: datetime = Field(description="When ingest accepted it (UTC); latency origin.")


class ArticleDeduplicated(Contract):
    """The deduplicator found the article new (``articles.unique``)."""

    article: Article
    ingested_at: datetime


class DuplicateDetected(Contract):
    """The deduplicator found the article repeats one already seen (``articles.duplicates``)."""

    article: Article
    ingested_at: datetime
    duplicate_of: str = Field(description="Id of the first article seen with this text.")
    method: Literal["id", "url", "text", "near"] = Field(
        description="How it matched: same id, same URL, same normalised text, or MinHash."
    )
    similarity: float = Field(ge=0, le=1, description="Estimated Jaccard similarity.")


class Entity(Contract):
    """A named-entity span, with the country it names where it names one."""

    label: str = Field(description="spaCy label: GPE, NORP, PERSON, ORG, DATE, ...")
    text: str
    start: int = Field(description="Character offset in title + blank line + text.")
    end: int
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-3, when a country.")


class Signatory(Contract):
    """A person who signed, with office and country where the text gives them."""

    name: str
    office: str | None = None
    country: str | None = None


class Evidence(Contract):
    """The sentence that supports a record, with its offsets in the article's text."""

    sentence: str
    start: int
    end: int


class AgreementRecord(Contract):
    """One document an article reports: what the extractor found."""

    parties: tuple[str | None, ...] = Field(
        description="Sorted ISO alpha-3 codes; null for a party that is not a sovereign state."
    )
    counterparts: tuple[str, ...] = Field(
        default=(), description="Names of the parties that are not countries (companies, EU...)."
    )
    kind: Kind
    title: str = Field(description="The document's name or subject as stated.")
    signatories: tuple[Signatory, ...] = ()
    signed_on: str | None = Field(
        default=None, description="ISO date, or the year alone when only month/year is known."
    )
    status: Status
    bilateral: bool = Field(description="Exactly two parties, both sovereign states.")
    evidence: tuple[Evidence, ...] = ()
    confidence: float = Field(ge=0, le=1)

    @property
    def alertable(self) -> bool:
        """Only a signed bilateral agreement is worth an alert."""
        return self.status == "signed" and self.bilateral


class ArticleEnriched(Contract):
    """The extractor's result for one article (``articles.enriched``)."""

    article: Article
    ingested_at: datetime
    entities: tuple[Entity, ...] = ()
    countries: tuple[str, ...] = Field(default=(), description="Countries mentioned, sorted.")
    agreements: tuple[AgreementRecord, ...] = ()
    skipped: str | None = Field(
        default=None, description="Why extraction did not run (empty, not English...)."
    )
    truncated: bool = Field(default=False, description="Text was cut to the size limit.")


class ArticleRef(Contract):
    """Enough of an article to find it again."""

    id: str
    url: str | None = None
    source: str | None = None
    published: date | None = None
    title: str = ""


class AgreementSighted(Contract):
    """An agreement record resolved against the registry (``agreements.sighted``)."""

    key: str = Field(description="Canonical agreement key: the registry's identity.")
    record: AgreementRecord = Field(description="The record as this article reported it.")
    article: ArticleRef
    first: bool = Field(description="True when this sighting created the registry entry.")
    alerted: bool = Field(description="True when this sighting raised the alert.")
    mentions: int = Field(description="Articles that reported it so far, this one included.")
    sources: int = Field(description="Distinct outlets among them.")
    seen_at: datetime


class Alert(Contract):
    """The public alert: one per new signed bilateral agreement (version 1)."""

    schema_version: Literal[1] = 1
    event: Literal["agreement.signed"] = "agreement.signed"
    alert_id: str
    key: str = Field(description="Canonical agreement key.")
    parties: tuple[str, str] = Field(description="Sorted ISO 3166-1 alpha-3 codes.")
    party_names: tuple[str, str]
    kind: Kind
    title: str
    signatories: tuple[Signatory, ...] = ()
    signed_on: str | None = None
    status: Status
    freshness: Freshness = Field(
        description="'signed': reported as it happens; 'earlier': first sighting of an older one."
    )
    evidence: str = Field(description="The sentence that proves it.")
    confidence: float
    article: ArticleRef = Field(description="The first article that reported it.")
    detected_at: datetime
    latency_ms: float = Field(description="From ingest of the article to this alert.")


class AgreementUpdated(Contract):
    """A later report of an agreement that has alerted already raised its counts (version 1).

    Published on ``pactwatch.updates[.<ISO3>[.<ISO3>]]`` only, never on the alerts stream.
    """

    schema_version: Literal[1] = 1
    event: Literal["agreement.updated"] = "agreement.updated"
    key: str = Field(description="Canonical agreement key, as in the alert.")
    parties: tuple[str, str] = Field(description="Sorted ISO 3166-1 alpha-3 codes.")
    party_names: tuple[str, str] | None = None
    kind: Kind
    title: str = Field(description="The registry's best title so far.")
    signed_on: str | None = None
    mentions: int = Field(description="Articles that reported it so far, this one included.")
    sources: int = Field(description="Distinct outlets among them.")
    article: ArticleRef = Field(description="The article that raised the counts.")
    seen_at: datetime
