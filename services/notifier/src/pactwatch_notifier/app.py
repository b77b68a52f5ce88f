"""Wiring of the notifier: settings, broker, registry in Redis, FastStream app."""

from faststream.asgi import AsgiFastStream
from pactwatch.contracts import GROUP_NOTIFIER
from pactwatch.service import build_worker_app, make_broker
from pactwatch.streams import connect

from pactwatch_notifier.handlers import build_router
from pactwatch_notifier.settings import NotifierSettings

settings = NotifierSettings()


def create_app() -> AsgiFastStream:
    broker = make_broker(settings)
    redis = connect(settings.redis_url)
    broker.include_router(build_router(settings, redis))
    return build_worker_app(GROUP_NOTIFIER, broker, redis)


app = create_app()
