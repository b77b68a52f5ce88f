"""Readiness of a service: what ``/readyz`` of workers and HTTP services alike checks.

Ready means: Redis answers PING, every subscriber of the broker reads (FastStream's own ping
only asks Redis, and does not notice a subscriber that stopped, e.g. after its consumer group
was deleted), and each service-specific check (the indexer's database...) passes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio
from redis.asyncio import Redis

if TYPE_CHECKING:
    from faststream.redis import RedisBroker

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Returns None when ready, else the reason it is not."""
CHECK_TIMEOUT_S = 2.0


def _subscriber_name(subscriber: Any) -> str:
    stream_sub = getattr(subscriber, "stream_sub", None)
    if stream_sub is not None:
        return f"{stream_sub.name} ({stream_sub.group or 'no group'})"
    return str(getattr(subscriber, "call_name", type(subscriber).__name__))


def stopped_subscribers(broker: RedisBroker) -> list[str]:
    """The subscribers of ``broker`` that do not read: not started, stopped, or whose reading
    task ended (FastStream restarts a task that failed; one that ended for good stays done)."""
    stopped = []
    for subscriber in broker.subscribers:
        if not subscriber.calls:
            continue  # declared for the AsyncAPI document only: it never reads
        tasks = getattr(subscriber, "tasks", None)
        reading = subscriber.running and (tasks is None or any(not t.done() for t in tasks))
        if not reading:
            stopped.append(_subscriber_name(subscriber))
    return sorted(stopped)


async def unready_reasons(
    redis: Redis,
    broker: RedisBroker | None = None,
    checks: Sequence[tuple[str, ReadinessCheck]] = (),
) -> dict[str, str]:
    """Why the service is not ready, by component (empty when it is ready)."""
    reasons: dict[str, str] = {}
    try:
        with anyio.fail_after(CHECK_TIMEOUT_S):
            await redis.ping()
    except Exception as exc:
        reasons["redis"] = type(exc).__name__
    if broker is not None and (stopped := stopped_subscribers(broker)):
        reasons["subscribers"] = "not reading: " + ", ".join(stopped)
    for name, check in checks:
        try:
            with anyio.fail_after(CHECK_TIMEOUT_S):
                why = await check()
        except Exception as exc:
            why = type(exc).__name__
        if why:
            reasons[name] = why
    return reasons
