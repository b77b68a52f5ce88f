"""Back-pressure: ingest refuses articles while the deduplicator is too far behind.

The backlog is what group ``deduplicator`` has not finished on ``articles.ingested``: entries
not yet delivered to it plus those delivered and not yet acknowledged. Past
``PACTWATCH_MAX_BACKLOG`` ingest answers 429 with Retry-After instead of taking articles in;
what it accepted before stays in the stream (never trimmed past an unacknowledged entry).
The backlog is read at most once per ``PACTWATCH_BACKLOG_CHECK_S`` per process, so a burst of
requests costs Redis one reading.
"""

from __future__ import annotations

import time

import anyio
from pactwatch.backlog import read_backlog
from pactwatch.contracts import ARTICLES_INGESTED, GROUP_DEDUPLICATOR
from redis.asyncio import Redis

from pactwatch_ingest.accepting import BacklogFullError


async def ingest_backlog(redis: Redis, limit: int) -> int:
    """Entries of ``articles.ingested`` the deduplicator has not finished (at most about
    ``limit`` counted: beyond it the exact number does not matter)."""
    reading = await read_backlog(
        redis,
        [ARTICLES_INGESTED],
        groups={ARTICLES_INGESTED: [GROUP_DEDUPLICATOR]},
        consumers=False,
        throughput=False,
        limit=limit,
    )
    stream = reading.stream(ARTICLES_INGESTED)
    for group in stream.groups:
        return group.lag + group.pending
    return stream.length  # no deduplicator group yet: everything waits for it


class BacklogGate:
    """Raises BacklogFullError while the backlog is past ``limit`` (0: never)."""

    def __init__(self, redis: Redis, limit: int, check_s: float, retry_after_s: float) -> None:
        self._redis = redis
        self._limit = limit
        self._check_s = check_s
        self._retry_after_s = retry_after_s
        self._backlog = 0
        self._read_at = float("-inf")
        self._lock = anyio.Lock()

    async def check(self) -> None:
        if self._limit <= 0:
            return
        if time.monotonic() - self._read_at >= self._check_s:
            async with self._lock:
                if time.monotonic() - self._read_at >= self._check_s:
                    self._backlog = await ingest_backlog(self._redis, self._limit)
                    self._read_at = time.monotonic()
        if self._backlog > self._limit:
            raise BacklogFullError(self._backlog, self._limit, self._retry_after_s)
