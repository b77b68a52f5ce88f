"""From stream messages to the rows a backend writes: pure functions, no database.

One batch of messages becomes one :class:`Prepared` set of rows, written in one transaction.
Everything here is idempotent by construction: rows are keyed by the article id, the sighting
(agreement key, article, record digest) and the agreement key, and an agreement's fields are
merged with :meth:`AgreementState.merge`, which gives the same answer whatever the order in
which its sightings arrive and however often each is delivered.

An agreement's mentions are the articles that reported it and their duplicates (copies, and
copies of copies). The backends store which duplicates count for which agreement
(:data:`Copy`), derived again from the links whenever a batch touches them, so that the
counts too come out the same whether a duplicate arrives before its original's sightings or
after them.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import orjson
from pactwatch.contracts import (
    AgreementRecord,
    AgreementSighted,
    Article,
    ArticleEnriched,
    DuplicateDetected,
    Entity,
    Evidence,
    Signatory,
)
from pydantic import TypeAdapter

from pactwatch_indexer.searchsyntax import fold

IndexMessage = ArticleEnriched | DuplicateDetected | AgreementSighted

SEARCH_CHARS = 300_000
"""Text beyond this is stored but not indexed for search: PostgreSQL caps a tsvector at 1 MB."""


_ENTITIES = TypeAdapter(tuple[Entity, ...])
"""Entities to JSON in one call (half the time of dumping each model in Python)."""


def utc(moment: datetime) -> datetime:
    """Messages carry aware UTC times; a naive one is taken to be UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def dumps(value: Any) -> str:
    """JSON text for the JSON columns."""
    return orjson.dumps(value).decode()


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL; ingest strips it, but this is the last line of defence
    return text.replace("\x00", "") if "\x00" in text else text


@dataclass(frozen=True)
class ArticleRow:
    """An article (enriched, or a duplicate linked to its original) as the index stores it."""

    id: str
    url: str | None
    source: str | None
    source_key: str | None
    published: date | None
    title: str
    text: str
    language: str | None
    notes: str
    entities: str
    countries: tuple[str, ...]
    agreements: str
    skipped: str | None
    truncated: bool
    ingested_at: datetime
    duplicate_of: str | None = None
    duplicate_method: str | None = None
    duplicate_similarity: float | None = None

    @property
    def search_title(self) -> str:
        """The title as the full-text index sees it: accents folded (both backends alike)."""
        return fold(self.title)

    @property
    def search_text(self) -> str:
        return fold(self.text[:SEARCH_CHARS])


@dataclass(frozen=True)
class SightingRow:
    """One report of an agreement by one article: the evidence trail's unit."""

    key: str
    article_id: str
    digest: str
    url: str | None
    source: str | None
    source_key: str | None
    published: date | None
    title: str
    record: str
    seen_at: datetime
    first: bool
    alerted: bool
    mentions: int
    sources: int


def _signatory_rank(s: Signatory) -> tuple[int, str, str]:
    return (int(s.office is not None) + int(s.country is not None), s.office or "", s.country or "")


def _signatories(items: Iterable[Signatory]) -> tuple[Signatory, ...]:
    """One entry per person (case-folded name), the most complete one, in name order."""
    best: dict[str, Signatory] = {}
    for s in items:
        name = s.name.casefold()
        if name not in best or _signatory_rank(s) > _signatory_rank(best[name]):
            best[name] = s
    return tuple(best[name] for name in sorted(best))


def _title_rank(title: str) -> tuple[bool, int, str]:
    # a capitalised name ("Shusha Declaration") beats a lower-case subject; longer beats shorter
    return (title[:1].isupper(), len(title), title)


def _date_rank(signed_on: str | None) -> tuple[int, str]:
    # a full date beats a month, which beats a year alone
    return (len(signed_on or ""), signed_on or "")


def signed_span(signed_on: str | None) -> tuple[date, date] | None:
    """The days ``signed_on`` covers: one day, a month (YYYY-MM) or a year (YYYY)."""
    if not signed_on:
        return None
    try:
        if len(signed_on) == 4:
            year = int(signed_on)
            return date(year, 1, 1), date(year, 12, 31)
        if len(signed_on) == 7:
            year, month = int(signed_on[:4]), int(signed_on[5:])
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        day = date.fromisoformat(signed_on[:10])
    except ValueError:
        return None
    return day, day


