"""The feed poller: each subscribed feed on its schedule, new entries into the pipeline.

Every replica of ingest runs one; a lease in Redis makes sure that only one of them polls a
given feed at a time, and the schedule (read again once the lease is held) that a feed just
polled by one replica is not polled again by the next. Each poll:

1. GETs the feed conditionally (ETag / Last-Modified): a 304 costs no parsing;
2. parses it (feedparser) and keeps the entries not seen before;
3. takes each entry's text from its content, or fetches and extracts its page when it only
   carries a summary (the summary is the fallback when the page cannot be had for good);
4. publishes the articles through the same path as POST /articles;
5. remembers the entries (after publishing: a crash in between re-ingests, never loses),
   records the outcome and schedules the next poll (later and later while it fails).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Literal

import anyio
import structlog
from redis.exceptions import RedisError

from pactwatch_ingest.accepting import BacklogFullError, Intake
from pactwatch_ingest.feeds import FeedEntry, InvalidFeedError, ParsedFeed, parse_feed
from pactwatch_ingest.feedstore import FeedState, FeedStore
from pactwatch_ingest.fetching import Fetcher, FetchError
from pactwatch_ingest.intake import Candidate, UnusableItemError, build_candidate
from pactwatch_ingest.pages import extract_page
from pactwatch_ingest.settings import IngestSettings

log = structlog.get_logger()

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)


class LeaseLostError(Exception):
    """Another replica holds the feed now (our lease expired): stop without recording."""


@dataclass
class PollReport:
    """What one poll of one feed did."""

    feed_id: str
    outcome: Literal["ok", "not_modified", "failed", "lease_lost"]
    published: int = 0
    new_entries: int = 0
    error: str | None = None
    entry_errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Deferred:
    """An entry to try again at the next poll (its page failed transiently)."""

    key: str
    reason: str


class Poller:
    """Polls the feeds that are due; ``run`` loops until cancelled."""

    def __init__(
        self,
        store: FeedStore,
        fetcher: Fetcher,
        intake: Intake,
        settings: IngestSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._fetcher = fetcher
        self._intake = intake
        self._settings = settings
        self._clock = clock

    async def run(self) -> None:
        """Poll due feeds every ``feed_tick_s`` until cancelled; a failing step is logged and
        the loop carries on (Redis away, a bug in one feed)."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("feeds.poll_step_failed")
            await anyio.sleep(self._settings.feed_tick_s)

    async def run_once(self) -> list[PollReport]:
        """Poll every feed due now (a few at a time); the reports of the polls made here.
        None polled while the backlog is full: the feeds wait, their entries unread."""
        settings = self._settings
        try:
            await self._intake.check_capacity()
        except BacklogFullError as exc:
            log.info("feeds.paused", backlog=exc.backlog, limit=exc.limit)
            return []
        due = await self._store.due(self._clock(), limit=settings.feed_concurrency * 8)
        reports: list[PollReport] = []
        limiter = anyio.Semaphore(settings.feed_concurrency)

        async def one(fid: str) -> None:
            async with limiter:
                try:
                    report = await self.poll(fid)
                except Exception:
                    log.exception("feed.poll_crashed", feed_id=fid)
                    return
                if report is not None:
                    reports.append(report)

        async with anyio.create_task_group() as group:
            for fid in due:
                group.start_soon(one, fid)
        return reports

    async def poll(self, fid: str) -> PollReport | None:
        """Poll one feed if this replica gets its lease and it is still due; None otherwise."""
        token = await self._store.acquire(fid, self._settings.feed_lease_s)
        if token is None:
            return None
        try:
            state = await self._store.get(fid)
            now = self._clock()
            if state is None or (state.next_poll and state.next_poll.timestamp() > now):
                return None  # removed, or polled by another replica since we looked
            with structlog.contextvars.bound_contextvars(feed_id=fid):
                try:
                    async with self._lease_kept(fid, token):
                        return await self._poll(state, token, now)
                except LeaseLostError:
                    log.warning("feed.lease_lost")
                    return PollReport(fid, "lease_lost")
                except (RedisError, OSError, BacklogFullError):
                    raise  # Redis away or the pipeline full: the feed stays due
                except Exception as exc:
                    # a feed that breaks the poller (a parser's own error, a header it
                    # cannot send) is a failed poll like any other: recorded, and retried
                    # with the backoff, not at every tick
                    log.exception("feed.poll_crashed")
                    return await self._failed(state, now, f"unexpected error: {exc!r}", None)
        finally:
            # shielded: a replica shutting down mid-poll frees the feed at once, not at expiry
            with anyio.CancelScope(shield=True):
                await self._store.release(fid, token)

    @contextlib.asynccontextmanager
    async def _lease_kept(self, fid: str, token: str) -> AsyncIterator[None]:
        """Renew the lease every third of its time while the poll runs: one fetch with its
        retries can outlast it, and another replica would then poll the feed too. A lease
        found lost is left lost: the check between entries stops the poll."""
        done = anyio.Event()
        lease_s = self._settings.feed_lease_s

        async def keep() -> None:
            # stopped by the event, never cancelled mid-command
            while True:
                with anyio.move_on_after(lease_s / 3):
                    await done.wait()
                    return
                with contextlib.suppress(RedisError, OSError):
                    if not await self._store.renew(fid, token, lease_s):
                        return

        async with anyio.create_task_group() as group:
            group.start_soon(keep)
            try:
                yield
            finally:
                done.set()

    async def _poll(self, state: FeedState, token: str, started: float) -> PollReport:
        headers = {"Accept": FEED_ACCEPT}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        try:
            fetched = await self._fetcher.get(state.url, headers=headers)
        except FetchError as exc:
            return await self._failed(state, started, str(exc), exc.status)
        if fetched.status == 304:
            await self._store.record(
                state.id,
                {"last_polled": started, "last_status": 304, "last_error": None, "error_count": 0},
                started + state.every_s,
            )
            log.debug("feed.not_modified")
            return PollReport(state.id, "not_modified")
        try:
            feed = await anyio.to_thread.run_sync(
                parse_feed, fetched.content, fetched.content_type, fetched.url
            )
        except InvalidFeedError as exc:
            cut = f" (response cut at {len(fetched.content)} bytes)" if fetched.truncated else ""
            return await self._failed(state, started, f"invalid feed: {exc}{cut}", fetched.status)

        fresh = set(await self._store.unseen(state.id, [e.key for e in feed.entries]))
        new: list[FeedEntry] = []
        for entry in feed.entries:
            if entry.key in fresh:  # a feed that lists one entry twice gets it ingested once
                fresh.discard(entry.key)
                new.append(entry)
        batch, backlog = (
            new[: self._settings.feed_max_entries],
            new[self._settings.feed_max_entries :],
        )
        candidates: list[Candidate] = []
        deferred: list[_Deferred] = []
        report = PollReport(state.id, "ok", new_entries=len(new))
        for index, entry in enumerate(batch):
            if not await self._store.renew(state.id, token, self._settings.feed_lease_s):
                raise LeaseLostError
            made = await self._candidate(index, entry, feed)
            if isinstance(made, _Deferred):
                deferred.append(made)
                report.entry_errors.append(f"{entry.link or entry.key}: {made.reason}")
            elif isinstance(made, str):
                report.entry_errors.append(f"{entry.link or entry.key}: {made}")
            else:
                candidates.append(made)
        outcomes = await self._intake.accept(candidates)
        for outcome in outcomes:
            if outcome.article is None:
                refused = batch[outcome.index]
                reasons = "; ".join(e["message"] for e in outcome.errors)
                report.entry_errors.append(f"{refused.link or refused.key}: {reasons}")
        report.published = sum(1 for o in outcomes if o.article is not None)

        # remember every entry listed (refreshing old ones) except those to try again
        waiting = {d.key for d in deferred} | {e.key for e in backlog}
        await self._store.remember(
            state.id,
            [e.key for e in feed.entries if e.key not in waiting],
            started,
            self._settings.feed_seen_ttl_days * 86400,
        )
        problems = ([feed.warning] if feed.warning else []) + report.entry_errors
        fields: dict[str, str | int | float | None] = {
            "last_polled": started,
            "last_status": fetched.status,
            "last_error": _summary(problems),
            "error_count": 0,
        }
        # an immediate poll for the backlog; the usual one for a page to try again
        next_poll = started if backlog else started + state.every_s
        if backlog or deferred:
            # no validators: a 304 would hide the entries still waiting
            fields.update({"etag": None, "last_modified": None})
        else:
            fields.update(
                {
                    "etag": _validator(fetched.headers.get("etag")),
                    "last_modified": _validator(fetched.headers.get("last-modified")),
                }
            )
        await self._store.record(state.id, fields, next_poll, articles=report.published)
        log.info(
            "feed.polled",
            new_entries=len(new),
            published=report.published,
            deferred=len(deferred),
            backlog=len(backlog),
            entry_errors=len(report.entry_errors),
        )
        return report

    async def _candidate(
        self, index: int, entry: FeedEntry, feed: ParsedFeed
    ) -> Candidate | _Deferred | str:
        """The entry as a candidate; a _Deferred to retry later; or why it cannot be had."""
        notes: list[str] = []
        url, title, text = entry.link, entry.title, entry.content
        source, published, origin = feed.title, entry.published, "feed entry"
        if not text.strip() and entry.link:
            try:
                fetched = await self._fetcher.get(entry.link)
            except FetchError as exc:
                if exc.transient:
                    return _Deferred(entry.key, f"page not fetched, will retry: {exc}")
                if not entry.summary.strip():
                    return f"page not fetched: {exc}"
                text = entry.summary
                notes.append(f"page not fetched ({exc}); the text is the feed's summary")
            else:
                page = await anyio.to_thread.run_sync(extract_page, fetched.content, fetched.url)
                if fetched.truncated:
                    notes.append(f"page cut at {len(fetched.content)} bytes before extraction")
                if page is None:
                    if not entry.summary.strip():
                        return "no article text found in the page"
                    text = entry.summary
                    notes.append(
                        "no article text found in the page; the text is the feed's summary"
                    )
                else:
                    url, text = fetched.url, page.text
                    title = title or page.title
                    source = page.source or source
                    if published is None:
                        published, origin = page.published, "page metadata"
        elif not text.strip():
            text = entry.summary
            if text.strip():
                notes.append("the entry has no link; the text is the feed's summary")
        if not text.strip():
            return "the entry has no text, no summary and no link"
        try:
            return build_candidate(
                index,
                url=url,
                source=source,
                published=published,
                title=title,
                text=text,
                notes=notes,
                origin=origin,
            )
        except UnusableItemError as exc:
            return str(exc)

    async def _failed(
        self, state: FeedState, started: float, message: str, status: int | None
    ) -> PollReport:
        errors = state.error_count + 1
        ceiling = max(self._settings.feed_max_backoff_s, float(state.every_s))
        delay = min(ceiling, state.every_s * 2 ** min(errors - 1, 30))
        await self._store.record(
            state.id,
            {
                "last_polled": started,
                "last_status": status,
                "last_error": message[:1000],
                "error_count": errors,
            },
            started + delay,
        )
        log.warning("feed.poll_failed", error=message, errors=errors, retry_in_s=delay)
        return PollReport(state.id, "failed", error=message)


def _validator(value: str | None) -> str | None:
    """An ETag or Last-Modified to send back, if it can be sent: printable ASCII only (a
    header with other bytes would fail every later poll before it was sent)."""
    if value and value.isascii() and value.isprintable():
        return value
    return None


def _summary(problems: list[str]) -> str | None:
    if not problems:
        return None
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return ("; ".join(problems[:3]) + more)[:1000]
