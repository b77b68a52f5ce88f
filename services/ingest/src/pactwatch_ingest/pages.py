"""The article in a web page: body text, title, date and outlet, extracted with trafilatura.

Pure functions: no Redis, no HTTP. Extraction is CPU work (tens of milliseconds for a
typical page): callers on the event loop run it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Only the page's own metadata (meta tags, JSON-LD, <time>) dates an article: trafilatura's
# extensive search would take any date printed in the page, which is a guess.
_DATE_PARAMS: dict[str, Any] = {"extensive_search": False, "original_date": True}


@dataclass(frozen=True)
class Page:
    """What a page says about its article. ``text`` has one blank line between paragraphs."""

    url: str | None
    title: str
    text: str
    published: str | None
    source: str | None


def extract_page(markup: str | bytes, url: str | None = None) -> Page | None:
    """The article of an HTML page, or None when the page holds no article text.

    ``url`` is where the page was found; without it, the page's canonical URL (if it
    declares one) is used. Bytes are decoded by trafilatura (meta charset, then detection).
    """
    if not markup:
        return None
    import trafilatura  # heavy import (lxml, htmldate): only where pages are handled

    document = trafilatura.bare_extraction(
        markup,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_links=False,
        date_extraction_params=_DATE_PARAMS,
    )
    if document is None:
        return None
    text = getattr(document, "text", None) or ""
    title = (getattr(document, "title", None) or "").strip()
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    # trafilatura repeats the headline as the first line of the body
    if lines and title and lines[0] == title:
        lines = lines[1:]
    if not lines:
        return None
    return Page(
        url=url or getattr(document, "url", None) or None,
        title=title,
        text="\n\n".join(lines),
        published=getattr(document, "date", None) or None,
        source=getattr(document, "sitename", None) or None,
    )


def warm_up() -> None:
    """Import trafilatura and its models now rather than on the first page."""
    extract_page("<html><body><article><p>warm up</p></article></body></html>")
