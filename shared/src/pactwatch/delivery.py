"""Reading the pipeline's streams so that nothing is lost: at least once, with dead letters.

FastStream 0.7's stream subscriber reads only new entries (``>``): an entry whose handler
raised, or whose consumer died, stays pending forever; it stops for good (and the app exits)
when its consumer group disappears; and a batch typed ``list[Model]`` fails whole when one
entry does not decode. The services therefore read their streams here, with redis-py, and
keep FastStream for publishing. Each :class:`StreamConsumer`:

- reads new entries in batches and acknowledges a batch only once its handler returned, that
  is once its results are published or stored (handlers are idempotent: deterministic ids,
  upserts, atomic claims, so a redelivery never duplicates anything);
- decodes every entry on its own: one that is not a pactwatch message (malformed JSON, an
  unknown payload, plain fields another program wrote) goes to ``<stream>.dlq`` at once with
  the reason, and the rest of its batch goes through;
- when a batch fails, runs its entries one by one, so that one poison entry holds up no other;
  an entry that still fails stays pending and is delivered again after
  ``PACTWATCH_CLAIM_IDLE_MS``; after ``PACTWATCH_MAX_DELIVERIES`` deliveries it moves to the
  dead-letter stream with the error, the service and the delivery count;
- claims (XAUTOCLAIM) the entries left pending longer than the claim idle time by a consumer
  that died, while keeping its own in-flight entries fresh, so that a slow batch is not taken
  from a live consumer;
- waits out Redis being away (restart, failover, AOF loading) and recreates its group at
  id 0 if it is gone, instead of stopping;
- deletes consumers of its group that have been idle for ``PACTWATCH_CONSUMER_STALE_S`` with
  nothing pending (checked and deleted in one script, so no entry is dropped with them).

A dead-letter entry keeps the original entry's fields under ``field:<name>``, so that
``pactwatch dlq replay`` can put the very same message back on its stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import structlog
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.parser.binary import BinaryMessageFormatV1
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.exceptions import (
    ClusterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pactwatch.metrics import BATCH_SIZE, HANDLER_SECONDS, MESSAGES
from pactwatch.settings import ServiceSettings, consumer_name
from pactwatch.streams import ensure_groups

log = structlog.get_logger("pactwatch.delivery")

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[list[M]], Awaitable[None]]
RawEntry = tuple[str, dict[bytes, bytes] | None]
"""A stream entry as read: its id and fields (None: deleted while it was pending)."""

DATA_FIELD = b"__data__"
"""The field FastStream writes each message to (binary envelope: headers + JSON body)."""
DLQ_SUFFIX = ".dlq"
ORIGINAL_FIELD_PREFIX = "field:"
"""A dead letter keeps each field of the original entry under this prefix."""

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,  # includes BusyLoadingError: Redis replaying its AOF
    RedisTimeoutError,
    # redis-py raises these for the replies READONLY (a replica since a failover),
    # MASTERDOWN, CLUSTERDOWN, TRYAGAIN and OOM (maxmemory reached: trimming frees it)
    ReadOnlyError,
    ClusterDownError,
    TryAgainError,
    OutOfMemoryError,
    ConnectionError,
    TimeoutError,
    OSError,
)
"""Errors that say "not now" rather than "never": the entries stay pending, no delivery is
counted against them as a failure, and the consumer retries after a pause."""
_TRANSIENT_REPLIES = ("LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "OOM")


def _ms_seq(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def dead_letter_stream(stream: str) -> str:
    """The dead-letter stream of ``stream``."""
    return f"{stream}{DLQ_SUFFIX}"


class UndecodableError(ValueError):
    """A stream entry that is not the message its stream carries; the text says why."""


def decode_entry(fields: Mapping[bytes, bytes], model: type[M]) -> M:
    """The message in a stream entry written by a FastStream publisher, validated as ``model``.

    Raises :class:`UndecodableError` with a reason a person can act on, whatever the entry
    holds; never another exception.
    """
    data = fields.get(DATA_FIELD)
    if data is None:
        names = ", ".join(sorted(_text(k) for k in fields)) or "none"
        raise UndecodableError(
            f"not a pactwatch message: no {DATA_FIELD.decode()} field (fields: {names[:200]}); "
            "was it written by another program?"
        )
    try:
        body, _ = BinaryMessageFormatV1.parse(bytes(data))
    except Exception as exc:  # a truncated envelope: its lengths point past the end
        raise UndecodableError(f"unreadable message envelope: {exc}") from None
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}"
            for e in exc.errors()[:3]
        )
        more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
        raise UndecodableError(f"not a valid {model.__name__}: {problems}{more}") from None


def is_transient(exc: BaseException, extra: tuple[type[BaseException], ...] = ()) -> bool:
    """Whether ``exc`` says "try again later" (Redis away or busy, a database unavailable)."""
    if isinstance(exc, TRANSIENT_ERRORS + extra):
        return True
    return isinstance(exc, ResponseError) and str(exc).startswith(_TRANSIENT_REPLIES)


class InjectedFaultError(RuntimeError):
    """Raised for messages named by PACTWATCH_FAIL_ARTICLE_IDS (fault-injection tests only)."""


@dataclass(frozen=True)
class Entry(Generic[M]):
    """One entry being handled: its id, the message, and how often it was delivered."""

    id: str
    message: M
    deliveries: int


# Keep the listed entries fresh (reset their idle time) while their handler runs, but only
# those this consumer still owns: one another replica claimed meanwhile is left to it.
_TOUCH = """
local mine = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then mine[#mine + 1] = ARGV[i] end
end
local n = #mine
if n > 0 then
  mine[n + 1] = 'JUSTID'  -- JUSTID: the delivery count stays as it is
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(mine))
end
return n
"""

# Delete a consumer only while it has nothing pending: checked and done in one step, so an
# entry delivered to it in between cannot be dropped with it.
_DELETE_IF_IDLE = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
"""


