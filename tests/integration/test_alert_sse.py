"""``GET /alerts/stream`` on a running notifier: server-sent events, filtered, resuming from
``Last-Event-ID``, with heartbeats."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import httpx
import redis

from tests.integration.test_notify_harness import (
    SSEClient,
    alert_entries,
    blocked_stream_readers,
    drive_notifier,
    enriched,
    fresh_treaty,
    notifiers,
    on_topic,
)
from tests.support import wait_until

TOPICS = ("agriculture", "tourism", "education")


def test_events_are_alerts_with_their_stream_ids_and_resume_after_the_last_seen(
    redis_url: str, redis_client: redis.Redis, logs_dir: Path
) -> None:
    drive_notifier(redis_url, on_topic("history"))  # before anyone listens: not sent
    with notifiers(redis_url, logs_dir) as [notifier]:
        stream_url = f"{notifier.base_url}/alerts/stream"
        with SSEClient(stream_url) as first:
            assert first.status == 200
            wait_until(lambda: blocked_stream_readers(redis_client) >= 1, what="SSE reading")
            drive_notifier(redis_url, on_topic(TOPICS[0]))
            wait_until(lambda: len(first.events) == 1, what="the first event")
            wait_until(lambda: first.comments, what="a heartbeat")
        (event,) = first.events
        entry_id, body = alert_entries(redis_client)[-1]
        assert event.id == entry_id
        assert event.event == "agreement.signed"
        assert event.data.encode() == body
        assert first.comments[0] == ": keepalive"

        # disconnected: two more alerts, then the browser reconnects with Last-Event-ID
        drive_notifier(redis_url, on_topic(TOPICS[1]), on_topic(TOPICS[2]))
        with SSEClient(stream_url, {"Last-Event-ID": event.id or ""}) as resumed:
            wait_until(lambda: len(resumed.events) == 2, what="the missed events")
        assert [json.loads(e.data)["title"] for e in resumed.events] == [
            f"agreement on cooperation in {t}" for t in TOPICS[1:]
        ]
        assert len(resumed.events) == 2  # nothing before the resume point

        with SSEClient(f"{stream_url}?since=0") as everything:
            wait_until(lambda: len(everything.events) == 4, what="every kept alert")


def test_filters_select_the_events(redis_url: str, logs_dir: Path) -> None:
    drive_notifier(redis_url, enriched(), fresh_treaty())
    with notifiers(redis_url, logs_dir) as [notifier]:
        base = f"{notifier.base_url}/alerts/stream?since=0"
        cases = {
            "": ["AZE-TUR", "DEU-FRA"],
            "&party=AZE": ["AZE-TUR"],
            "&party=GEO&party=FRA": ["DEU-FRA"],
            "&pair=TUR,AZE": ["AZE-TUR"],
            "&kind=treaty": ["DEU-FRA"],
            "&fresh_only=true": ["DEU-FRA"],
            "&keyword=defence": ["AZE-TUR"],
            "&min_confidence=0.95": [],
        }
        with contextlib.ExitStack() as stack:
            clients = {q: stack.enter_context(SSEClient(base + q)) for q in cases}
            for query, client in clients.items():
                # a heartbeat comes after the first read that found nothing more to send
                wait_until(lambda c=client: c.comments, what=f"heartbeat of {query}")
        for query, wanted in cases.items():
            got = ["-".join(json.loads(e.data)["parties"]) for e in clients[query].events]
            assert got == wanted, query


def test_invalid_requests_are_refused_with_a_reason(redis_url: str, logs_dir: Path) -> None:
    with notifiers(redis_url, logs_dir) as [notifier]:
        url = f"{notifier.base_url}/alerts/stream"
        for params, headers, message in (
            ({"party": "XYZ"}, {}, "not an ISO 3166-1 alpha-3"),
            ({"pair": "AZE"}, {}, "two different country codes"),
            ({"kind": "pact"}, {}, "memorandum"),
            ({"min_confidence": "2"}, {}, "min_confidence"),
            ({}, {"Last-Event-ID": "yesterday"}, "not a stream id"),
        ):
            response = httpx.get(url, params=params, headers=headers, timeout=10)
            assert response.status_code == 422, params
            assert message in response.json()["error"], response.json()


def test_a_quiet_client_resumes_from_the_heartbeats_position_without_a_gap(
    redis_url: str, redis_client: redis.Redis, logs_dir: Path
) -> None:
    with notifiers(redis_url, logs_dir) as [notifier]:
        url = f"{notifier.base_url}/alerts/stream?party=FRA"
        with SSEClient(url) as quiet:
            wait_until(lambda: blocked_stream_readers(redis_client) >= 1, what="SSE reading")
            drive_notifier(redis_url, enriched())  # AZE-TUR: not for this client
            passed = alert_entries(redis_client)[-1][0]
            wait_until(lambda: quiet.last_id == passed, what="a heartbeat with the position")
        assert quiet.events == []
        # dropped; an alert for it arrives before it reconnects with its Last-Event-ID
        drive_notifier(redis_url, fresh_treaty())
        with SSEClient(url, {"Last-Event-ID": quiet.last_id or ""}) as back:
            wait_until(lambda: len(back.events) == 1, what="the alert of the gap")
    assert json.loads(back.events[0].data)["parties"] == ["DEU", "FRA"]
