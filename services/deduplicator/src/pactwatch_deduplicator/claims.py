"""Claims in Redis: one atomic SET NX per identity, shared by every deduplicator replica.

Two replicas that read two copies of one story at the same moment both send SET NX for the
same text key; Redis runs them one after the other, so exactly one wins and the other reads
the winner's value back. Each claim touches one key, so this works on Redis Cluster as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

# SET NX then GET inside one script: atomic, and the answer is always the owner's value.
_CLAIM = """
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
return redis.call('GET', KEYS[1])
"""


class RedisClaims:
    """First-writer-wins claims with a time to live (the dedup window)."""

    def __init__(self, redis: Redis, *, prefix: str, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_s
        self._script = redis.register_script(_CLAIM)

    async def claim_many(self, claims: Sequence[tuple[str, str]]) -> list[str]:
        if not claims:
            return []
        pipe: Any = self._redis.pipeline(transaction=False)
        async with pipe:
            for key, value in claims:
                await self._script(keys=[self._prefix + key], args=[value, self._ttl], client=pipe)
            owners = await pipe.execute()
        return [o.decode() if isinstance(o, bytes) else str(o) for o in owners]
