"""What a caller may ask, validated once for every backend; cursors that only we can read back.

Every problem with a query is a :class:`QueryError` whose message names the parameter and what
is wrong with it: the API answers it with 400, never with a database error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, get_args

import orjson
from pactwatch.contracts import Kind, Status
from pactwatch.countries import is_country

from pactwatch_indexer.searchsyntax import Node, QueryError, parse

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
DEFAULT_PAIRS = 500
MAX_PAIRS = 5000
"""The network view draws at most this many country pairs: a picture, not a table."""
MAX_FILTER_VALUES = 10
SEARCH_WINDOW = 10_000
"""A search ranks at most this many matches, the most recently indexed: scoring every match
of a word found in most articles would take time proportional to the whole index."""
KINDS: tuple[str, ...] = get_args(Kind)
STATUSES: tuple[str, ...] = get_args(Status)


def country_codes(values: Sequence[str], parameter: str) -> tuple[str, ...]:
    """ISO 3166-1 alpha-3 codes, upper-cased and deduplicated; anything else is a QueryError."""
    if len(values) > MAX_FILTER_VALUES:
        raise QueryError(f"{parameter}: at most {MAX_FILTER_VALUES} values")
    codes: list[str] = []
    for value in values:
        code = value.strip().upper()
        if len(code) != 3 or not code.isalpha() or not is_country(code):
            raise QueryError(f"{parameter}: {value!r} is not an ISO 3166-1 alpha-3 country code")
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def date_range(start: date | None, end: date | None) -> tuple[date | None, date | None]:
    """The range as given; an empty one (from after to) is a QueryError."""
    if start and end and start > end:
        raise QueryError(f"from ({start.isoformat()}) is after to ({end.isoformat()})")
    return start, end


def check_limit(limit: int, most: int = MAX_LIMIT) -> int:
    """Page sizes are bounded, whoever asks (the API checks too, for its schema)."""
    if not 1 <= limit <= most:
        raise QueryError(f"limit: must be between 1 and {most}, not {limit}")
    return limit


def check_kind_status(kind: str | None, status: str | None) -> None:
    """A QueryError unless ``kind`` and ``status`` are absent or known values."""
    if kind is not None and kind not in KINDS:
        raise QueryError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    if status is not None and status not in STATUSES:
        raise QueryError(f"status: {status!r} is not one of {', '.join(STATUSES)}")


# --- cursors ---------------------------------------------------------------------------------


def _fingerprint(kind: str, filters: Sequence[Any]) -> str:
    raw = orjson.dumps([kind, *filters], default=str)
    return hashlib.blake2b(raw, digest_size=6).hexdigest()


def encode_cursor(fingerprint: str, position: Sequence[Any]) -> str:
    """An opaque token: the position after the last row, bound to the query that produced it."""
    raw = orjson.dumps({"f": fingerprint, "p": list(position)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str, shape: Sequence[type]) -> list[Any]:
    """The position in ``cursor``; a QueryError when it is damaged or belongs to another query."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
        position = data["p"]
        owner = data["f"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise QueryError("cursor: not a cursor this API returned") from exc
    if owner != fingerprint:
        raise QueryError("cursor: it belongs to a different query; repeat the query that gave it")
    if not isinstance(position, list) or len(position) != len(shape):
        raise QueryError("cursor: not a cursor this API returned")
    for value, expected in zip(position, shape, strict=True):
        acceptable = (int, float) if expected is float else expected
        if not isinstance(value, acceptable) or isinstance(value, bool) or not _in_range(value):
            raise QueryError("cursor: not a cursor this API returned")
    return position


def _in_range(value: object) -> bool:
    """Whether a cursor value is one the databases can compare (a hand-made cursor may hold
    a number past 64 bits or a float's range, or a NUL)."""
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) < 1e37  # PostgreSQL real: about 3.4e38
    return isinstance(value, str) and len(value) <= 1000 and "\x00" not in value


# --- search ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchAfter:
    """Where the previous page ended: its last hit's score and sequence number, and the
    oldest article the first page's ranking window took in (so that every page ranks the
    same candidates)."""

    score: float
    seq: int
    floor: int


