"""Every channel at once, through a running notifier: the seed-like agreement reaches pub/sub,
the durable stream, server-sent events, ``alerts tail`` and a webhook exactly once, although
its article is delivered twice; a later report from another outlet is an update, not an alert.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import redis
from pactwatch.contracts import AGREEMENTS_SIGHTED, AgreementSighted

from tests.integration.test_notify_harness import (
    SSEClient,
    alert_entries,
    blocked_stream_readers,
    enriched,
    listen,
    notifiers,
    publish_enriched,
    published,
    receivers,
    run_cli,
)
from tests.integration.test_notify_webhooks import settled
from tests.support import wait_until


def sightings(client: redis.Redis) -> list[AgreementSighted]:
    """The notifier's sightings, out of FastStream's envelope."""
    found = []
    entries: Any = client.xrange(AGREEMENTS_SIGHTED)
    for _, fields in entries:
        envelope: Any = fields.get(b"__data__", b"")
        start = envelope.index(b"{")  # FastStream's binary header precedes the JSON body
        found.append(AgreementSighted.model_validate_json(envelope[start:]))
    return found


def pair_channels(base: str) -> list[str]:
    return sorted([base, f"{base}.AZE", f"{base}.TUR", f"{base}.AZE.TUR"])


def test_each_channel_delivers_the_seed_once_and_updates_follow(
    redis_url: str, redis_client: redis.Redis, logs_dir: Path
) -> None:
    pubsub = listen(redis_client)

    with notifiers(redis_url, logs_dir) as [notifier], receivers([]) as [hook]:
        httpx.post(f"{notifier.base_url}/subscriptions", json={"url": hook.url}).raise_for_status()
        with SSEClient(f"{notifier.base_url}/alerts/stream?party=AZE") as sse:
            wait_until(lambda: blocked_stream_readers(redis_client) >= 1, what="SSE reading")
            seed = enriched()
            publish_enriched(
                redis_url,
                [seed, seed, enriched("a-second-report", source="Daily Sabah")],
            )
            wait_until(lambda: len(sightings(redis_client)) == 3, what="three sightings")
            wait_until(lambda: len(hook.requests) == 1, what="the webhook delivery")
            wait_until(lambda: len(sse.events) == 1, what="the SSE event")
            wait_until(lambda: settled(redis_client), what="deliveries settled")
        metrics = httpx.get(f"{notifier.base_url}/metrics").text

        messages = published(pubsub)

    ((entry_id, body),) = alert_entries(redis_client)
    alert = json.loads(body)
    assert alert["parties"] == ["AZE", "TUR"]
    assert alert["freshness"] == "earlier"

    alerts = sorted(c for c, body in messages if body["event"] == "agreement.signed")
    assert alerts == pair_channels("pactwatch.alerts")
    assert all(body == alert for _, body in messages if body["event"] == "agreement.signed")
    updates = [(c, body) for c, body in messages if body["event"] == "agreement.updated"]
    assert sorted(c for c, _ in updates) == pair_channels("pactwatch.updates")
    assert {(b["mentions"], b["sources"], b["article"]["id"]) for _, b in updates} == {
        (2, 2, "a-second-report")
    }

    assert json.loads(hook.requests[0].body) == alert
    assert json.loads(sse.events[0].data) == alert
    assert sse.events[0].id == entry_id

    tail = run_cli("alerts", "tail", "--redis-url", redis_url, "--since", "0", "--json",
                   "--timeout", "1")  # fmt: skip
    assert [json.loads(line) for line in tail.stdout.splitlines()] == [alert]

    seen = sightings(redis_client)
    assert [(s.article.id, s.first, s.alerted) for s in seen] == [
        ("a-seed-report-az", True, True),
        ("a-seed-report-az", False, True),  # the redelivery claims again, publishes nothing
        ("a-second-report", False, False),
    ]
    assert seen[-1].mentions == 2

    for line in (
        'pactwatch_alerts_total{channel="stream"} 1.0',
        'pactwatch_alerts_total{channel="pubsub"} 1.0',
        'pactwatch_alerts_total{channel="webhook"} 1.0',
        'pactwatch_alerts_total{channel="sse"} 1.0',
        'pactwatch_webhook_deliveries_total{outcome="delivered"} 1.0',
    ):
        assert line in metrics.splitlines(), line
