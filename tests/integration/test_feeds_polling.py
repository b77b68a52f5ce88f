"""The feed poller against real RSS/Atom feeds and pages on 127.0.0.1 and a real Redis:
entries ingested once (across restarts), conditional GET, failures retried later and
reported, pages fetched for summary-only entries, one poller per feed at a time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import anyio
import pytest
import redis
from pactwatch_ingest import polling
from pactwatch_ingest.feeds import ParsedFeed, parse_feed

from tests.integration.test_ingest_harness import (
    PARAGRAPHS,
    LocalWeb,
    Pipeline,
    Reply,
    atom,
    local_settings,
    local_web,
    page_html,
    pipeline,
    read_ingested,
    rss,
)
from tests.support import wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def web() -> Iterator[LocalWeb]:
    with local_web() as server:
        yield server


class Clock:
    """The poller's clock, moved by the test: no sleeping, no timing assertions."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


FEED_CONTENT = (
    "<p>Officials from Freedonia and Sylvania <b>signed</b> a customs protocol on Monday "
    "that removes duplicate inspections at the Northgate crossing.</p>"
    "<p>Follow us on Twitter</p>"
    "<p>Trucks will be checked once, by a joint team, from the first of next month.</p>"
)


def two_items(web: LocalWeb) -> list[dict[str, str]]:
    return [
        {
            "title": "Customs protocol signed at Northgate",
            "link": web.url("/news/customs?utm_source=rss"),
            "guid": "riverside-1001",
            "pubDate": "Mon, 06 May 2024 09:30:00 +0300",
            "description": "A short teaser.",
            "content": FEED_CONTENT,
        },
        {
            "title": "Blue River memorandum",
            "link": web.url("/news/river"),
            "guid": "riverside-1002",
            "pubDate": "Tue, 07 May 2024 18:00:00 -0500",
            "description": "Ministers agree on the river basin.",
        },
    ]


async def test_new_rss_entries_are_ingested_once_even_after_a_restart(
    redis_url: str, redis_client: redis.Redis, web: LocalWeb
) -> None:
    items = two_items(web)
    web.routes["/feed.xml"] = Reply(body=rss(items), content_type="application/rss+xml")
    web.routes["/news/river"] = Reply(body=page_html("Blue River memorandum signed"))
    clock = Clock()
    settings = local_settings(redis_url)
    async with pipeline(settings) as wired:
        await wired.store.add(web.url("/feed.xml"), 60, clock.now)
        reports = await wired.poller(clock).run_once()
        assert [(r.outcome, r.published) for r in reports] == [("ok", 2)]

        clock.now += 61  # due again: same feed, nothing new
        reports = await wired.poller(clock).run_once()
        assert [(r.outcome, r.new_entries, r.published) for r in reports] == [("ok", 0, 0)]

    ingested = read_ingested(redis_client)
    assert len(ingested) == 2
    customs, river = (m.article for m in ingested)
    assert customs.title == "Customs protocol signed at Northgate"
    assert customs.url == web.url("/news/customs?utm_source=rss")
    assert customs.source == "Riverside Chronicle - World"
    assert customs.published == date(2024, 5, 6)
    assert customs.language == "en"
    assert customs.text == (
        "Officials from Freedonia and Sylvania signed a customs protocol on Monday that "
        "removes duplicate inspections at the Northgate crossing.\n\n"
        "Trucks will be checked once, by a joint team, from the first of next month."
    )
    assert "HTML markup removed from the text" in customs.notes
    assert "1 boilerplate line removed" in customs.notes
    # the second entry only had a summary: its page was fetched and its article extracted
    assert len(web.hits_of("/news/river")) == 1
    assert river.text == "\n\n".join(PARAGRAPHS)
    assert river.published == date(2024, 5, 7)  # the publisher's own calendar date
    assert river.source == "Riverside Chronicle"  # the page's site name

    # a restart: a new poller, new connections; the feed gains one entry
    items.insert(0, {"title": "Third", "guid": "riverside-1003", "content": FEED_CONTENT})
    web.routes["/feed.xml"] = Reply(body=rss(items), content_type="application/rss+xml")
    clock.now += 61
    async with pipeline(settings) as wired:
        reports = await wired.poller(clock).run_once()
    assert [(r.new_entries, r.published) for r in reports] == [(1, 1)]
    assert [m.article.title for m in read_ingested(redis_client)][2:] == ["Third"]
    assert len(web.hits_of("/news/river")) == 1


