"""Resolving the dates news prose gives ("on Tuesday", "June 15", "last November") against the
article's own date. Pure functions; deterministic.

A resolved date is either a full ISO date or a year alone: when only the month or the year is
known, the year is all that can honestly be said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from pactwatch.contracts import FRESH_DAYS

MONTHS = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
WEEKDAYS = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?P<weekday>" + "|".join(WEEKDAYS) + r")"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:1[89]|20)\d\d)"

_PATTERNS = [
    ("wmd", re.compile(rf"\b{_WEEKDAY},?\s+{_MONTH}\s+{_DAY}\b(?!\s*,?\s*(?:19|20)\d\d)", re.I)),
    ("mdy", re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.I)),
    ("dmy", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.I)),
    ("iso", re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>\d\d)-(?P<day>\d\d)\b")),
    ("md", re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?!\s*,?\s*(?:19|20)\d\d)", re.I)),
    ("dm", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}\b(?!\s*,?\s*(?:19|20)\d\d)", re.I)),
    ("my", re.compile(rf"\b{_MONTH}\s+(?:of\s+)?{_YEAR}\b", re.I)),
    ("last_month", re.compile(rf"\blast\s+{_MONTH}\b", re.I)),
    ("in_month", re.compile(rf"\b(?:in|since|until)\s+(?:early\s+|late\s+|mid-)?{_MONTH}\b", re.I)),
    (
        "weekday",
        re.compile(
            rf"\b(?:(?P<wprefix>on|last|this|next)\s+)?{_WEEKDAY}\b"
            r"(?:\s+(?P<wweek>last|next)\s+week\b)?",
            re.I,
        ),
    ),
    (
        "years_ago",
        re.compile(
            r"\b(?P<n>\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
            r"fifteen|twenty|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
            r"(?:-(?:one|two|three|four|five|six|seven|eight|nine))?|a hundred)\s+years\s+ago"
            r"(?P<today>\s+(?:today|this week|this month))?\b",
            re.I,
        ),
    ),
    ("yesterday", re.compile(r"\byesterday\b", re.I)),
    ("today", re.compile(r"\b(?:today|earlier today|this morning|this afternoon)\b", re.I)),
    ("last_year", re.compile(r"\blast\s+year\b", re.I)),
    ("this_year", re.compile(r"\b(?:this|earlier this)\s+year\b", re.I)),
    ("last_period", re.compile(r"\blast\s+(?:month|week)\b", re.I)),
    (
        "year",
        re.compile(
            rf"\b(?:in|of|since|from|until|signed|dated)\s+(?:late\s+|early\s+|mid-)?{_YEAR}\b",
            re.I,
        ),
    ),
    ("bare_year", re.compile(rf"(?<![\d-]){_YEAR}(?![\d-])")),
]


@dataclass(frozen=True)
class Found:
    """A date expression found in a text, resolved."""

    value: str
    """ISO date (YYYY-MM-DD) or year (YYYY)."""
    start: int
    end: int
    exact: bool
    """True when the day is known."""
    before: bool = False
    """Only the month is known, and all of it lies before the reference week."""

    def as_date(self) -> date:
        return date.fromisoformat(self.value) if self.exact else date(int(self.value), 7, 1)


def _month_before(text: str, month: int, year: int, reference: date) -> bool:
    """Whether a month-only date ("in mid-March") certainly lies before the reference week."""
    low = text.lower()
    day, margin = 15, 14
    if "early" in low:
        day, margin = 5, FRESH_DAYS
    elif "mid" in low:
        day, margin = 15, FRESH_DAYS
    elif "late" in low:
        day, margin = 25, FRESH_DAYS
    approx = _safe(year, month, day)
    return approx is not None and (reference - approx).days > margin


_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "a hundred": 100,
}  # fmt: skip


def _number_words(text: str) -> int | None:
    """'45', 'forty-five', 'twenty' as a number."""
    text = text.lower()
    if text.isdigit():
        return int(text)
    total = 0
    for part in text.split("-"):
        if part not in _UNITS:
            return None
        total += _UNITS[part]
    return total


def _safe(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month(text: str) -> int:
    return MONTHS[text.lower().rstrip(".")]


def resolve(text: str, reference: date, *, future: bool = False) -> list[Found]:
    """Every date expression in ``text``, resolved against ``reference`` (the article's date).

    Weekdays and day-months without a year are taken as the latest such day on or before the
    reference (news reports what happened), unless ``future`` (a plan: the next such day).
    """
    found: list[Found] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if not free(m.start(), m.end()):
                continue
            value = _resolve_one(kind, m, reference, future)
            if value is None:
                continue
            taken.append((m.start(), m.end()))
            before = False
            if kind in ("in_month", "last_month", "my") and not future:
                before = _month_before(m.group(0), _month(m.group("month")), int(value), reference)
            found.append(Found(value, m.start(), m.end(), len(value) == 10, before))
    found.sort(key=lambda f: f.start)
    return found


def _resolve_one(kind: str, m: re.Match[str], ref: date, future: bool) -> str | None:
    g = m.groupdict()
    if kind in ("mdy", "dmy"):
        d = _safe(int(g["year"]), _month(g["month"]), int(g["day"]))
        return d.isoformat() if d else None
    if kind == "iso":
        d = _safe(int(g["year"]), int(g["month"]), int(g["day"]))
        return d.isoformat() if d else None
    if kind in ("md", "dm", "wmd"):
        month, day = _month(g["month"]), int(g["day"])
        if g["month"].lower() == "may" and kind == "dm" and not re.match(r"\d", m.group(0)):
            return None
        d = _safe(ref.year, month, day)
        if d is None:
            return None
        if not future and d > ref + timedelta(days=7):
            d = _safe(ref.year - 1, month, day)
        elif future and d < ref - timedelta(days=7):
            d = _safe(ref.year + 1, month, day)
        return d.isoformat() if d else None
    if kind == "my":
        return g["year"]
    if kind == "in_month":
        month = _month(g["month"])
        return str(ref.year if month <= ref.month or future else ref.year - 1)
    if kind == "last_month":
        month = _month(g["month"])
        return str(ref.year if month < ref.month else ref.year - 1)
    if kind == "weekday":
        if g["weekday"].lower() == "may":
            return None
        target = WEEKDAYS[g["weekday"].lower()]
        prefix, week = (g["wprefix"] or "").lower(), (g["wweek"] or "").lower()
        if week:
            # "Thursday last week", "Monday next week": that day of the week before or after
            monday = ref - timedelta(days=ref.weekday())
            shift = -7 if week == "last" else 7
            return (monday + timedelta(days=shift + target)).isoformat()
        if prefix == "last":
            # "last Thursday", said on a Thursday, is a week ago, never today
            return (ref - timedelta(days=(ref.weekday() - target - 1) % 7 + 1)).isoformat()
        if prefix == "next":
            return (ref + timedelta(days=(target - ref.weekday() - 1) % 7 + 1)).isoformat()
        if future:
            delta = (target - ref.weekday()) % 7
            return (ref + timedelta(days=delta)).isoformat()
        delta = (ref.weekday() - target) % 7
        return (ref - timedelta(days=delta)).isoformat()
    if kind == "years_ago":
        years = _number_words(g["n"])
        if years is None:
            return None
        if g["today"] and "today" in g["today"].lower():
            d = _safe(ref.year - years, ref.month, ref.day)
            return d.isoformat() if d else None
        return str(ref.year - years)
    if kind == "yesterday":
        return (ref - timedelta(days=1)).isoformat()
    if kind == "today":
        return ref.isoformat()
    if kind == "last_year":
        return str(ref.year - 1)
    if kind == "this_year":
        return str(ref.year)
    if kind == "last_period":
        return str((ref - timedelta(days=20)).year)
    if kind in ("year", "bare_year"):
        year = int(g["year"])
        return str(year) if 1800 <= year <= ref.year + 10 else None
    return None


_DATELINE = re.compile(rf"^[A-Z][A-Z .'\-]+(?:,\s*[A-Za-z .'\-]+)?,?\s+{_MONTH}\s+{_DAY}\b", re.I)


def dateline_date(text: str, published: date | None) -> date | None:
    """The date of a wire dateline ("SHUSHA, Azerbaijan, June 15 (Agency) - ...")."""
    head = text[:160]
    m = _DATELINE.match(head)
    if not m:
        return None
    ref = published or date.today()
    d = _safe(ref.year, _month(m.group("month")), int(m.group("day")))
    if d and d > ref + timedelta(days=2):
        d = _safe(ref.year - 1, d.month, d.day)
    return d
