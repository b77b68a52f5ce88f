"""Prometheus metrics of every service, named as deploy/grafana's dashboard reads them.

Counters and histograms live in the process's default registry (each replica serves its own
``/metrics``; no multiprocess mode). The Redis gauges (group lag and pending, dead letters,
stream lengths) are read from Redis when ``/metrics`` is scraped, for the stream/group pairs
the service consumes, so that they are never stale and cost nothing between scrapes.

- ``pactwatch_messages_total{service,stream,outcome}``: messages handled; outcome is
  ``processed``, ``failed`` (the handler raised: the batch stays pending), ``skipped``, or
  ``dead_lettered`` (moved to ``<stream>.dlq`` by :mod:`pactwatch.delivery`);
- ``pactwatch_handler_seconds{service,stream}``: time in the handler, per call (one batch);
- ``pactwatch_batch_size{service,stream}``: messages per call;
- ``pactwatch_group_lag{stream,group}``, ``pactwatch_group_pending{stream,group}``,
  ``pactwatch_group_consumers{stream,group}``: see :mod:`pactwatch.backlog`;
- ``pactwatch_stream_length{stream}``, ``pactwatch_dlq_size{stream}`` (the length of
  ``<stream>.dlq``, labelled with the stream whose dead letters it holds);
- ``pactwatch_redis_up``: 1 when the scrape could read Redis, else 0 (and no Redis gauges);
- ``pactwatch_service_info{service}``: 1 from every running replica; ``count by (service)``
  counts the replicas Prometheus reaches, whatever the scrape job is called (compose's DNS
  jobs or Kubernetes pod annotations);
- ``pactwatch_alerts_total{channel}``: alerts sent, per channel (``stream``, ``pubsub``,
  ``webhook``, ``sse``); ``pactwatch_webhook_deliveries_total{outcome}``: webhook attempts,
  per outcome (``delivered``, ``failed``: retried later, ``dead``: given up).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio
import structlog
from faststream import BaseMiddleware
from faststream.exceptions import AckMessage, SkipMessage
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from redis.asyncio import Redis

from pactwatch.backlog import Backlog, dead_letter_stream, read_backlog
from pactwatch.contracts import CONSUMED_STREAMS

if TYPE_CHECKING:
    from faststream.message import StreamMessage
    from faststream.redis import RedisBroker

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The content type of :func:`exposition`'s body (Prometheus's text format)."""
SCRAPE_LIMIT = 1_000
"""On Redis 6.2 a scrape counts at most this many undelivered entries per group (see backlog)."""
SCRAPE_TIMEOUT_S = 2.0

log = structlog.get_logger()

