"""Webhook delivery, off the pipeline's path: a receiver that is slow or down delays nobody.

Three loops run in each notifier replica, all coordinated through Redis so that replicas
share the work and a crashed one loses nothing:

1. fan-out: reads the durable alert stream ``alerts.agreements`` (group ``notifier``) and
   queues one job per matching subscription on ``webhooks.deliveries``;
2. delivery: reads ``webhooks.deliveries`` (group ``notifier``) with a bounded number of
   requests in flight, at most a few per subscription, each with a whole-request timeout; a
   failure schedules the next attempt in the sorted set ``{webhooks.deliveries}:retries``
   (score = when it is due), the last failure goes to the subscription's dead list;
3. retries: moves due jobs from the sorted set back to the stream, atomically (a Lua script
   on keys of one hash slot), so that two replicas never both re-queue one job.

A job is acknowledged (and deleted) only when its attempt is settled; jobs left pending by a
replica that died are claimed by another after an idle time longer than any attempt.
Delivery is at least once: a receiver deduplicates on ``X-Pactwatch-Delivery``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import structlog
from pactwatch.alertfeed import decode_entry
from pactwatch.contracts import ALERTS_STREAM, GROUP_NOTIFIER
from pactwatch.metrics import count_webhook_delivery
from pactwatch.settings import consumer_name
from pactwatch.streams import connect, ensure_groups
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from yarl import URL

from pactwatch_notifier.settings import NotifierSettings
from pactwatch_notifier.subscriptions import SubscriptionStore
from pactwatch_notifier.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    AddressPolicy,
    DeliveryJob,
    DeliveryRecord,
    Subscription,
    URLRefusedError,
    backoff,
    delivery_id,
    sign,
)

log = structlog.get_logger()

WEBHOOK_DELIVERIES = "webhooks.deliveries"
"""Queued webhook deliveries (internal to the notifier); field ``job`` holds a DeliveryJob."""
RETRIES_KEY = "{webhooks.deliveries}:retries"
"""Jobs waiting for their next attempt; the hash tag puts it on the stream's slot."""
JOB_FIELD = "job"
_JOB = JOB_FIELD.encode()
USER_AGENT = "pactwatch-notifier/1 (+webhooks)"

_MOVE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, job in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', ARGV[3], job)
  redis.call('ZREM', KEYS[1], job)
