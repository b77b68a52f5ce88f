"""Wiring of the notifier: settings, broker and subscriber, webhook worker, HTTP API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream import FastStream
from faststream.redis import RedisBroker
from pactwatch.alertfeed import alert_feed_router
from pactwatch.contracts import GROUP_NOTIFIER
from pactwatch.http import add_health_routes, json_errors
from pactwatch.service import make_broker
from pactwatch.streams import connect, ensure_groups
from redis.asyncio import Redis

from pactwatch_notifier.api import build_router as build_api
from pactwatch_notifier.handlers import build_router
from pactwatch_notifier.settings import NotifierSettings
from pactwatch_notifier.subscriptions import SubscriptionStore
from pactwatch_notifier.webhook_worker import WebhookThread, ensure_webhook_groups
from pactwatch_notifier.webhooks import AddressPolicy

settings = NotifierSettings()
# httpx logs every request at INFO: one line per webhook attempt is the worker's own
logging.getLogger("httpx").setLevel(logging.WARNING)


def create_broker(redis: Redis) -> RedisBroker:
    broker = make_broker(settings)
    broker.include_router(build_router(settings, redis))
    return broker


asyncapi = FastStream(create_broker(connect(settings.redis_url)))
"""The AsyncAPI view (``faststream docs gen pactwatch_notifier.app:asyncapi``)."""


def create_app() -> FastAPI:
    redis = connect(settings.redis_url)
    broker = create_broker(redis)
    store = SubscriptionStore(redis, settings.webhook_log_size, settings.webhook_dead_size)
    policy = AddressPolicy(settings.webhook_allow_private, settings.webhook_allow_networks)
    webhooks = WebhookThread(settings, policy)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # every group exists before the subscriber reads or the first alert is published
        await ensure_groups(redis, GROUP_NOTIFIER)
        await ensure_webhook_groups(redis)
        await broker.start()
        webhooks.start()
        try:
            yield
        finally:
            await broker.stop()
            await webhooks.stop()
            await redis.aclose()

    async def webhooks_running() -> str | None:
        return webhooks.healthy()

    app = FastAPI(title="pactwatch notifier", version="0.1.0", lifespan=lifespan)
    app.include_router(build_api(store, policy, settings.webhook_max_subscriptions))
    app.include_router(alert_feed_router(redis, heartbeat_s=settings.sse_heartbeat_s))
    add_health_routes(
        app, redis, [("webhooks", webhooks_running)], group=GROUP_NOTIFIER, broker=broker
    )
    json_errors(app)
    return app
