"""The spaCy pipeline: the English model, with an entity ruler in front of the statistical NER,
and the :class:`Analyser` that runs it, parsing only the paragraphs the rules read.

The ruler fixes what the small model gets wrong on this kind of text: every country name,
demonym and capital in the gazetteer is recognised (as GPE or NORP), and "<Name> region" or
"<Name> district" is a place, not a person.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy
import spacy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.pipeline import Sentencizer
from spacy.tokens import Doc

from pactwatch_extractor.gazetteer import NON_STATE_BODIES, UNRECOGNISED, gazetteer
from pactwatch_extractor.lexicon import DOC_WORDS

if TYPE_CHECKING:
    from thinc.types import Ints2d

UNUSED_PIPES = ("lemmatizer",)
"""Pipes the rules never read; disabled so they cost nothing."""

_PLACE_NOUNS = ["region", "district", "province", "governorate", "oblast", "county", "prefecture"]


def ruler_patterns() -> list[dict[str, Any]]:
    gaz = gazetteer()
    patterns: list[dict[str, Any]] = []
    for surface, (code, kind) in gaz.surfaces.items():
        label = "NORP" if kind == "demonym" else "GPE"
        patterns.append({"label": label, "pattern": surface, "id": code})
    patterns.extend(
        {"label": "ORG", "pattern": name, "id": "NONSTATE"}
        for name in NON_STATE_BODIES + UNRECOGNISED
    )
    patterns.append(
        {
            "label": "LOC",
            "pattern": [{"IS_TITLE": True}, {"LOWER": {"IN": _PLACE_NOUNS}}],
        }
    )
    return patterns


@Language.component("paragraph_boundaries")
def paragraph_boundaries(doc: Doc) -> Doc:
    """A line break always ends a sentence: headlines, paragraphs and list items never run
    into each other (the parser respects boundaries set before it)."""
    for token in doc[1:]:
        previous = doc[token.i - 1]
        if "\n" in previous.text or "\n" in previous.whitespace_:
            token.is_sent_start = True
    return doc


def load_pipeline(model: str) -> Language:
    """Load ``model`` (an installed spaCy package name) with the entity ruler added."""
    nlp = spacy.load(model, exclude=list(UNUSED_PIPES))
    nlp.add_pipe("paragraph_boundaries", before="parser")
    ruler = nlp.add_pipe("entity_ruler", before="ner", config={"phrase_matcher_attr": "ORTH"})
    ruler.add_patterns(ruler_patterns())  # type: ignore[attr-defined]
    return nlp


def bare_pipeline(model: str) -> Language:
    """The same model with the same pipes excluded and no rules: the speed baseline."""
    return spacy.load(model, exclude=list(UNUSED_PIPES))


PARSE_PIPES = ("tok2vec", "tagger", "parser", "attribute_ruler")
"""What the rules need only where a document is mentioned: tags, parse and sentences."""

_DOC_WORD = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, DOC_WORDS), key=len, reverse=True)) + r")\b", re.I
)
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n\s*")


def segments(text: str, lead_end: int) -> list[tuple[str, bool]]:
    """``text`` cut at blank lines into runs of paragraphs, each with whether it is parsed.

    The rules read tags and the dependency parse only in the headline and lead (the article's
    main pair) and in sentences holding a document word; every other paragraph needs only its
    entities and sentence boundaries, which cost about half as much. Joined, the pieces are
    ``text`` again, character for character.
    """
    pieces: list[tuple[str, bool]] = []
    start = 0
    for end in [m.end() for m in _PARAGRAPH_END.finditer(text)] + [len(text)]:
        if end <= start:
            continue
        paragraph = text[start:end]
        parse = start < lead_end or _DOC_WORD.search(paragraph) is not None
        if pieces and pieces[-1][1] == parse:
            pieces[-1] = (pieces[-1][0] + paragraph, parse)
        else:
            pieces.append((paragraph, parse))
        start = end
    return pieces


class Analyser:
    """Runs the pipeline over prepared texts, parsing only what the rules read.

    Each text is cut by :func:`segments`; the parsed runs of a whole batch go through the
    full pipeline in one ``nlp.pipe`` pass, the others through the entity ruler and the
    statistical NER (which has its own token vectors) with a rule-based sentencizer, and each
    text's pieces are joined back into one ``Doc`` with the same text and offsets.
    """

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self._sentencizer = Sentencizer()

    def __call__(self, texts: Sequence[tuple[str, int]]) -> list[Doc]:
        """One ``Doc`` per ``(text, lead_end)``, in order."""
        plans = [segments(text, lead_end) for text, lead_end in texts]
        parsed = [piece for plan in plans for piece, parse in plan if parse]
        other = [piece for plan in plans for piece, parse in plan if not parse]
        full = iter(self.nlp.pipe(parsed, batch_size=max(1, len(parsed))))
        lite = iter(
            self._sentencizer(doc)
            for doc in self.nlp.pipe(other, batch_size=max(1, len(other)), disable=PARSE_PIPES)
        )
        docs = []
        for plan in plans:
            parts = [next(full) if parse else next(lite) for _, parse in plan]
            docs.append(parts[0] if len(parts) == 1 else join(parts))
        return docs


def join(parts: list[Doc]) -> Doc:
    """One ``Doc`` of parsed and unparsed pieces, with every piece's sentences kept.

    ``Doc.from_docs`` re-derives sentence boundaries from the heads, and the tokens of an
    unparsed piece have none (each is its own root), so the boundaries are copied back.
    """
    joined = Doc.from_docs(  # type: ignore[call-arg]  # spaCy's stub lacks ``exclude``
        parts, ensure_whitespace=False, exclude=("tensor", "user_data", "spans")
    )
    starts = numpy.concatenate([part.to_array([SENT_START]) for part in parts])
    return joined.from_array([SENT_START], cast("Ints2d", starts.reshape(-1, 1)))