async def test_atom_entries_take_content_or_their_page(
    redis_url: str, redis_client: redis.Redis, web: LocalWeb
) -> None:
    web.routes["/atom"] = Reply(
        body=atom(
            [
                {
                    "id": "urn:lakeside:1",
                    "title": "Lakeside ports agree on pilots",
                    "link": web.url("/l/1"),
                    "published": "2024-05-02T23:30:00-04:00",
                    "content": "<p>" + PARAGRAPHS[0] + "</p><p>" + PARAGRAPHS[1] + "</p>",
                },
                {
                    "id": "urn:lakeside:2",
                    "title": "Summary only",
                    "link": web.url("/l/2"),
                    "summary": "A teaser that is not the article.",
                },
            ]
        ),
        content_type="application/atom+xml",
    )
    web.routes["/l/2"] = Reply(
        body=page_html("Page title", PARAGRAPHS[1:], date="2024-05-01T10:00:00+02:00")
    )
    async with pipeline(local_settings(redis_url)) as wired:
        await wired.store.add(web.url("/atom"), 60, Clock().now)
        reports = await wired.poller(Clock()).run_once()
    assert reports[0].published == 2
    first, second = (m.article for m in read_ingested(redis_client))
    assert first.published == date(2024, 5, 2)
    assert first.text == f"{PARAGRAPHS[0]}\n\n{PARAGRAPHS[1]}"
    assert web.hits_of("/l/1") == []  # the entry had its content: no page fetch
    assert second.title == "Summary only"
    assert second.text == f"{PARAGRAPHS[1]}\n\n{PARAGRAPHS[2]}"
    assert second.published == date(2024, 5, 1)  # from the page's metadata


