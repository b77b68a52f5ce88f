"""The extractor's work on a batch of articles: one pass of the pipeline, then the rules.

Used unchanged by the service (handlers.py) and by ``pactwatch extract`` / ``pactwatch eval``.
Bad input never raises: empty or non-English text is skipped with a reason, HTML is
stripped, and text past the size limit is cut with a flag.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pactwatch.contracts import AgreementRecord, Article, Entity
from spacy.language import Language
from spacy.tokens import Doc

from pactwatch_extractor.agreements import Frame, extract_records, main_pair
from pactwatch_extractor.dates import dateline_date
from pactwatch_extractor.gazetteer import gazetteer
from pactwatch_extractor.pipeline import Analyser, load_pipeline

MAX_CHARS = 100_000
"""Longer texts are cut here (a news article is rarely a tenth of it); the cut is flagged."""

_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]{1,500}>", re.S | re.I)
_ENGLISH_WORDS = frozenset(
    "the of and to in a is that for on with as was by at from it be are said has have were "
    "which this an their its two not will".split()
)


@dataclass(frozen=True)
class Extraction:
    """What the extractor found in one article."""

    entities: tuple[Entity, ...] = ()
    countries: tuple[str, ...] = ()
    agreements: tuple[AgreementRecord, ...] = ()
    skipped: str | None = None
    truncated: bool = False
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Prepared:
    """The text the NLP reads, and how its offsets map back to the article's."""

    text: str = ""
    """Headline + blank line + body, markup stripped, the wire dateline removed, and a full
    stop after each line that has none (the parser splits sentences badly without one)."""
    body_start: int = 0
    """Where the body starts in ``text``."""
    lead_end: int = 0
    """Where the body's first paragraph ends in ``text``."""
    head_len: int = 0
    """Length of headline + blank line before any full stop was added."""
    shift: int = 0
    """Characters removed from the front of the body (leading space and the dateline)."""
    inserted: tuple[int, ...] = ()
    """Positions in ``text`` of the full stops added."""
    skipped: str | None = None
    truncated: bool = False

    def to_article(self, offset: int) -> int:
        """The offset in headline + blank line + article text of an offset in ``text``."""
        offset -= bisect.bisect_left(self.inserted, offset)
        return offset + self.shift if offset >= self.head_len else offset


_LINE_END = re.compile(r"(?<=[^\s.!?;:,\"”’')\]])(?=[ \t]*\n)")


def _punctuate(text: str) -> tuple[str, list[int]]:
    """Add a full stop at the end of each line that lacks one; return their positions."""
    ends = [m.start() for m in _LINE_END.finditer(text)]
    pieces: list[str] = []
    positions: list[int] = []
    last = 0
    for n, pos in enumerate(ends):
        pieces.extend((text[last:pos], "."))
        positions.append(pos + n)
        last = pos
    pieces.append(text[last:])
    return "".join(pieces), positions


def prepare(article: Article, max_chars: int = MAX_CHARS) -> Prepared:
    """What the NLP reads. HTML is stripped first, so that markup never reaches the parser;
    empty and non-English texts are skipped with a reason; long ones are cut with a flag."""
    body = article.text
    if "<" in body and _TAG.search(body):
        body = html.unescape(_TAG.sub(" ", body))
        body = re.sub(r"[ \t]+", " ", body)
    lead = len(body) - len(body.lstrip())
    body = body.strip()
    if not body:
        return Prepared(skipped="empty text")
    if article.language and article.language != "en":
        return Prepared(skipped=f"language is {article.language!r}, not English")
    if not article.language and not looks_english(body):
        return Prepared(skipped="text does not look like English")
    dateline = _DATELINE_PREFIX.match(body)
    shift = dateline.end() if dateline else 0
    body = body[shift:]
    truncated = len(body) > max_chars
    if truncated:
        body = body[:max_chars]
    title = (article.title or "").strip()
    head = f"{title}\n\n" if title else ""
    text, inserted = _punctuate(head + body)
    body_start = len(head) + sum(1 for i in inserted if i < len(head))
    lead_end = text.find("\n\n", body_start)
    lead_end = len(text) if lead_end < 0 else lead_end
    return Prepared(
        text, body_start, lead_end, len(head), lead + shift, tuple(inserted), None, truncated
    )


