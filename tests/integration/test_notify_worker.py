"""The webhook worker in this process on a real Redis: jobs a dead replica left pending are
delivered by another, jobs of a removed subscription are dropped, two workers deliver each
job once."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis
from pactwatch.contracts import ALERTS_STREAM, GROUP_NOTIFIER
from pactwatch.streams import connect
from pactwatch_notifier.settings import NotifierSettings
from pactwatch_notifier.subscriptions import SubscriptionStore
from pactwatch_notifier.webhook_worker import (
    JOB_FIELD,
    WEBHOOK_DELIVERIES,
    WebhookWorker,
    ensure_webhook_groups,
)
from pactwatch_notifier.webhooks import AddressPolicy, DeliveryJob, SubscriptionIn, delivery_id

from tests.integration.test_notify_harness import receivers
from tests.integration.test_notify_webhooks import settled

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def workers(
    redis_url: str, count: int = 1, claim_idle_s: float | None = None
) -> AsyncIterator[tuple[SubscriptionStore, list[WebhookWorker]]]:
    client = connect(redis_url)
    settings = NotifierSettings(
        redis_url=redis_url, webhook_timeout_s=10, webhook_backoff_s=0.05, webhook_backoff_max_s=0.2
    )
    policy = AddressPolicy(allow_networks=[ipaddress.ip_network("127.0.0.0/8")])
    store = SubscriptionStore(client)
    await ensure_webhook_groups(client)
    started = [
        WebhookWorker(client, store, settings, policy, consumer=f"w{i}", claim_idle_s=claim_idle_s)
        for i in range(count)
    ]
    for worker in started:
        worker.start()
    try:
        yield store, started
    finally:
        for worker in started:
            await worker.stop(5)
        await client.aclose()


def job(subscription_id: str, alert_id: str) -> Any:
    body = DeliveryJob(
        delivery_id=delivery_id(subscription_id, alert_id),
        subscription_id=subscription_id,
        alert_id=alert_id,
        event="agreement.signed",
        body=f'{{"alert_id":"{alert_id}"}}',
    )
    return {JOB_FIELD: body.model_dump_json()}


async def wait_for(predicate: object, what: str) -> None:
    for _ in range(400):
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(what)


async def test_a_job_a_dead_replica_left_pending_is_delivered_by_another(
    redis_url: str, redis_client: redis.Redis
) -> None:
    with receivers([]) as [rx]:
        async with workers(redis_url, claim_idle_s=0.3) as (store, _):
            subscription = await store.create(SubscriptionIn(url=rx.url))
            # a replica read the job, then died before settling it
            redis_client.xadd(WEBHOOK_DELIVERIES, job(subscription.id, "al1"))
            redis_client.xreadgroup(GROUP_NOTIFIER, "dead", {WEBHOOK_DELIVERIES: ">"})
            await wait_for(lambda: len(rx.requests) == 1, "the reclaimed delivery")
            await wait_for(lambda: settled(redis_client), "settled")
    assert rx.requests[0].json == {"alert_id": "al1"}


async def test_a_restarted_replica_finishes_what_it_had_read_at_once(
    redis_url: str, redis_client: redis.Redis
) -> None:
    # the same consumer name (a container restarted: same host name, pid 1) finds the alert
    # and the job it had read before dying, without waiting for them to be claimed as idle
    with receivers([]) as [rx]:
        client = connect(redis_url)
        await ensure_webhook_groups(client)
        subscription = await SubscriptionStore(client).create(SubscriptionIn(url=rx.url))
        await client.aclose()
        redis_client.xadd(ALERTS_STREAM, {"alert": '{"event":"agreement.signed","alert_id":"a1"}'})
        redis_client.xadd(WEBHOOK_DELIVERIES, job(subscription.id, "a2"))
        redis_client.xreadgroup(GROUP_NOTIFIER, "w0", {ALERTS_STREAM: ">"})
        redis_client.xreadgroup(GROUP_NOTIFIER, "w0", {WEBHOOK_DELIVERIES: ">"})
        async with workers(redis_url):  # consumer w0, claims only after 50 s idle
            await wait_for(lambda: len(rx.requests) == 2, "both deliveries")
            await wait_for(lambda: settled(redis_client), "settled")
    assert sorted(r.json["alert_id"] for r in rx.requests) == ["a1", "a2"]


async def test_jobs_of_a_removed_subscription_are_dropped(
    redis_url: str, redis_client: redis.Redis
) -> None:
    with receivers([]) as [rx]:
        async with workers(redis_url) as (store, _):
            kept = await store.create(SubscriptionIn(url=rx.url))
            removed = await store.create(SubscriptionIn(url=rx.url + "?removed"))
            assert await store.remove(removed.id)
            redis_client.xadd(WEBHOOK_DELIVERIES, job(removed.id, "al1"))
            redis_client.xadd(WEBHOOK_DELIVERIES, job(kept.id, "al1"))
            await wait_for(lambda: len(rx.requests) == 1, "the kept delivery")
            await wait_for(lambda: settled(redis_client), "settled")
            assert await store.detail(removed.id) is None
    assert [r.path for r in rx.requests] == ["/hook"]
    assert not redis_client.keys(f"*{removed.id}*")  # no log left behind


async def test_two_workers_deliver_each_job_once(redis_url: str, redis_client: redis.Redis) -> None:
    # every third first attempt fails, so that retries go through the shared sorted set too
    script: list[int | str] = [500 if i % 3 == 0 else 200 for i in range(60)]
    with receivers(script) as [rx]:
        async with workers(redis_url, count=2) as (store, _):
            subscriptions = [await store.create(SubscriptionIn(url=rx.url)) for _ in range(4)]
            for n in range(10):
                for subscription in subscriptions:
                    redis_client.xadd(WEBHOOK_DELIVERIES, job(subscription.id, f"al{n}"))
            await wait_for(lambda: len(rx.accepted()) >= 40, "every job accepted")
            await wait_for(lambda: settled(redis_client), "settled")
    deliveries = [r.headers["x-pactwatch-delivery"] for r in rx.accepted()]
    assert len(deliveries) == 40
    assert len(set(deliveries)) == 40


async def test_one_batch_of_jobs_looks_its_subscriptions_up_at_once(
    redis_url: str, redis_client: redis.Redis
) -> None:
    # jobs for a live, a removed and an unreadable subscription, read in one batch: the live
    # one's are delivered, the others dropped (nothing to deliver to), none left pending
    with receivers([]) as [rx]:
        client = connect(redis_url)
        store = SubscriptionStore(client)
        live = await store.create(SubscriptionIn(url=rx.url))
        gone = await store.create(SubscriptionIn(url=rx.url + "?gone"))
        broken = await store.create(SubscriptionIn(url=rx.url + "?broken"))
        assert await store.remove(gone.id)
        redis_client.hset("pactwatch:webhooks:subscriptions", broken.id, b"{not json")
        found = await store.get_many([live.id, gone.id, broken.id])
        assert found == {live.id: live, gone.id: None, broken.id: None}
        await client.aclose()
        for n in range(3):
            for subscription in (live, gone, broken):
                redis_client.xadd(WEBHOOK_DELIVERIES, job(subscription.id, f"al{n}"))
        async with workers(redis_url):
            await wait_for(lambda: len(rx.requests) == 3, "the live deliveries")
            await wait_for(lambda: settled(redis_client), "settled")
    assert sorted(r.json["alert_id"] for r in rx.requests) == ["al0", "al1", "al2"]
    assert {r.path for r in rx.requests} == {"/hook"}


async def test_unreadable_alerts_and_unexpected_errors_do_not_stop_the_fan_out(
    redis_url: str, redis_client: redis.Redis
) -> None:
    with receivers([]) as [rx]:
        async with workers(redis_url) as (store, [worker]):
            await store.create(SubscriptionIn(url=rx.url))
            listed = store.all
            failures: list[str] = []

            async def failing_once() -> Any:
                if not failures:
                    failures.append("raised")
                    raise RuntimeError("an error no loop expects")
                return await listed()

            store.all = failing_once  # type: ignore[method-assign]
            redis_client.xadd(ALERTS_STREAM, {"alert": "not json"})
            redis_client.xadd(ALERTS_STREAM, {"written-by": "someone else"})
            redis_client.xadd(
                ALERTS_STREAM, {"alert": '{"event":"agreement.signed","alert_id":"a1"}'}
            )
            await wait_for(lambda: len(rx.requests) == 1, "the readable alert delivered")
            await wait_for(lambda: settled(redis_client), "settled")
            assert worker.healthy() is None
    assert failures == ["raised"]
    assert rx.requests[0].json == {"event": "agreement.signed", "alert_id": "a1"}