async def test_a_304_costs_no_parsing(
    redis_url: str,
    redis_client: redis.Redis,
    web: LocalWeb,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[int] = []

    def counting_parse(
        content: bytes, content_type: str | None = None, url: str | None = None
    ) -> ParsedFeed:
        parsed.append(len(content))
        return parse_feed(content, content_type, url)

    monkeypatch.setattr(polling, "parse_feed", counting_parse)
    body = rss(two_items(web)[:1])
    web.routes["/feed.xml"] = Reply(
        body=body,
        content_type="application/rss+xml",
        etag='"v1"',
        headers={"Last-Modified": "Mon, 06 May 2024 10:00:00 GMT"},
    )
    clock = Clock()
    async with pipeline(local_settings(redis_url)) as wired:
        state, _ = await wired.store.add(web.url("/feed.xml"), 60, clock.now)
        await wired.poller(clock).run_once()
        clock.now += 61
        reports = await wired.poller(clock).run_once()
        after = await wired.store.get(state.id)
    assert [r.outcome for r in reports] == ["not_modified"]
    assert parsed == [len(body)]  # parsed once, for the 200; the 304 was not parsed
    second = web.hits_of("/feed.xml")[1]
    assert second.headers["if-none-match"] == '"v1"'
    assert second.headers["if-modified-since"] == "Mon, 06 May 2024 10:00:00 GMT"
    assert second.status == 304
    assert after is not None
    assert (after.last_status, after.last_error, after.etag) == (304, None, '"v1"')
    assert after.next_poll is not None
    assert after.next_poll.timestamp() == clock.now + 60
    assert len(read_ingested(redis_client)) == 1


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (Reply(500, b"oops", "text/plain"), "HTTP 500"),
        (Reply(body=b"<rss>late</rss>", delay_s=1.0), "no complete answer within"),
        (Reply(body=b"this is <not xml at all", content_type="application/xml"), "invalid feed"),
        (Reply(body=page_html("Not a feed"), content_type="text/html"), "invalid feed"),
        # feedparser's own UnicodeError on a charset no codec has
        (
            Reply(
                body=b"<rss><channel></channel></rss>", content_type="text/xml; charset=undefined"
            ),
            "unexpected error",
        ),
    ],
    ids=["http-500", "timeout", "invalid-xml", "html-page", "unknown-charset"],
)
async def test_a_failing_feed_is_retried_later_and_reports_its_last_error(
    redis_url: str,
    redis_client: redis.Redis,
    web: LocalWeb,
    failure: Reply,
    expected: str,
) -> None:
    web.routes["/feed.xml"] = failure
    clock = Clock()
    settings = local_settings(redis_url, fetch_retries=0, fetch_total_timeout_s=0.3)
    async with pipeline(settings) as wired:
        state, _ = await wired.store.add(web.url("/feed.xml"), 10, clock.now)
        poller = wired.poller(clock)
        assert [r.outcome for r in await poller.run_once()] == ["failed"]
        failed = await wired.store.get(state.id)
        assert failed is not None
        assert failed.last_error is not None
        assert expected in failed.last_error
        assert failed.error_count == 1
        assert failed.next_poll is not None
        assert failed.next_poll.timestamp() == clock.now + 10

        assert await poller.run_once() == []  # not due yet: not polled again at once
        assert len(web.hits_of("/feed.xml")) == 1

        clock.now += 10
        await poller.run_once()
        twice = await wired.store.get(state.id)
        assert twice is not None
        assert twice.error_count == 2
        assert twice.next_poll is not None
        assert twice.next_poll.timestamp() == clock.now + 20  # backing off

        web.routes["/feed.xml"] = Reply(
            body=rss(two_items(web)[:1]), content_type="application/rss+xml"
        )
        clock.now += 20
        assert [r.outcome for r in await poller.run_once()] == ["ok"]
        healed = await wired.store.get(state.id)
    assert healed is not None
    assert (healed.last_error, healed.error_count, healed.last_status) == (None, 0, 200)
    assert healed.articles == 1
    assert len(read_ingested(redis_client)) == 1


async def test_an_entry_whose_page_redirects_to_a_private_address_keeps_its_summary(
    redis_url: str, redis_client: redis.Redis, web: LocalWeb
) -> None:
    web.routes["/feed.xml"] = Reply(
        body=rss(
            [
                {
                    "title": "Teaser",
                    "link": web.url("/go"),
                    "guid": "g1",
                    "description": "Ministers from Freedonia and Sylvania met at the border.",
                }
            ]
        ),
        content_type="application/rss+xml",
    )
    web.routes["/go"] = Reply(302, headers={"Location": "http://169.254.169.254/latest/"})
    async with pipeline(local_settings(redis_url)) as wired:
        await wired.store.add(web.url("/feed.xml"), 60, Clock().now)
        reports = await wired.poller(Clock()).run_once()
    assert reports[0].published == 1
    (message,) = read_ingested(redis_client)
    assert message.article.text == "Ministers from Freedonia and Sylvania met at the border."
    (note,) = [n for n in message.article.notes if "summary" in n]
    assert "169.254.169.254" in note
    assert "link-local" in note


async def test_a_page_that_fails_for_now_is_tried_again_at_the_next_poll(
    redis_url: str, redis_client: redis.Redis, web: LocalWeb
) -> None:
    item = {"title": "River", "guid": "r1", "link": web.url("/news/river"), "description": "T"}
    web.routes["/feed.xml"] = Reply(
        body=rss([item, item]), content_type="application/rss+xml", etag='"one"'
    )
    web.routes["/news/river"] = Reply(503, b"busy", "text/plain")
    clock = Clock()
    settings = local_settings(redis_url, fetch_retries=0)
    async with pipeline(settings) as wired:
        state, _ = await wired.store.add(web.url("/feed.xml"), 60, clock.now)
        (first,) = await wired.poller(clock).run_once()
        waiting = await wired.store.get(state.id)
        web.routes["/news/river"] = Reply(body=page_html("Blue River memorandum signed"))
        clock.now += 60
        (second,) = await wired.poller(clock).run_once()
    assert (first.published, first.new_entries) == (0, 1)  # listed twice, one entry
    assert "will retry" in first.entry_errors[0]
    assert waiting is not None
    assert waiting.etag is None  # else the next poll would get a 304 and never retry
    assert waiting.last_error is not None
    assert "HTTP 503" in waiting.last_error
    assert "if-none-match" not in web.hits_of("/feed.xml")[1].headers
    assert second.published == 1
    (message,) = read_ingested(redis_client)
    assert message.article.text == "\n\n".join(PARAGRAPHS)


