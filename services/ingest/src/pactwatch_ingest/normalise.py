"""Identity and layout of an article: deterministic id, the seed-style header of text files.

Pure functions: no Redis, no HTTP.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from pactwatch.identity import canonical_url, text_fingerprint

# "date 2021-10-27 By Some Outlet": the first line of a text file in the seed's format. The
# date must carry a year, so that a sentence like "Date night by the river" is not a header.
_SEED_HEADER = re.compile(
    r"date\s+(?P<date>[^\n]*?\b(?:1[89]|2\d)\d\d\b[^\n]*?)\s+by\s+(?P<source>[^\n]+?)",
    re.IGNORECASE,
)
# "By Jane Doe": a byline right after the header, a few capitalised words at most.
_BYLINE = re.compile(r"by\s+[\w.'’-]+(?:\s+[\w.'’-]+){0,5}", re.IGNORECASE)


@dataclass(frozen=True)
class SeedHeader:
    """What the header of a seed-style text says, and the text without it."""

    published: str
    source: str
    body: str


def article_id(url: str | None, text: str) -> str:
    """Deterministic: from the canonical URL when there is one, else from the normalised text."""
    basis = f"url:{canonical_url(url)}" if url else f"text:{text_fingerprint(text)}"
    return "a" + hashlib.blake2b(basis.encode(), digest_size=10).hexdigest()


def split_seed_header(text: str) -> SeedHeader | None:
    """Read the seed-style header (first line ``date YYYY-MM-DD By Source``, then an optional
    byline), or None when the text does not start with one."""
    stripped = text.lstrip("\ufeff \t\r\n")
    first, _, rest = stripped.partition("\n")
    match = _SEED_HEADER.fullmatch(first.strip())
    if not match:
        return None
    lines = rest.split("\n")
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start < len(lines) and _BYLINE.fullmatch(lines[start].strip()):
        start += 1
    return SeedHeader(
        published=match.group("date").strip(),
        source=match.group("source").strip(),
        body="\n".join(lines[start:]),
    )
