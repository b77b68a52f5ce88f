"""Feed subscriptions in Redis: their state, their schedule, the lease, the entries seen.

Keys (``P`` is the prefix, ``pactwatch:feeds`` by default):

- ``P:schedule`` sorted set: feed id → next poll (epoch seconds); also the list of feeds.
- ``P:<id>`` hash: url, every, etag, last_modified, last_polled, last_status, last_error,
  error_count, next_poll, added, articles.
- ``P:<id>:lease`` string: the token of the replica polling the feed right now
  (SET NX PX; released by compare-and-delete, so a replica never frees another's lease).
- ``P:<id>:seen`` sorted set: entry key → when it was last listed by the feed. An entry
  still listed stays; one gone from the feed for ``ttl`` is forgotten.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from pactwatch_ingest.feeds import feed_id, format_every

_ADD = """
if redis.call('exists', KEYS[1]) == 1 then
  redis.call('hset', KEYS[1], 'every', ARGV[3])
  return 0
end
redis.call('hset', KEYS[1], 'id', ARGV[1], 'url', ARGV[2], 'every', ARGV[3], 'added', ARGV[4],
  'next_poll', ARGV[4], 'error_count', 0, 'articles', 0)
redis.call('zadd', KEYS[2], ARGV[4], ARGV[1])
return 1
"""

# A poll that finishes after the feed was removed must not bring it back.
_RECORD = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
for i = 4, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('hdel', KEYS[1], ARGV[i])
  else
    redis.call('hset', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('hset', KEYS[1], 'next_poll', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('hincrby', KEYS[1], 'articles', ARGV[3]) end
redis.call('zadd', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class FeedState(BaseModel):
    """A subscription as ``GET /feeds`` shows it."""

    id: str = Field(description="Deterministic id from the canonical feed URL.")
    url: str
    every_s: int = Field(description="Polling interval in seconds.")
    every: str = Field(description="The interval for people: 5m, 1h30m...")
    added: datetime | None = None
    last_polled: datetime | None = None
    last_status: int | None = Field(default=None, description="HTTP status of the last poll.")
    last_error: str | None = Field(default=None, description="Why the last poll failed.")
    error_count: int = Field(default=0, description="Failed polls in a row.")
    next_poll: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    articles: int = Field(default=0, description="Articles ingested from this feed so far.")

    @classmethod
    def from_hash(cls, fields: Mapping[bytes, bytes]) -> FeedState:
        raw = {k.decode(): v.decode() for k, v in fields.items()}
        every = int(raw.get("every", "0"))
        return cls(
            id=raw["id"],
            url=raw["url"],
            every_s=every,
            every=format_every(every),
            added=_time(raw.get("added")),
            last_polled=_time(raw.get("last_polled")),
            last_status=int(raw["last_status"]) if raw.get("last_status") else None,
            last_error=raw.get("last_error") or None,
            error_count=int(raw.get("error_count") or 0),
            next_poll=_time(raw.get("next_poll")),
            etag=raw.get("etag") or None,
            last_modified=raw.get("last_modified") or None,
            articles=int(raw.get("articles") or 0),
        )


class FeedStore:
    """Subscriptions, schedule, leases and seen entries of the feeds, in Redis."""

    def __init__(self, redis: Redis, prefix: str = "pactwatch:feeds") -> None:
        self._redis = redis
        self._prefix = prefix
        self._schedule = f"{prefix}:schedule"
        self._add: Any = redis.register_script(_ADD)
        self._record: Any = redis.register_script(_RECORD)
        self._release: Any = redis.register_script(_RELEASE)
        self._renew: Any = redis.register_script(_RENEW)

    def _key(self, fid: str, suffix: str = "") -> str:
        return f"{self._prefix}:{fid}{suffix}"

    async def add(self, url: str, every_s: int, now: float) -> tuple[FeedState, bool]:
        """Subscribe (due at once); an existing subscription only takes the new interval.
        Returns the state and whether it was created."""
        fid = feed_id(url)
        created = await self._add(
            keys=[self._key(fid), self._schedule], args=[fid, url, every_s, now]
        )
        state = await self.get(fid)
        if state is None:  # removed between the two calls
            raise LookupError(f"feed {fid} was removed while being added")
        return state, bool(created)

    async def get(self, fid: str) -> FeedState | None:
        fields: Any = await self._redis.hgetall(self._key(fid))
        return FeedState.from_hash(fields) if fields else None

    async def all(self) -> list[FeedState]:
        """Every subscription, soonest due first."""
        members: Any = await self._redis.zrange(self._schedule, 0, -1)
        ids = [i.decode() for i in members]
        pipe: Any = self._redis.pipeline(transaction=False)
        async with pipe:
            for fid in ids:
                pipe.hgetall(self._key(fid))
            found = await pipe.execute()
        return [FeedState.from_hash(f) for f in found if f]

    async def find(self, url_or_id: str) -> FeedState | None:
        """A subscription by its id or its URL."""
        try:
            candidate = url_or_id if "://" not in url_or_id else feed_id(url_or_id)
        except ValueError:  # not a URL any feed could have been subscribed under
            return None
        return await self.get(candidate)

    async def remove(self, fid: str) -> bool:
        """Unsubscribe; the seen entries go too. True when there was such a feed."""
        pipe: Any = self._redis.pipeline(transaction=True)
        async with pipe:
            pipe.delete(self._key(fid), self._key(fid, ":seen"))
            pipe.zrem(self._schedule, fid)
            deleted, _ = await pipe.execute()
        return bool(deleted)

    async def due(self, now: float, limit: int) -> list[str]:
        """Ids of the feeds whose next poll is at or before ``now``, most overdue first."""
        found: Any = await self._redis.zrangebyscore(
            self._schedule, "-inf", now, start=0, num=limit
        )
        return [f.decode() for f in found]

    async def acquire(self, fid: str, ttl_s: float) -> str | None:
        """Take the feed's lease for ``ttl_s``; the token to renew/release it, or None when
        another replica holds it."""
        token = secrets.token_hex(16)
        taken = await self._redis.set(
            self._key(fid, ":lease"), token, nx=True, px=int(ttl_s * 1000)
        )
        return token if taken else None

    async def renew(self, fid: str, token: str, ttl_s: float) -> bool:
        """Extend the lease if this token still holds it."""
        return bool(
            await self._renew(keys=[self._key(fid, ":lease")], args=[token, int(ttl_s * 1000)])
        )

    async def release(self, fid: str, token: str) -> None:
        """Free the lease if this token still holds it (never another replica's)."""
        await self._release(keys=[self._key(fid, ":lease")], args=[token])

    async def unseen(self, fid: str, keys: Sequence[str]) -> list[str]:
        """The entry keys among ``keys`` the feed has not listed before (within the TTL)."""
        if not keys:
            return []
        scores = await self._redis.zmscore(self._key(fid, ":seen"), list(keys))
        return [k for k, s in zip(keys, scores, strict=True) if s is None]

    async def remember(self, fid: str, keys: Sequence[str], now: float, ttl_s: float) -> None:
        """Mark entries as listed now; forget entries not listed for ``ttl_s``."""
        key = self._key(fid, ":seen")
        pipe: Any = self._redis.pipeline(transaction=False)
        async with pipe:
            if keys:
                pipe.zadd(key, dict.fromkeys(keys, now))
            pipe.zremrangebyscore(key, "-inf", now - ttl_s)
            pipe.expire(key, int(ttl_s) + 1)
            await pipe.execute()

    async def record(
        self,
        fid: str,
        fields: Mapping[str, str | int | float | None],
        next_poll: float,
        articles: int = 0,
    ) -> bool:
        """Store a poll's result and schedule the next one (None clears a field). False when
        the feed was removed meanwhile (nothing is written then)."""
        args: list[Any] = [fid, next_poll, articles]
        for name, value in fields.items():
            args.extend([name, "" if value is None else value])
        return bool(await self._record(keys=[self._key(fid), self._schedule], args=args))


def _time(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value else None