end
return #due
"""


async def ensure_webhook_groups(redis: Redis) -> None:
    """The groups the worker reads with; created before the first alert can be published.

    On the alert stream the group starts at ``$``: a first deployment must not send every
    retained alert to today's subscribers; every alert published after it is fanned out.
    """
    try:
        await redis.xgroup_create(ALERTS_STREAM, GROUP_NOTIFIER, id="$", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    await ensure_groups(redis, GROUP_NOTIFIER, [WEBHOOK_DELIVERIES])


class WebhookWorker:
    """Fans alerts out to subscriptions and delivers them, from :meth:`start` to :meth:`stop`."""

    def __init__(
        self,
        redis: Redis,
        store: SubscriptionStore,
        settings: NotifierSettings,
        policy: AddressPolicy,
        *,
        consumer: str | None = None,
        claim_idle_s: float | None = None,
    ) -> None:
        self._redis = redis
        self._store = store
        self._settings = settings
        self._policy = policy
        self._consumer = consumer or consumer_name()
        self._move_due: Any = redis.register_script(_MOVE_DUE)
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        self._retry_added = asyncio.Event()
        self._in_flight: Counter[str] = Counter()
        # longer than any attempt can take: only a dead replica's jobs are this idle
        idle_s = claim_idle_s if claim_idle_s is not None else 2 * settings.webhook_timeout_s + 30
        self._claim_idle_ms = int(idle_s * 1000)
        self._next_claim: dict[str, float] = {}
        # entries this consumer read but never settled (it restarted under the same name, or
        # a step failed halfway): read them again before new ones
        self._own_pending = {ALERTS_STREAM: True, WEBHOOK_DELIVERIES: True}
        self._session: aiohttp.ClientSession | None = None
        self.loops: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the three loops as tasks of the running event loop."""
        self.loops = [
            asyncio.create_task(self._forever("fan_out", self._fan_out_once)),
            asyncio.create_task(self._forever("deliver", self._deliver_once)),
            asyncio.create_task(self._forever("retry", self._retry_once)),
        ]

    def healthy(self) -> str | None:
        """None while every loop runs; else which one stopped."""
        for task in self.loops:
            if task.done():
                return f"webhook loop {task.get_name()} stopped"
        return None if self.loops else "webhook worker not started"

    async def stop(self, grace_s: float) -> None:
        """Stop reading, let attempts in flight finish within ``grace_s``, then cancel."""
        self._stopping.set()
        self._slot_freed.set()
        self._retry_added.set()
        await asyncio.gather(*self.loops, return_exceptions=True)
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in pending:
                task.cancel()  # its job stays pending in the group; another replica claims it
            await asyncio.gather(*pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _forever(self, name: str, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` until stopped; errors are logged and the step retried after a pause
        that doubles up to 5 s (what was read and not settled is read again)."""
        pause = 0.1
        while not self._stopping.is_set():
            try:
                await step()
                pause = 0.1
                continue
            except asyncio.CancelledError:
                raise
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    # Redis lost its data (restarted without persistence): start over
                    log.warning("webhooks.group_missing", loop=name)
                    try:
                        await ensure_webhook_groups(self._redis)
                        self._own_pending[ALERTS_STREAM] = True
                        continue
                    except RedisError as again:
                        log.warning("webhooks.redis_unavailable", loop=name, error=str(again))
                else:
                    log.error("webhooks.redis_error", loop=name, error=str(exc))
            except (RedisError, OSError) as exc:
                log.warning("webhooks.redis_unavailable", loop=name, error=str(exc))
            except Exception as exc:
                log.error("webhooks.step_failed", loop=name, retry_in_s=pause, exc_info=exc)
            self._own_pending[ALERTS_STREAM] = True  # fan-out is redone from the top
            await self._sleep(pause)
            pause = min(pause * 2, 5.0)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _read(self, stream: str, count: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Entries this consumer must handle: first its own unsettled ones (see
        ``_own_pending``), then any a dead consumer left pending too long (checked now and
        then), else new ones (waiting up to a second for them)."""
        if self._own_pending[stream]:
            mine: Any = await self._redis.xreadgroup(
                GROUP_NOTIFIER, self._consumer, {stream: "0"}, count=count
            )
            entries = [e for _, found in mine or () for e in found if e[0] and e[1]]
            # fan-out settles what it reads before reading again, so it reads its own until
            # none is left; deliveries read theirs once, at start: later, own pending jobs
            # are attempts in flight (any left over are claimed when idle)
            if not entries or stream == WEBHOOK_DELIVERIES:
                self._own_pending[stream] = False
            if entries:
                return entries
        now = time.monotonic()
        if now >= self._next_claim.get(stream, 0.0):
            self._next_claim[stream] = now + self._claim_idle_ms / 2000
            reply: Any = await self._redis.xautoclaim(
                stream, GROUP_NOTIFIER, self._consumer, self._claim_idle_ms, "0-0", count=count
            )
            # Redis 6.2 answers entries deleted since as (None, None): nothing to do for them
            claimed = [(i, f) for i, f in reply[1] if i is not None and f is not None]
            if claimed:
                log.info("webhooks.reclaimed", stream=stream, entries=len(claimed))
                return claimed
        result: Any = await self._redis.xreadgroup(
            GROUP_NOTIFIER, self._consumer, {stream: ">"}, count=count, block=1000
        )
        return [entry for _, entries in result or () for entry in entries]

    # --- 1. fan-out -----------------------------------------------------------------------

    async def _fan_out_once(self) -> None:
        # a few alerts at a time: each makes one job per matching subscription
        entries = await self._read(ALERTS_STREAM, 10)
        if entries:
            await self.fan_out(entries)

    async def fan_out(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> int:
        """Queue a delivery of each alert to each subscription whose filter it passes, and
        acknowledge the alerts, in one round trip. Returns the number of jobs queued."""
        subscriptions = await self._store.all()
        queued = 0
        pipe: Any = self._redis.pipeline(transaction=False)
        async with pipe:
            for entry_id, fields in entries:
                decoded = decode_entry(fields)
                if decoded is None:
                    # not written by a notifier: nothing to deliver, and nothing to retry
                    log.error(
                        "webhooks.alert_unreadable",
                        entry_id=entry_id.decode(),
                        fields=sorted(k.decode(errors="replace") for k in fields)[:10],
                    )
                elif decoded[1].get("event") == "agreement.signed":
                    raw, alert = decoded
                    alert_id = str(alert.get("alert_id"))
                    for subscription in subscriptions:
                        if subscription.filter.matches(alert):
                            job = DeliveryJob(
                                delivery_id=delivery_id(subscription.id, alert_id),
                                subscription_id=subscription.id,
                                alert_id=alert_id,
                                event="agreement.signed",
                                body=raw.decode(),
                            )
                            pipe.xadd(WEBHOOK_DELIVERIES, {JOB_FIELD: job.model_dump_json()})
                            queued += 1
                pipe.xack(ALERTS_STREAM, GROUP_NOTIFIER, entry_id)
            await pipe.execute()
        if queued:
            log.info("webhooks.queued", alerts=len(entries), deliveries=queued)
        return queued

    # --- 2. delivery ----------------------------------------------------------------------

    async def _deliver_once(self) -> None:
        while len(self._tasks) >= self._settings.webhook_concurrency:
            self._slot_freed.clear()
            await self._slot_freed.wait()
            if self._stopping.is_set():
                return
        free = self._settings.webhook_concurrency - len(self._tasks)
        jobs: list[tuple[bytes, DeliveryJob]] = []
        for entry_id, fields in await self._read(WEBHOOK_DELIVERIES, free):
            try:
                jobs.append((entry_id, DeliveryJob.model_validate_json(fields.get(_JOB, b""))))
            except ValidationError as exc:
                log.error("webhooks.job_unreadable", entry_id=entry_id.decode(), error=str(exc))
                self._track(self._settle(entry_id))
        # every subscription the jobs name, looked up together: one round trip, not one each
        subscriptions = await self._store.get_many(
            list(dict.fromkeys(job.subscription_id for _, job in jobs))
        )
        for entry_id, job in jobs:
            self._dispatch(entry_id, job, subscriptions[job.subscription_id])

    def _dispatch(
        self, entry_id: bytes, job: DeliveryJob, subscription: Subscription | None
    ) -> None:
        if subscription is None:
            self._track(self._settle(entry_id))  # unsubscribed since: nothing to deliver
            return
        if self._in_flight[job.subscription_id] >= self._settings.webhook_per_subscription:
            # this receiver has its share of requests open already: try again shortly
            # (same attempt), leaving the slot to other receivers
            delay = min(1.0, self._settings.webhook_timeout_s) * random.uniform(0.5, 1.0)  # noqa: S311  # spreading, not secrecy
            self._track(self._settle(entry_id, retry=job, due=time.time() + delay))
            return
        self._in_flight[job.subscription_id] += 1
        self._track(self._deliver(entry_id, job, subscription))

    def _track(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._slot_freed.set()
            if not finished.cancelled() and finished.exception() is not None:
                # the job stays pending and is claimed again later: nothing is lost
                log.error("webhooks.delivery_error", error=repr(finished.exception()))

        task.add_done_callback(done)

    async def _deliver(self, entry_id: bytes, job: DeliveryJob, subscription: Subscription) -> None:
        try:
            started = time.perf_counter()
            status, error = await self.attempt(subscription, job)
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
        finally:
            self._in_flight[job.subscription_id] -= 1
            if self._in_flight[job.subscription_id] <= 0:
                del self._in_flight[job.subscription_id]
        now = datetime.now(UTC)
        record = {
            "delivery_id": job.delivery_id,
            "alert_id": job.alert_id,
            "attempt": job.attempt,
            "status_code": status,
            "error": error,
            "duration_ms": duration_ms,
            "at": now,
        }
        context = {
            "subscription_id": job.subscription_id,
            "alert_id": job.alert_id,
            "attempt": job.attempt,
        }
        if error is None:
            outcome = "delivered"
        elif job.attempt >= self._settings.webhook_max_attempts:
            outcome = "dead"
        else:
            outcome = "failed"
        count_webhook_delivery(outcome)
        if outcome == "delivered":
            delivered = DeliveryRecord(outcome="delivered", **record)
            await self._settle(entry_id, logged=(job.subscription_id, delivered))
            # DEBUG: one line per delivery is too many on a hot path; failures are logged
            log.debug("webhook.delivered", status=status, duration_ms=duration_ms, **context)
        elif outcome == "dead":
            dead = DeliveryRecord(outcome="dead", **record)
            await self._settle(entry_id, logged=(job.subscription_id, dead))
            log.warning("webhook.dead", error=error, **context)
        else:
            delay = backoff(
                job.attempt, self._settings.webhook_backoff_s, self._settings.webhook_backoff_max_s
            )
            retry = job.model_copy(update={"attempt": job.attempt + 1})
            failed = DeliveryRecord(
                outcome="failed", next_attempt_at=now + timedelta(seconds=delay), **record
            )
            await self._settle(
                entry_id,
                retry=retry,
                due=now.timestamp() + delay,
                logged=(job.subscription_id, failed),
            )
            log.info("webhook.failed", error=error, retry_in_s=round(delay, 2), **context)

    def session(self) -> aiohttp.ClientSession:
        """The HTTP client, made on first use inside the worker's event loop: keep-alive
        connections up to the concurrency, no proxy from the environment, no redirects."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._settings.webhook_concurrency, use_dns_cache=False
                ),
                headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
                trust_env=False,  # deliveries connect to the checked address, never via a proxy
            )
        return self._session

    async def attempt(
        self, subscription: Subscription, job: DeliveryJob
    ) -> tuple[int | None, str | None]:
        """POST the alert, signed; (status code, None) on a 2xx, else (status, why it failed).

        The request goes to an address checked against the policy at this very attempt (the
        name is resolved once, and the connection made to that address), so that a DNS answer
        changed since the subscription cannot point a delivery into a private network. When
        the name has several addresses, each is tried in turn until one accepts a connection.
        The whole attempt, connections included, has ``webhook_timeout_s``.
        """
        body = job.body.encode()
        timestamp = int(time.time())
        url = URL(subscription.url)
        host = url.raw_host or ""
        headers = {
            "Host": url.host_port_subcomponent or host,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(subscription.secret, timestamp, body),
            "X-Pactwatch-Event": job.event,
            "X-Pactwatch-Delivery": job.delivery_id,
            "X-Pactwatch-Subscription": subscription.id,
            "X-Pactwatch-Attempt": str(job.attempt),
        }
        # TLS is checked against the name, although the connection goes to an address
        server_hostname = host if url.scheme == "https" else None
        try:
            async with asyncio.timeout(self._settings.webhook_timeout_s):
                addresses = await self._policy.check(subscription.url)
                for index, address in enumerate(addresses):
                    try:
                        async with self.session().post(
                            url.with_host(str(address)),
                            data=body,
                            headers=headers,
                            server_hostname=server_hostname,
                            allow_redirects=False,  # a redirect could lead past the address check
                        ) as response:
                            status = response.status
                            await _drain(response)
                        break
                    except aiohttp.ClientConnectorError:
                        if index == len(addresses) - 1:
                            raise
        except URLRefusedError as exc:
            return None, f"refused: {exc}"
        except TimeoutError:
            return None, f"timeout after {self._settings.webhook_timeout_s:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= status < 300:
            return status, None
        return status, f"HTTP {status}"

    async def _settle(
        self,
        entry_id: bytes,
        *,
        retry: DeliveryJob | None = None,
        due: float = 0.0,
        logged: tuple[str, DeliveryRecord] | None = None,
    ) -> None:
        """Acknowledge and delete a job, scheduling ``retry`` at ``due`` (epoch seconds) and
        logging the attempt on its subscription (``logged``: subscription id and record), in one
        transaction: a job is never both lost and settled, nor settled with its attempt
        unlogged."""
        pipe: Any = self._redis.pipeline(transaction=True)
        async with pipe:
            if logged is not None:
                self._store.queue_record(pipe, *logged)
            if retry is not None:
                pipe.zadd(RETRIES_KEY, {retry.model_dump_json(): int(due * 1000)})
            pipe.xack(WEBHOOK_DELIVERIES, GROUP_NOTIFIER, entry_id)
            pipe.xdel(WEBHOOK_DELIVERIES, entry_id)
            replies = await pipe.execute()
        if retry is not None:
            self._retry_added.set()  # it may be due before the retry loop would look again
        if logged is not None:
            await self._store.drop_orphan(logged[0], bool(replies[0]))

    # --- 3. retries -----------------------------------------------------------------------

    async def _retry_once(self) -> None:
        self._retry_added.clear()  # before looking: a retry added from now on wakes the wait
        now_ms = int(time.time() * 1000)
        moved = await self._move_due(
            keys=[RETRIES_KEY, WEBHOOK_DELIVERIES], args=[now_ms, 500, JOB_FIELD]
        )
        if int(moved) >= 500:
            return  # more are due: move them at once
        earliest: Any = await self._redis.zrange(RETRIES_KEY, 0, 0, withscores=True)
        wait = 1.0  # other replicas schedule retries too: look at least once a second
        if earliest:
            wait = min(1.0, max(0.01, (earliest[0][1] - time.time() * 1000) / 1000))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._retry_added.wait(), timeout=wait)


class WebhookThread:
    """A WebhookWorker on its own event loop, in a thread of the notifier.

    Deliveries come in bursts of CPU work (HTTP, TLS, JSON): a hundred subscriptions make a
    hundred requests per alert. On the alert handler's event loop they would queue ahead of
    its Redis round trips and delay the alerts themselves (measured: p50 from 3 ms to seconds
    with 100 subscriptions); on a loop of their own they only share the interpreter, which
    switches threads every few milliseconds. The thread has its own Redis and HTTP clients.
    """

    def __init__(self, settings: NotifierSettings, policy: AddressPolicy) -> None:
        self._settings = settings
        self._policy = policy
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._worker: WebhookWorker | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread; return once its worker runs (or raise why it could not)."""
        context = contextvars.copy_context()  # the logging context (service=notifier)
        self._thread = threading.Thread(
            target=context.run, args=(asyncio.run, self._main()), name="webhooks", daemon=True
        )
        self._thread.start()
        if not self._started.wait(30):
            raise RuntimeError("the webhook worker did not start within 30 s")
        if self._error is not None:
            raise RuntimeError("the webhook worker could not start") from self._error

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        redis = connect(self._settings.redis_url)
        try:
            store = SubscriptionStore(
                redis, self._settings.webhook_log_size, self._settings.webhook_dead_size
            )
            self._worker = WebhookWorker(redis, store, self._settings, self._policy)
            self._worker.start()
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            self._started.set()
        try:
            await self._stopping.wait()
            await self._worker.stop(self._settings.webhook_timeout_s)
        finally:
            await redis.aclose()

    async def stop(self) -> None:
        """Let attempts in flight finish (within the attempt timeout), then end the thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # its loop ended already
                self._loop.call_soon_threadsafe(self._stopping.set)
        await asyncio.to_thread(self._thread.join, self._settings.webhook_timeout_s + 5)

    def healthy(self) -> str | None:
        """None while the thread and each of its loops run; else what stopped."""
        if self._thread is None or self._worker is None:
            return "webhook worker not started"
        if not self._thread.is_alive():
            return "webhook thread stopped"
        return self._worker.healthy()


DRAINED_BYTES = 64 * 1024
"""How much of a receiver's answer is read: enough for any acknowledgement, so that the
connection is reused; a longer answer costs its connection (closed unread), nothing more."""


async def _drain(response: aiohttp.ClientResponse) -> None:
    """Read the answer to its end (up to :data:`DRAINED_BYTES`) so that its connection
    carries the next delivery."""
    read = 0
    while read <= DRAINED_BYTES:
        chunk = await response.content.read(DRAINED_BYTES)
        if not chunk:
            return
        read += len(chunk)
