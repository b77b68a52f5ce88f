"""``python -m pactwatch.groups``: create every consumer group of the pipeline, then exit.

The deployment's init step (a compose service, a Kubernetes Job). Each service also creates
its own groups when it starts; running this first means that a producer scaled up before its
consumers never publishes into a stream whose group does not exist yet, and that the groups
start at id ``0`` (FastStream would create them at ``$`` and skip what came before).

Redis may still be starting when this runs (compose and Kubernetes start things in parallel),
so connecting is retried until ``PACTWATCH_CONNECT_TIMEOUT_S``; a refused password is not
retried, since waiting does not fix it.
"""

from __future__ import annotations

import asyncio
import sys
import time

import structlog
from pydantic import Field
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pactwatch.contracts import CONSUMED_STREAMS
from pactwatch.logs import configure_logging
from pactwatch.settings import ServiceSettings
from pactwatch.streams import connect, ensure_all_groups

log = structlog.get_logger("pactwatch.groups")


class GroupsSettings(ServiceSettings):
    """Where Redis is, and how long to wait for it."""

    connect_timeout_s: float = Field(
        default=60.0, gt=0, description="How long to keep retrying while Redis is unreachable."
    )


async def wait_for_redis(redis: Redis, timeout_s: float) -> None:
    """Return once Redis answers PING; raise the last error after ``timeout_s``.

    Connection refused, timeouts and ``LOADING`` (Redis replaying its AOF) are retried with a
    growing pause; an authentication error is raised at once.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.1
    while True:
        try:
            await redis.ping()
            return
        except AuthenticationError:
            raise
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            log.info("redis.waiting", reason=f"{type(exc).__name__}: {exc}", retry_in_s=pause)
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, 2.0)


async def existing_groups(redis: Redis, stream: str) -> set[str]:
    """Names of the consumer groups on ``stream`` (none when the stream does not exist)."""
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError as exc:
        if "no such key" in str(exc).lower():
            return set()
        raise
    return {_text(group["name"]) for group in groups}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def create_all_groups(redis: Redis) -> list[tuple[str, str, bool]]:
    """Create every group of :data:`CONSUMED_STREAMS` at id 0 with MKSTREAM.

    Returns ``(stream, group, created)`` for each pair; ``created`` is False for a group that
    already existed (it is left as it is: its position and pending entries are kept).
    """
    before = {
        stream: await existing_groups(redis, stream)
        for streams in CONSUMED_STREAMS.values()
        for stream in streams
    }
    await ensure_all_groups(redis)
    outcome: list[tuple[str, str, bool]] = []
    for group, streams in CONSUMED_STREAMS.items():
        for stream in streams:
            if group not in await existing_groups(redis, stream):
                raise RuntimeError(f"group {group!r} missing on {stream!r} after creating it")
            outcome.append((stream, group, group not in before[stream]))
    return outcome


async def run(settings: GroupsSettings) -> int:
    """Wait for Redis, create the groups, log one line per group; the process exit code."""
    redis = connect(settings.redis_url)
    try:
        await wait_for_redis(redis, settings.connect_timeout_s)
        for stream, group, created in await create_all_groups(redis):
            log.info("group.created" if created else "group.exists", stream=stream, group=group)
    except AuthenticationError as exc:
        log.error("groups.failed", reason=f"Redis refused the credentials in REDIS_URL: {exc}")
        return 1
    except (RedisError, OSError) as exc:
        log.error(
            "groups.failed",
            reason=f"{type(exc).__name__}: {exc}",
            waited_s=settings.connect_timeout_s,
        )
        return 1
    finally:
        await redis.aclose()
    log.info("groups.ready", groups=sum(len(s) for s in CONSUMED_STREAMS.values()))
    return 0


def main() -> int:
    """Entry point of ``python -m pactwatch.groups``."""
    settings = GroupsSettings()
    configure_logging("groups", settings.log_level, settings.log_format)
    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
