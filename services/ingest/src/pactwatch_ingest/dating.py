"""Publication dates from whatever a source gives: payload, feed entry, page metadata, header.

The publication date decides whether a signing is reported as it happens or after the fact,
so a wrong date is worse than none: a date that cannot be read, that is ambiguous
(03/04/2021), implausible (before 1900) or in the future is recorded as unknown, and the
reason goes into the article's notes. Pure functions: no Redis, no HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

Problem = Literal["unparseable", "ambiguous", "implausible", "future"]

EARLIEST_YEAR = 1900
FUTURE_TOLERANCE = timedelta(days=1)
"""A publisher east of UTC is already on tomorrow's date; one day ahead is not the future."""

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][0-9:.,]+(?:Z|[+-]\d{2}:?\d{2})?)?", re.IGNORECASE)
_NUMERIC = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})")
_RFC2822 = re.compile(r"(?:[a-z]{3},\s*)?\d{1,2}\s+[a-z]{3}\s+\d{2,4}\s+\d", re.IGNORECASE)

# dateparser guesses too eagerly for a news date: "yesterday", "October 2021" and bare
# years are not accepted; a day, a month and a year must all be written.
_DATEPARSER_SETTINGS: dict[str, Any] = {
    "STRICT_PARSING": True,
    "REQUIRE_PARTS": ["day", "month", "year"],
    "PARSERS": ["timestamp", "custom-formats", "absolute-time"],
    "RETURN_AS_TIMEZONE_AWARE": False,
}


@dataclass(frozen=True)
class PublishedDate:
    """A publication date, or None with the problem and a note saying why it is unknown."""

    value: date | None
    problem: Problem | None = None
    note: str | None = None


def parse_published(raw: str | date | None, today: date, *, origin: str = "") -> PublishedDate:
    """Read a publication date; never guess: anything doubtful is unknown with a reason.

    ``origin`` names where the date came from (``"feed entry"``) for the note. A timestamp
    keeps the publisher's own calendar date (its offset is not converted to UTC).
    """
    where = f" ({origin})" if origin else ""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return PublishedDate(None)
    if isinstance(raw, datetime):
        value, text = raw.date(), raw.isoformat()
    elif isinstance(raw, date):
        value, text = raw, raw.isoformat()
    else:
        text = " ".join(raw.split())
        ambiguous = _ambiguous(text)
        if ambiguous:
            return PublishedDate(
                None,
                "ambiguous",
                f"published date {text!r}{where} is ambiguous ({ambiguous}); recorded as unknown",
            )
        read = read_date(text)
        if read is None:
            return PublishedDate(
                None,
                "unparseable",
                f"published date {text!r}{where} could not be read; recorded as unknown",
            )
        value = read
    if value.year < EARLIEST_YEAR:
        return PublishedDate(
            None,
            "implausible",
            f"published date {text!r}{where} is before {EARLIEST_YEAR}; recorded as unknown",
        )
    if value > today + FUTURE_TOLERANCE:
        return PublishedDate(
            None,
            "future",
            f"published date {value.isoformat()}{where} is in the future; recorded as unknown",
        )
    return PublishedDate(value)


def read_date(text: str) -> date | None:
    """The calendar date written in ``text`` (ISO 8601, RFC 2822, or a written date with day,
    month and year in any language dateparser knows), else None."""
    if _ISO.fullmatch(text):
        try:
            return datetime.fromisoformat(text.upper().replace("Z", "+00:00")).date()
        except ValueError:
            try:
                return date.fromisoformat(text[:10])
            except ValueError:
                return None
    if _RFC2822.match(text):
        try:
            return parsedate_to_datetime(text).date()
        except (TypeError, ValueError):
            pass
    import dateparser  # loads its language data on first use: keep it off import paths

    try:
        parsed = dateparser.parse(text, settings=_DATEPARSER_SETTINGS)
    except (ValueError, OverflowError, TypeError):
        return None
    return parsed.date() if parsed is not None else None


def warm_up() -> None:
    """Load dateparser's data now rather than on the first article that needs it."""
    read_date("27 October 2021")


def _ambiguous(text: str) -> str | None:
    match = _NUMERIC.fullmatch(text)
    if not match:
        return None
    first, second = int(match.group(1)), int(match.group(2))
    if first != second and first <= 12 and second <= 12:
        return "day and month could be either way round"
    return None