async def test_a_long_backlog_is_taken_a_batch_per_poll(
    redis_url: str, redis_client: redis.Redis, web: LocalWeb
) -> None:
    items = [
        {
            "title": f"Item {n}",
            "guid": f"g{n}",
            "link": web.url(f"/n/{n}"),
            "content": f"<p>{p}</p>",
        }
        for n, p in enumerate(PARAGRAPHS * 2)
    ]
    web.routes["/feed.xml"] = Reply(
        body=rss(items), content_type="application/rss+xml", etag='"same"'
    )
    clock = Clock()
    settings = local_settings(redis_url, feed_max_entries=4)
    async with pipeline(settings) as wired:
        state, _ = await wired.store.add(web.url("/feed.xml"), 600, clock.now)
        poller = wired.poller(clock)
        first = await poller.run_once()
        waiting = await wired.store.get(state.id)
        second = await poller.run_once()  # due again at once, no clock change
        third = await poller.run_once()
    assert [r.published for r in first + second] == [4, 2]
    assert third == []
    assert waiting is not None
    assert waiting.etag is None  # so that the next poll gets the body, not a 304
    assert [m.article.title for m in read_ingested(redis_client)] == [f"Item {n}" for n in range(6)]


async def both_poll(clock: Clock, *wired: Pipeline) -> list[list[Any]]:
    """Each pipeline's poller runs one step, all at the same time."""
    polled: list[list[Any]] = [[] for _ in wired]

    async def run(n: int) -> None:
        polled[n] = await wired[n].poller(clock).run_once()

    async with anyio.create_task_group() as group:
        for n in range(len(wired)):
            group.start_soon(run, n)
    return polled


async def test_two_pollers_never_poll_the_same_feed_at_the_same_moment(
    redis_url: str, redis_client: redis.Redis, web: LocalWeb
) -> None:
    paths = [f"/feed/{n}.xml" for n in range(3)]
    for n, path in enumerate(paths):
        web.routes[path] = Reply(
            body=rss([{"title": f"F{n}", "guid": f"f{n}", "content": f"<p>{PARAGRAPHS[n]}</p>"}]),
            content_type="application/rss+xml",
            delay_s=0.2,  # long enough for the two pollers to overlap
        )
    clock = Clock()
    settings = local_settings(redis_url)
    rounds: list[tuple[int, int]] = []
    async with pipeline(settings) as one, pipeline(settings) as other:
        for path in paths:
            await one.store.add(web.url(path), 5, clock.now)
        for _ in range(3):
            polled = await both_poll(clock, one, other)
            rounds.append((len(polled[0]), len(polled[1])))
            clock.now += 5
    assert all(web.max_in_flight[path] == 1 for path in paths)
    assert all(len(web.hits_of(path)) == 3 for path in paths)  # once per round, not twice
    assert all(a + b == 3 for a, b in rounds)
    assert len(read_ingested(redis_client)) == 3


async def test_a_poll_cancelled_midway_frees_the_feed_at_once(
    redis_url: str, redis_client: redis.Redis, web: LocalWeb
) -> None:
    web.routes["/slow.xml"] = Reply(
        body=rss(two_items(web)[:1]), content_type="application/rss+xml", delay_s=1.0
    )
    clock = Clock()
    async with pipeline(local_settings(redis_url)) as wired:
        state, _ = await wired.store.add(web.url("/slow.xml"), 60, clock.now)
        async with anyio.create_task_group() as group:
            group.start_soon(wired.poller(clock).run_once)
            # the server (a thread) has the request: the poll is under way, holding the lease
            await anyio.to_thread.run_sync(
                lambda: wait_until(lambda: web.hits_of("/slow.xml"), timeout=10)
            )
            group.cancel_scope.cancel()  # what a shutdown does to the poller
        token = await wired.store.acquire(state.id, 30)
    assert token is not None  # released on the way out, not left to expire
    assert read_ingested(redis_client) == []


