"""Wiring of the notifier: settings, broker and subscriber, webhook worker, HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream import FastStream
from faststream.redis import RedisBroker
from pactwatch.alertfeed import alert_feed_router
from pactwatch.contracts import ALERTS_STREAM, GROUP_NOTIFIER
from pactwatch.delivery import Consumers
from pactwatch.http import add_health_routes, json_errors, requires_key
from pactwatch.service import make_broker, settle_heap
from pactwatch.streams import connect, ensure_groups
from redis.asyncio import Redis

from pactwatch_notifier.api import build_router as build_api
from pactwatch_notifier.handlers import build_router
from pactwatch_notifier.settings import NotifierSettings
from pactwatch_notifier.subscriptions import SubscriptionStore
from pactwatch_notifier.webhook_worker import (
    WEBHOOK_DELIVERIES,
    WebhookThread,
    ensure_webhook_groups,
)
from pactwatch_notifier.webhooks import AddressPolicy

settings = NotifierSettings()


def create_broker(redis: Redis, consumers: Consumers) -> RedisBroker:
    broker = make_broker(settings)
    broker.include_router(build_router(settings, redis, consumers))
    return broker


def create_consumers(redis: Redis) -> Consumers:
    return Consumers(redis, group=GROUP_NOTIFIER, service="notifier", settings=settings)


_redis = connect(settings.redis_url)
_consumers = create_consumers(_redis)
asyncapi = FastStream(create_broker(_redis, _consumers), _consumers.specification)
"""The AsyncAPI view (``faststream docs gen pactwatch_notifier.app:asyncapi``)."""


def create_app() -> FastAPI:
    redis = connect(settings.redis_url)
    consumers = create_consumers(redis)
    broker = create_broker(redis, consumers)
    store = SubscriptionStore(redis, settings.webhook_log_size, settings.webhook_dead_size)
    policy = AddressPolicy(settings.webhook_allow_private, settings.webhook_allow_networks)
    webhooks = WebhookThread(settings, policy)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # every group exists before the subscriber reads or the first alert is published
        await ensure_groups(redis, GROUP_NOTIFIER)
        await ensure_webhook_groups(redis)
        await broker.start()
        await settle_heap()
        await consumers.start()
        webhooks.start()
        try:
            yield
        finally:
            await consumers.stop()
            await broker.stop()
            await webhooks.stop()
            await redis.aclose()

    async def webhooks_running() -> str | None:
        return webhooks.healthy()

    async def reading() -> str | None:
        return consumers.healthy()

    app = FastAPI(title="pactwatch notifier", version="0.1.0", lifespan=lifespan)
    # webhook subscriptions are administration: a key for every method, reads included
    app.include_router(
        build_api(store, policy, settings.webhook_max_subscriptions),
        dependencies=[requires_key(settings, admin=True)],
    )
    app.include_router(
        alert_feed_router(redis, heartbeat_s=settings.sse_heartbeat_s),
        dependencies=[requires_key(settings)],
    )
    add_health_routes(
        app,
        redis,
        [("webhooks", webhooks_running), ("consumers", reading)],
        group=GROUP_NOTIFIER,
        broker=broker,
        # the webhook worker's queues, read outside the contracts
        extra_groups=[(ALERTS_STREAM, GROUP_NOTIFIER), (WEBHOOK_DELIVERIES, GROUP_NOTIFIER)],
    )
    json_errors(app)
    return app
