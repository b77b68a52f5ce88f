"""Wiring of the ingest service: settings, logging, broker, HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream import FastStream
from pactwatch.contracts import ARTICLES_INGESTED
from pactwatch.http import add_health_routes, json_errors, with_extra_schemas
from pactwatch.service import make_broker
from pactwatch.streams import connect

from pactwatch_ingest.api import build_router, schema_models
from pactwatch_ingest.publishing import ArticlePublisher
from pactwatch_ingest.settings import IngestSettings

settings = IngestSettings()
broker = make_broker(settings)
publisher = broker.publisher(stream=ARTICLES_INGESTED, description="Every article ingest accepted.")
asyncapi = FastStream(broker)
"""The AsyncAPI view of this service (``faststream docs gen pactwatch_ingest.app:asyncapi``)."""


def create_app() -> FastAPI:
    redis = connect(settings.redis_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
            await redis.aclose()

    app = FastAPI(title="pactwatch ingest", version="0.1.0", lifespan=lifespan)
    app.include_router(build_router(settings, ArticlePublisher(redis, publisher)))
    add_health_routes(app, redis)
    json_errors(app)
    with_extra_schemas(app, schema_models())
    return app
