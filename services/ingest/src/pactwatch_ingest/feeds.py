"""RSS 2.0 and Atom feeds: what a feed says (with feedparser), subscription ids and intervals.

Pure functions: no Redis, no HTTP.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from pactwatch.identity import canonical_url

from pactwatch_ingest.cleaning import clean_text, html_to_text, looks_like_html

_DURATION = re.compile(r"(\d+)\s*([smhd])", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class InvalidFeedError(ValueError):
    """The body is not an RSS or Atom feed we can read."""


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed. ``key`` identifies it across polls (guid/id, else link, else a
    digest of its title and summary)."""

    key: str
    link: str | None
    title: str
    published: str | None
    content: str
    summary: str


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's title and entries in feed order, and the parser's complaint when the XML was
    not well-formed but entries could still be read."""

    title: str | None
    entries: tuple[FeedEntry, ...]
    warning: str | None = None


def parse_feed(
    content: bytes, content_type: str | None = None, url: str | None = None
) -> ParsedFeed:
    """Read an RSS 2.0 / RSS 1.0 / Atom document; relative links resolve against ``url``.
    Raises :class:`InvalidFeedError` when it holds no feed (invalid XML with nothing
    readable, an HTML page, an empty body)."""
    import feedparser  # only the poller needs it

    if not content.strip():
        raise InvalidFeedError("empty response")
    headers = {"content-type": content_type} if content_type else {}
    # feedparser refuses external entities itself; never let it fetch anything: bytes only
    parsed: Any = feedparser.parse(content, response_headers=headers, sanitize_html=True)
    problem = _bozo(parsed)
    if not parsed.entries and (problem or not parsed.get("version")):
        raise InvalidFeedError(problem or "not an RSS or Atom feed")
    entries = tuple(_entry(e, url) for e in parsed.entries)
    title = clean_text(parsed.feed.get("title") or "") or None
    return ParsedFeed(title, entries, f"not well-formed XML: {problem}" if problem else None)


def feed_id(url: str) -> str:
    """Deterministic subscription id: the same feed URL (canonically) is one subscription."""
    return "f" + hashlib.blake2b(canonical_url(url).encode(), digest_size=6).hexdigest()


def parse_every(value: str | int | float) -> int:
    """Seconds in an interval written ``90``, ``90s``, ``5m``, ``1h30m`` or ``1d``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = int(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        if text.isdigit():
            seconds = int(text)
        else:
            parts = _DURATION.findall(text)
            if not parts or "".join(f"{n}{u}" for n, u in parts) != text:
                raise ValueError(f"{value!r} is not an interval like 90s, 5m, 1h30m or 1d")
            seconds = sum(int(n) * _UNITS[u.lower()] for n, u in parts)
    if seconds <= 0:
        raise ValueError("an interval must be positive")
    if seconds > MAX_EVERY_S:
        raise ValueError(f"an interval is at most {format_every(MAX_EVERY_S)}")
    return seconds


MAX_EVERY_S = 365 * 86400
"""A year: a feed polled less often than that is not being watched (and dates beyond the
calendar's end would follow)."""


def format_every(seconds: int) -> str:
    """``300`` → ``5m``; the inverse of :func:`parse_every` for display."""
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out) or "0s"


def _bozo(parsed: Any) -> str | None:
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    # an encoding declared one way and used another is recovered by feedparser
    if type(exc).__name__ in {"CharacterEncodingOverride", "NonXMLContentType"}:
        return None
    return str(exc) or type(exc).__name__


def _entry(raw: Any, base: str | None) -> FeedEntry:
    link = (raw.get("link") or "").strip() or None
    if link and not link.lower().startswith(("http://", "https://")):
        # feedparser takes an RSS guid for the link; a guid that is no URL is no link, and
        # resolving it against the feed's URL would invent one. A relative <link> is real.
        link = urljoin(base, link) if base and not raw.get("guidislink") else None
        if link and not link.lower().startswith(("http://", "https://")):
            link = None
    title = _plain(raw.get("title") or "")
    summary = raw.get("summary") or ""
    contents = [c.get("value") or "" for c in raw.get("content") or []]
    content = max(contents, key=len) if contents else ""
    published = raw.get("published") or raw.get("updated") or None
    key = (raw.get("id") or "").strip() or link
    if not key:
        digest = hashlib.blake2b(f"{title}\n{summary}".encode(), digest_size=12).hexdigest()
        key = f"digest:{digest}"
    return FeedEntry(
        key=key[:1000],
        link=link,
        title=title,
        published=published.strip() if isinstance(published, str) else None,
        content=content,
        summary=summary,
    )


def _plain(text: str) -> str:
    return clean_text(html_to_text(text) if looks_like_html(text) else text)
