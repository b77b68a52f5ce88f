"""Wiring of the indexer: settings, the index store, the subscribers and the query API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream import FastStream
from pactwatch.alertfeed import alert_feed_router
from pactwatch.contracts import GROUP_INDEXER
from pactwatch.delivery import Consumers
from pactwatch.http import add_health_routes, json_errors, requires_key
from pactwatch.service import make_broker, settle_heap
from pactwatch.streams import connect, ensure_groups
from redis.asyncio import Redis

from pactwatch_indexer.api import add_error_handlers, build_router
from pactwatch_indexer.handlers import subscribe
from pactwatch_indexer.settings import IndexerSettings
from pactwatch_indexer.store import UnavailableError, open_store
from pactwatch_indexer.web.dashboard import add_dashboard
from pactwatch_indexer.writing import Indexer

settings = IndexerSettings()
store = open_store(
    settings.index_url,
    pool_size=settings.pool_size,
    query_timeout_s=settings.query_timeout_s,
    search_window=settings.search_window,
)
broker = make_broker(settings)
indexer = Indexer(store, retry_s=settings.write_retry_s)


def create_consumers(redis: Redis) -> Consumers:
    # a database that is away is waited for, never counted as the messages' failure
    consumers = Consumers(
        redis,
        group=GROUP_INDEXER,
        service="indexer",
        settings=settings,
        transient=(UnavailableError,),
    )
    subscribe(indexer, consumers)
    return consumers


asyncapi = FastStream(broker, create_consumers(connect(settings.redis_url)).specification)
"""The AsyncAPI view: what it reads and writes (``faststream docs gen ...app:asyncapi``)."""


def create_app() -> FastAPI:
    redis = connect(settings.redis_url)
    consumers = create_consumers(redis)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await store.open()
        try:
            await ensure_groups(redis, GROUP_INDEXER)
            await broker.start()
            await settle_heap()
            await consumers.start()
            try:
                yield
            finally:
                await consumers.stop()
                await broker.stop()
        finally:
            await store.close()
            await redis.aclose()

    async def database() -> str | None:
        await store.ping()
        return None

    async def reading() -> str | None:
        return consumers.healthy()

    app = FastAPI(
        title="pactwatch indexer",
        version="0.1.0",
        description="Full-text search over the articles pactwatch read, and the registry of "
        "the agreements it found.",
        lifespan=lifespan,
    )
    # every route is a read: open unless PACTWATCH_OPEN_READS=false (with keys set)
    reads = [requires_key(settings)]
    app.include_router(build_router(store), dependencies=reads)
    # the dashboard at / follows the alerts from the same origin
    app.include_router(
        alert_feed_router(redis, heartbeat_s=settings.sse_heartbeat_s), dependencies=reads
    )
    add_dashboard(app, redis, dependencies=reads)
    add_health_routes(
        app,
        redis,
        [("database", database), ("consumers", reading)],
        group=GROUP_INDEXER,
        broker=broker,
    )
    json_errors(app)
    add_error_handlers(app)
    return app
