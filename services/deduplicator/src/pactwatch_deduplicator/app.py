"""Wiring of the deduplicator: settings, broker, claims in Redis, FastStream app."""

from faststream import FastStream
from faststream.asgi import AsgiFastStream
from pactwatch.contracts import GROUP_DEDUPLICATOR
from pactwatch.delivery import Consumers
from pactwatch.service import build_worker_app, make_broker
from pactwatch.streams import connect

from pactwatch_deduplicator.claims import RedisClaims, RedisLsh
from pactwatch_deduplicator.handlers import build_router
from pactwatch_deduplicator.settings import DeduplicatorSettings

settings = DeduplicatorSettings()
broker = make_broker(settings)
redis = connect(settings.redis_url)
consumers = Consumers(redis, group=GROUP_DEDUPLICATOR, service="deduplicator", settings=settings)


def create_app() -> AsgiFastStream:
    window_s = int(settings.window_days * 86400)
    claims = RedisClaims(redis, prefix=settings.key_prefix, ttl_s=window_s)
    lsh = RedisLsh(redis, prefix=settings.key_prefix, window_s=window_s)
    broker.include_router(build_router(settings, redis, claims, lsh, consumers))
    return build_worker_app(GROUP_DEDUPLICATOR, broker, redis, consumers=consumers)


app = create_app()
asyncapi = FastStream(broker, consumers.specification)
"""The AsyncAPI view: what it publishes and what it reads (``faststream docs gen``)."""
