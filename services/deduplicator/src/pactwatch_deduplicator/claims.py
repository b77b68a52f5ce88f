"""Claims in Redis: one atomic SET NX per identity, shared by every deduplicator replica.

Two replicas that read two copies of one story at the same moment both send SET NX for the
same text key; Redis runs them one after the other, so exactly one wins and the other reads
the winner's value back. Each claim touches one key, so this works on Redis Cluster as is.
Both scripts run many to a round trip (:func:`~pactwatch.scripting.run_scripts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pactwatch.scripting import LuaScript, ScriptCall, run_scripts
from redis.asyncio import Redis

from pactwatch_deduplicator.judging import Candidate

# SET NX then GET inside one script: atomic, and the answer is always the owner's value.
_CLAIM = LuaScript("""
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
return redis.call('GET', KEYS[1])
""")


class RedisClaims:
    """First-writer-wins claims with a time to live (the dedup window)."""

    def __init__(self, redis: Redis, *, prefix: str, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_s

    async def claim_many(self, claims: Sequence[tuple[str, str]]) -> list[str]:
        if not claims:
            return []
        calls = [
            ScriptCall(_CLAIM, [self._prefix + key], [value, self._ttl]) for key, value in claims
        ]
        owners = await run_scripts(self._redis, calls)
        return [o.decode() if isinstance(o, bytes) else str(o) for o in owners]


# One script per article: its place in the first-claimed order, the articles claimed before
# it in any of its bands (with their signatures, originals and places), then its own entry in each
# band. Redis runs scripts one at a time, so of two copies claimed at the same moment by two
# replicas, the second always sees the first. Band entries older than the window are dropped
# on the way; every key expires after the window.
_LSH_CLAIM = LuaScript("""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[3])
local score = redis.call('HGET', KEYS[1], 'score')
if not score then
  local n = redis.call('INCR', KEYS[2]) % 1000
  score = string.format('%.0f', now * 1000 + n)
  redis.call('HSET', KEYS[1], 'score', score, 'sig', ARGV[2], 'orig', ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], window)
local oldest = string.format('%.0f', (now - window) * 1000)
local seen = {}
local out = {}
for band in string.gmatch(ARGV[6], '[^,]+') do
  local key = ARGV[5] .. band
  -- most bands hold one or two articles: drop expired entries only where some gather
  if redis.call('ZCARD', key) > 8 then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. oldest)
  end
  local members = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. score, 'WITHSCORES')
  for j = 1, #members, 2 do
    local member = members[j]
    if not seen[member] then
      seen[member] = true
      local fields = redis.call('HMGET', ARGV[4] .. member, 'sig', 'orig')
      if fields[1] then
        table.insert(out, member)
        table.insert(out, fields[2] or member)
        table.insert(out, fields[1])
        table.insert(out, members[j + 1])
      end
    end
  end
  redis.call('ZADD', key, score, ARGV[1])
  redis.call('PEXPIRE', key, window)
end
return out
""")


class RedisLsh:
    """LSH bands in Redis sorted sets, shared by every deduplicator replica.

    Every key carries the hash tag ``{lsh}``: on Redis Cluster they live in one slot, which
    is what lets one script read and write them atomically.
    """

    def __init__(self, redis: Redis, *, prefix: str, window_s: int) -> None:
        self._redis = redis
        self._base = f"{prefix}{{lsh}}:"
        self._window_ms = window_s * 1000

    async def claim_many(
        self, claims: Sequence[tuple[str, list[str], bytes]]
    ) -> list[list[Candidate]]:
        if not claims:
            return []
        # the band keys travel as one argument: packing 53 keys a call cost more than the
        # script itself (they share the {lsh} slot with the declared keys)
        calls = [
            ScriptCall(
                _LSH_CLAIM,
                [f"{self._base}sig:{article_id}", f"{self._base}seq"],
                [
                    article_id,
                    signature,
                    self._window_ms,
                    f"{self._base}sig:",
                    f"{self._base}band:",
                    ",".join(bands),
                ],
            )
            for article_id, bands, signature in claims
        ]
        replies = await run_scripts(self._redis, calls)
        out = []
        for reply in replies:
            rows = [reply[i : i + 4] for i in range(0, len(reply), 4)]
            out.append(
                [Candidate(a.decode(), o.decode(), bytes(s), float(n)) for a, o, s, n in rows]
            )
        return out

    async def set_originals(self, originals: Sequence[tuple[str, str]]) -> None:
        if not originals:
            return
        pipe: Any = self._redis.pipeline(transaction=False)
        async with pipe:
            for article_id, original in originals:
                pipe.hset(f"{self._base}sig:{article_id}", "orig", original)
            await pipe.execute()
