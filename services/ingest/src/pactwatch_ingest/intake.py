"""What ingest accepts: the submitted article, validated field by field, turned into an Article.

Every source (POST /articles, POST /articles/html, feed entries) ends here, so an article
is normalised the same way whoever sent it. Pure functions: no Redis, no HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from pactwatch.contracts import Article
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from pactwatch_ingest.cleaning import clean_body, clean_text, html_to_text, looks_like_html
from pactwatch_ingest.dating import parse_published
from pactwatch_ingest.language import detect_language
from pactwatch_ingest.normalise import article_id, split_seed_header
from pactwatch_ingest.pages import Page

MAX_TEXT_CHARS = 2_000_000
"""Longer texts are accepted but cut here; the extractor records the cut."""
MAX_TITLE_CHARS = 2000

T = TypeVar("T")


def http_url(value: str | None) -> str | None:
    """``value`` when it is an absolute http(s) URL (None when empty); ValueError otherwise."""
    if value and not value.lower().startswith(("http://", "https://")):
        raise ValueError("must be an absolute http(s) URL")
    return no_control_characters(value) or None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(value: str | None) -> str | None:
    """A name on one line: control characters (NUL, line breaks, tabs) become spaces, and
    runs of spaces one."""
    if value is None:
        return None
    return " ".join(_CONTROL.sub(" ", value).split()) or None


def no_control_characters(value: str | None) -> str | None:
    """``value`` unless it holds a control character (NUL, a line break...), which no id,
    URL or name has; ValueError then."""
    if value and (found := _CONTROL.search(value)):
        raise ValueError(f"must not contain control characters (found {found.group()!r})")
    return value


HttpUrl = Annotated[str | None, AfterValidator(http_url)]
"""An absolute http(s) URL without control characters, or None."""
OneLine = Annotated[str | None, AfterValidator(one_line)]
"""A name put on one line (control characters become spaces), or None."""
PrintableId = Annotated[str | None, AfterValidator(no_control_characters)]


class ArticleIn(BaseModel):
    """An article as a sender submits it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: PrintableId = Field(
        default=None,
        max_length=200,
        description="Optional; derived from the URL or text if absent.",
    )
    url: HttpUrl = Field(default=None, max_length=4096, description="Where it was published.")
    source: OneLine = Field(default=None, max_length=500, description="The outlet's name.")
    published: str | None = Field(
        default=None,
        max_length=100,
        description="Publication date: YYYY-MM-DD, an ISO 8601 or RFC 2822 timestamp, or a "
        "written date with day, month and year. One in the future, ambiguous (03/04/2021) or "
        "unreadable is accepted as unknown, with the reason in the article's notes.",
        examples=["2021-10-27"],
    )
    title: str = Field(default="", max_length=MAX_TITLE_CHARS, description="Headline.")
    text: str = Field(
        min_length=1,
        description="Body text; paragraphs separated by blank lines. HTML is stripped. A text "
        "in the seed's format (first line `date YYYY-MM-DD By Source`) gives the date and "
        "source when the fields are absent.",
    )

    @field_validator("published")
    @classmethod
    def _plausible_year(cls, value: str | None) -> str | None:
        read = parse_published(value, datetime.now(UTC).date())
        if read.problem == "implausible":
            raise ValueError("year before 1900 is not a news publication date")
        return value or None


class HtmlIn(BaseModel):
    """A web page as a sender submits it: the article is extracted from the HTML."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: HttpUrl = Field(
        default=None,
        max_length=4096,
        description="Where the page was published; if absent, the page's canonical URL.",
    )
    html: str = Field(min_length=1, description="The page's HTML.")
    source: OneLine = Field(
        default=None, max_length=500, description="The outlet's name; else the page's site name."
    )


class UnusableItemError(ValueError):
    """An item that validated but holds no article (empty after cleaning, no text in a page)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Candidate:
    """A validated item on its way to becoming an Article, with what its source noted."""

    index: int
    item: ArticleIn
    notes: tuple[str, ...] = ()
    origin: str = ""
    """Where ``item.published`` came from (``"feed entry"``), for the date's note."""