class StreamConsumer(Generic[M]):
    """One consumer of one stream in one group; :meth:`run` until :meth:`stop`."""

    def __init__(
        self,
        redis: Redis,
        *,
        stream: str,
        group: str,
        model: type[M],
        handler: Handler[M],
        service: str,
        settings: ServiceSettings,
        consumer: str | None = None,
        transient: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.stream = stream
        self.group = group
        self.consumer = consumer or consumer_name()
        self._redis = redis
        self._model = model
        self._handler = handler
        self._service = service
        self._batch = settings.batch_size
        self._block_ms = settings.poll_ms
        self._claim_idle_ms = settings.claim_idle_ms
        self._max_deliveries = settings.max_deliveries
        self._stale_ms = int(settings.consumer_stale_s * 1000)
        self._keep_ms = int(settings.stream_keep_s * 1000)
        self._fail_ids = settings.fail_article_ids
        self._transient = transient
        self._touch: Any = redis.register_script(_TOUCH)
        self._delete_if_idle: Any = redis.register_script(_DELETE_IF_IDLE)
        self._stopping = asyncio.Event()
        # a new consumer name has no history; one reused (a container's restart) may have some
        self._history: str | None = "0"
        # entries read whose handling met a transient error: handled again before any read,
        # without reading them again (which would count a delivery against them)
        self._in_hand: tuple[list[RawEntry], dict[str, int]] | None = None
        self._acked: set[str] = set()
        """Entries of the batch in hand acknowledged so far."""
        self._claim_cursor = "0-0"
        self._next_claim = 0.0
        self._next_sweep = time.monotonic() + min(60.0, settings.consumer_stale_s / 2)
        self.handled = 0
        """Entries acknowledged after their handler succeeded (for tests and metrics)."""

    # --- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Read, handle and acknowledge until :meth:`stop`; the batch in hand is finished."""
        pause = 0.1
        bound = structlog.contextvars.bound_contextvars(
            stream=self.stream, group=self.group, consumer=self.consumer
        )
        with bound:
            await self._ensure_group()
            while not self._stopping.is_set():
                try:
                    await self.step()
                    pause = 0.1
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if _is_nogroup(exc):
                        try:
                            await self._recreate_group()
                            continue
                        except Exception as again:  # Redis went away, or refuses writes
                            exc = again
                    if is_transient(exc, self._transient):
                        log.warning("delivery.waiting", reason=_describe(exc), retry_in_s=pause)
                    else:
                        log.error("delivery.step_failed", retry_in_s=pause, exc_info=exc)
                    # jitter: replicas that lost Redis together do not all come back at once
                    jittered = pause * random.uniform(1, 1.5)  # noqa: S311  # not a secret
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), jittered)
                    pause = min(pause * 2, 5.0)

    def stop(self) -> None:
        """Ask :meth:`run` to return once the batch in hand is handled."""
        self._stopping.set()

    async def step(self) -> int:
        """One read and its handling: entries in hand first, then this consumer's own pending
        ones (after a restart under the same name), then entries due for a claim, then new
        ones. Returns the number of entries handled."""
        if self._in_hand is not None:
            entries, counts = self._in_hand
            # still this consumer's: their idle time starts again, so that no replica claims
            # them while a database or Redis is away (each claim counts a delivery)
            await self._touch_ids([entry_id for entry_id, _ in entries])
            self._in_hand = None
            await self._process(entries, counts)
            return len(entries)
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + min(60.0, self._stale_ms / 2000)
            await self.delete_stale_consumers()
            await self.trim_acknowledged()
        if self._history is not None:
            entries = await self._read(self._history)
            if entries:
                self._history = entries[-1][0]
                await self._process(entries, await self._deliveries(entries))
                return len(entries)
            self._history = None
        if now >= self._next_claim:
            claimed = await self._claim()
            if claimed:
                await self._process(claimed, await self._deliveries(claimed))
                return len(claimed)
        entries = await self._read(">", block=self._block_ms)
        await self._process(entries, {})
        return len(entries)

    async def _process(self, entries: list[RawEntry], counts: dict[str, int]) -> None:
        self._acked.clear()
        try:
            await self._handle(entries, counts)
        except Exception as exc:
            if is_transient(exc, self._transient):
                # what was settled already (dead-lettered, or handled on its own after the
                # batch failed) is not handled again
                rest = [e for e in entries if e[0] not in self._acked]
                self._in_hand = (rest, counts) if rest else None
            raise

    # --- reading -------------------------------------------------------------------------

    async def _read(self, start: str, block: int | None = None) -> list[RawEntry]:
        reply: Any = await self._redis.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=self._batch, block=block
        )
        if not reply:
            return []
        _, entries = reply[0]
        return [(_text(entry_id), fields) for entry_id, fields in entries]

    async def _claim(self) -> list[RawEntry]:
        """Claim entries idle past the claim time (a dead consumer's, or failed ones)."""
        reply = await self._redis.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=self._claim_idle_ms,
            start_id=self._claim_cursor,
            count=self._batch,
        )
        cursor, entries = _text(reply[0]), reply[1]
        self._claim_cursor = cursor
        if cursor == "0-0":
            # the whole pending list was walked: look again in a fraction of the idle time
            self._next_claim = time.monotonic() + max(0.05, self._claim_idle_ms / 4000)
        claimed = [
            (_text(e[0]), e[1]) if isinstance(e, list | tuple) else (_text(e), None)
            for e in entries
            if e is not None
        ]
        if claimed:
            log.info("delivery.claimed", entries=len(claimed), first=claimed[0][0])
        return claimed

    async def _deliveries(self, entries: Sequence[tuple[str, object]]) -> dict[str, int]:
        """How often each entry has been delivered (this delivery included)."""
        pipe: Any = self._redis.pipeline(transaction=False)
        async with pipe:
            for entry_id, _ in entries:
                pipe.xpending_range(self.stream, self.group, entry_id, entry_id, 1)
            replies = await pipe.execute()
        counts: dict[str, int] = {}
        for (entry_id, _), reply in zip(entries, replies, strict=True):
            counts[entry_id] = int(reply[0]["times_delivered"]) if reply else 1
        return counts

    # --- handling ------------------------------------------------------------------------

    async def _handle(self, raw: Sequence[RawEntry], counts: Mapping[str, int]) -> None:
        good: list[Entry[M]] = []
        done: list[str] = []
        for entry_id, fields in raw:
            deliveries = counts.get(entry_id, 1)
            if not fields:  # deleted from the stream while pending: nothing left to handle
                done.append(entry_id)
                continue
            if deliveries > self._max_deliveries:
                # delivered that often without an acknowledgement or a recorded failure: the
                # consumers that took it died on it (killed, out of memory)
                reason = (
                    f"delivered {deliveries - 1} times and never acknowledged: each consumer "
                    "that took it stopped before finishing"
                )
                await self._dead_letter(entry_id, fields, "crashed", reason, deliveries - 1)
                MESSAGES.labels(self._service, self.stream, "dead_lettered").inc()
                continue
            try:
                good.append(Entry(entry_id, decode_entry(fields, self._model), deliveries))
            except UndecodableError as exc:
                await self._dead_letter(entry_id, fields, "undecodable", str(exc), deliveries)
                MESSAGES.labels(self._service, self.stream, "dead_lettered").inc()
        if done:
            await self._ack(done)
        await self._handle_decoded(good, {entry_id: f for entry_id, f in raw if f is not None})

    async def _handle_decoded(
        self, entries: list[Entry[M]], fields: Mapping[str, dict[bytes, bytes]]
    ) -> None:
        if not entries:
            return
        labels = (self._service, self.stream)
        started = time.perf_counter()
        try:
            with _message_context(entries):
                async with self._keeping_fresh([e.id for e in entries]):
                    await self._call([e.message for e in entries])
        except Exception as exc:
            MESSAGES.labels(*labels, "failed").inc(len(entries))
            if is_transient(exc, self._transient):
                raise
            if len(entries) > 1:
                log.warning(
                    "delivery.batch_failed",
                    entries=len(entries),
                    error=_describe(exc),
                    then="handling each entry on its own",
                )
                for entry in entries:
                    await self._handle_decoded([entry], fields)
                return
            await self._failed(entries[0], fields[entries[0].id], exc)
            return
        finally:
            HANDLER_SECONDS.labels(*labels).observe(time.perf_counter() - started)
            BATCH_SIZE.labels(*labels).observe(len(entries))
        await self._ack([e.id for e in entries])
        MESSAGES.labels(*labels, "processed").inc(len(entries))
        self.handled += len(entries)

    async def _call(self, messages: list[M]) -> None:
        if self._fail_ids:
            for message in messages:
                if (article_id := _article_id(message)) in self._fail_ids:
                    raise InjectedFaultError(f"PACTWATCH_FAIL_ARTICLE_IDS names {article_id}")
        await self._handler(messages)

    async def _failed(self, entry: Entry[M], fields: dict[bytes, bytes], exc: Exception) -> None:
        article_id = _article_id(entry.message)
        if entry.deliveries >= self._max_deliveries:
            await self._dead_letter(entry.id, fields, "failed", _describe(exc), entry.deliveries)
            MESSAGES.labels(self._service, self.stream, "dead_lettered").inc()
            return
        log.warning(
            "delivery.failed",
            entry_id=entry.id,
            article_id=article_id,
            deliveries=entry.deliveries,
            max_deliveries=self._max_deliveries,
            error=_describe(exc),
            retry_after_ms=self._claim_idle_ms,
        )

    async def _ack(self, ids: Sequence[str]) -> None:
        if ids:
            await self._redis.xack(self.stream, self.group, *ids)
            self._acked.update(ids)

    async def _dead_letter(
        self, entry_id: str, fields: Mapping[bytes, bytes], reason: str, error: str, count: int
    ) -> None:
        """Move an entry to ``<stream>.dlq`` (then acknowledge it here); nothing is dropped."""
        record: dict[str | bytes, str | bytes] = {
            "stream": self.stream,
            "id": entry_id,
            "group": self.group,
            "service": self._service,
            "consumer": self.consumer,
            "reason": reason,
            "error": error[:4000],
            "deliveries": str(count),
            "failed_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        for name, value in fields.items():
            record[ORIGINAL_FIELD_PREFIX.encode() + _bytes(name)] = value
        # added before the acknowledgement: a crash in between dead-letters it twice, never zero
        await self._redis.xadd(dead_letter_stream(self.stream), record)  # type: ignore[arg-type]
        await self._ack([entry_id])
        log.error(
            "delivery.dead_lettered",
            entry_id=entry_id,
            reason=reason,
            error=error[:500],
            deliveries=count,
            dead_letter_stream=dead_letter_stream(self.stream),
        )

    @contextlib.asynccontextmanager
    async def _keeping_fresh(self, ids: Sequence[str]) -> AsyncIterator[None]:
        """While the handler runs, reset the idle time of ``ids`` every third of the claim
        time, so that no replica takes a slow batch from a consumer that is alive."""

        done = asyncio.Event()

        async def keep() -> None:
            # stopped by the event, never cancelled: a command cut off mid-reply would leave
            # its connection in doubt
            while not done.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(done.wait(), self._claim_idle_ms / 3000)
                    return
                with contextlib.suppress(Exception):
                    await self._touch_ids(ids)

        task = asyncio.create_task(keep())
        try:
            yield
        finally:
            done.set()
            await task

    async def _touch_ids(self, ids: Sequence[str]) -> None:
        """Reset the idle time of those of ``ids`` this consumer still holds."""
        for start in range(0, len(ids), 500):
            await self._touch(
                keys=[self.stream], args=[self.group, self.consumer, *ids[start : start + 500]]
            )

    # --- groups and consumers ---------------------------------------------------------------

    async def _ensure_group(self) -> None:
        pause = 0.1
        while not self._stopping.is_set():
            try:
                await ensure_groups(self._redis, self.group, [self.stream])
                return
            except Exception as exc:
                if not is_transient(exc, self._transient):
                    raise
                log.warning("delivery.waiting", reason=_describe(exc), retry_in_s=pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _recreate_group(self) -> None:
        # the stream was deleted or Redis lost its data: read everything still there again
        await ensure_groups(self._redis, self.group, [self.stream])
        self._history = "0"
        self._claim_cursor = "0-0"
        log.warning("delivery.group_recreated", start_id="0")

    async def trim_acknowledged(self) -> str | None:
        """Drop the entries every group of the stream has read and acknowledged, once they
        are older than the keep time: the stream stays bounded, and no entry a group has not
        acknowledged is ever trimmed. Returns the trim threshold, if any.

        Safe without a lock: a group's last-delivered id only grows, and an entry becomes
        pending only when it is delivered, past that id; so the threshold computed here can
        only be lower than the true one when XTRIM runs."""
        try:
            groups = await self._redis.xinfo_groups(self.stream)
        except ResponseError as exc:
            if "no such key" in str(exc).lower():
                return None
            raise
        if not groups:
            return None  # nobody reads it through a group: not ours to trim
        bounds = [_ms_seq(f"{int(time.time() * 1000) - self._keep_ms}-0")]
        for info in groups:
            name = _text(info["name"])
            if int(info["pending"]):
                summary = await self._redis.xpending(self.stream, name)
                bounds.append(_ms_seq(_text(summary["min"])))
            else:
                ms, seq = _ms_seq(_text(info["last-delivered-id"]))
                bounds.append((ms, seq + 1))
        ms, seq = min(bounds)
        threshold = f"{ms}-{seq}"
        if (ms, seq) > (0, 1):
            trimmed = await self._redis.xtrim(self.stream, minid=threshold, approximate=True)
            if trimmed:
                log.info("delivery.trimmed", entries=trimmed, below=threshold)
        return threshold

    async def delete_stale_consumers(self) -> list[str]:
        """Delete the group's consumers idle longer than the stale time with nothing pending
        (never this one). Returns their names."""
        try:
            consumers = await self._redis.xinfo_consumers(self.stream, self.group)
        except ResponseError as exc:
            if _is_nogroup(exc) or "no such key" in str(exc).lower():
                return []
            raise
        deleted: list[str] = []
        for info in consumers:
            name = _text(info["name"])
            if name == self.consumer or int(info["pending"]) or int(info["idle"]) < self._stale_ms:
                continue
            if int(await self._delete_if_idle(keys=[self.stream], args=[self.group, name])) >= 0:
                deleted.append(name)
        if deleted:
            log.info("delivery.consumers_deleted", consumers=deleted)
        return deleted


class Consumers:
    """The streams one service reads, each with its handler, started and stopped together.

    Handlers register with the :meth:`subscriber` decorator (``@consumers.subscriber(stream,
    Model)``, the handler takes ``list[Model]``); :meth:`start` runs one
    :class:`StreamConsumer` task per stream, :meth:`stop` lets each finish the batch in hand
    within the shutdown grace and cancels what is left (left pending: a replica claims it).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        group: str,
        service: str,
        settings: ServiceSettings,
        transient: tuple[type[BaseException], ...] = (),
    ) -> None:
        self._redis = redis
        self._group = group
        self._service = service
        self._settings = settings
        self._transient = transient
        self.consumers: list[StreamConsumer[Any]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.specification = RedisBroker(settings.redis_url)
        """The streams read, as FastStream subscribers, for the AsyncAPI document only:
        this broker is never started (the :class:`StreamConsumer` tasks do the reading)."""

    def subscriber(self, stream: str, model: type[M]) -> Callable[[Handler[M]], Handler[M]]:
        """Register the decorated handler for ``stream``; entries decode as ``model``."""

        def register(handler: Handler[M]) -> Handler[M]:
            self.specification.subscriber(
                stream=StreamSub(stream, group=self._group, consumer=consumer_name(), batch=True),
                description=handler.__doc__,
            )(handler)
            count = self._settings.consumers_per_stream
            base = consumer_name()
            for n in range(1, count + 1):
                self.consumers.append(
                    StreamConsumer(
                        self._redis,
                        stream=stream,
                        group=self._group,
                        model=model,
                        handler=handler,
                        service=self._service,
                        settings=self._settings,
                        consumer=base if count == 1 else f"{base}-{n}",
                        transient=self._transient,
                    )
                )
            return handler

        return register

    def watched(self) -> list[tuple[str, str]]:
        """The (stream, group) pairs read, for ``/metrics``."""
        return list(dict.fromkeys((c.stream, c.group) for c in self.consumers))

    async def start(self) -> None:
        """Create the groups (at id 0) and start reading every stream."""
        for consumer in self.consumers:
            self._tasks.append(
                asyncio.create_task(consumer.run(), name=f"consume {consumer.stream}")
            )

    async def stop(self) -> None:
        """Finish the batches in hand within the shutdown grace; cancel the rest."""
        for consumer in self.consumers:
            consumer.stop()
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=self._settings.shutdown_grace_s)
        for task in late:
            task.cancel()
        if late:
            log.warning("delivery.stopped_late", streams=[t.get_name() for t in late])
            await asyncio.wait(late, timeout=5)
        self._tasks.clear()

    def healthy(self) -> str | None:
        """None while every stream is being read; else which reader stopped and why."""
        for task in self._tasks:
            if task.done():
                error = task.exception() if not task.cancelled() else None
                return f"{task.get_name()} stopped" + (f": {error!r}" if error else "")
        return None


# --- dead letters: listing and replaying (``pactwatch dlq``) -----------------------------


@dataclass(frozen=True)
class DeadLetter:
    """One dead-letter entry, with the original entry's fields."""

    dlq_id: str
    stream: str
    original_id: str
    service: str
    group: str
    reason: str
    error: str
    deliveries: int
    failed_at: str
    fields: dict[bytes, bytes]

    def summary(self) -> dict[str, Any]:
        """The dead letter as plain JSON-friendly values (the payload as text, cut short)."""
        payload = self.fields.get(DATA_FIELD)
        if payload is not None:
            body, _ = _safe_parse(payload)
            preview = body.decode("utf-8", "replace")
        else:
            preview = " ".join(f"{_text(k)}={_text(v)}" for k, v in self.fields.items())
        return {
            "dlq_id": self.dlq_id,
            "stream": self.stream,
            "original_id": self.original_id,
            "service": self.service,
            "group": self.group,
            "reason": self.reason,
            "error": self.error,
            "deliveries": self.deliveries,
            "failed_at": self.failed_at,
            "payload": preview[:500],
        }


def _safe_parse(payload: bytes) -> tuple[bytes, dict[str, Any]]:
    try:
        return BinaryMessageFormatV1.parse(payload)
    except Exception:
        return payload, {}


def _dead_letter(dlq_id: bytes | str, record: Mapping[bytes, bytes], stream: str) -> DeadLetter:
    prefix = ORIGINAL_FIELD_PREFIX.encode()
    get = record.get
    return DeadLetter(
        dlq_id=_text(dlq_id),
        stream=_text(get(b"stream", stream.encode())),
        original_id=_text(get(b"id", b"")),
        service=_text(get(b"service", b"")),
        group=_text(get(b"group", b"")),
        reason=_text(get(b"reason", b"")),
        error=_text(get(b"error", b"")),
        deliveries=int(get(b"deliveries", b"0") or 0),
        failed_at=_text(get(b"failed_at", b"")),
        fields={k[len(prefix) :]: v for k, v in record.items() if k.startswith(prefix)},
    )


async def dead_letter_streams(redis: Redis, streams: Iterable[str] | None = None) -> list[str]:
    """The dead-letter streams that exist: of ``streams`` when given, else every ``*.dlq``."""
    if streams is not None:
        names = [dead_letter_stream(s) for s in streams]
        return [name for name in names if await redis.exists(name)]
    found = {_text(k) async for k in redis.scan_iter(match=f"*{DLQ_SUFFIX}", _type="stream")}
    return sorted(found)


async def dead_letter_counts(redis: Redis, streams: Iterable[str] | None = None) -> dict[str, int]:
    """How many dead letters each stream has (keyed by the source stream's name)."""
    counts: dict[str, int] = {}
    for name in await dead_letter_streams(redis, streams):
        counts[name.removesuffix(DLQ_SUFFIX)] = int(await redis.xlen(name))
    return counts


async def list_dead_letters(
    redis: Redis, stream: str | None = None, *, limit: int = 1000
) -> list[DeadLetter]:
    """Dead letters, oldest first: of ``stream`` when given, else of every stream."""
    names = await dead_letter_streams(redis, [stream] if stream else None)
    letters: list[DeadLetter] = []
    for name in names:
        source = name.removesuffix(DLQ_SUFFIX)
        entries: Any = await redis.xrange(name, count=limit)
        for dlq_id, record in entries:
            letters.append(_dead_letter(dlq_id, record, source))
    return letters[:limit]


async def replay_dead_letters(
    redis: Redis, stream: str | None = None, dlq_id: str | None = None
) -> list[tuple[DeadLetter, str]]:
    """Put dead letters back on their stream with their original fields, then remove them from
    the dead-letter stream. Returns each with its new entry id.

    Each is added before it is removed: a crash in between leaves it in both places (it is
    handled again, idempotently), never in neither.
    """
    replayed: list[tuple[DeadLetter, str]] = []
    for letter in await list_dead_letters(redis, stream, limit=1_000_000):
        if dlq_id is not None and letter.dlq_id != dlq_id:
            continue
        if not letter.fields:
            continue  # nothing to put back: left where it is, for a person to read
        new_id = await redis.xadd(letter.stream, letter.fields)  # type: ignore[arg-type]
        await redis.xdel(dead_letter_stream(letter.stream), letter.dlq_id)
        replayed.append((letter, _text(new_id)))
    return replayed


# --- small helpers of this module ----------------------------------------------------------


def _article_id(message: BaseModel) -> str | None:
    article_id = getattr(getattr(message, "article", None), "id", None)
    return article_id if isinstance(article_id, str) else None


def _message_context(entries: Sequence[Entry[Any]]) -> contextlib.AbstractContextManager[Any]:
    """Every line logged while the handler runs names the entries and their articles."""
    if len(entries) == 1:
        return structlog.contextvars.bound_contextvars(
            message_id=entries[0].id, article_id=_article_id(entries[0].message)
        )
    return structlog.contextvars.bound_contextvars(
        message_ids=[e.id for e in entries], article_ids=[_article_id(e.message) for e in entries]
    )


def _is_nogroup(exc: BaseException) -> bool:
    return isinstance(exc, ResponseError) and str(exc).startswith("NOGROUP")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _text(value: bytes | str | int) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()