MESSAGES = Counter(
    "pactwatch_messages",
    "Messages handled, by service, stream and outcome (processed, failed, dead_lettered...).",
    ["service", "stream", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "pactwatch_handler_seconds",
    "Seconds a handler took for one call (one batch).",
    ["service", "stream"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
BATCH_SIZE = Histogram(
    "pactwatch_batch_size",
    "Messages per handler call.",
    ["service", "stream"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
ALERTS = Counter("pactwatch_alerts", "Alerts sent, by channel.", ["channel"])
WEBHOOK_DELIVERIES = Counter(
    "pactwatch_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, failed, dead).",
    ["outcome"],
)


def count_alerts(channel: str, alerts: int = 1) -> None:
    """Count ``alerts`` sent on ``channel`` (stream, pubsub, webhook, sse)."""
    if alerts:
        ALERTS.labels(channel).inc(alerts)


def count_webhook_delivery(outcome: str) -> None:
    """Count one webhook attempt that ended ``outcome`` (delivered, failed, dead)."""
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    if outcome == "delivered":
        count_alerts("webhook")


def count_messages(service: str, stream: str, outcome: str, messages: int = 1) -> None:
    """Count ``messages`` of ``stream`` that ended ``outcome``, outside a handler's call."""
    MESSAGES.labels(service, stream, outcome).inc(messages)


def _service(msg: StreamMessage[Any]) -> str:
    # the consumer group is the service's name (STYLE.md); a plain subscription has none
    group = getattr(msg, "group", None)
    if group:
        return str(group)
    return str(structlog.contextvars.get_contextvars().get("service", "unknown"))


@contextmanager
def observe_handler(service: str, stream: str, messages: int) -> Iterator[None]:
    """Time one handler call over ``messages`` messages of ``stream``, and count them
    ``processed`` when it returns, ``failed`` when it raises (``skipped`` for SkipMessage)."""
    labels = (service, stream)
    started = time.perf_counter()
    outcome = "failed"
    try:
        yield
        outcome = "processed"
    except AckMessage:
        outcome = "processed"
        raise
    except SkipMessage:
        outcome = "skipped"
        raise
    finally:
        HANDLER_SECONDS.labels(*labels).observe(time.perf_counter() - started)
        BATCH_SIZE.labels(*labels).observe(messages)
        MESSAGES.labels(*labels, outcome).inc(messages)


class MessageMetrics(BaseMiddleware[Any, Any]):
    """:func:`observe_handler` around every handler call of a FastStream broker."""

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        raw = msg.raw_message if isinstance(msg.raw_message, dict) else {}
        size = len(raw.get("message_ids") or ()) or 1
        with observe_handler(_service(msg), str(raw.get("channel", "")), size):
            return await call_next(msg)


def consumed_by(group: str | None) -> list[tuple[str, str]]:
    """The (stream, group) pairs ``group`` reads, from the contracts (none for no group)."""
    if group is None:
        return []
    return [(stream, group) for stream in CONSUMED_STREAMS.get(group, ())]


def watched_groups(broker: RedisBroker) -> list[tuple[str, str]]:
    """The (stream, group) pairs ``broker``'s stream subscribers read, sorted."""
    pairs = set()
    for subscriber in broker.subscribers:
        stream_sub = getattr(subscriber, "stream_sub", None)
        if stream_sub is not None and stream_sub.group:
            pairs.add((stream_sub.name, stream_sub.group))
    return sorted(pairs)


class _Snapshot:
    """The Redis gauges of one scrape, as a prometheus_client collector."""

    def __init__(self, backlog: Backlog | None, watched: Sequence[tuple[str, str]]) -> None:
        self._backlog = backlog
        self._watched = watched

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("pactwatch_redis_up", "1 when this scrape could read Redis.")
        up.add_metric([], 0 if self._backlog is None else 1)
        yield up
        if self._backlog is None:
            return
        streams = sorted({stream for stream, _ in self._watched})
        length = GaugeMetricFamily(
            "pactwatch_stream_length", "Entries in the stream.", labels=["stream"]
        )
        dlq = GaugeMetricFamily(
            "pactwatch_dlq_size",
            "Entries in the stream's dead-letter stream <stream>.dlq.",
            labels=["stream"],
        )
        lag = GaugeMetricFamily(
            "pactwatch_group_lag",
            "Entries not yet delivered to the group (at most 1000 counted on Redis < 7).",
            labels=["stream", "group"],
        )
        pending = GaugeMetricFamily(
            "pactwatch_group_pending",
            "Entries delivered to the group and not acknowledged yet.",
            labels=["stream", "group"],
        )
        consumers = GaugeMetricFamily(
            "pactwatch_group_consumers", "Consumers in the group.", labels=["stream", "group"]
        )
        for stream in streams:
            state = self._backlog.stream(stream)
            length.add_metric([stream], state.length)
            dlq.add_metric([stream], self._backlog.stream(dead_letter_stream(stream)).length)
            for group in state.groups:
                lag.add_metric([stream, group.name], group.lag)
                pending.add_metric([stream, group.name], group.pending)
                consumers.add_metric([stream, group.name], len(group.consumers))
        yield from (length, dlq, lag, pending, consumers)


async def exposition(redis: Redis, watched: Sequence[tuple[str, str]]) -> bytes:
    """The ``/metrics`` body: this process's metrics, then the Redis gauges of ``watched``.

    When Redis cannot be read within two seconds, ``pactwatch_redis_up`` is 0 and the Redis
    gauges are left out (a stale or zero lag would be a lie).
    """
    backlog: Backlog | None = None
    if watched:
        streams = sorted({stream for stream, _ in watched})
        # the dead-letter streams are read for their length only: none of their groups
        groups: dict[str, set[str]] = {dead_letter_stream(s): set() for s in streams}
        for stream, group in watched:
            groups.setdefault(stream, set()).add(group)
        try:
            with anyio.fail_after(SCRAPE_TIMEOUT_S):
                backlog = await read_backlog(
                    redis,
                    [*streams, *(dead_letter_stream(s) for s in streams)],
                    groups=groups,
                    consumers=True,
                    throughput=False,
                    limit=SCRAPE_LIMIT,
                )
        except Exception as exc:
            log.warning("metrics.redis_unreadable", error=f"{type(exc).__name__}: {exc}")
    snapshot = _Snapshot(backlog, watched) if watched else None
    body = generate_latest(REGISTRY) + generate_latest(_ServiceInfo())
    return body + generate_latest(snapshot) if snapshot is not None else body


class _ServiceInfo:
    """``pactwatch_service_info{service}`` 1: this replica, named as its logs name it."""

    def collect(self) -> Iterable[Metric]:
        service = str(structlog.contextvars.get_contextvars().get("service", "unknown"))
        info = GaugeMetricFamily(
            "pactwatch_service_info", "1 from each running replica.", labels=["service"]
        )
        info.add_metric([service], 1)
        yield info
