"""Publication dates: read from any source's format, never guessed; doubtful dates are unknown
with a reason."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pactwatch_ingest.dating import parse_published, read_date

TODAY = date(2024, 5, 10)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2021-10-27", date(2021, 10, 27)),
        ("2021-10-27T23:30:00-05:00", date(2021, 10, 27)),  # the publisher's own calendar day
        ("2021-10-27T01:00:00Z", date(2021, 10, 27)),
        ("2021-10-27 08:15:00", date(2021, 10, 27)),
        ("Wed, 27 Oct 2021 10:00:00 +0400", date(2021, 10, 27)),  # RSS (RFC 2822)
        ("27 Oct 2021 10:00:00 GMT", date(2021, 10, 27)),
        ("27 October 2021", date(2021, 10, 27)),
        ("October 27, 2021", date(2021, 10, 27)),
        ("Oct 27, 2021 11:05 AM", date(2021, 10, 27)),
        ("27.10.2021", date(2021, 10, 27)),  # day 27 cannot be a month: not ambiguous
        ("10/27/2021", date(2021, 10, 27)),
        ("27 октября 2021", date(2021, 10, 27)),  # dateparser reads other languages
        ("  2024-05-11  ", date(2024, 5, 11)),  # tomorrow in UTC is today east of it
    ],
)
def test_dates_in_the_formats_sources_use(raw: str, expected: date) -> None:
    assert parse_published(raw, TODAY).value == expected
    assert parse_published(raw, TODAY).note is None


@pytest.mark.parametrize(
    ("raw", "problem", "words"),
    [
        ("2024-05-12", "future", "in the future"),
        ("2099-01-01T00:00:00Z", "future", "in the future"),
        ("03/04/2021", "ambiguous", "ambiguous"),
        ("1.2.2021", "ambiguous", "ambiguous"),
        ("yesterday", "unparseable", "could not be read"),
        ("3 days ago", "unparseable", "could not be read"),
        ("October 2021", "unparseable", "could not be read"),  # no day: not a date
        ("2021", "unparseable", "could not be read"),
        ("soon", "unparseable", "could not be read"),
        ("2021-02-30", "unparseable", "could not be read"),
        ("0001-01-01", "implausible", "before 1900"),
        ("1850-06-01", "implausible", "before 1900"),
    ],
)
def test_doubtful_dates_are_unknown_with_a_reason(raw: str, problem: str, words: str) -> None:
    read = parse_published(raw, TODAY, origin="feed entry")
    assert read.value is None
    assert read.problem == problem
    assert read.note is not None
    assert words in read.note
    assert "(feed entry)" in read.note
    assert read.note.endswith("recorded as unknown")


def test_no_date_is_no_problem() -> None:
    for raw in (None, "", "   "):
        assert parse_published(raw, TODAY) == parse_published(None, TODAY)
        assert parse_published(raw, TODAY).note is None


def test_date_objects_are_checked_too() -> None:
    assert parse_published(date(2024, 1, 2), TODAY).value == date(2024, 1, 2)
    assert parse_published(datetime(2030, 1, 2, 3, 4), TODAY).problem == "future"


def test_read_date_never_raises_on_junk() -> None:
    for junk in ("", "\x00", "9" * 40, "2021-13-45T99:99", "Mon, 99 Foo 2021 10:00:00"):
        assert read_date(junk) is None
