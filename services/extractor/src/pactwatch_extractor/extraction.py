"""The extractor's work on a batch of articles: one ``nlp.pipe`` pass, then the rules.

Used unchanged by the service (handlers.py) and by ``pactwatch extract`` / ``pactwatch eval``.
Bad input never raises: empty or non-English text is skipped with a reason, HTML is
stripped, and text past the size limit is cut with a flag.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pactwatch.contracts import AgreementRecord, Article, Entity
from spacy.language import Language

from pactwatch_extractor.agreements import Frame, extract_records, main_pair
from pactwatch_extractor.dates import dateline_date
from pactwatch_extractor.gazetteer import gazetteer
from pactwatch_extractor.pipeline import load_pipeline

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


def prepare(article: Article, max_chars: int = MAX_CHARS) -> tuple[str, str | None, bool]:
    """The text the NLP reads (headline + blank line + body), why it is skipped, if it is
    cut. HTML is stripped first, so that markup never reaches the parser."""
    body = article.text
    if "<" in body and _TAG.search(body):
        body = html.unescape(_TAG.sub(" ", body))
        body = re.sub(r"[ \t]+", " ", body)
    body = body.strip()
    if not body:
        return "", "empty text", False
    if article.language and article.language != "en":
        return "", f"language is {article.language!r}, not English", False
    if not article.language and not looks_english(body):
        return "", "text does not look like English", False
    truncated = len(body) > max_chars
    if truncated:
        body = body[:max_chars]
    body = blank_dateline(body)
    title = (article.title or "").strip()
    return f"{title}\n\n{body}" if title else body, None, truncated


_DATELINE_PREFIX = re.compile(
    r"^[A-Z][A-Z .'’\-]{2,40}(?:,[^\n()]{0,40})?\s*(?:\([^)\n]{1,60}\))?\s*[-–—]{1,2}\s+"
)


def blank_dateline(body: str) -> str:
    """Replace a wire dateline ("SHUSHA, Azerbaijan, June 15 (Agency) - ") with spaces: the
    parser reads the sentence that follows, and character offsets stay those of the text."""
    m = _DATELINE_PREFIX.match(body)
    if not m:
        return body
    return " " * m.end() + body[m.end() :]


def looks_english(text: str) -> bool:
    """A cheap check for text with no declared language: enough common English words."""
    words = re.findall(r"[a-z']+", text[:3000].lower())
    if len(words) < 5:
        return len(words) > 0 and any(w in _ENGLISH_WORDS for w in words)
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
        self._nlp = nlp
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
        if self._nlp is None:
            assert self.model is not None
            self._nlp = load_pipeline(self.model)

    @property
    def nlp(self) -> Language:
        self.load()
        assert self._nlp is not None
        return self._nlp

    def extract_many(self, articles: Sequence[Article]) -> list[Extraction]:
        """Extract every article of a batch with one ``nlp.pipe`` pass."""
        prepared = [prepare(a, self.max_chars) for a in articles]
        texts = [text for text, skipped, _ in prepared if skipped is None]
        docs = iter(self.nlp.pipe(texts, batch_size=max(1, len(texts))))
        results: list[Extraction] = []
        for article, (text, skipped, truncated) in zip(articles, prepared, strict=True):
            if skipped is not None:
                results.append(Extraction(skipped=skipped))
                continue
            doc = next(docs)
            results.append(self._read(article, doc, text, truncated))
        return results

    def _read(self, article: Article, doc: object, text: str, truncated: bool) -> Extraction:
        from spacy.tokens import Doc

        assert isinstance(doc, Doc)
        title = (article.title or "").strip()
        body_start = len(title) + 2 if title else 0
        first_para_end = text.find("\n\n", body_start)
        first_para_end = len(text) if first_para_end < 0 else first_para_end
        published = article.published or datetime.now(UTC).date()
        reference = dateline_date(article.text.strip(), published) or published
        pair, weights = main_pair(doc, body_start, first_para_end)
        frame = Frame(reference=reference, pair=pair, codes=weights)
        records = tuple(extract_records(doc, body_start, frame))
        entities = tuple(_entities(doc))
        countries = tuple(sorted({e.country for e in entities if e.country}))
        return Extraction(entities, countries, records, None, truncated)


def _entities(doc: object) -> list[Entity]:
    from spacy.tokens import Doc

    assert isinstance(doc, Doc)
    gaz = gazetteer()
    out = []
    for ent in doc.ents:
        country = None
        if ent.label_ in ("GPE", "NORP", "LOC", "ORG", "FAC"):
            country = (
                ent.ent_id_ if ent.ent_id_ and ent.ent_id_ != "NONSTATE" else gaz.lookup(ent.text)
            )
        out.append(
            Entity(
                label=ent.label_,
                text=ent.text,
                start=ent.start_char,
                end=ent.end_char,
                country=country,
            )
        )
    return out