@dataclass(frozen=True)
class SearchQuery:
    """A validated full-text search."""

    text: str
    expression: Node
    countries: tuple[str, ...] = ()
    source: str | None = None
    published_from: date | None = None
    published_to: date | None = None
    duplicates: bool = True
    limit: int = DEFAULT_LIMIT
    after: SearchAfter | None = None

    @classmethod
    def build(
        cls,
        q: str,
        *,
        countries: Sequence[str] = (),
        source: str | None = None,
        published_from: date | None = None,
        published_to: date | None = None,
        duplicates: bool = True,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> SearchQuery:
        """Validate every parameter; raise QueryError naming the first one that is wrong."""
        try:
            expression = parse(q)
        except QueryError as exc:
            raise QueryError(f"q: {exc}") from None
        start, end = date_range(published_from, published_to)
        query = cls(
            text=q,
            expression=expression,
            countries=country_codes(countries, "country"),
            source=(source or "").strip() or None,
            published_from=start,
            published_to=end,
            duplicates=duplicates,
            limit=check_limit(limit),
        )
        if cursor:
            score, seq, floor = decode_cursor(cursor, query.fingerprint(), (float, int, int))
            query = cls(**{**query.__dict__, "after": SearchAfter(float(score), seq, floor)})
        return query

    def fingerprint(self) -> str:
        return _fingerprint(
            "search",
            [
                self.text,
                self.countries,
                self.source,
                self.published_from,
                self.published_to,
                self.duplicates,
            ],
        )

    def cursor_after(self, score: float, seq: int, floor: int) -> str:
        return encode_cursor(self.fingerprint(), [score, seq, floor])


# --- agreements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementsAfter:
    """Where the previous page ended, in newest-first order."""

    sort_date: str
    first_seen_at: datetime
    key: str


@dataclass(frozen=True)
class AgreementQuery:
    """A validated listing of the registry, newest first."""

    parties: tuple[str, ...] = ()
    kind: str | None = None
    status: str | None = None
    signed_from: date | None = None
    signed_to: date | None = None
    limit: int = DEFAULT_LIMIT
    after: AgreementsAfter | None = None

    @classmethod
    def build(
        cls,
        *,
        parties: Sequence[str] = (),
        kind: str | None = None,
        status: str | None = None,
        signed_from: date | None = None,
        signed_to: date | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> AgreementQuery:
        """Validate every parameter; raise QueryError naming the first one that is wrong."""
        check_kind_status(kind, status)
        start, end = date_range(signed_from, signed_to)
        query = cls(
            parties=country_codes(parties, "party"),
            kind=kind,
            status=status,
            signed_from=start,
            signed_to=end,
            limit=check_limit(limit),
        )
        if cursor:
            sort_date, seen, key = decode_cursor(cursor, query.fingerprint(), (str, str, str))
            try:
                moment = datetime.fromisoformat(seen)
                moment.astimezone(UTC)  # "0001-01-01T00:00:00+01:00": before year 1 in UTC
            except (ValueError, OverflowError, OSError) as exc:
                raise QueryError("cursor: not a cursor this API returned") from exc
            query = cls(**{**query.__dict__, "after": AgreementsAfter(sort_date, moment, key)})
        return query

    def fingerprint(self) -> str:
        return _fingerprint(
            "agreements",
            [self.parties, self.kind, self.status, self.signed_from, self.signed_to],
        )

    def cursor_after(self, sort_date: str, first_seen_at: datetime, key: str) -> str:
        return encode_cursor(self.fingerprint(), [sort_date, first_seen_at.isoformat(), key])


# --- network ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkQuery:
    """A validated request for the country network: which agreements count, how many pairs.

    The filters mean what they mean for :class:`AgreementQuery`, so that an edge's count is
    the length of the listing ``/agreements?party=A&party=B`` with the same filters.
    """

    parties: tuple[str, ...] = ()
    kind: str | None = None
    status: str | None = None
    signed_from: date | None = None
    signed_to: date | None = None
    limit: int = DEFAULT_PAIRS

    @classmethod
    def build(
        cls,
        *,
        parties: Sequence[str] = (),
        kind: str | None = None,
        status: str | None = None,
        signed_from: date | None = None,
        signed_to: date | None = None,
        limit: int = DEFAULT_PAIRS,
    ) -> NetworkQuery:
        """Validate every parameter; raise QueryError naming the first one that is wrong."""
        check_kind_status(kind, status)
        start, end = date_range(signed_from, signed_to)
        return cls(
            parties=country_codes(parties, "party"),
            kind=kind,
            status=status,
            signed_from=start,
            signed_to=end,
            limit=check_limit(limit, MAX_PAIRS),
        )
