"""Article text as the extractor wants it: plain text, NFC, one blank line between paragraphs.

Senders paste HTML into ``text``, feeds carry HTML content, and pages drag in the lines that
surround every article on a site ("Share this article", cookie notices). Those lines would be
indexed and, worse, read by the extractor ("Related: X and Y sign ..."), so they go.
Pure functions: no Redis, no HTTP.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

_SPACING = r" \t\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff"
# runs of spacing other than one plain space (which needs no change): a text's every word
# gap matching made the substitution a quarter of ingest's time per article
_SPACES = re.compile(
    rf"[\t\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff][{_SPACING}]*| [{_SPACING}]+"
)
_BLANK_LINES = re.compile(r"\n\s*\n+")
_LIST_ITEM = re.compile(r"(?:[-*•–—]|\d{1,3}[.)]|[a-z][.)])\s")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Markup worth stripping: a known tag, a closing tag, or a character entity. A lone "<" in
# prose ("a < b") matches none of these.
_HTML_HINT = re.compile(
    r"<(?:p|br|div|span|a|em|strong|b|i|u|ul|ol|li|h[1-6]|blockquote|figure|figcaption|img|"
    r"table|tr|td|th|section|article|header|footer|nav|aside|script|style|iframe|hr)\b[^>]*>"
    r"|</[a-z][a-z0-9]*\s*>|<!--"
    r"|&(?:[a-z]{2,8}|#\d{2,7}|#x[0-9a-f]{2,6});",
    re.IGNORECASE,
)
_TAG = re.compile(r"<(?:[a-z/!?])", re.IGNORECASE)

_BLOCK_TAGS = frozenset(
    "address article aside blockquote dd div dl dt figcaption figure footer form h1 h2 h3 h4 "
    "h5 h6 header hr li main nav ol p pre section table tbody td tfoot th thead tr ul".split()
)
_SKIPPED_TAGS = frozenset("script style noscript template iframe svg head title".split())

BOILERPLATE_MAX_CHARS = 120
"""Only lines this short can be boilerplate: a real paragraph mentioning cookies stays."""

# The reviewed list. Each pattern must match a WHOLE line (after trimming); add a pattern
# only with a unit test showing the boilerplate it removes and a sentence it keeps.
_SOCIAL = (
    r"(?:social (?:media|networks?)|twitter|x|facebook|instagram|linkedin|telegram|youtube|"
    r"tiktok|whatsapp|threads|bluesky|mastodon|google news|vk)"
)
BOILERPLATE: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"follow us(?: on| at| in)?(?: our)? {_SOCIAL}(?:(?:,| and| &) {_SOCIAL})*.{{0,40}}",
        rf"(?:join|find|like) us on {_SOCIAL}.{{0,40}}",
        r"(?:please )?leave a (?:review|comment|reply)[.!]?",
        r"(?:subscribe|sign up)(?: now)?(?: for free)? (?:to|for) (?:our|the)"
        r"(?: free| daily| weekly)? (?:newsletters?|channel|updates|daily briefing).{0,40}",
        r"share (?:this|the) (?:article|story|post|page)(?: on .{1,40})?[.!:]?",
        rf"share (?:on|via) {_SOCIAL}|share (?:on|via) e-?mail",
        r"(?:print|e-?mail) this (?:article|story|page)",
        r"(?:also read|read also|read more|related(?: articles| stories| news)?|see also)\s*:.*",
        r"(?:read more|related (?:articles|stories|news))[.!]?",
        r"advertisement(?: - scroll to continue)?|sponsored content",
        r"(?:this (?:site|website)|we) uses? cookies\b.*",
        r"(?:accept|reject|manage)(?: all)? cookies|cookie (?:settings|policy|preferences)",
        r"©.{0,100}|(?:\(c\)|copyright)\s*©?\s*(?:19|20)\d\d\b.{0,80}",
        r".{0,80}\ball rights reserved\.?",
        r"(?:download|get) (?:our|the) (?:free )?app.{0,40}",
        r"(?:click|tap) here to (?:subscribe|read more|share|download).{0,40}",
        r"please enable javascript.{0,60}|loading\.\.\.",
    )
)


@dataclass(frozen=True)
class CleanText:
    """Cleaned text and what cleaning changed (for Article.notes)."""

    text: str
    notes: tuple[str, ...] = ()


def clean_text(text: str) -> str:
    """NFC, no control characters, single spaces, paragraphs separated by one blank line."""
    return _paragraphs(_lines(text))


def clean_body(text: str) -> CleanText:
    """An article body: HTML stripped (when it has any), boilerplate lines removed, then
    :func:`clean_text`. The notes say what was removed."""
    notes: list[str] = []
    if looks_like_html(text):
        text = html_to_text(text)
        notes.append("HTML markup removed from the text")
    lines = _lines(text)
    kept = [line for line in lines if not is_boilerplate(line)]
    removed = sum(1 for line in lines if line.strip()) - sum(1 for line in kept if line.strip())
    if removed:
        notes.append(f"{removed} boilerplate line{'s' if removed > 1 else ''} removed")
    return CleanText(_paragraphs(kept), tuple(notes))


def is_boilerplate(line: str) -> bool:
    """True when the whole (short) line is one of the reviewed boilerplate patterns."""
    line = line.strip().strip("|•·-–—*»› ").strip()
    if not line or len(line) > BOILERPLATE_MAX_CHARS:
        return False
    return any(pattern.fullmatch(line) for pattern in BOILERPLATE)


def looks_like_html(text: str) -> bool:
    """True when the text carries tags or entities, not when it merely contains "<"."""
    return _HTML_HINT.search(text) is not None


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment or page: blocks become paragraphs, ``<br>`` a line
    break, scripts and styles are dropped, entities are decoded."""
    if not _TAG.search(markup):
        return html.unescape(markup)
    parser = _TextCollector()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _lines(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n")
    return _CONTROL.sub("", text).split("\n")


def _paragraphs(lines: list[str]) -> str:
    blocks = _BLANK_LINES.split("\n".join(lines))
    paragraphs = (_reflow(block) for block in blocks)
    return "\n\n".join(p for p in paragraphs if p)


def _reflow(block: str) -> str:
    # a block of consecutive lines is one paragraph (hard-wrapped text is re-flowed), except
    # that a list item keeps its own line: "- an agreement on ..." stays one item per line
    out = ""
    for raw in block.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        if not line:
            continue
        if not out:
            out = line
        elif _LIST_ITEM.match(line):
            out += "\n" + line
        else:
            out += " " + line
    return out
