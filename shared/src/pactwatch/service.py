"""How a worker service is assembled and run: a FastStream app with health endpoints.

The workers (deduplicator, extractor, notifier) are AsgiFastStream apps served by uvicorn, so
that each one answers ``/healthz`` and ``/readyz`` and shuts down gracefully on SIGTERM.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from types import FrameType
from typing import Any

import anyio
import orjson
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from pactwatch.delivery import Consumers
from pactwatch.logs import MessageContext, configure_logging
from pactwatch.metrics import (
    CONTENT_TYPE,
    MessageMetrics,
    consumed_by,
    exposition,
    watched_groups,
)
from pactwatch.readiness import unready_reasons
from pactwatch.settings import ServiceSettings
from pactwatch.streams import ensure_groups

Hook = Callable[[], Awaitable[None]]


LOGGER = logging.getLogger("pactwatch.faststream")
"""FastStream's own messages go through the structlog formatter like every other line."""


def make_broker(settings: ServiceSettings) -> RedisBroker:
    """The FastStream broker for ``settings.redis_url``."""
    # per-message "Received"/"Processed" lines at DEBUG: no per-message logging on hot paths
    return RedisBroker(
        settings.redis_url,
        logger=LOGGER,
        log_level=logging.DEBUG,
        # outermost first: the log context covers the metrics middleware's lines too
        middlewares=[MessageContext, MessageMetrics],
    )


def build_worker_app(
    group: str,
    broker: RedisBroker,
    redis: Redis,
    *,
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    consumers: Consumers | None = None,
) -> AsgiFastStream:
    """A worker app: consumer groups created at id 0 before reading; ``/healthz``,
    ``/readyz`` (see :mod:`pactwatch.readiness`) and ``/metrics``. ``consumers`` start
    reading once the broker (their publishers) runs, and stop first, finishing their batch."""

    # the group's streams from the contracts, and any other its subscribers read
    watched = sorted({*consumed_by(group), *watched_groups(broker)})

    async def create_groups() -> None:
        await ensure_groups(redis, group)

    async def reading() -> str | None:
        return consumers.healthy() if consumers is not None else None

    checks = [("consumers", reading)]

    async def close_redis() -> None:
        await redis.aclose()

    @get(include_in_schema=False)
    async def healthz(scope: Any) -> AsgiResponse:
        return AsgiResponse(b'{"status":"ok"}', 200, headers={"content-type": "application/json"})

    @get(include_in_schema=False)
    async def readyz(scope: Any) -> AsgiResponse:
        reasons = await unready_reasons(redis, broker, checks)
        if reasons:
            body = orjson.dumps({"status": "unready", "reasons": reasons})
            return AsgiResponse(body, 503, headers={"content-type": "application/json"})
        return AsgiResponse(
            b'{"status":"ready"}', 200, headers={"content-type": "application/json"}
        )

    @get(include_in_schema=False)
    async def metrics(scope: Any) -> AsgiResponse:
        body = await exposition(redis, watched)
        return AsgiResponse(body, 200, headers={"content-type": CONTENT_TYPE})

    return AsgiFastStream(
        broker,
        logger=LOGGER,
        asgi_routes=[("/healthz", healthz), ("/readyz", readyz), ("/metrics", metrics)],
        on_startup=[create_groups, *on_startup],
        after_startup=[settle_heap, *([consumers.start] if consumers is not None else [])],
        on_shutdown=[*([consumers.stop] if consumers is not None else []), *on_shutdown],
        after_shutdown=[close_redis],
    )


GC_GEN0_THRESHOLD = 10_000
"""Allocations between two young-generation collections (Python's default: 700)."""


async def settle_heap() -> None:
    """Once a service has started: move what start-up built (modules, models, the spaCy
    pipeline) out of the collector's sight, and collect the young generation less often.

    A batch decodes tens of thousands of small objects (an enriched article is ~300), which
    with Python's defaults set off dozens of collections per batch, each promoting survivors
    into generations that full collections walk along with everything loaded at start-up.
    Decoding enriched articles, 64 at a time, took 3-4 times as long as with the collector
    off; frozen, with this threshold, 1.5 times. Messages hold no reference cycles: reference
    counting frees them, so this changes when cycles are found, not how much is kept.
    Measured on the stages alone (one run each): deduplicator CPU per message 1.04 -> 0.67 ms,
    indexer 0.83 -> 0.68, ingest 0.57 -> 0.50."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])


def exit_zero_after_sigterm() -> None:
    """Make a SIGTERM end the process with status 0, and at once, after uvicorn's graceful
    shutdown.

    uvicorn takes over SIGTERM while it serves, shuts down (the consumers finish or return
    their batches, the broker and Redis close), then raises the signal again under the handler
    it found: with the default one, a clean stop would end as "killed by SIGTERM" (exit code
    143 in a container, which Compose and Kubernetes report as an error). The exit skips
    joining threads: a worker thread running a batch the grace cut short (spaCy, returned for
    a replica) would keep the process alive until it finished, for a result nobody wants.
    A SIGTERM before uvicorn serves exits at once too.
    """

    def exit_zero(signum: int, frame: FrameType | None) -> None:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, exit_zero)


def run_worker(service: str, settings: ServiceSettings, app: AsgiFastStream) -> None:
    """Configure logging and serve ``app`` until SIGTERM/SIGINT; a SIGTERM exits with 0 once
    the batches in hand are finished or returned (see :meth:`Consumers.stop`)."""
    configure_logging(service, settings.log_level, settings.log_format)
    exit_zero_after_sigterm()
    options: dict[str, Any] = {
        "host": settings.http_host,
        "port": settings.http_port,
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
        "log_config": None,
        "access_log": "false",  # FastStream casts uvicorn options from strings
    }
    anyio.run(app.run, logging.getLevelName(settings.log_level.upper()), options)
