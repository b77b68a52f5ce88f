"""Webhook subscriptions in Redis, with each one's delivery log, dead list and counters.

- ``pactwatch:webhooks:subscriptions``: hash, id -> Subscription JSON (one read lists all);
- ``pactwatch:webhooks:{<id>}:log`` / ``:dead``: capped lists of DeliveryRecord, newest first;
- ``pactwatch:webhooks:{<id>}:stats``: hash of counters (delivered, failed, dead).

The per-subscription keys share a hash tag, so one subscription's bookkeeping lives on one
Redis Cluster slot.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import ValidationError
from redis.asyncio import Redis

from pactwatch_notifier.webhooks import (
    DeliveryRecord,
    Subscription,
    SubscriptionDetail,
    SubscriptionIn,
    SubscriptionView,
    new_secret,
    new_subscription_id,
)

log = structlog.get_logger()

SUBSCRIPTIONS_KEY = "pactwatch:webhooks:subscriptions"


def _key(subscription_id: str, what: str) -> str:
    return f"pactwatch:webhooks:{{{subscription_id}}}:{what}"


class SubscriptionStore:
    """Create, list, find and remove subscriptions; record what happened to each delivery."""

    def __init__(self, redis: Redis, log_size: int = 100, dead_size: int = 1000) -> None:
        self._redis = redis
        self._log_size = log_size
        self._dead_size = dead_size
        # every alert's fan-out reads them all, every batch of deliveries looks its own up:
        # parse each stored version once
        self._parsed: dict[bytes, Subscription] = {}

    async def create(self, request: SubscriptionIn) -> Subscription:
        """Store a new subscription with a fresh id and secret."""
        subscription = Subscription(
            id=new_subscription_id(),
            url=request.url,
            filter=request.filter,
            description=request.description,
            created_at=datetime.now(UTC),
            secret=new_secret(),
        )
        await self._redis.hset(SUBSCRIPTIONS_KEY, subscription.id, subscription.model_dump_json())
        return subscription

    async def all(self) -> list[Subscription]:
        """Every subscription, oldest first; a stored entry that no longer parses is skipped
        (and logged) rather than stopping every delivery."""
        raw: Any = await self._redis.hgetall(SUBSCRIPTIONS_KEY)
        found = []
        for key, value in raw.items():
            try:
                found.append(self._parse(value))
            except ValidationError as exc:
                log.error("subscription.unreadable", subscription_id=key.decode(), error=str(exc))
        return sorted(found, key=lambda s: (s.created_at, s.id))

    async def count(self) -> int:
        found: Any = await self._redis.hlen(SUBSCRIPTIONS_KEY)
        return int(found)

    async def get_many(self, subscription_ids: list[str]) -> dict[str, Subscription | None]:
        """Several subscriptions as stored now, in one round trip: None for each removed one
        (or stored unreadably, which is logged)."""
        if not subscription_ids:
            return {}
        raws: Any = await self._redis.hmget(SUBSCRIPTIONS_KEY, subscription_ids)
        found: dict[str, Subscription | None] = {}
        for subscription_id, raw in zip(subscription_ids, raws, strict=True):
            try:
                found[subscription_id] = self._parse(raw) if raw else None
            except ValidationError as exc:
                log.error(
                    "subscription.unreadable", subscription_id=subscription_id, error=str(exc)
                )
                found[subscription_id] = None
        return found

    def _parse(self, raw: bytes) -> Subscription:
        found = self._parsed.get(raw)
        if found is None:
            if len(self._parsed) > 10_000:
                self._parsed.clear()
            found = self._parsed[raw] = Subscription.model_validate_json(raw)
        return found

    async def remove(self, subscription_id: str) -> bool:
        """Delete a subscription and its log; False when there was none."""
        pipe: Any = self._redis.pipeline(transaction=False)
        async with pipe:
            pipe.hdel(SUBSCRIPTIONS_KEY, subscription_id)
            for what in ("log", "dead", "stats"):
                pipe.delete(_key(subscription_id, what))
            removed, *_ = await pipe.execute()
        return bool(removed)

    def queue_record(self, pipe: Any, subscription_id: str, entry: DeliveryRecord) -> None:
        """Queue on ``pipe`` an attempt's line in the delivery log (and in the dead list for a
        dead delivery) and its count. The first reply says whether the subscription still
        exists: hand it to :meth:`drop_orphan` once the pipeline has run."""
        body = entry.model_dump_json()
        counter = {"delivered": "delivered", "dead": "dead"}.get(entry.outcome, "failed")
        pipe.hexists(SUBSCRIPTIONS_KEY, subscription_id)
        pipe.lpush(_key(subscription_id, "log"), body)
        pipe.ltrim(_key(subscription_id, "log"), 0, self._log_size - 1)
        pipe.hincrby(_key(subscription_id, "stats"), counter, 1)
        if entry.outcome == "dead":
            # the last attempt failed too: counted once as failed, once as dead
            pipe.hincrby(_key(subscription_id, "stats"), "failed", 1)
            pipe.lpush(_key(subscription_id, "dead"), body)
            pipe.ltrim(_key(subscription_id, "dead"), 0, self._dead_size - 1)

    async def drop_orphan(self, subscription_id: str, exists: bool) -> None:
        """Unsubscribed while a delivery was in flight: leave no orphaned log behind."""
        if not exists:
            await self._redis.delete(*(_key(subscription_id, w) for w in ("log", "dead", "stats")))

    async def detail(self, subscription_id: str, limit: int = 100) -> SubscriptionDetail | None:
        """The subscription (without its secret), counters, recent and dead deliveries."""
        pipe: Any = self._redis.pipeline(transaction=False)
        async with pipe:
            pipe.hget(SUBSCRIPTIONS_KEY, subscription_id)
            pipe.hgetall(_key(subscription_id, "stats"))
            pipe.lrange(_key(subscription_id, "log"), 0, limit - 1)
            pipe.lrange(_key(subscription_id, "dead"), 0, limit - 1)
            raw, stats, entries, dead = await pipe.execute()
        if not raw:
            return None
        view = SubscriptionView.of(Subscription.model_validate_json(raw))
        counts = {k.decode(): int(v) for k, v in stats.items()}
        return SubscriptionDetail(
            **view.model_dump(),
            delivered=counts.get("delivered", 0),
            failed=counts.get("failed", 0),
            dead=counts.get("dead", 0),
            deliveries=[DeliveryRecord.model_validate_json(e) for e in entries],
            dead_deliveries=[DeliveryRecord.model_validate_json(e) for e in dead],
        )
