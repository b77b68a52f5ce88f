"""Wiring of the ingest service: settings, logging, broker, HTTP API, feed poller."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from faststream import FastStream
from pactwatch.contracts import ARTICLES_INGESTED
from pactwatch.http import add_health_routes, json_errors, requires_key, with_extra_schemas
from pactwatch.service import make_broker, settle_heap
from pactwatch.streams import connect

from pactwatch_ingest import dating, language, pages
from pactwatch_ingest.accepting import Intake
from pactwatch_ingest.api import (
    add_refusal_handlers,
    build_feeds_router,
    build_router,
    schema_models,
)
from pactwatch_ingest.backpressure import BacklogGate
from pactwatch_ingest.feedstore import FeedStore
from pactwatch_ingest.fetching import Fetcher
from pactwatch_ingest.polling import Poller
from pactwatch_ingest.publishing import ArticlePublisher
from pactwatch_ingest.settings import IngestSettings

settings = IngestSettings()
broker = make_broker(settings)
publisher = broker.publisher(stream=ARTICLES_INGESTED, description="Every article ingest accepted.")
asyncapi = FastStream(broker)
"""The AsyncAPI view of this service (``faststream docs gen pactwatch_ingest.app:asyncapi``)."""


def warm_up() -> None:
    """Load the language model, dateparser's data and trafilatura before the first request."""
    language.warm_up()
    dating.warm_up()
    pages.warm_up()


def create_app() -> FastAPI:
    redis = connect(settings.redis_url)
    gate = BacklogGate(
        redis, settings.max_backlog, settings.backlog_check_s, settings.retry_after_s
    )
    intake = Intake(
        ArticlePublisher(redis, publisher, known_ttl_s=int(settings.known_ttl_days * 86400)),
        gate,
    )
    store = FeedStore(redis, settings.feed_prefix)
    fetcher = Fetcher(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(warm_up)
        await broker.start()
        await settle_heap()
        poller = None
        if settings.feeds_enabled:
            poller = asyncio.create_task(Poller(store, fetcher, intake, settings).run())
        try:
            yield
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            await fetcher.aclose()
            await broker.stop()
            await redis.aclose()

    app = FastAPI(title="pactwatch ingest", version="0.1.0", lifespan=lifespan)
    app.include_router(build_router(settings, intake, [requires_key(settings)]))
    app.include_router(
        build_feeds_router(settings, store, fetcher.policy, [requires_key(settings, admin=True)])
    )
    add_health_routes(app, redis)
    json_errors(app)
    add_refusal_handlers(app, settings)
    with_extra_schemas(app, schema_models())
    return app
