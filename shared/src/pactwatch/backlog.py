"""What the streams hold and how far behind each consumer group is, read from Redis.

``/metrics`` (gauges read at scrape time) and ``pactwatch status`` both use it. A reading costs
two pipelined round trips: XLEN and XINFO GROUPS for each stream, then XINFO CONSUMERS for each
group and the counts below.

Lag (entries not yet delivered to a group): Redis 7 reports it in XINFO GROUPS. Redis 6.2 does
not, and Redis 7 reports null once entries inside the unread range were deleted; then the
entries after the group's last-delivered id are counted with XRANGE in a server-side script,
up to ``limit`` entries. Beyond it the lag is "at least ``limit``" (``lag_capped``): counting
holds Redis for a time proportional to the entries counted (about 7 ms per thousand articles),
and a scrape must not stall the pipeline it measures.

Throughput: a stream id is the millisecond at which Redis added the entry, so the entries added
in the last minute are those from id ``<Redis clock - 60000>-0`` on; counted the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

DEAD_LETTER_SUFFIX = ".dlq"
"""A stream's dead letters are on ``<stream>.dlq``."""
COUNT_LIMIT = 10_000
"""Most entries one count (lag on Redis 6.2, last minute) reads before it stops at "at least"."""
WINDOW_MS = 60_000
"""The throughput window: the last minute."""

# Counts the entries of KEYS[1] from XRANGE start ARGV[1] ('(' + id: after that id) to the end,
# stopping after ARGV[2]. Pages keep each XRANGE reply small; only the count leaves Redis.
_COUNT = """
local counted = 0
local start = ARGV[1]
local limit = tonumber(ARGV[2])
while counted < limit do
  local page = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', math.min(500, limit - counted))
  if #page == 0 then break end
  counted = counted + #page
  start = '(' .. page[#page][1]
end
return counted
"""


@dataclass(frozen=True)
class ConsumerState:
    """One consumer of a group: what it holds and how long since it last read or acked."""

    name: str
    pending: int
    idle_ms: int


@dataclass(frozen=True)
class GroupState:
    """One consumer group on one stream."""

    stream: str
    name: str
    lag: int
    lag_capped: bool
    pending: int
    last_delivered_id: str
    consumers: tuple[ConsumerState, ...]


@dataclass(frozen=True)
class StreamState:
    """One stream: its length, its groups and the entries added in the last minute."""

    name: str
    exists: bool
    length: int
    last_minute: int | None
    last_minute_capped: bool
    groups: tuple[GroupState, ...]


@dataclass(frozen=True)
class Backlog:
    """Every stream read, at ``taken_at_ms`` on Redis's clock."""

    taken_at_ms: int
    streams: tuple[StreamState, ...]

    def stream(self, name: str) -> StreamState:
        """The state of stream ``name`` (KeyError when it was not read)."""
        for state in self.streams:
            if state.name == name:
                return state
        raise KeyError(name)


def dead_letter_stream(stream: str) -> str:
    """The name of ``stream``'s dead-letter stream."""
    return f"{stream}{DEAD_LETTER_SUFFIX}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _is_missing(result: Any) -> bool:
    return isinstance(result, ResponseError) and "no such key" in str(result).lower()


def _raise_errors(results: Sequence[Any]) -> None:
    for result in results:
        if isinstance(result, Exception) and not _is_missing(result):
            raise result


async def read_backlog(
    redis: Redis,
    streams: Sequence[str],
    *,
    groups: Mapping[str, Collection[str]] | None = None,
    consumers: bool = True,
    throughput: bool = True,
    limit: int = COUNT_LIMIT,
) -> Backlog:
    """Read ``streams`` with their groups (only those named in ``groups[stream]`` when given).

    ``consumers`` adds each group's consumers; ``throughput`` counts the entries of the last
    minute. A stream that does not exist reads as empty, with ``exists`` False. Raises the
    Redis error when Redis fails or a key is not a stream.
    """
    count: Any = redis.register_script(_COUNT)
    first: Any = redis.pipeline(transaction=False)
    async with first:
        first.time()
        for stream in streams:
            first.xlen(stream)
            first.xinfo_groups(stream)
        replies = await first.execute(raise_on_error=False)
    _raise_errors(replies)
    seconds, micros = replies[0]
    now_ms = int(seconds) * 1000 + int(micros) // 1000

    # one entry per group: its XINFO GROUPS fields; the second round trip fills in the rest
    found: list[tuple[str, dict[str, Any]]] = []
    for index, stream in enumerate(streams):
        infos = replies[2 + 2 * index]
        if _is_missing(infos):
            continue
        wanted = groups.get(stream) if groups is not None else None
        found.extend(
            (stream, info) for info in infos if wanted is None or _text(info["name"]) in wanted
        )

    second: Any = redis.pipeline(transaction=False)
    async with second:
        for stream, info in found:
            if info.get("lag") is None:
                start = "(" + _text(info["last-delivered-id"])
                await count(keys=[stream], args=[start, limit + 1], client=second)
            if consumers:
                second.xinfo_consumers(stream, _text(info["name"]))
        if throughput:
            for stream in streams:
                await count(
                    keys=[stream], args=[f"{now_ms - WINDOW_MS}-0", limit + 1], client=second
                )
        more = iter(await second.execute(raise_on_error=False))
    group_states: dict[str, list[GroupState]] = {stream: [] for stream in streams}
    for stream, info in found:
        lag = info.get("lag")
        if lag is None:
            lag = next(more)
            _raise_errors([lag])
        members: tuple[ConsumerState, ...] = ()
        if consumers:
            reply = next(more)
            _raise_errors([reply])
            # a group destroyed between the two round trips reads as one without consumers
            if not _is_missing(reply):
                members = tuple(
                    ConsumerState(_text(c["name"]), int(c["pending"]), int(c["idle"]))
                    for c in reply
                )
        group_states[stream].append(
            GroupState(
                stream=stream,
                name=_text(info["name"]),
                lag=min(int(lag), limit),
                lag_capped=int(lag) > limit,
                pending=int(info["pending"]),
                last_delivered_id=_text(info["last-delivered-id"]),
                consumers=members,
            )
        )
    states = []
    for index, stream in enumerate(streams):
        last_minute: int | None = None
        if throughput:
            reply = next(more)
            _raise_errors([reply])
            last_minute = int(reply)
        states.append(
            StreamState(
                name=stream,
                exists=not _is_missing(replies[2 + 2 * index]),
                length=int(replies[1 + 2 * index]),
                last_minute=None if last_minute is None else min(last_minute, limit),
                last_minute_capped=last_minute is not None and last_minute > limit,
                groups=tuple(sorted(group_states[stream], key=lambda g: g.name)),
            )
        )
    return Backlog(taken_at_ms=now_ms, streams=tuple(states))


async def find_dead_letter_streams(redis: Redis) -> list[str]:
    """Every stream named ``*.dlq`` in the database, sorted.

    SCAN walks the whole keyspace, so callers do it once, not on every refresh.
    """
    found = {
        _text(key)
        async for key in redis.scan_iter(match=f"*{DEAD_LETTER_SUFFIX}", count=1000, _type="stream")
    }
    return sorted(found)
