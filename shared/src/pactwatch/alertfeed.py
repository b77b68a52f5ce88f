"""Following the durable alert stream: the filter every subscriber uses, and the SSE endpoint.

The filter is one model for all channels that filter (server-sent events, ``pactwatch alerts
tail``, webhooks), so that ``party=AZE`` means the same thing everywhere. It reads an alert as
a JSON mapping, not as :class:`~pactwatch.contracts.Alert`: a reader must keep working when a
newer notifier adds optional fields to the alert.

:func:`alert_feed_router` is a FastAPI router factory so that any HTTP service (the notifier,
the indexer's dashboard) can mount the same ``GET /alerts/stream``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Annotated, Any, get_args

import orjson
from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from redis.asyncio import Redis

from pactwatch.contracts import ALERTS_STREAM, ALERTS_STREAM_FIELD, Kind
from pactwatch.countries import is_country

KINDS: tuple[str, ...] = get_args(Kind)

_STREAM_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")


def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` for keyword matching."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()


def parse_codes(values: str | Sequence[str] | None) -> tuple[str, ...]:
    """Country codes from ``"AZE,TUR"`` or ``["AZE", "TUR,GEO"]``: split, stripped, upper-cased."""
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else list(values)
    return tuple(c.strip().upper() for item in items for c in item.split(",") if c.strip())


def check_stream_id(value: str) -> str:
    """``value`` if it is a Redis stream id (``1700000000000-0``, or ``0``); else ValueError."""
    if not _STREAM_ID.match(value) or any(int(p) >= 2**64 for p in value.split("-")):
        raise ValueError(f"{value!r} is not a stream id (like 1730000000000-0, or 0)")
    return value


def _strings(value: Any) -> bool:
    """A string or a list of strings: what the splitting validators take (anything else is
    left to the type check, which says what is wrong)."""
    return isinstance(value, str) or (
        isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    )


def _country(code: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", code) or not is_country(code):
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-3 country code (like AZE)")
    return code


class AlertFilter(BaseModel):
    """What a subscriber wants: every condition given must hold (an empty filter takes all)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parties: tuple[str, ...] = Field(
        default=(), description="Alerts naming any of these countries (ISO alpha-3)."
    )
    pair: tuple[str, str] | None = Field(
        default=None, description="Alerts between exactly these two countries (any order)."
    )
    kinds: tuple[Kind, ...] = Field(default=(), description="Alerts of any of these kinds.")
    min_confidence: float = Field(default=0.0, ge=0, le=1, description="Lowest confidence taken.")
    keywords: tuple[str, ...] = Field(
        default=(),
        description="Alerts whose title contains any of these words (case and accents ignored).",
    )
    fresh_only: bool = Field(
        default=False, description="Only signings reported as they happen (freshness 'signed')."
    )

    @field_validator("parties", mode="before")
    @classmethod
    def _split_parties(cls, value: Any) -> Any:
        return parse_codes(value) if _strings(value) else value

    @field_validator("parties")
    @classmethod
    def _valid_parties(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_country(c) for c in value))

    @field_validator("pair", mode="before")
    @classmethod
    def _split_pair(cls, value: Any) -> Any:
        if _strings(value):
            codes = parse_codes(value)
            if len(codes) != 2 or codes[0] == codes[1]:
                raise ValueError("a pair is two different country codes, like AZE,TUR")
            return tuple(sorted(codes))
        return value

    @field_validator("pair")
    @classmethod
    def _valid_pair(cls, value: tuple[str, str] | None) -> tuple[str, str] | None:
        if value is None:
            return None
        a, b = sorted((_country(value[0]), _country(value[1])))
        return (a, b)

    @field_validator("kinds", mode="before")
    @classmethod
    def _split_kinds(cls, value: Any) -> Any:
        if _strings(value):
            items = [value] if isinstance(value, str) else list(value)
            return tuple(k.strip().lower() for i in items for k in i.split(",") if k.strip())
        return value

    @field_validator("keywords")
    @classmethod
    def _clean_keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(k.strip() for k in value if k.strip()))
        if any(len(k) > 200 for k in cleaned):
            raise ValueError("a keyword is at most 200 characters")
        return cleaned

    def matches(self, alert: Mapping[str, Any]) -> bool:
        """Whether ``alert`` (an Alert as a JSON mapping) passes every condition. A field of
        the wrong shape (written by another program) fails the condition that reads it."""
        listed = alert.get("parties")
        parties = tuple(p for p in listed if isinstance(p, str)) if isinstance(listed, list) else ()
        if self.parties and not any(p in parties for p in self.parties):
            return False
        if self.pair and tuple(sorted(parties)) != self.pair:
            return False
        if self.kinds and alert.get("kind") not in self.kinds:
            return False
        confidence = alert.get("confidence")
        if self.min_confidence and not (
            isinstance(confidence, int | float) and confidence >= self.min_confidence
        ):
            return False
        if self.fresh_only and alert.get("freshness") != "signed":
            return False
        if self.keywords:
            title = fold(str(alert.get("title") or ""))
            if not any(fold(k) in title for k in self.keywords):
                return False
        return True

    def describe(self) -> str:
        """The filter in a few words, for listings: ``party AZE; kind memorandum``."""
        parts = []
        if self.parties:
            parts.append("party " + "|".join(self.parties))
        if self.pair:
            parts.append("pair " + ",".join(self.pair))
        if self.kinds:
            parts.append("kind " + "|".join(self.kinds))
        if self.min_confidence:
            parts.append(f"confidence >= {self.min_confidence:g}")
        if self.keywords:
            parts.append("keyword " + "|".join(self.keywords))
        if self.fresh_only:
            parts.append("fresh only")
        return "; ".join(parts) or "all alerts"


