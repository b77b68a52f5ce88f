"""Alerts and updates on the public channels, driving the notifier's own code on a real Redis:
exactly once per agreement whatever the redeliveries, plain JSON, retention by age."""

from __future__ import annotations

import json
import time

import redis
from pactwatch.contracts import ALERTS_STREAM, AgreementUpdated, Alert

from tests.integration.test_notify_harness import (
    alert_entries,
    drive_notifier,
    enriched,
    listen,
    published,
)

ALERT_CHANNELS = {
    "pactwatch.alerts",
    "pactwatch.alerts.AZE",
    "pactwatch.alerts.TUR",
    "pactwatch.alerts.AZE.TUR",
}


def test_the_seed_alert_reaches_every_channel_once(
    redis_url: str, redis_client: redis.Redis
) -> None:
    pubsub = listen(redis_client)
    seed = enriched()
    drive_notifier(redis_url, seed)
    drive_notifier(redis_url, seed)  # a redelivery of the same article

    ((_, body),) = alert_entries(redis_client)
    alert = Alert.model_validate_json(body)
    assert alert.parties == ("AZE", "TUR")
    assert alert.party_names == ("Azerbaijan", "Türkiye")
    assert alert.freshness == "earlier"  # 27 October report of a 15 June signing
    assert alert.status == "signed"
    assert alert.signed_on == "2024-06-15"
    assert alert.article.source == "Report.az"
    assert "memorandum" in alert.evidence

    messages = published(pubsub)
    assert sorted(channel for channel, _ in messages) == sorted(ALERT_CHANNELS)
    assert all(message == json.loads(body) for _, message in messages)


def test_a_past_reference_alerts_as_signed_earlier(
    redis_url: str, redis_client: redis.Redis
) -> None:
    drive_notifier(redis_url, enriched(status="past_reference"))
    ((_, body),) = alert_entries(redis_client)
    alert = json.loads(body)
    assert (alert["status"], alert["freshness"]) == ("signed", "earlier")


def test_later_reports_publish_updates_never_alerts(
    redis_url: str, redis_client: redis.Redis
) -> None:
    pubsub = listen(redis_client)
    second = enriched("a-second-daily-sabah", source="Daily Sabah")
    third = enriched("a-third-trend", source="Trend")
    drive_notifier(redis_url, enriched(), second, second, third)  # second is redelivered

    ((_, alert),) = alert_entries(redis_client)
    messages = published(pubsub)
    alerts = [c for c, body in messages if body["event"] == "agreement.signed"]
    updates = [(c, body) for c, body in messages if body["event"] == "agreement.updated"]
    assert sorted(alerts) == sorted(ALERT_CHANNELS)
    assert {c for c, _ in updates} == {
        "pactwatch.updates",
        "pactwatch.updates.AZE",
        "pactwatch.updates.TUR",
        "pactwatch.updates.AZE.TUR",
    }
    counts = [
        (body["article"]["id"], body["mentions"], body["sources"])
        for channel, body in updates
        if channel == "pactwatch.updates"
    ]
    assert counts == [("a-second-daily-sabah", 2, 2), ("a-third-trend", 3, 3)]
    update = AgreementUpdated.model_validate(updates[0][1])
    assert update.parties == ("AZE", "TUR")
    assert update.key == json.loads(alert)["key"]


def test_agreements_that_never_alerted_publish_no_updates(
    redis_url: str, redis_client: redis.Redis
) -> None:
    pubsub = listen(redis_client)
    drive_notifier(
        redis_url,
        enriched("a-1", status="planned", signed_on=None),
        enriched("a-2", source="B", status="planned", signed_on=None),
    )
    assert published(pubsub) == []
    assert redis_client.xlen(ALERTS_STREAM) == 0


def test_the_stream_is_trimmed_by_age_not_by_count(
    redis_url: str, redis_client: redis.Redis
) -> None:
    old = int((time.time() - 91 * 86400) * 1000)
    redis_client.xadd(ALERTS_STREAM, {"alert": "{}"}, id=f"{old}-0")
    recent = int((time.time() - 89 * 86400) * 1000)
    redis_client.xadd(ALERTS_STREAM, {"alert": "{}"}, id=f"{recent}-0")
    for i in range(30):
        redis_client.xadd(ALERTS_STREAM, {"alert": "{}"}, id=f"{recent + 1 + i}-0")

    messages = [
        enriched(f"a-{i}", title=f"agreement on cooperation in sector {name}")
        for i, name in enumerate(("agriculture", "tourism", "education"))
    ]
    drive_notifier(redis_url, *messages)

    ids = [entry_id for entry_id, _ in alert_entries(redis_client)]
    assert f"{old}-0" not in ids  # older than the 90 days kept
    assert ids[0] == f"{recent}-0"
    assert len(ids) == 31 + 3  # nothing younger was dropped, whatever the count