@dataclass(frozen=True)
class AgreementState:
    """What the registry knows of one agreement, merged over every sighting of it."""

    key: str
    parties: tuple[str | None, ...]
    counterparts: tuple[str, ...]
    kind: str
    title: str
    signatories: tuple[Signatory, ...]
    signed_on: str | None
    status: str
    evidence: tuple[Evidence, ...]
    confidence: float
    first_seen_at: datetime
    first_article_id: str

    @classmethod
    def from_sighting(cls, message: AgreementSighted) -> AgreementState:
        record = message.record
        return cls(
            key=message.key,
            parties=record.parties,
            counterparts=tuple(sorted(set(record.counterparts))),
            kind=record.kind,
            title=record.title,
            signatories=_signatories(record.signatories),
            signed_on=record.signed_on,
            status=record.status,
            evidence=record.evidence,
            confidence=record.confidence,
            first_seen_at=utc(message.seen_at),
            first_article_id=message.article.id,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AgreementState:
        """Read back what a backend stored (JSON as text or decoded, times as text or datetime)."""

        def load(value: Any) -> Any:
            return orjson.loads(value) if isinstance(value, str | bytes) else value

        seen = row["first_seen_at"]
        return cls(
            key=row["key"],
            parties=tuple(load(row["parties"])),
            counterparts=tuple(load(row["counterparts"])),
            kind=row["kind"],
            title=row["title"],
            signatories=tuple(Signatory.model_validate(s) for s in load(row["signatories"])),
            signed_on=row["signed_on"],
            status=row["status"],
            evidence=tuple(Evidence.model_validate(e) for e in load(row["evidence"])),
            confidence=float(row["confidence"]),
            first_seen_at=utc(datetime.fromisoformat(seen) if isinstance(seen, str) else seen),
            first_article_id=row["first_article_id"],
        )

    def _order(self) -> tuple[datetime, str, str, str, str]:
        return (
            self.first_seen_at,
            self.first_article_id,
            self.kind,
            self.status,
            "|".join(e.sentence for e in self.evidence),
        )

    def merge(self, other: AgreementState) -> AgreementState:
        """Combine two views of one agreement; commutative, associative and idempotent.

        The first sighting (earliest seen) gives the kind, parties and evidence; a capitalised
        or longer title and a more precise date win whenever they come; once any report says
        it was signed it stays signed (as in the notifier's registry); confidence is the best.
        """
        first = min(self, other, key=AgreementState._order)
        return AgreementState(
            key=self.key,
            parties=first.parties,
            counterparts=tuple(sorted(set(self.counterparts) | set(other.counterparts))),
            kind=first.kind,
            title=max(self.title, other.title, key=_title_rank),
            signatories=_signatories((*self.signatories, *other.signatories)),
            signed_on=max(self.signed_on, other.signed_on, key=_date_rank),
            status="signed" if "signed" in (self.status, other.status) else first.status,
            evidence=first.evidence,
            confidence=max(self.confidence, other.confidence),
            first_seen_at=first.first_seen_at,
            first_article_id=first.first_article_id,
        )

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(sorted({p for p in self.parties if p}))

    @property
    def sort_date(self) -> str:
        """Newest-first order: by signing date (undated last), then by first sighting."""
        return self.signed_on or ""

    @property
    def span(self) -> tuple[date, date]:
        """The days it may have been signed; the day first seen when the date is unknown."""
        return signed_span(self.signed_on) or (self.first_seen_at.date(),) * 2

    def columns(self) -> dict[str, Any]:
        """The stored columns, JSON fields as text."""
        start, end = self.span
        return {
            "key": self.key,
            "parties": dumps(list(self.parties)),
            "counterparts": dumps(list(self.counterparts)),
            "kind": self.kind,
            "title": self.title,
            "signatories": dumps([s.model_dump(mode="json") for s in self.signatories]),
            "signed_on": self.signed_on,
            "signed_from": start,
            "signed_to": end,
            "sort_date": self.sort_date,
            "status": self.status,
            "evidence": dumps([e.model_dump(mode="json") for e in self.evidence]),
            "confidence": self.confidence,
            "first_seen_at": self.first_seen_at,
            "first_article_id": self.first_article_id,
        }


@dataclass
class Prepared:
    """One batch, ready to write in one transaction. Rows are sorted by their keys, so that
    two writers sharing a PostgreSQL database take their row locks in the same order."""

    articles: list[ArticleRow] = field(default_factory=list)
    duplicates: list[ArticleRow] = field(default_factory=list)
    sightings: list[SightingRow] = field(default_factory=list)
    agreements: list[AgreementState] = field(default_factory=list)
    reingested: int = 0
    """Duplicates that are the same article ingested again: nothing new to store."""

    @property
    def size(self) -> int:
        """Messages this batch stands for, re-ingests included."""
        return len(self.articles) + len(self.duplicates) + len(self.sightings) + self.reingested

    @property
    def empty(self) -> bool:
        """Nothing to write (a batch of re-ingests only)."""
        return not (self.articles or self.duplicates or self.sightings)


Copy = tuple[str, str, str | None]
"""A duplicate counted as a mention of an agreement: (agreement key, article id, outlet key).

An article counts for an agreement when one of the articles it repeats (its original, or the
original of that, when it copies a copy) reported the agreement."""


@dataclass(frozen=True)
class CopyChanges:
    """The stored copies to delete and to insert, each sorted (the order rows are locked in)."""

    gone: list[tuple[str, str]]
    new: list[Copy]

    @property
    def keys(self) -> list[str]:
        """The agreements whose counts change."""
        return sorted({key for key, _ in self.gone} | {key for key, _, _ in self.new})


def copy_changes(stored: Iterable[Copy], derived: Iterable[Copy]) -> CopyChanges:
    """What turns the ``stored`` copies of some articles into those their links now make
    (``derived``); nothing at all when they agree, as after a redelivery."""
    before, after = set(stored), set(derived)
    return CopyChanges(
        gone=sorted({(key, article_id) for key, article_id, _ in before - after}),
        new=sorted(after - before, key=lambda copy: (copy[0], copy[1])),
    )


ArticleLink = tuple[str, str | None, str | None]
"""An article's id, the id of the article it repeats (None for an original) and its outlet key."""


class DuplicateLinks:
    """The duplicate links around some articles, as far as they have been fetched.

    A loop of links (which the deduplicator never makes) ends wherever it comes back.
    """

    def __init__(self) -> None:
        self.parent: dict[str, str | None] = {}
        self.source: dict[str, str | None] = {}
        self._children: dict[str, list[str]] = {}
        self._fetched: set[str] = set()
        self._expanded: set[str] = set()

    def add(self, rows: Iterable[ArticleLink]) -> None:
        """Record articles' rows as fetched."""
        for article_id, duplicate_of, source_key in rows:
            if article_id in self.parent:
                continue
            self.parent[article_id] = duplicate_of
            self.source[article_id] = source_key
            if duplicate_of is not None:
                self._children.setdefault(duplicate_of, []).append(article_id)

    def to_expand(self, ids: Iterable[str]) -> list[str]:
        """Of ``ids``, those whose duplicates are still to fetch (from now on taken as fetched)."""
        wanted = sorted(set(ids) - self._expanded)
        self._expanded.update(wanted)
        return wanted

    def to_fetch(self, ids: Iterable[str]) -> list[str]:
        """Of ``ids``, those whose own rows are still to fetch (from now on taken as fetched)."""
        wanted = sorted(set(ids) - self._fetched - self.parent.keys())
        self._fetched.update(wanted)
        return wanted

    def below(self, article_id: str) -> set[str]:
        """Every article that repeats ``article_id``, or repeats one of those, and so on."""
        found: set[str] = set()
        queue = [article_id]
        while queue:
            for child in self._children.get(queue.pop(), ()):
                if child != article_id and child not in found:
                    found.add(child)
                    queue.append(child)
        return found

    def above(self, article_id: str) -> list[str]:
        """The article ``article_id`` repeats, the one that one repeats, and so on."""
        chain: list[str] = []
        node = self.parent.get(article_id)
        while node is not None and node != article_id and node not in chain:
            chain.append(node)
            node = self.parent.get(node)
        return chain


Fetch = tuple[str, list[str]]
"""What :func:`plan_copies` asks the backend to read, and for which article ids."""


def plan_copies(
    reporters: Iterable[str], relinked: Iterable[str]
) -> Generator[Fetch, list[Any], CopyChanges]:
    """The copies to delete and insert after a batch, derived from the links as they now are.

    ``reporters`` are the articles of the batch's sightings; ``relinked``, the articles whose
    link it may have changed. Every duplicate below any of them, and the relinked articles
    themselves, count for what the articles above them reported. The backend drives this
    generator (no I/O here): it reads what each yielded fetch names and sends back the rows:

    - ``("below", ids)``: (id, duplicate_of, source_key) of the articles repeating one of ids;
    - ``("rows", ids)``: the same, of the articles with those ids;
    - ``("reported", ids)``: (agreement_key, article_id) of those articles' sightings;
    - ``("stored", ids)``: (agreement_key, article_id, source_key) of their stored copies.
    """
    links = DuplicateLinks()
    moved = set(relinked)
    starts = set(reporters) | moved
    frontier = links.to_expand(starts)
    while frontier:
        found = yield ("below", frontier)
        links.add(found)
        frontier = links.to_expand(row[0] for row in found)
    members = moved.union(*(links.below(article_id) for article_id in starts))
    frontier = links.to_fetch(members)
    while frontier:
        found = yield ("rows", frontier)
        links.add(found)
        frontier = links.to_fetch(row[1] for row in found if row[1] is not None)
    above = {article_id: links.above(article_id) for article_id in members}
    reported: dict[str, set[str]] = {}
    ancestors = sorted({ancestor for chain in above.values() for ancestor in chain})
    if ancestors:
        for key, article_id in (yield ("reported", ancestors)):
            reported.setdefault(article_id, set()).add(key)
    stored: list[Copy] = list((yield ("stored", sorted(members)))) if members else []
    derived = [
        (key, article_id, links.source.get(article_id))
        for article_id, chain in above.items()
        for ancestor in chain
        for key in reported.get(ancestor, ())
    ]
    return copy_changes(stored, derived)


def _source_key(source: str | None) -> str | None:
    """Outlets are counted and filtered case-insensitively."""
    if source is None:
        return None
    return source.strip().casefold() or None


def _article_fields(a: Article) -> dict[str, Any]:
    """The columns every row takes from the article itself."""
    return {
        "id": a.id,
        "url": a.url and _clean(a.url),
        "source": a.source and _clean(a.source),
        "source_key": _source_key(a.source and _clean(a.source)),
        "published": a.published,
        "title": _clean(a.title),
        "text": _clean(a.text),
        "language": a.language,
        "notes": dumps(list(a.notes)),
    }


def enriched_row(message: ArticleEnriched) -> ArticleRow:
    """The row of an article the extractor processed: an original."""
    return ArticleRow(
        **_article_fields(message.article),
        entities=_ENTITIES.dump_json(message.entities).decode(),
        countries=tuple(sorted(set(message.countries))),
        agreements=dumps([r.model_dump(mode="json") for r in message.agreements]),
        skipped=message.skipped,
        truncated=message.truncated,
        ingested_at=utc(message.ingested_at),
    )


def duplicate_row(message: DuplicateDetected) -> ArticleRow:
    """The row of a repeat: its own text, no extraction, linked to the original."""
    return ArticleRow(
        **_article_fields(message.article),
        entities="[]",
        countries=(),
        agreements="[]",
        skipped=None,
        truncated=False,
        ingested_at=utc(message.ingested_at),
        duplicate_of=message.duplicate_of,
        duplicate_method=message.method,
        duplicate_similarity=message.similarity,
    )


def record_digest(record: AgreementRecord) -> str:
    """Identity of a record within one article's reports (a redelivery has the same one)."""
    raw = orjson.dumps(record.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def sighting_row(message: AgreementSighted) -> SightingRow:
    """One line of an agreement's evidence trail."""
    ref = message.article
    return SightingRow(
        key=message.key,
        article_id=ref.id,
        digest=record_digest(message.record),
        url=ref.url,
        source=ref.source,
        source_key=_source_key(ref.source),
        published=ref.published,
        title=ref.title,
        record=dumps(message.record.model_dump(mode="json")),
        seen_at=utc(message.seen_at),
        first=message.first,
        alerted=message.alerted,
        mentions=message.mentions,
        sources=message.sources,
    )


def _same_sighting(a: SightingRow, b: SightingRow) -> SightingRow:
    """Two deliveries of one sighting: the earliest time, and any flag either one carries."""
    earliest = min(a, b, key=lambda r: r.seen_at)
    return replace(
        earliest,
        first=a.first or b.first,
        alerted=a.alerted or b.alerted,
        mentions=max(a.mentions, b.mentions),
        sources=max(a.sources, b.sources),
    )


def prepare(messages: Iterable[IndexMessage]) -> Prepared:
    """Turn a batch of messages (any mix of the three kinds) into rows.

    Within a batch the last message about an article wins, as it would across batches;
    sightings of one agreement are merged into one state.
    """
    articles: dict[str, ArticleRow] = {}
    duplicates: dict[str, ArticleRow] = {}
    sightings: dict[tuple[str, str, str], SightingRow] = {}
    agreements: dict[str, AgreementState] = {}
    reingested = 0
    for message in messages:
        if isinstance(message, ArticleEnriched):
            articles[message.article.id] = enriched_row(message)
        elif isinstance(message, DuplicateDetected):
            if message.duplicate_of == message.article.id:
                reingested += 1
            else:
                duplicates[message.article.id] = duplicate_row(message)
        else:
            row = sighting_row(message)
            ident = (row.key, row.article_id, row.digest)
            earlier = sightings.get(ident)
            sightings[ident] = row if earlier is None else _same_sighting(earlier, row)
            state = AgreementState.from_sighting(message)
            known = agreements.get(message.key)
            agreements[message.key] = state if known is None else known.merge(state)
    return Prepared(
        articles=[articles[k] for k in sorted(articles)],
        duplicates=[duplicates[k] for k in sorted(duplicates) if k not in articles],
        sightings=[sightings[k] for k in sorted(sightings)],
        agreements=[agreements[k] for k in sorted(agreements)],
        reingested=reingested,
    )
