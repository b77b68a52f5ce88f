"""Turning what a sender gives us into an Article: canonical URL, deterministic id, clean text.

Pure functions: no Redis, no HTTP.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date

from pactwatch.identity import canonical_url, text_fingerprint

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """NFC, no control characters, single spaces, paragraphs separated by one blank line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    paragraphs = (
        " ".join(line.strip() for line in block.split("\n") if line.strip())
        for block in _BLANK_LINES.split(text)
    )
    return "\n\n".join(_SPACES.sub(" ", p).strip() for p in paragraphs if p.strip())


def article_id(url: str | None, text: str) -> str:
    """Deterministic: from the canonical URL when there is one, else from the normalised text."""
    basis = f"url:{canonical_url(url)}" if url else f"text:{text_fingerprint(text)}"
    return "a" + hashlib.blake2b(basis.encode(), digest_size=10).hexdigest()


def check_published(published: date | None, today: date) -> tuple[date | None, str | None]:
    """A date in the future is recorded as unknown with a reason, never guessed."""
    if published is not None and published > today:
        return None, f"published date {published.isoformat()} is in the future; recorded as unknown"
    return published, None
