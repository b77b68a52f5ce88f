"""What ingest accepts: the submitted article, validated field by field, turned into an Article."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pactwatch.contracts import Article
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from pactwatch_ingest.normalise import article_id, check_published, clean_text

MAX_TEXT_CHARS = 2_000_000
"""Longer texts are accepted but cut here; the extractor records the cut."""


class ArticleIn(BaseModel):
    """An article as a sender submits it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str | None = Field(
        default=None,
        max_length=200,
        description="Optional; derived from the URL or text if absent.",
    )
    url: str | None = Field(default=None, max_length=4096, description="Where it was published.")
    source: str | None = Field(default=None, max_length=500, description="The outlet's name.")
    published: date | None = Field(
        default=None, description="Publication date: YYYY-MM-DD or an ISO 8601 timestamp."
    )
    title: str = Field(default="", max_length=2000, description="Headline.")
    text: str = Field(min_length=1, description="Body text; paragraphs separated by blank lines.")

    @field_validator("published", mode="before")
    @classmethod
    def _date_of_timestamp(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) > 10 and value[10] in "T ":
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
            except ValueError:
                return value
        return value

    @field_validator("url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s) URL")
        return value or None

    @field_validator("published")
    @classmethod
    def _plausible_year(cls, value: date | None) -> date | None:
        if value is not None and value.year < 1900:
            raise ValueError("year before 1900 is not a news publication date")
        return value


_one = TypeAdapter(ArticleIn)


def to_article(submitted: ArticleIn, today: date | None = None) -> Article:
    """Normalise a submitted article: clean text, deterministic id, checked date."""
    text = clean_text(submitted.text)
    notes: list[str] = []
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        notes.append(f"text cut to {MAX_TEXT_CHARS} characters")
    published, why = check_published(submitted.published, today or datetime.now(UTC).date())
    if why:
        notes.append(why)
    return Article(
        id=submitted.id or article_id(submitted.url, text),
        url=submitted.url,
        source=submitted.source,
        published=published,
        title=clean_text(submitted.title),
        text=text,
        notes=tuple(notes),
    )


def validate_items(payload: Any) -> tuple[list[tuple[int, ArticleIn]], list[dict[str, Any]]]:
    """Validate one article or a list of them, each on its own: the good ones go through.

    Returns the valid items with their index and, for each invalid one, its index and the
    errors naming the field.
    """
    items = payload if isinstance(payload, list) else [payload]
    good: list[tuple[int, ArticleIn]] = []
    bad: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            good.append((index, _one.validate_python(item)))
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
