"""Wiring of the extractor: settings, broker, the spaCy pipeline, FastStream app.

The model loads in a startup hook, not at import, so that `faststream docs gen` and tests
import this module without paying for it.
"""

import anyio
from faststream import FastStream
from faststream.asgi import AsgiFastStream
from pactwatch.contracts import GROUP_EXTRACTOR
from pactwatch.delivery import Consumers
from pactwatch.service import build_worker_app, make_broker
from pactwatch.streams import connect

from pactwatch_extractor.extraction import Extractor
from pactwatch_extractor.handlers import build_router
from pactwatch_extractor.settings import ExtractorSettings

settings = ExtractorSettings()
broker = make_broker(settings)
redis = connect(settings.redis_url)
consumers = Consumers(redis, group=GROUP_EXTRACTOR, service="extractor", settings=settings)


def create_app() -> AsgiFastStream:
    extractor = Extractor(model=settings.spacy_model, max_chars=settings.max_chars)

    async def load_model() -> None:
        await anyio.to_thread.run_sync(extractor.load)

    broker.include_router(build_router(redis, extractor, consumers))
    return build_worker_app(
        GROUP_EXTRACTOR, broker, redis, on_startup=[load_model], consumers=consumers
    )


app = create_app()
asyncapi = FastStream(broker, consumers.specification)
"""The AsyncAPI view: what it publishes and what it reads (``faststream docs gen``)."""