# "SHUSHA, Azerbaijan, June 15 (Agency) - ", "TASHKENT (Agency) - ", "DAR ES SALAAM - "
_DATELINE_PREFIX = re.compile(
    r"^[A-Z][A-Z .'’\-]{2,40}(?:,[^\n()]{0,40})?\s*(?:\([^)\n]{1,60}\))?\s*(?:[-–—]{1,2}|:)\s+"
)


def looks_english(text: str) -> bool:
    """A cheap check for text with no declared language: enough common English words."""
    words = re.findall(r"[a-z']+", text[:3000].lower())
    if len(words) < 12:
        return True  # too short to tell: read it rather than drop it
    return sum(w in _ENGLISH_WORDS for w in words) / len(words) > 0.08


class Extractor:
    """Holds the spaCy pipeline; ``extract_many`` is the whole job for one batch.

    Built from a loaded pipeline, or from a model name that loads on ``load()`` (or first use),
    so that a service can start answering health checks before the model is in memory.
    """

    def __init__(
        self, nlp: Language | None = None, *, model: str | None = None, max_chars: int = MAX_CHARS
    ) -> None:
        if nlp is None and model is None:
            raise ValueError("an Extractor needs a loaded pipeline or a model name")
        self._analyser = None if nlp is None else Analyser(nlp)
        self.model = model
        self.max_chars = max_chars

    @classmethod
    def load_model(cls, model: str, max_chars: int = MAX_CHARS) -> Extractor:
        """An extractor with ``model`` loaded now."""
        extractor = cls(model=model, max_chars=max_chars)
        extractor.load()
        return extractor

    def load(self) -> None:
        """Load the pipeline if it is not loaded yet (rules compiled once per process)."""
        if self._analyser is None:
            assert self.model is not None
            self._analyser = Analyser(load_pipeline(self.model))

    @property
    def analyser(self) -> Analyser:
        self.load()
        assert self._analyser is not None
        return self._analyser

    def extract_many(self, articles: Sequence[Article]) -> list[Extraction]:
        """Extract every article of a batch with one pass of the pipeline over the batch."""
        prepared = [prepare(a, self.max_chars) for a in articles]
        docs = iter(self.analyser([(p.text, p.lead_end) for p in prepared if p.skipped is None]))
        results: list[Extraction] = []
        for article, prep in zip(articles, prepared, strict=True):
            if prep.skipped is not None:
                results.append(Extraction(skipped=prep.skipped))
                continue
            results.append(self._read(article, next(docs), prep))
        return results

    def _read(self, article: Article, doc: Doc, prep: Prepared) -> Extraction:
        published = article.published or datetime.now(UTC).date()
        reference = dateline_date(article.text.strip(), published) or published
        pair, weights = main_pair(doc, prep.body_start, prep.lead_end)
        frame = Frame(reference=reference, pair=pair, codes=weights)
        records = tuple(
            _shift_evidence(r, prep) for r in extract_records(doc, prep.body_start, frame)
        )
        entities = tuple(_entities(doc, prep))
        countries = tuple(sorted({e.country for e in entities if e.country}))
        return Extraction(entities, countries, records, None, prep.truncated)


def _shift_evidence(record: AgreementRecord, prep: Prepared) -> AgreementRecord:
    if not prep.shift and not prep.inserted:
        return record
    evidence = tuple(
        e.model_copy(update={"start": prep.to_article(e.start), "end": prep.to_article(e.end)})
        for e in record.evidence
    )
    return record.model_copy(update={"evidence": evidence})


def _entities(doc: Doc, prep: Prepared) -> list[Entity]:
    gaz = gazetteer()
    out = []
    for ent in doc.ents:
        country = None
        if ent.label_ in ("GPE", "NORP", "LOC", "ORG", "FAC"):
            known = ent.ent_id_ and ent.ent_id_ != "NONSTATE"
            country = ent.ent_id_ if known else gaz.lookup(ent.text)
        out.append(
            Entity(
                label=ent.label_,
                text=ent.text,
                start=prep.to_article(ent.start_char),
                end=prep.to_article(ent.end_char),
                country=country,
            )
        )
    return out
