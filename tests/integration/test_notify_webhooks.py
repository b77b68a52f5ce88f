"""Webhooks through a running notifier: subscriptions over HTTP, filters, signatures, retries,
the dead list, slow receivers, replicas. Real Redis, real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import redis
from pactwatch.contracts import ALERTS_STREAM
from pactwatch_notifier.webhook_worker import RETRIES_KEY, WEBHOOK_DELIVERIES
from pactwatch_notifier.webhooks import verify

from tests.integration.test_notify_harness import (
    Receiver,
    alert_entries,
    enriched,
    notifiers,
    on_topic,
    publish_enriched,
    receivers,
)
from tests.support import free_port, wait_until


def subscribe(base_url: str, url: str, **conditions: Any) -> dict[str, Any]:
    response = httpx.post(f"{base_url}/subscriptions", json={"url": url, "filter": conditions})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def settled(client: redis.Redis) -> bool:
    """No delivery queued, in flight or waiting for a retry: nothing more will arrive."""
    pending: Any = client.xpending(WEBHOOK_DELIVERIES, "notifier")
    return (
        client.xlen(WEBHOOK_DELIVERIES) == 0
        and client.zcard(RETRIES_KEY) == 0
        and pending["pending"] == 0
        and client.xpending(ALERTS_STREAM, "notifier")["pending"] == 0
    )


def titles(receiver: Receiver) -> list[str]:
    return sorted(r.json["title"] for r in receiver.requests)


def test_subscriptions_over_http(redis_url: str, logs_dir: Path) -> None:
    limit = {"PACTWATCH_WEBHOOK_MAX_SUBSCRIPTIONS": "2"}
    with notifiers(redis_url, logs_dir, env=limit) as [notifier]:
        base = notifier.base_url
        created = subscribe(
            base, "http://127.0.0.1:9/hook", parties=["aze"], kinds=["memorandum"], fresh_only=True
        )
        assert created["id"].startswith("wh_")
        assert created["secret"].startswith("whsec_")
        assert created["filter"]["parties"] == ["AZE"]

        listed = httpx.get(f"{base}/subscriptions").json()
        assert [s["id"] for s in listed] == [created["id"]]
        assert "secret" not in listed[0]

        detail = httpx.get(f"{base}/subscriptions/{created['id']}").json()
        assert "secret" not in detail
        assert (detail["delivered"], detail["failed"], detail["dead"]) == (0, 0, 0)
        assert detail["deliveries"] == []
        assert detail["filter"]["fresh_only"] is True

        refused = {
            "ftp://example.org/hook": "http:// or https://",
            "http://10.0.0.1/hook": "PACTWATCH_WEBHOOK_ALLOW_NETWORKS",
            "http://[::1]:8080/hook": "private or reserved",
        }
        for url, message in refused.items():
            response = httpx.post(f"{base}/subscriptions", json={"url": url})
            assert response.status_code == 422, url
            assert message in response.json()["error"], response.json()

        bad_filter = httpx.post(
            f"{base}/subscriptions", json={"url": "http://127.0.0.1:9/", "filter": {"pair": "AZE"}}
        )
        assert bad_filter.status_code == 422
        assert "filter.pair" in bad_filter.json()["error"]
        assert httpx.get(f"{base}/subscriptions/nonsense").status_code == 422
        assert httpx.get(f"{base}/subscriptions/wh_0000000000000000").status_code == 404

        subscribe(base, "http://127.0.0.1:9/second")
        too_many = httpx.post(f"{base}/subscriptions", json={"url": "http://127.0.0.1:9/third"})
        assert too_many.status_code == 409
        assert "2 subscriptions already" in too_many.json()["error"]

        assert httpx.delete(f"{base}/subscriptions/{created['id']}").status_code == 204
        assert httpx.get(f"{base}/subscriptions/{created['id']}").status_code == 404
        gone = httpx.delete(f"{base}/subscriptions/{created['id']}")
        assert gone.status_code == 404
        assert created["id"] in gone.json()["error"]
        assert [s["url"] for s in httpx.get(f"{base}/subscriptions").json()] == [
            "http://127.0.0.1:9/second"
        ]


def test_filters_deliver_to_the_right_subscribers_only(
    redis_url: str, redis_client: redis.Redis, logs_dir: Path
) -> None:
    seed = "memorandum of understanding on cooperation in the defence industry"
    fresh = "treaty on energy transit"
    expected: dict[str, tuple[dict[str, Any], list[str]]] = {
        "all": ({}, [seed, fresh]),
        "party AZE": ({"parties": ["AZE"]}, [seed]),
        "party FRA or TUR": ({"parties": ["FRA", "TUR"]}, [seed, fresh]),
        "party GEO": ({"parties": ["GEO"]}, [fresh]),
        "pair": ({"pair": "TUR,AZE"}, [seed]),
        "other pair": ({"pair": "AZE,FRA"}, []),
        "kind": ({"kinds": ["memorandum"]}, [seed]),
        "other kind": ({"kinds": ["protocol"]}, []),
        "confidence": ({"min_confidence": 0.85}, [seed]),
        "high confidence": ({"min_confidence": 0.95}, []),
        "keyword": ({"keywords": ["Defence"]}, [seed]),
        "fresh only": ({"fresh_only": True}, [fresh]),
        "everything": (
            {
                "parties": ["AZE"],
                "pair": "AZE,TUR",
                "kinds": ["memorandum"],
                "keywords": ["defence"],
            },
            [seed],
        ),
    }
    with notifiers(redis_url, logs_dir) as [notifier], receivers(*[[]] * len(expected)) as rx:
        for receiver, (conditions, _) in zip(rx, expected.values(), strict=True):
            subscribe(notifier.base_url, receiver.url, **conditions)
        publish_enriched(
            redis_url,
            [
                enriched(confidence=0.9),  # the seed: reported months later ("earlier")
                enriched(
                    "a-fresh",
                    parties=("GEO", "TUR"),
                    kind="treaty",
                    title=fresh,
                    signed_on="2024-10-26",
                    confidence=0.8,
                ),
            ],
        )
        wait_until(lambda: len(rx[0].requests) == 2, what="the catch-all receiver got both")
        wait_until(lambda: settled(redis_client), what="every delivery settled")
        for receiver, (name, (_, wanted)) in zip(rx, expected.items(), strict=True):
            assert titles(receiver) == sorted(wanted), name


def test_a_receiver_failing_three_times_gets_the_alert_once_signed(
    redis_url: str, redis_client: redis.Redis, logs_dir: Path
) -> None:
    with notifiers(redis_url, logs_dir) as [notifier], receivers([500, 502, 404]) as [rx]:
        created = subscribe(notifier.base_url, rx.url)
        publish_enriched(redis_url, [enriched()])
        wait_until(lambda: len(rx.accepted()) == 1, what="the fourth attempt accepted")
        wait_until(lambda: settled(redis_client), what="every delivery settled")

        assert len(rx.requests) == 4
        assert len(rx.accepted()) == 1
        assert [r.headers["x-pactwatch-attempt"] for r in rx.requests] == ["1", "2", "3", "4"]
        assert len({r.headers["x-pactwatch-delivery"] for r in rx.requests}) == 1
        for request in rx.requests:
            assert request.headers["content-type"] == "application/json"
            assert request.headers["x-pactwatch-event"] == "agreement.signed"
            assert verify(
                created["secret"],
                request.headers["x-pactwatch-timestamp"],
                request.body,
                request.headers["x-pactwatch-signature"],
            )
        alert = rx.accepted()[0].json
        assert alert["parties"] == ["AZE", "TUR"]
        ((_, stored),) = alert_entries(redis_client)
        assert rx.accepted()[0].body == stored  # the published JSON, byte for byte

        detail = httpx.get(f"{notifier.base_url}/subscriptions/{created['id']}").json()
        assert (detail["delivered"], detail["failed"], detail["dead"]) == (1, 3, 0)
        log = detail["deliveries"]
        assert [e["outcome"] for e in log] == ["delivered", "failed", "failed", "failed"]
        assert [e["status_code"] for e in log] == [200, 404, 502, 500]
        assert all(e["next_attempt_at"] for e in log[1:])


def test_the_last_failure_goes_to_the_dead_list(
    redis_url: str, redis_client: redis.Redis, logs_dir: Path
) -> None:
    closed_port = free_port()  # nothing listens there: connection refused
    with notifiers(redis_url, logs_dir) as [notifier], receivers([500] * 10) as [rx]:
        failing = subscribe(notifier.base_url, rx.url)
        refused = subscribe(notifier.base_url, f"http://127.0.0.1:{closed_port}/hook")
        publish_enriched(redis_url, [enriched()])
        wait_until(lambda: settled(redis_client) and len(rx.requests) == 5, what="dead")

        for subscription, error in ((failing, "HTTP 500"), (refused, "Cannot connect to host")):
            detail = httpx.get(f"{notifier.base_url}/subscriptions/{subscription['id']}").json()
            assert (detail["delivered"], detail["failed"], detail["dead"]) == (0, 5, 1)
            (dead,) = detail["dead_deliveries"]
            assert dead["attempt"] == 5
            assert error in dead["error"]
            assert [e["outcome"] for e in detail["deliveries"]] == ["dead"] + ["failed"] * 4
        assert len(rx.requests) == 5  # PACTWATCH_WEBHOOK_MAX_ATTEMPTS


def test_a_receiver_that_never_answers_does_not_hold_up_a_healthy_one(
    redis_url: str, redis_client: redis.Redis, logs_dir: Path
) -> None:
    # Two requests in flight at most, one per subscription: were the slow receiver allowed
    # to take both slots, the healthy one would wait for its 30 s timeout.
    settings = {"PACTWATCH_WEBHOOK_CONCURRENCY": "2", "PACTWATCH_WEBHOOK_PER_SUBSCRIPTION": "1"}
    with (
        notifiers(redis_url, logs_dir, env=settings) as [notifier],
        receivers(["hang"] * 3, []) as [slow, healthy],
    ):
        subscribe(notifier.base_url, slow.url)
        subscribe(notifier.base_url, healthy.url)
        publish_enriched(
            redis_url,
            [on_topic(topic) for topic in ("agriculture", "tourism", "education")],
        )
        wait_until(lambda: len(healthy.requests) == 3, what="the healthy receiver got all three")
        # ... while the slow receiver still holds its first request open, unanswered
        assert slow.open_requests == 1
        assert len(slow.requests) == 1
        assert redis_client.xlen(ALERTS_STREAM) == 3  # the pipeline did not wait either

        slow.release()
        wait_until(lambda: settled(redis_client), what="every delivery settled")
        assert titles(slow) == titles(healthy)
        assert len({r.headers["x-pactwatch-delivery"] for r in slow.requests}) == 3


def test_replicas_share_the_deliveries_without_doubling_them(
    redis_url: str, redis_client: redis.Redis, logs_dir: Path
) -> None:
    with notifiers(redis_url, logs_dir, replicas=2) as started, receivers([]) as [rx]:
        subscribe(started[0].base_url, rx.url)
        topics = ("agriculture", "tourism", "education", "health", "transport", "culture")
        publish_enriched(
            redis_url,
            [on_topic(topic) for topic in topics],
        )
        wait_until(lambda: len(rx.requests) >= len(topics), what="every alert delivered")
        wait_until(lambda: settled(redis_client), what="every delivery settled")
        assert len(rx.requests) == len(topics)
        assert len({r.json["alert_id"] for r in rx.requests}) == len(topics)
        assert redis_client.xlen(ALERTS_STREAM) == len(topics)


def test_unsubscribing_during_a_delivery_leaves_no_log_behind(
    redis_url: str, redis_client: redis.Redis, logs_dir: Path
) -> None:
    with notifiers(redis_url, logs_dir) as [notifier], receivers(["hang"]) as [rx]:
        created = subscribe(notifier.base_url, rx.url)
        publish_enriched(redis_url, [enriched()])
        wait_until(lambda: rx.open_requests == 1, what="the delivery in flight")
        assert httpx.delete(f"{notifier.base_url}/subscriptions/{created['id']}").status_code == 204
        rx.release()  # the attempt ends after the subscription is gone
        wait_until(lambda: settled(redis_client), what="the delivery settled")
    assert len(rx.requests) == 1
    assert redis_client.keys(f"*{created['id']}*") == []


def test_deliveries_to_one_receiver_reuse_their_connections(
    redis_url: str, redis_client: redis.Redis, logs_dir: Path
) -> None:
    # a new TCP connection per delivery would cost the notifier most of its CPU under load
    topics = [
        *("agriculture", "tourism", "education", "health", "transport", "culture"),
        *("energy", "fisheries", "mining", "aviation", "banking", "sport"),
    ]
    with notifiers(redis_url, logs_dir) as [notifier], receivers([]) as [rx]:
        subscribe(notifier.base_url, rx.url)
        publish_enriched(redis_url, [on_topic(topic) for topic in topics])
        wait_until(lambda: len(rx.requests) == len(topics), what="every alert delivered")
        wait_until(lambda: settled(redis_client), what="every delivery settled")
    # at most webhook_per_subscription (4) deliveries are in flight to one subscription
    assert 1 <= rx.connections <= 4 < len(topics)


def test_a_receiver_named_by_host_name_gets_its_host_header(
    redis_url: str, redis_client: redis.Redis, logs_dir: Path
) -> None:
    # the delivery connects to the address it checked, and names the host in the request
    allow = {"PACTWATCH_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8,::1/128"}
    with notifiers(redis_url, logs_dir, env=allow) as [notifier], receivers([]) as [rx]:
        port = rx.url.split(":")[2].split("/")[0]
        subscribe(notifier.base_url, f"http://localhost:{port}/hook?token=abc")
        publish_enriched(redis_url, [enriched()])
        wait_until(lambda: len(rx.requests) == 1, what="the delivery")
        assert rx.requests[0].headers["host"] == f"localhost:{port}"
        assert rx.requests[0].path == "/hook?token=abc"