_one = TypeAdapter(ArticleIn)
_one_page = TypeAdapter(HtmlIn)


def to_article(
    submitted: ArticleIn,
    today: date | None = None,
    notes: Sequence[str] = (),
    origin: str = "",
) -> Article:
    """Normalise a submitted article: seed header read, text cleaned, deterministic id, date
    checked, language detected. Raises :class:`UnusableItemError` when no text is left."""
    today = today or datetime.now(UTC).date()
    found: list[str] = list(notes)
    text, source, published = submitted.text, submitted.source, submitted.published
    header = split_seed_header(text)
    if header is not None:
        text, source = header.body, source or header.source
        if published is None:
            published, origin = header.published, "seed header"
    cleaned = clean_body(text)
    text = cleaned.text
    found.extend(cleaned.notes)
    if not text:
        raise UnusableItemError(
            "text", "no article text left once markup and boilerplate are removed"
        )
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        found.append(f"text cut to {MAX_TEXT_CHARS} characters")
    date_read = parse_published(published, today, origin=origin)
    if date_read.note:
        found.append(date_read.note)
    title = submitted.title
    title = clean_text(html_to_text(title) if looks_like_html(title) else title)
    language = detect_language(f"{title}\n\n{text}")
    if language.note:
        found.append(language.note)
    return Article(
        id=submitted.id or article_id(submitted.url, text),
        url=submitted.url,
        source=source,
        published=date_read.value,
        title=title,
        text=text,
        language=language.code,
        notes=tuple(found),
    )


def build_candidate(
    index: int,
    *,
    url: str | None,
    source: str | None,
    published: str | None,
    title: str,
    text: str,
    notes: Sequence[str] = (),
    origin: str = "",
) -> Candidate:
    """A candidate from a page or a feed entry, validated like a submitted article. A date
    before 1900 (refused from a sender) is recorded as unknown here: the page still counts.
    Raises :class:`UnusableItemError` when the item cannot become an article."""
    found = list(notes)
    if published is not None:
        read = parse_published(published, datetime.now(UTC).date(), origin=origin)
        if read.problem == "implausible" and read.note:
            found.append(read.note)
            published = None
    try:
        item = ArticleIn(
            url=url,
            source=source[:500] if source else None,
            published=published[:100] if published else None,
            title=title[:MAX_TITLE_CHARS],
            text=text,
        )
    except ValidationError as exc:
        errors = describe(exc)
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise UnusableItemError(errors[0]["field"], problems) from None
    return Candidate(index, item, tuple(found), origin)


def page_candidate(
    index: int, page: Page, source: str | None, notes: Sequence[str] = ()
) -> Candidate:
    """A page's extracted article as a candidate."""
    return build_candidate(
        index,
        url=page.url,
        source=source or page.source,
        published=page.published,
        title=page.title,
        text=page.text,
        notes=notes,
        origin="page metadata",
    )


def validate_items(payload: Any) -> tuple[list[tuple[int, ArticleIn]], list[dict[str, Any]]]:
    """Validate one article or a list of them, each on its own: the good ones go through.

    Returns the valid items with their index and, for each invalid one, its index and the
    errors naming the field.
    """
    return _validate(_one, payload)


def validate_pages(payload: Any) -> tuple[list[tuple[int, HtmlIn]], list[dict[str, Any]]]:
    """:func:`validate_items` for pages (``{url, html, source}``)."""
    return _validate(_one_page, payload)


def _validate(
    adapter: TypeAdapter[T], payload: Any
) -> tuple[list[tuple[int, T]], list[dict[str, Any]]]:
    items = payload if isinstance(payload, list) else [payload]
    good: list[tuple[int, T]] = []
    bad: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            good.append((index, adapter.validate_python(item)))
        except ValidationError as exc:
            bad.append({"index": index, "errors": describe(exc)})
    return good, bad


def describe(exc: ValidationError) -> list[dict[str, Any]]:
    """Errors as {field, message}: what a person needs to fix the input."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or "(article)"
        out.append({"field": field, "message": err["msg"]})
    return out
