"""Identity of an article: canonical URLs and text fingerprints, shared by ingest and dedup."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that identify a campaign or a click, never the article.
_TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|yclid|igshid|ref|ref_src|cmpid|"
    r"ocid|sr_share|_ga|_gl|spm|share|smid|mbid|rss|cid)$",
    re.IGNORECASE,
)


def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, default port, tracking parameters and fragment dropped."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = urlencode(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING_PARAMS.match(k)
        )
    )
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, query, ""))


_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The words of a text, case folded and in Unicode's compatibility form (NFKC), without
    punctuation or spacing: what text fingerprints and shingles are made of."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def words_fingerprint(text_words: Sequence[str]) -> str:
    """The fingerprint of a text from its :func:`words`; the words of two texts joined by a
    space are the two lists put end to end."""
    return hashlib.blake2b(" ".join(text_words).encode(), digest_size=16).hexdigest()


def text_fingerprint(text: str) -> str:
    """A digest of the text with case, punctuation and spacing removed: equal for exact copies."""
    return words_fingerprint(words(text))
