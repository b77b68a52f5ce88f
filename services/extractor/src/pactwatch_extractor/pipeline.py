"""The spaCy pipeline: the English model, with an entity ruler in front of the statistical NER.

The ruler fixes what the small model gets wrong on this kind of text: every country name,
demonym and capital in the gazetteer is recognised (as GPE or NORP), and "<Name> region" or
"<Name> district" is a place, not a person.
"""

from __future__ import annotations

from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pactwatch_extractor.gazetteer import NON_STATE_BODIES, UNRECOGNISED, gazetteer

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