def decode_entry(fields: Mapping[bytes, bytes]) -> tuple[bytes, dict[str, Any]] | None:
    """The alert JSON of a stream entry, raw and parsed; None for an entry that holds none."""
    raw = fields.get(ALERTS_STREAM_FIELD.encode())
    if raw is None:
        return None
    try:
        alert = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return (raw, alert) if isinstance(alert, dict) else None


async def last_alert_id(redis: Redis) -> str:
    """The id of the newest alert, or ``0-0``: where "only new alerts" starts, as a fixed id.

    Reading from a fixed id instead of ``$`` loses nothing published between two reads.
    """
    newest: Any = await redis.xrevrange(ALERTS_STREAM, count=1)
    return newest[0][0].decode() if newest else "0-0"


def _sse(entry_id: str, event: str, data: bytes) -> bytes:
    # the alert JSON is one line (orjson/pydantic never emit raw newlines), so one data: line
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (entry_id.encode(), event.encode(), data)


async def follow_alerts(
    redis: Redis,
    alert_filter: AlertFilter,
    start: str,
    heartbeat_s: float,
    batch: int = 100,
) -> AsyncIterator[bytes]:
    """SSE frames: each matching alert after ``start`` (id = its stream id), and a comment
    every ``heartbeat_s`` seconds without one, so that proxies keep the connection open; the
    comment carries the position read up to (an ``id`` without data moves a browser's
    Last-Event-ID and dispatches nothing)."""
    # here, not at the top: `pactwatch alerts tail` imports this module, and the metrics
    # bring FastStream along
    from pactwatch.metrics import count_alerts

    position = start
    yield b"retry: 3000\n\n"
    while True:
        result: Any = await redis.xread(
            {ALERTS_STREAM: position}, count=batch, block=max(1, int(heartbeat_s * 1000))
        )
        sent = False
        for _stream, entries in result or ():
            for raw_id, fields in entries:
                position = raw_id.decode()
                decoded = decode_entry(fields)
                if decoded is None or not alert_filter.matches(decoded[1]):
                    continue
                raw, alert = decoded
                sent = True
                yield _sse(position, str(alert.get("event") or "agreement.signed"), raw)
                count_alerts("sse")
        if not sent:
            # the position read up to, as the last event id: a client whose filter matched
            # nothing yet resumes from here after a drop, not from the newest alert then
            yield b": keepalive\nid: %s\n\n" % position.encode()


def alert_feed_router(
    redis: Redis | Callable[[], Redis],
    *,
    heartbeat_s: float = 15.0,
    path: str = "/alerts/stream",
) -> APIRouter:
    """``GET <path>``: alerts as server-sent events, filtered, resuming from ``Last-Event-ID``.

    ``redis`` is the client to read with, or a function returning it (for apps that create
    their client in the lifespan).
    """
    router = APIRouter()

    @router.get(
        path,
        response_class=StreamingResponse,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "One event per alert: id = its alerts.agreements stream id, "
                "event = agreement.signed, data = the Alert JSON; a comment every "
                f"{heartbeat_s:g} s keeps the connection open.",
            },
            422: {"description": "A filter or Last-Event-ID is invalid; the error names it."},
        },
    )
    async def alert_stream(
        party: Annotated[
            list[str], Query(description="Alerts naming any of these countries (AZE or AZE,TUR).")
        ] = [],  # noqa: B006  # FastAPI declares list query parameters this way
        pair: Annotated[
            str | None, Query(description="Alerts between these two countries: AZE,TUR.")
        ] = None,
        kind: Annotated[
            list[str], Query(description="Alerts of any of these kinds (memorandum, treaty...).")
        ] = [],  # noqa: B006
        keyword: Annotated[
            list[str], Query(description="Alerts whose title contains any of these words.")
        ] = [],  # noqa: B006
        min_confidence: Annotated[float, Query(ge=0, le=1)] = 0.0,
        fresh_only: Annotated[
            bool, Query(description="Only signings reported as they happen.")
        ] = False,
        last_event_id: Annotated[
            str | None,
            Header(description="Resume after this event id (browsers send it on reconnect)."),
        ] = None,
        since: Annotated[
            str | None,
            Query(description="Resume after this stream id (0: from the oldest kept alert)."),
        ] = None,
    ) -> StreamingResponse:
        """Follow the alerts as server-sent events; without a resume id, only new alerts."""
        try:
            alert_filter = AlertFilter(
                parties=tuple(party),
                pair=pair or None,  # the validator splits "AZE,TUR"
                kinds=tuple(kind),  # validated against Kind
                keywords=tuple(keyword),
                min_confidence=min_confidence,
                fresh_only=fresh_only,
            )
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            raise HTTPException(422, detail) from None
        client = redis if isinstance(redis, Redis) else redis()
        resume = last_event_id or since
        if resume:
            try:
                start = check_stream_id(resume.strip())
            except ValueError as exc:
                raise HTTPException(422, f"Last-Event-ID/since: {exc}") from None
        else:
            start = await last_alert_id(client)
        return StreamingResponse(
            follow_alerts(client, alert_filter, start, heartbeat_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router
