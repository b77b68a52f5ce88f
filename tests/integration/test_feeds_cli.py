"""``pactwatch feeds`` against ingest services as real processes polling feeds on 127.0.0.1:
subscribe, see the articles arrive once (across a restart and with two replicas), see a
failing feed's last error, unsubscribe."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pactwatch_cli import feeds

from tests.integration.test_ingest_harness import (
    PARAGRAPHS,
    LocalWeb,
    Reply,
    ingest_env,
    ingest_service,
    local_web,
    read_ingested,
    rss,
)
from tests.support import free_port, services, wait_until


@pytest.fixture
def web() -> Iterator[LocalWeb]:
    with local_web() as server:
        yield server


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pactwatch")
    feeds.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def news(count: int) -> bytes:
    return rss(
        [
            {"title": f"Story {n}", "guid": f"s{n}", "content": f"<p>{PARAGRAPHS[n % 3]}</p>"}
            for n in range(count)
        ]
    )


def test_a_subscribed_feed_is_ingested_once_across_a_restart(
    redis_url: str,
    redis_client: redis.Redis,
    web: LocalWeb,
    logs_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    web.routes["/feed.xml"] = Reply(body=news(2), content_type="application/rss+xml")
    feed_url = web.url("/feed.xml")
    with ingest_service(redis_url, logs_dir) as ingest:
        assert run_cli(["feeds", "add", feed_url, "--every", "1s", "--url", ingest.base_url]) == 0
        assert "added f" in capsys.readouterr().out
        wait_until(lambda: len(read_ingested(redis_client)) == 2, what="two articles")
        assert run_cli(["feeds", "list", "--url", ingest.base_url]) == 0
        listing = capsys.readouterr().out
        assert feed_url in listing
        assert "last error" not in listing

    polls = len(web.hits_of("/feed.xml"))
    web.routes["/feed.xml"] = Reply(body=news(3), content_type="application/rss+xml")
    with ingest_service(redis_url, logs_dir) as ingest:  # a restart
        wait_until(lambda: len(web.hits_of("/feed.xml")) > polls + 1, what="polls after restart")
        wait_until(lambda: len(read_ingested(redis_client)) >= 3, what="the new entry")
        assert run_cli(["feeds", "list", "--json", "--url", ingest.base_url]) == 0
        (listed,) = json.loads(capsys.readouterr().out)
        assert listed["articles"] == 3
    assert [m.article.title for m in read_ingested(redis_client)] == [
        "Story 0",
        "Story 1",
        "Story 2",
    ]


def test_two_ingest_replicas_never_poll_one_feed_at_once(
    redis_url: str, redis_client: redis.Redis, web: LocalWeb, logs_dir: Path
) -> None:
    web.routes["/feed.xml"] = Reply(body=news(3), content_type="application/rss+xml", delay_s=0.3)
    env = ingest_env(redis_url)
    with services(["ingest"], env, logs_dir, replicas={"ingest": 2}) as started:
        one, _other = started["ingest"]
        add = ["feeds", "add", web.url("/feed.xml"), "--every", "1s", "--url", one.base_url]
        assert run_cli(add) == 0
        wait_until(lambda: len(web.hits_of("/feed.xml")) >= 4, what="four polls", timeout=60)
        # measured while both run: stopping a replica abandons its request mid-poll, and the
        # server would count that one until its sleep ends
        assert web.max_in_flight["/feed.xml"] == 1
    assert len(read_ingested(redis_client)) == 3


def test_a_failing_feed_shows_its_last_error_and_can_be_removed(
    redis_url: str,
    web: LocalWeb,
    logs_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    web.routes["/broken.xml"] = Reply(500, b"down", "text/plain")
    web.routes["/garbage.xml"] = Reply(body=b"<<< not a feed", content_type="application/xml")
    with ingest_service(redis_url, logs_dir) as ingest:
        base = ["--url", ingest.base_url]
        assert run_cli(["feeds", "add", web.url("/broken.xml"), "--every", "1m", *base]) == 0
        assert run_cli(["feeds", "add", web.url("/garbage.xml"), *base]) == 0
        capsys.readouterr()

        def errors_listed() -> bool:
            run_cli(["feeds", "list", *base])
            out = capsys.readouterr().out
            return "HTTP 500" in out and "invalid feed" in out

        wait_until(errors_listed, what="both errors in feeds list")
        assert run_cli(["feeds", "list", "--json", *base]) == 0
        listed = {f["url"]: f for f in json.loads(capsys.readouterr().out)}
        broken = listed[web.url("/broken.xml")]
        assert (broken["last_status"], broken["error_count"], broken["every"]) == (500, 1, "1m")
        assert broken["next_poll"] > broken["last_polled"]  # retried later, not at once

        assert run_cli(["feeds", "remove", web.url("/broken.xml"), *base]) == 0
        assert run_cli(["feeds", "remove", listed[web.url("/garbage.xml")]["id"], *base]) == 0
        assert run_cli(["feeds", "remove", "f000000000000", *base]) == 1
        assert "no feed" in capsys.readouterr().err
        assert run_cli(["feeds", "add", "http://10.0.0.1/feed", *base]) == 1
        assert "private address" in capsys.readouterr().err
        assert run_cli(["feeds", "list", *base]) == 0
        assert "no feeds" in capsys.readouterr().out
    nobody = f"http://127.0.0.1:{free_port()}"
    assert run_cli(["feeds", "list", "--url", nobody]) == 2
    assert "unreachable" in capsys.readouterr().err
