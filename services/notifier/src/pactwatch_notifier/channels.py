"""The public alert channels: plain JSON any Redis client in any language can read.

- pub/sub ``pactwatch.alerts`` (all), ``pactwatch.alerts.<ISO3>`` (each party) and
  ``pactwatch.alerts.<ISO3>.<ISO3>`` (the sorted pair), for live listeners;
- the stream ``alerts.agreements`` (field ``alert``), for subscribers that resume where they
  left off. It is trimmed by age (MINID), never by a count that could drop unread alerts.
"""

from __future__ import annotations

import time
from typing import Any

from pactwatch.contracts import ALERTS_CHANNEL, ALERTS_STREAM, ALERTS_STREAM_FIELD, Alert
from redis.asyncio import Redis


def channels_for(alert: Alert) -> list[str]:
    """Every pub/sub channel an alert goes to."""
    a, b = alert.parties
    return [
        ALERTS_CHANNEL,
        f"{ALERTS_CHANNEL}.{a}",
        f"{ALERTS_CHANNEL}.{b}",
        f"{ALERTS_CHANNEL}.{a}.{b}",
    ]


async def publish_alert(redis: Redis, alert: Alert, retention_days: float) -> bytes:
    """Append to the durable stream first (it is what makes the alert not lost), then publish."""
    body = alert.model_dump_json()
    min_id = int((time.time() - retention_days * 86400) * 1000)
    pipe: Any = redis.pipeline(transaction=False)
    async with pipe:
        pipe.xadd(ALERTS_STREAM, {ALERTS_STREAM_FIELD: body}, minid=min_id, approximate=True)
        for channel in channels_for(alert):
            pipe.publish(channel, body)
        results = await pipe.execute()
    entry_id: bytes = results[0]
    return entry_id
