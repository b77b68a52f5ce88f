"""Which language an article is written in (ISO 639-1), with py3langid.

Non-English articles are accepted and indexed; the language lets the English extractor skip
them with a reason instead of finding nonsense in them. A language that cannot be told with
confidence is left unknown (and the extractor treats it like English). Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

SAMPLE_CHARS = 1500
"""The classifier's answer settles long before this; the rest of a long text only costs time."""
_ENGLISH_WORDS = frozenset(
    """the of and to that was for with on said has have by from were which it its are this an
    their will be been after at as would who""".split()
)
_WORD = re.compile(r"[a-z']+")
ENGLISH_SHARE = 0.12
"""English news prose has a fifth or more of these words (0.21 at the least in the dev
corpus); German, French, Spanish, Portuguese, Italian, Dutch or Swahili news has none. Above
this share, with enough words, a text is English without asking the classifier, which costs
three quarters of ingest's time per article."""
MIN_LETTERS = 20
MIN_CONFIDENCE = 0.6


@dataclass(frozen=True)
class Language:
    """An ISO 639-1 code, or None with the reason it is unknown."""

    code: str | None
    note: str | None = None


def detect_language(text: str) -> Language:
    """The language of ``text`` when py3langid is confident, else unknown with a reason."""
    sample = text[:SAMPLE_CHARS]
    if sum(map(str.isalpha, sample)) < MIN_LETTERS:
        return Language(None, "language not detected: too little text")
    words = _WORD.findall(sample[:1000].lower())
    common = sum(map(_ENGLISH_WORDS.__contains__, words))
    if len(words) >= 30 and common / len(words) >= ENGLISH_SHARE:
        return Language("en")
    code, confidence = _identifier().classify(sample)
    if confidence < MIN_CONFIDENCE or len(code) != 2:
        return Language(
            None, f"language not detected with confidence (best guess {code}, {confidence:.2f})"
        )
    return Language(str(code))


def warm_up() -> None:
    """Load the model (about half a second) now rather than on the first article."""
    _identifier()


@cache
def _identifier() -> Any:
    # py3langid ships no type information
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