async def test_the_lease_is_held_by_one_token_at_a_time(
    redis_url: str, redis_client: redis.Redis
) -> None:
    async with (
        pipeline(local_settings(redis_url)) as one,
        pipeline(local_settings(redis_url)) as other,
    ):
        token = await one.store.acquire("fx", 30)
        assert token is not None
        assert await other.store.acquire("fx", 30) is None
        await other.store.release("fx", "not-the-token")  # compare-and-delete: a no-op
        assert await other.store.acquire("fx", 30) is None
        assert not await other.store.renew("fx", "not-the-token", 30)
        assert await one.store.renew("fx", token, 30)
        await one.store.release("fx", token)
        assert await other.store.acquire("fx", 30) is not None
        short = await one.store.acquire("fy", 0.05)
        assert short is not None
        await anyio.sleep(0.2)  # an abandoned lease expires
        assert await other.store.acquire("fy", 30) is not None


async def test_a_feed_removed_while_polled_is_not_brought_back(
    redis_url: str, redis_client: redis.Redis
) -> None:
    async with pipeline(local_settings(redis_url)) as wired:
        state, created = await wired.store.add("http://127.0.0.1:9/feed", 60, 1.0)
        again, created_again = await wired.store.add("HTTP://127.0.0.1:9/feed#top", 120, 2.0)
        assert (created, created_again) == (True, False)
        assert (again.id, again.every_s) == (state.id, 120)
        assert await wired.store.remove(state.id)
        assert not await wired.store.record(state.id, {"last_error": "late"}, 99.0)
        assert await wired.store.get(state.id) is None
        assert await wired.store.all() == []
        assert not await wired.store.remove(state.id)


async def test_a_validator_that_cannot_be_sent_back_is_not_kept(
    redis_url: str, redis_client: redis.Redis, web: LocalWeb
) -> None:
    # an ETag with a byte outside ASCII: sent back as If-None-Match it would fail every poll
    web.routes["/feed.xml"] = Reply(
        body=rss(two_items(web)[:1]), content_type="application/rss+xml", etag='"v\xe9"'
    )
    clock = Clock()
    async with pipeline(local_settings(redis_url)) as wired:
        state, _ = await wired.store.add(web.url("/feed.xml"), 60, clock.now)
        assert [r.outcome for r in await wired.poller(clock).run_once()] == ["ok"]
        first = await wired.store.get(state.id)
        clock.now += 61
        assert [r.outcome for r in await wired.poller(clock).run_once()] == ["ok"]
    assert first is not None
    assert first.etag is None
    assert "if-none-match" not in web.hits_of("/feed.xml")[1].headers


async def test_the_lease_is_renewed_while_a_slow_fetch_runs(
    redis_url: str, redis_client: redis.Redis, web: LocalWeb
) -> None:
    web.routes["/slow.xml"] = Reply(
        body=rss(two_items(web)[:1]), content_type="application/rss+xml", delay_s=1.0
    )
    clock = Clock()
    settings = local_settings(redis_url, feed_lease_s=0.3)  # the fetch outlasts it thrice
    async with pipeline(settings) as one, pipeline(settings) as other:
        await one.store.add(web.url("/slow.xml"), 60, clock.now)
        reports: list[list[Any]] = []

        async def first() -> None:
            reports.append(await one.poller(clock).run_once())

        async with anyio.create_task_group() as group:
            group.start_soon(first)
            await anyio.sleep(0.6)  # past the lease's time, the fetch still running
            assert await other.poller(clock).run_once() == []  # the lease is still held
    assert [r.outcome for r in reports[0]] == ["ok"]
    assert len(web.hits_of("/slow.xml")) == 1
    assert len(read_ingested(redis_client)) == 1
