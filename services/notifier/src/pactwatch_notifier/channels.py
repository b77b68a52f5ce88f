"""The public alert channels: plain JSON any Redis client in any language can read.

- pub/sub ``pactwatch.alerts`` (all), ``pactwatch.alerts.<ISO3>`` (each party) and
  ``pactwatch.alerts.<ISO3>.<ISO3>`` (the sorted pair), for live listeners;
- the stream ``alerts.agreements`` (field ``alert``), for subscribers that resume where they
  left off. It is trimmed by age (exact MINID: alerts are few, and an approximate trim
  would keep a few days too many), never by a count that could drop unread alerts;
- pub/sub ``pactwatch.updates[.<ISO3>[.<ISO3>]]``: AgreementUpdated events, when a later
  report raises an alerted agreement's counts. Never on the alerts stream.

Each publication is one Lua script, so that it is atomic; the publications of a batch go in
one pipeline, one round trip:

- an alert is appended and published once, whatever the redeliveries: the script remembers
  the stream id of each alert id (for as long as the stream keeps alerts) and publishes
  nothing the second time. The marker key carries the stream's name as its hash tag, so the
  script touches one Redis Cluster slot;
- an update is published only when its mention count is higher than the last one published
  for the agreement (``ZADD GT CH``), so that a redelivered article publishes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from pactwatch.contracts import (
    ALERTS_CHANNEL,
    ALERTS_STREAM,
    ALERTS_STREAM_FIELD,
    UPDATES_CHANNEL,
    AgreementUpdated,
    Alert,
)
from pactwatch.metrics import count_alerts
from pactwatch.scripting import LuaScript, ScriptCall, run_scripts
from redis.asyncio import Redis

_PUBLISH_ALERT = LuaScript("""
local known = redis.call('GET', KEYS[2])
if known then return {0, known} end
local id = redis.call('XADD', KEYS[1], 'MINID', ARGV[1], '*', ARGV[2], ARGV[3])
redis.call('SET', KEYS[2], id, 'EX', ARGV[4])
for i = 5, #ARGV do redis.call('PUBLISH', ARGV[i], ARGV[3]) end
return {1, id}
""")

_PUBLISH_UPDATE = LuaScript("""
if redis.call('ZADD', KEYS[1], 'GT', 'CH', ARGV[1], ARGV[2]) == 0 then return 0 end
for i = 4, #ARGV do redis.call('PUBLISH', ARGV[i], ARGV[3]) end
return 1
""")


def channels_for(parties: Sequence[str], base: str = ALERTS_CHANNEL) -> list[str]:
    """Every pub/sub channel an event about ``parties`` (sorted pair) goes to."""
    a, b = parties
    return [base, f"{base}.{a}", f"{base}.{b}", f"{base}.{a}.{b}"]


def _marker(alert_id: str) -> str:
    return f"{{{ALERTS_STREAM}}}:alert:{alert_id}"


def _published_counts(parties: Sequence[str]) -> str:
    return f"pactwatch:updates:{{{'-'.join(parties)}}}"


class AlertChannels:
    """Publishes alerts and updates on every public channel."""

    def __init__(self, redis: Redis, retention_days: float) -> None:
        self._redis = redis
        self._retention_s = retention_days * 86400

    async def publish(
        self, alerts: Sequence[Alert], updates: Sequence[AgreementUpdated]
    ) -> list[tuple[Alert, str, bool]]:
        """Publish in one round trip. Returns each alert with its stream id and whether it is
        new (False: published before, by an earlier delivery of the same article)."""
        if not alerts and not updates:
            return []
        min_id = int((time.time() - self._retention_s) * 1000)
        ttl = max(1, int(self._retention_s))
        calls = [
            ScriptCall(
                _PUBLISH_ALERT,
                [ALERTS_STREAM, _marker(alert.alert_id)],
                [
                    min_id,
                    ALERTS_STREAM_FIELD,
                    alert.model_dump_json(),
                    ttl,
                    *channels_for(alert.parties),
                ],
            )
            for alert in alerts
        ]
        calls.extend(
            ScriptCall(
                _PUBLISH_UPDATE,
                [_published_counts(update.parties)],
                [
                    update.mentions,
                    update.key,
                    update.model_dump_json(),
                    *channels_for(update.parties, UPDATES_CHANNEL),
                ],
            )
            for update in updates
        )
        results = await run_scripts(self._redis, calls)
        published = [
            (alert, result[1].decode(), bool(result[0]))
            for alert, result in zip(alerts, results, strict=False)
        ]
        new = sum(1 for *_, is_new in published if is_new)
        count_alerts("stream", new)
        count_alerts("pubsub", new)
        return published
